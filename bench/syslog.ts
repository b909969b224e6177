/**
 * The syslog listener (issue 17): sluice's `syslog_monitor` vs Debian's rsyslogd receiving the
 * same RFC 5424 stream on this machine, each pinned to one core.
 *
 *   node dist/bench/syslog.js [--messages 200000] [--runs 1] [--proto tcp|udp|both]
 *        [--only sluice|rsyslog] [--rates 10000,25000,50000,100000] [--step-secs 2]
 *        [--sink receiver|embedded] [--cpus 0] [--sender-cpus 1] [--cpu-prof DIR] [--threads] [--keep]
 *
 * The receivers run under `taskset -c <cpus>` (default 0); the sender (a Node child of this
 * script, `--sender`) and this process (the addEvents receiver, the file counting) under
 * `taskset -c <sender-cpus>` (default 1).
 *
 * - sluice: `bin/sluice start --foreground --config <tmp>/agent.json` with one monitors entry
 *   `scalyr_agent.builtin_monitors.syslog_monitor`, `protocols: "tcp:P, udp:Q"` (loopback),
 *   Scalyr's defaults otherwise except `max_log_size: 0` (the message log does not rotate
 *   during a run, so its lines can be counted in one file). `--sink receiver` (the default):
 *   the whole path, message log → tailer → batch → deflate → HTTP POST to the local counting
 *   addEvents receiver (bench/receiver.ts) in this process; `--sink embedded`: the embedded
 *   NDJSON sink in the temp dir. While the component is not a built-in yet, it is loaded as a
 *   plugin (a one-line module in the temp dir exporting `syslogMonitorComponent`).
 * - rsyslog: `/usr/sbin/rsyslogd -n -f <tmp>/rsyslog.conf -i <tmp>/pid`, `imtcp` and `imudp`
 *   on 127.0.0.1, a ruleset writing `%rawmsg%` (the message as received, as sluice writes it)
 *   with `omfile` to a file in the temp dir, `workDirectory` in the temp dir, no imuxsock/imklog.
 *
 * The stream: N distinct RFC 5424 messages (seeded; 150–250 bytes, mean ~200: sshd, nginx
 * access, an application with structured data, kernel, cron, systemd, postfix), each with a
 * sequence number. TCP, one connection, as fast as the receiver takes it (the sender waits on
 * backpressure), once with newline framing and once octet-counted (RFC 6587); UDP, one datagram
 * per message, at a fixed offered rate ladder (`--rates` messages/s for `--step-secs` each, paced
 * by the sender), counting what arrived (UDP drops).
 *
 * Figures, per receiver and stream: messages/s from the first to the last message arriving (in
 * the message log / rsyslog's file; for sluice also at the sink), CPU-seconds per million
 * messages (utime+stime of the receiver's process from /proc/<pid>/stat, from just before the
 * stream to its last message arriving at the sink; startup excluded), peak RSS (VmHWM, startup
 * included), and for UDP the loss at each rate and the kernel's UDP `RcvbufErrors` (datagrams
 * dropped because the receiving socket's buffer was full). Each (receiver, stream) gets a fresh
 * process. `--threads` also prints the receiver's user/system CPU and CPU by thread during each
 * stream; `--cpu-prof DIR` runs sluice with `node --cpu-prof` (summarize with bench/profile.js).
 */
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startReceiver, type CountingReceiver } from './receiver.js';
import { Flags, MiB, REPO, benchConfig, isMain, machine, median, pinSelf, procSample, record, sleep, startAgent, threadCpu, tmpDir, type ProcSample, type RunningAgent } from './common.js';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const THIS = fileURLToPath(import.meta.url);

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

// ---------------------------------------------------------------- the stream

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTS = ['web-01', 'web-02', 'web-03', 'api-1', 'api-2', 'db-1', 'batch-7', 'edge-lb-2'];
const PATHS = ['/api/v1/orders', '/api/v1/users/profile', '/static/js/app.bundle.js', '/healthz', '/api/v2/search', '/login', '/cart/checkout'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0', 'curl/7.88.1', 'Go-http-client/1.1', 'kube-probe/1.28'];

/**
 * Message `seq` of the seeded stream, RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`),
 * 150–250 bytes. The same (seed, seq) gives the same message in every process.
 */
export function message(seed: number, seq: number): string {
  const r = mulberry32(seed * 1_000_003 + seq);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const ms = 1_796_000_000_000 + seq * 3;
  const ts = new Date(ms).toISOString().replace('Z', `${String(int(0, 999)).padStart(3, '0')}Z`);
  const host = pick(HOSTS);
  const ip = `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
  const k = r();
  let m: string;
  if (k < 0.3) {
    const p = `${pick(PATHS)}?page=${int(1, 40)}&id=${int(1000, 999999)}`;
    m = `<190>1 ${ts} ${host} nginx ${int(100, 9999)} access - ${ip} - - "GET ${p} HTTP/1.1" ${pick([200, 200, 200, 304, 404, 502])} ${int(120, 90000)} "-" "${pick(AGENTS)}" seq=${seq}`;
  } else if (k < 0.5) {
    m = `<134>1 ${ts} ${host} payments ${int(100, 9999)} TXN [meta@32473 seq="${seq}" region="${pick(['eu-west-1', 'us-east-2', 'ap-south-1'])}"] charge ok id=ch_${int(1e8, 9e8)} amount=${int(1, 9999)}.${int(10, 99)} currency=EUR latency_ms=${int(3, 900)}`;
  } else if (k < 0.65) {
    m = `<38>1 ${ts} ${host} sshd ${int(100, 65000)} - - Accepted publickey for deploy from ${ip} port ${int(1024, 65535)} ssh2: ED25519 SHA256:${Buffer.from(String(r())).toString('base64').slice(0, 20)} seq=${seq}`;
  } else if (k < 0.75) {
    m = `<4>1 ${ts} ${host} kernel - - - [${int(1000, 99999)}.${int(100000, 999999)}] TCP: request_sock_TCP: Possible SYN flooding on port ${int(1, 65535)}. Sending cookies. Check SNMP counters. seq=${seq}`;
  } else if (k < 0.85) {
    m = `<78>1 ${ts} ${host} CRON ${int(100, 65000)} - - (root) CMD (/usr/local/bin/backup --incremental --target s3://backups-${int(1, 9)}/${host}/daily) seq=${seq}`;
  } else if (k < 0.93) {
    m = `<30>1 ${ts} ${host} systemd 1 - - Started Session ${int(1, 99999)} of User deploy; unit session-${int(1, 99999)}.scope. seq=${seq}`;
  } else {
    m = `<22>1 ${ts} ${host} postfix/smtp ${int(100, 65000)} - - ${int(0x10000000, 0x7fffffff).toString(16).toUpperCase()}: to=<ops@example.com>, relay=mx.example.com[${ip}]:25, delay=${int(0, 9)}.${int(1, 9)}, status=sent seq=${seq}`;
  }
  // Most services add a request or trace id; pad the shortest to 150 bytes with one more field.
  const trace = ` trace_id=${Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0')}${Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0')}${Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0')}`;
  if (r() < 0.7 && m.length + trace.length <= 250) m += trace;
  if (m.length < 150) m += ` host_group=${'frontend-pool-'.repeat(4)}`.slice(0, 150 - m.length);
  if (m.length > 250) m = m.slice(0, 250);
  return m;
}

// ---------------------------------------------------------------- the sender (a child process)

interface SenderJob {
  proto: 'tcp' | 'udp';
  framing?: 'newline' | 'octet';
  port: number;
  seed: number;
  from: number;
  count: number;
  /** UDP: messages/s offered. */
  rate?: number;
}

interface SenderResult {
  sent: number;
  bytes: number;
  startedAt: number;
  endedAt: number;
  errors: number;
}

async function sender(job: SenderJob): Promise<SenderResult> {
  // Prepare the messages first (not timed): the sender then only copies bytes.
  const msgs: Buffer[] = [];
  for (let i = 0; i < job.count; i++) {
    const m = message(job.seed, job.from + i);
    const b = Buffer.from(m);
    msgs.push(job.proto === 'udp' ? b : job.framing === 'octet' ? Buffer.from(`${b.length} ${m}`) : Buffer.from(`${m}\n`));
  }
  const bytes = msgs.reduce((a, b) => a + b.length, 0);
  return job.proto === 'tcp' ? tcpSend(job, msgs, bytes) : udpSend(job, msgs, bytes);
}

function tcpSend(job: SenderJob, msgs: Buffer[], bytes: number): Promise<SenderResult> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: job.port });
    sock.setNoDelay(false);
    let i = 0;
    let startedAt = 0;
    const pump = () => {
      while (i < msgs.length) {
        // ~64 KiB writes: many messages per syscall, as a busy relay sends them.
        const parts: Buffer[] = [];
        let n = 0;
        while (i < msgs.length && n < 65536) {
          parts.push(msgs[i]);
          n += msgs[i++].length;
        }
        if (!sock.write(Buffer.concat(parts, n))) {
          sock.once('drain', pump);
          return;
        }
      }
      sock.end();
    };
    sock.once('connect', () => {
      startedAt = nowMs();
      pump();
    });
    sock.once('error', reject);
    sock.once('finish', () => resolve({ sent: msgs.length, bytes, startedAt, endedAt: nowMs(), errors: 0 }));
  });
}

function udpSend(job: SenderJob, msgs: Buffer[], bytes: number): Promise<SenderResult> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const rate = job.rate ?? 10_000;
    let queued = 0;
    let done = 0;
    let errors = 0;
    const startedAt = nowMs();
    sock.connect(job.port, '127.0.0.1', () => {
      const t0 = nowMs();
      const cb = (err: Error | null) => {
        if (err) errors++;
        if (++done === msgs.length) {
          const endedAt = nowMs();
          sock.close();
          resolve({ sent: msgs.length - errors, bytes, startedAt: t0, endedAt, errors });
        }
      };
      const tick = () => {
        // Paced: the messages due by now (at `rate`), at most 64 per turn, and no more than 512 unsent.
        const due = Math.min(msgs.length, Math.floor(((nowMs() - t0) / 1000) * rate) + 1);
        let k = 0;
        while (queued < due && k < 64 && queued - done < 512) {
          sock.send(msgs[queued++], cb);
          k++;
        }
        if (queued < msgs.length) setImmediate(tick);
      };
      tick();
    });
    void startedAt;
  });
}

/** Runs one sender child on `cpus`; resolves with its result. */
function runSender(job: SenderJob, cpus: string): Promise<SenderResult> {
  const args = [process.execPath, THIS, '--sender', JSON.stringify(job)];
  const child = cpus ? spawn('taskset', ['-c', cpus, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`sender exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as SenderResult);
    }),
  );
}

// ---------------------------------------------------------------- counting arrivals

/** Counts the lines of a growing file (read incrementally); first/last arrival times. */
class LineCounter {
  lines = 0;
  firstAt = 0;
  lastAt = 0;
  private fd: number | undefined;
  private offset = 0;
  private readonly buf = Buffer.allocUnsafe(4 * MiB);
  constructor(readonly file: string) {}

  /** Reads what was added since the last call. */
  poll(): number {
    if (this.fd === undefined) {
      try {
        this.fd = fs.openSync(this.file, 'r');
      } catch {
        return this.lines;
      }
    }
    for (;;) {
      const n = fs.readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) break;
      this.offset += n;
      let c = 0;
      let i = this.buf.indexOf(0x0a, 0);
      while (i !== -1 && i < n) {
        c++;
        i = this.buf.indexOf(0x0a, i + 1);
      }
      if (c > 0) {
        const at = nowMs();
        if (this.lines === 0 || this.firstAt === 0) this.firstAt = at;
        this.lines += c;
        this.lastAt = at;
      }
      if (n < this.buf.length) break;
    }
    return this.lines;
  }

  /** Forgets the first/last arrival times (the next lines start a new measurement). */
  mark(): void {
    this.firstAt = 0;
    this.lastAt = 0;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Counts the messages the sink got: the addEvents receiver's lines, or the embedded sink's NDJSON records. */
interface SinkCounter {
  count(): number;
  firstAt(): number;
  lastAt(): number;
  mark(): void;
}

function receiverCounter(r: CountingReceiver): SinkCounter {
  let base = 0;
  let first = 0;
  const count = () => {
    const n = r.counts.lines;
    if (first === 0 && n > base) first = r.counts.lastAt; // the first request after the mark (polled every 5 ms)
    return n;
  };
  return {
    count,
    firstAt: () => (count(), first),
    lastAt: () => r.counts.lastAt,
    mark: () => {
      base = r.counts.lines;
      first = 0;
    },
  };
}

// ---------------------------------------------------------------- the receivers under test

interface Receiver {
  name: string;
  pid: number;
  tcpPort: number;
  udpPort: number;
  /** Lines in the receiver's output file (sluice: its message log; rsyslog: its omfile). */
  file: LineCounter;
  /** sluice: what reached the sink. */
  sink?: SinkCounter;
  output(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

function freePort(proto: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (proto === 'tcp') {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    } else {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    }
  });
}

async function startSluice(o: { dir: string; cpus: string; sink: 'receiver' | 'embedded'; receiver?: CountingReceiver; cpuProfDir?: string }): Promise<Receiver> {
  const tcpPort = await freePort('tcp');
  const udpPort = await freePort('udp');
  const { createDefaultRegistry } = (await import(pathToFileURL(path.join(REPO, 'dist', 'app', 'builtins.js')).href)) as typeof import('../app/builtins.js');
  const builtin = createDefaultRegistry().has('monitor', 'syslog_monitor');
  const plugins: string[] = [];
  if (!builtin) {
    const plugin = path.join(o.dir, 'syslog-plugin.mjs');
    fs.mkdirSync(o.dir, { recursive: true });
    const comp = pathToFileURL(path.join(REPO, 'dist', 'sources', 'monitors', 'syslog', 'component.js')).href;
    fs.writeFileSync(plugin, `import { syslogMonitorComponent } from ${JSON.stringify(comp)};\nexport const components = [syslogMonitorComponent];\n`);
    plugins.push(plugin);
  }
  const messageLog = path.join(o.dir, 'log', 'agent_syslog.log');
  const monitor = { module: 'scalyr_agent.builtin_monitors.syslog_monitor', protocols: `tcp:${tcpPort}, udp:${udpPort}`, max_log_size: 0 };
  const config = benchConfig(o.dir, o.sink === 'receiver' ? o.receiver!.url : undefined, [], { monitors: [monitor], ...(plugins.length ? { plugins } : {}) });
  const nodeArgs = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const agent: RunningAgent = startAgent({ dir: o.dir, config, cpus: o.cpus, nodeArgs });
  let exited = false;
  void agent.exited.then(() => (exited = true));
  let sink: SinkCounter | undefined;
  if (o.sink === 'receiver') sink = receiverCounter(o.receiver!);
  else {
    // The embedded sink's NDJSON files under agent_data_path: count their lines.
    const counters = new Map<number, LineCounter>();
    let first = 0;
    let last = 0;
    const total = () => {
      const dir = path.join(o.dir, 'data');
      // By inode: the sink rotates events.ndjson (renames it to events.ndjson.1 …) at 64 MiB.
      for (const f of walk(dir)) {
        if (!/\.ndjson(\.\d+)?$/.test(f)) continue;
        let ino: number;
        try {
          ino = fs.statSync(f).ino;
        } catch {
          continue;
        }
        if (!counters.has(ino)) counters.set(ino, new LineCounter(f));
      }
      let n = 0;
      for (const c of counters.values()) {
        const before = c.lines;
        n += c.poll();
        if (c.lines > before) {
          if (first === 0) first = c.lastAt;
          last = Math.max(last, c.lastAt);
        }
      }
      return n;
    };
    sink = { count: total, firstAt: () => first, lastAt: () => last, mark: () => ((first = 0), (last = 0)) };
  }
  return {
    name: 'sluice',
    pid: agent.pid,
    tcpPort,
    udpPort,
    file: new LineCounter(messageLog),
    sink,
    output: agent.output,
    exited: () => exited,
    stop: async () => {
      await agent.stop();
    },
  };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  let ents: fs.Dirent[];
  try {
    ents = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of ents) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

export function rsyslogConfig(dir: string, tcpPort: number, udpPort: number, file: string): string {
  return `# sluice bench/syslog.ts: rsyslog receiving the benchmark stream (no imuxsock, no imklog)
global(workDirectory="${dir}/work" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
template(name="asReceived" type="string" string="%rawmsg%\\n")
ruleset(name="bench") {
  action(type="omfile" file="${file}" template="asReceived")
}
input(type="imtcp" address="127.0.0.1" port="${tcpPort}" ruleset="bench")
input(type="imudp" address="127.0.0.1" port="${udpPort}" ruleset="bench")
`;
}

export function rsyslogVersion(): string | undefined {
  try {
    return execFileSync(RSYSLOGD, ['-v'], { encoding: 'utf8' }).split('\n')[0].replace(/\s*compiled with:.*$/, '').replace(/\s+/g, ' ').trim();
  } catch {
    return undefined;
  }
}

async function startRsyslog(o: { dir: string; cpus: string }): Promise<Receiver> {
  const tcpPort = await freePort('tcp');
  const udpPort = await freePort('udp');
  fs.mkdirSync(path.join(o.dir, 'work'), { recursive: true });
  const file = path.join(o.dir, 'messages.log');
  const conf = path.join(o.dir, 'rsyslog.conf');
  fs.writeFileSync(conf, rsyslogConfig(o.dir, tcpPort, udpPort, file));
  const args = [RSYSLOGD, '-n', '-f', conf, '-i', path.join(o.dir, 'pid')];
  const child: ChildProcess = o.cpus ? spawn('taskset', ['-c', o.cpus, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let exited = false;
  const exitP = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  process.once('exit', () => {
    if (!exited) child.kill('SIGKILL');
  });
  return {
    name: 'rsyslog',
    pid: child.pid!,
    tcpPort,
    udpPort,
    file: new LineCounter(file),
    output: () => out,
    exited: () => exited,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitP;
      clearTimeout(t);
    },
  };
}

/** Polls until `pred`, failing early when the receiver exits. */
async function waitUntil(rx: Receiver, pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (rx.exited()) throw new Error(`${rx.name} exited while waiting for ${what}:\n${rx.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`${rx.name}: timed out after ${timeoutMs} ms waiting for ${what}\n${rx.output().slice(-3000)}`);
    await sleep(5);
  }
}

/** The count that says a message arrived: at the sink for sluice, in the file for rsyslog. */
function delivered(rx: Receiver): number {
  rx.file.poll();
  return rx.sink ? rx.sink.count() : rx.file.lines;
}

/** Sends one TCP and one UDP probe and waits until both arrived (the receiver is up, both ports bound). */
async function warmUp(rx: Receiver, seed: number): Promise<void> {
  await waitUntil(rx, () => true, 1, 'start');
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await runInline({ proto: 'tcp', framing: 'newline', port: rx.tcpPort, seed, from: 900_000_000, count: 1 });
      break;
    } catch {
      if (rx.exited() || Date.now() > deadline) throw new Error(`${rx.name} never listened on TCP ${rx.tcpPort}:\n${rx.output().slice(-3000)}`);
      await sleep(100);
    }
  }
  await waitUntil(rx, () => delivered(rx) >= 1, 30_000, 'the TCP probe');
  // UDP is bound by now or soon; resend the probe until it arrives.
  for (let i = 0; delivered(rx) < 2; i++) {
    if (i > 100) throw new Error(`${rx.name}: no UDP probe arrived on ${rx.udpPort}:\n${rx.output().slice(-3000)}`);
    await runInline({ proto: 'udp', port: rx.udpPort, seed, from: 900_000_001 + i, count: 1, rate: 1000 });
    await waitUntil(rx, () => true, 1, 'udp');
    const t = Date.now() + 1500;
    while (delivered(rx) < 2 && Date.now() < t) await sleep(20);
  }
  // Let any extra probe copy land (sluice writes its message log every log_flush_delay, 1 s).
  let n = delivered(rx);
  for (let quietSince = Date.now(); Date.now() - quietSince < (rx.name === 'sluice' ? 1600 : 400); await sleep(20)) {
    if (delivered(rx) !== n) {
      n = delivered(rx);
      quietSince = Date.now();
    }
  }
}

/** The kernel's UDP receive-buffer overflows so far, all sockets (/proc/net/snmp `Udp: RcvbufErrors`). */
function udpRcvbufErrors(): number {
  try {
    const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/);
    const vals = lines[1].split(/\s+/);
    return Number(vals[names.indexOf('RcvbufErrors')]);
  } catch {
    return NaN;
  }
}

function runInline(job: SenderJob): Promise<SenderResult> {
  return sender(job);
}

// ---------------------------------------------------------------- one measurement

interface StreamResult {
  receiver: string;
  stream: string;
  offeredRate?: number;
  sent: number;
  /** Arrived in the output file (message log / rsyslog's file). */
  inFile: number;
  /** Arrived at the sink (sluice). */
  atSink?: number;
  fileRate: number;
  sinkRate?: number;
  senderRate: number;
  cpuS: number;
  cpuPerM: number;
  peakRssMiB: number;
  lossPct: number;
  /** UDP: datagrams the kernel dropped because the receiver's socket buffer was full (RcvbufErrors, machine-wide, during the step). */
  rcvbufDrops?: number;
}

/** utime and stime of a pid, seconds. */
function userSys(pid: number): { user: number; sys: number } {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
  } catch {
    return { user: NaN, sys: NaN };
  }
}

/** `--threads`: where the receiver's CPU went during the stream: user/system, and by thread (main first). */
function describeThreads(pid: number, us0: { user: number; sys: number }, th0: Map<number, number>): string {
  const us1 = userSys(pid);
  const th = threadCpu(pid)
    .map((t) => ({ ...t, d: t.cpu - (th0.get(t.tid) ?? 0) }))
    .filter((t) => t.d > 0);
  const per = [...th.filter((t) => t.main), ...th.filter((t) => !t.main)].map((t) => `${t.main ? 'main ' : ''}${t.tid}=${t.d.toFixed(2)}`);
  return `user ${(us1.user - us0.user).toFixed(2)} s, system ${(us1.sys - us0.sys).toFixed(2)} s; by thread (CPU-s): ${per.join(', ')}`;
}

async function measure(rx: Receiver, job: SenderJob, senderCpus: string, stream: string, timeoutMs: number, threads = false): Promise<StreamResult> {
  const us0 = userSys(rx.pid);
  const th0 = new Map(threadCpu(rx.pid).map((t) => [t.tid, t.cpu]));
  const baseFile = (rx.file.poll(), rx.file.lines);
  const baseSink = rx.sink ? rx.sink.count() : baseFile;
  rx.file.mark();
  rx.sink?.mark();
  const drops0 = udpRcvbufErrors();
  const cpu0 = procSample(rx.pid);
  if (!cpu0) throw new Error(`${rx.name} is gone`);
  let last: ProcSample = cpu0;
  const sampler = setInterval(() => (last = procSample(rx.pid) ?? last), 100);
  // Arrivals are polled while the sender runs (every 5 ms: the first/last arrival times).
  const poller = setInterval(() => delivered(rx), 5);
  try {
    const sent = await runSender(job, senderCpus);
    const want = sent.sent;
    // Wait for everything (TCP) or until arrivals stop (UDP: what is lost stays lost).
    if (job.proto === 'tcp') {
      await waitUntil(rx, () => delivered(rx) - baseSink >= want, timeoutMs, `${want} messages (have ${delivered(rx) - baseSink})`);
    } else {
      let prev = -1;
      let stableSince = Date.now();
      const quietMs = rx.name === 'sluice' ? 2500 : 800; // sluice writes its message log every log_flush_delay (1 s), then ships it
      while (Date.now() - stableSince < quietMs && delivered(rx) - baseSink < want) {
        const n = delivered(rx);
        if (n !== prev) {
          prev = n;
          stableSince = Date.now();
        }
        if (rx.exited()) throw new Error(`${rx.name} exited:\n${rx.output().slice(-3000)}`);
        await sleep(20);
      }
    }
    const s = procSample(rx.pid) ?? last;
    if (threads) process.stdout.write(`    ${rx.name} ${stream}: ${describeThreads(rx.pid, us0, th0)}\n`);
    rx.file.poll();
    const inFile = rx.file.lines - baseFile;
    const atSink = rx.sink ? rx.sink.count() - baseSink : undefined;
    const arrived = atSink ?? inFile;
    // UDP: what arrived per second of sending (a receiver that writes in batches, as sluice every
    // log_flush_delay, would otherwise look faster or slower by the batch period).
    const sendSecs = Math.max(1e-3, (sent.endedAt - sent.startedAt) / 1000);
    const fileSecs = job.proto === 'udp' ? sendSecs : Math.max(1e-3, (rx.file.lastAt - rx.file.firstAt) / 1000);
    const sinkSecs = rx.sink ? (job.proto === 'udp' ? sendSecs : Math.max(1e-3, (rx.sink.lastAt() - rx.sink.firstAt()) / 1000)) : undefined;
    const cpuS = s.cpu - cpu0.cpu;
    return {
      receiver: rx.name,
      stream,
      offeredRate: job.rate,
      sent: sent.sent,
      inFile,
      atSink,
      fileRate: inFile / fileSecs,
      sinkRate: sinkSecs !== undefined && atSink !== undefined ? atSink / sinkSecs : undefined,
      senderRate: sent.sent / Math.max(1e-3, (sent.endedAt - sent.startedAt) / 1000),
      cpuS,
      cpuPerM: (cpuS / Math.max(1, arrived)) * 1e6,
      peakRssMiB: s.hwmKiB / 1024,
      lossPct: (100 * (sent.sent - arrived)) / sent.sent,
      rcvbufDrops: job.proto === 'udp' ? udpRcvbufErrors() - drops0 : undefined,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(poller);
  }
}

// ---------------------------------------------------------------- main

function fmtRate(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return x >= 10_000 ? `${(x / 1000).toFixed(0)}k` : `${(x / 1000).toFixed(1)}k`;
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r, j) => r.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ') + (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : '')).join('\n');
}

async function main(): Promise<void> {
  const f = new Flags();
  if (f.has('sender')) {
    const r = await sender(JSON.parse(f.str('sender', '{}')) as SenderJob);
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  process.setMaxListeners(0); // one exit handler per receiver process started (they kill it if this process dies first)
  const N = f.num('messages', 200_000);
  const runs = f.num('runs', 1);
  const proto = f.str('proto', 'both');
  const only = f.str('only', '');
  const cpus = f.str('cpus', '0');
  const senderCpus = f.str('sender-cpus', cpus === '0' ? '1' : '0');
  const sinkKind = f.str('sink', 'receiver') as 'receiver' | 'embedded';
  const rates = f.str('rates', '10000,25000,50000,100000').split(',').map(Number).filter((x) => x > 0);
  const stepSecs = f.num('step-secs', 2);
  const seed = f.num('seed', 42);
  const keep = f.has('keep');
  const cpuProfDir = f.has('cpu-prof') ? path.resolve(f.str('cpu-prof', 'cpu-prof')) : undefined;
  const timeoutMs = f.num('timeout', 180) * 1000;
  if (senderCpus) pinSelf(senderCpus);
  const version = rsyslogVersion();
  const contenders = (['sluice', 'rsyslog'] as const).filter((c) => !only || c === only);
  if (contenders.includes('rsyslog') && !version) {
    process.stdout.write(`${RSYSLOGD} not found (apt-get install -y rsyslog); measuring sluice only.\n`);
    contenders.splice(contenders.indexOf('rsyslog'), 1);
  }
  const streams: { name: string; proto: 'tcp' | 'udp'; framing?: 'newline' | 'octet' }[] = [];
  if (proto === 'tcp' || proto === 'both') streams.push({ name: 'tcp newline', proto: 'tcp', framing: 'newline' }, { name: 'tcp octet-counted', proto: 'tcp', framing: 'octet' });
  if (proto === 'udp' || proto === 'both') streams.push({ name: 'udp', proto: 'udp' });
  const receiver = contenders.includes('sluice') && sinkKind === 'receiver' ? await startReceiver({ verifyEvery: 1_000_003 }) : undefined;
  const sizes = Array.from({ length: 1000 }, (_, i) => Buffer.byteLength(message(seed, i)));
  process.stdout.write(
    `syslog listener: ${N} RFC 5424 messages per TCP stream (${Math.min(...sizes)}–${Math.max(...sizes)} B, mean ${(sizes.reduce((a, b) => a + b, 0) / sizes.length).toFixed(0)} B), UDP ladder ${rates.join(', ')} msg/s × ${stepSecs} s; ` +
      `receivers on CPU ${cpus}, sender and this process on ${senderCpus || 'any'}; sluice sink: ${sinkKind === 'receiver' ? 'addEvents to the local receiver (deflate, upload path included)' : 'embedded NDJSON'}; ${version ?? 'no rsyslog'}; ${machine()}\n`,
  );
  const results: StreamResult[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const st of streams) {
        for (const c of contenders) {
          const dir = tmpDir(`sluice-syslog-${c}-`);
          const rx = c === 'sluice' ? await startSluice({ dir, cpus, sink: sinkKind, receiver, cpuProfDir }) : await startRsyslog({ dir, cpus });
          try {
            await warmUp(rx, seed);
            const jobs: { job: SenderJob; label: string }[] =
              st.proto === 'tcp'
                ? [{ job: { proto: 'tcp', framing: st.framing, port: rx.tcpPort, seed, from: 0, count: N }, label: st.name }]
                : rates.map((rate, i) => ({ job: { proto: 'udp' as const, port: rx.udpPort, seed, from: (i + 1) * 10_000_000, count: Math.round(rate * stepSecs), rate }, label: `udp @${fmtRate(rate)}/s` }));
            for (const { job, label } of jobs) {
              const r = await measure(rx, job, senderCpus, label, timeoutMs, f.has('threads'));
              results.push(r);
              process.stdout.write(
                `  run ${run} ${c.padEnd(7)} ${label.padEnd(18)} sent ${r.sent} (sender ${fmtRate(r.senderRate)}/s), in file ${r.inFile} at ${fmtRate(r.fileRate)}/s` +
                  (r.atSink !== undefined ? `, at sink ${r.atSink} at ${fmtRate(r.sinkRate)}/s` : '') +
                  `, loss ${r.lossPct.toFixed(2)}%${r.rcvbufDrops !== undefined ? ` (kernel RcvbufErrors ${r.rcvbufDrops})` : ''}, ${r.cpuS.toFixed(2)} CPU-s (${r.cpuPerM.toFixed(2)} per M), peak RSS ${r.peakRssMiB.toFixed(0)} MiB\n`,
              );
            }
          } catch (err) {
            process.stdout.write(`  run ${run} ${c} ${st.name}: FAILED: ${(err as Error).message.split('\n').slice(0, 12).join('\n    ')}\n`);
          } finally {
            await rx.stop();
            rx.file.close();
            if (!keep) fs.rmSync(dir, { recursive: true, force: true });
          }
        }
      }
    }
  } finally {
    await receiver?.close();
  }
  // One table: medians over the runs.
  const keys = [...new Set(results.map((r) => `${r.stream}\u0000${r.receiver}`))];
  const rows: string[][] = [['stream', 'receiver', 'msg/s (file)', 'msg/s (sink)', 'CPU-s per M msgs', 'peak RSS MiB', 'loss %', 'rcvbuf drops', 'runs']];
  for (const k of keys) {
    const [stream, rxName] = k.split('\u0000');
    const rs = results.filter((r) => r.stream === stream && r.receiver === rxName);
    const sink = rs.map((r) => r.sinkRate).filter((x): x is number => x !== undefined);
    rows.push([
      stream,
      rxName,
      fmtRate(median(rs.map((r) => r.fileRate))),
      sink.length ? fmtRate(median(sink)) : '–',
      median(rs.map((r) => r.cpuPerM)).toFixed(2),
      median(rs.map((r) => r.peakRssMiB)).toFixed(0),
      median(rs.map((r) => r.lossPct)).toFixed(2),
      rs[0].rcvbufDrops === undefined ? '–' : median(rs.map((r) => r.rcvbufDrops ?? 0)).toFixed(0),
      String(rs.length),
    ]);
  }
  process.stdout.write(`\nmedians over ${runs} run(s); msg/s (file: sluice's message log / rsyslog's omfile; sink: what sluice uploaded): TCP: first to last message arriving; UDP: delivered per second of sending; CPU per million messages delivered (sluice: at the sink, upload included); UDP: loss = sent but never delivered, rcvbuf drops = the kernel's UDP RcvbufErrors during the step\n${table(rows)}\n`);
  if (cpuProfDir) process.stdout.write(`CPU profiles of sluice in ${cpuProfDir} (summarize: node dist/bench/profile.js ${cpuProfDir})\n`);
  record('syslog', { messages: N, runs, proto, only, cpus, senderCpus, sink: sinkKind, rates, stepSecs, rsyslog: version, results });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`syslog: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
