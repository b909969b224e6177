/**
 * Issue 19's one side-by-side script: for each workload profile, every shipper reads the same
 * generated file and sends it to the same local counting receiver, one core each, runs
 * alternating (paired); one markdown table at the end, raw output saved.
 *
 *   node dist/bench/sidebyside.js [--profiles short,short-nogroup,tiny,medium,long,live] [--size 256]
 *        [--runs 3] [--shippers sluice,sluice-none,plain,rsyslog,syslog-ng] [--cpus 0]
 *        [--receiver-cpus 1] [--live-size 64] [--live-rate 50000] [--live-profile short] [--out DIR]
 *
 * Shippers (each under `taskset -c <cpus>`; this process, the receivers and the live writer on
 * `--receiver-cpus`):
 * - `sluice`: `bin/sluice start --foreground` on a generated agent.json (the profile's
 *   lineGroupers/redaction/sampling; addEvents to the receiver; deflate level 6);
 *   `sluice-none` the same with `compression_type: none`.
 * - `plain`: bench/plainShipper.ts (split, group, redact, 5,000-event batches, deflate 6 on the
 *   thread pool, one request at a time).
 * - `rsyslog`: /usr/sbin/rsyslogd, imfile (`startmsg.regex` for grouping, `readTimeout` 1 s),
 *   redaction by `re_extract` + `replace`, and — Debian's rsyslog has no omhttp — omfwd over TCP
 *   (octet-counted framing, uncompressed) to a TCP counting receiver in this process.
 * - `syslog-ng`: syslog-ng 3.38 (Debian `syslog-ng-core` + `syslog-ng-mod-http`, which conflicts
 *   with rsyslog, so it is unpacked: `$SLUICE_SYSLOGNG_DIR`, else /opt/syslog-ng-unpacked, else
 *   `apt-get download` + `dpkg -x` into `$SLUICE_BENCH_DIR/syslog-ng-unpacked`); file() source
 *   (multi-line regexp), subst() redaction, http() to the receiver (3.38 has no body compression).
 *
 * Figures per run: MB/s (input bytes / seconds from spawn — for `live`, from the writer's first
 * write — until the receiver holds every line but the terminator, which grouping may hold for its
 * completion wait), CPU-s/GiB (utime+stime of the shipper's process tree from /proc, children
 * included, at that moment), peak RSS (VmHWM summed over the tree), wire bytes per input GiB (as
 * received: compressed when compressed). After the clock stops the script waits (untimed) for the
 * rest: every line must arrive, events are counted, every 101st message is checked for a
 * cleartext `password=`. Runs alternate shippers in a rotating order; sluice's ratios against the
 * plain shipper are taken per run pair, then the median (and spread).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cachedLog, profileOf, PROFILES, type Manifest, type Profile, type ProfileName } from './generate.js';
import { startReceiver, noCleartextPassword, type CountingReceiver } from './receiver.js';
import { Flags, GiB, MiB, REPO, benchConfig, isMain, machine, median, pinSelf, record, sleep, spread, startAgent, tmpDir } from './common.js';

export type ShipperName = 'sluice' | 'sluice-none' | 'plain' | 'rsyslog' | 'syslog-ng';
const ALL_SHIPPERS: ShipperName[] = ['sluice', 'sluice-none', 'plain', 'rsyslog', 'syslog-ng'];
const RSYSLOGD = '/usr/sbin/rsyslogd';
const CLK_TCK = 100;

// ---------------------------------------------------------------- process tree from /proc

interface TreeSample {
  cpu: number;
  hwmKiB: number;
  pids: number;
}

/** CPU (utime+stime, plus reaped children's cutime+cstime) and VmHWM summed over `root` and its descendants. */
export function treeSample(root: number): TreeSample | undefined {
  const kids = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const e of fs.readdirSync('/proc')) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const pid = Number(e);
      const ppid = Number(f[1]);
      cpu.set(pid, (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid)!.push(pid);
    } catch {
      // gone
    }
  }
  if (!cpu.has(root)) return undefined;
  let total = 0;
  let hwm = 0;
  let n = 0;
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    total += cpu.get(p) ?? 0;
    n++;
    try {
      hwm += Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
    todo.push(...(kids.get(p) ?? []));
  }
  return { cpu: total, hwmKiB: hwm, pids: n };
}

// ---------------------------------------------------------------- a TCP counting receiver (rsyslog's omfwd)

interface Counts {
  events: number;
  lines: number;
  wireBytes: number;
  bodyBytes: number;
  verifyErrors: string[];
}

/** Octet-counted syslog frames (`LEN SP MSG`, RFC 6587) on 127.0.0.1: events, lines (newlines + 1 for an unterminated message), bytes. */
class TcpCounter {
  counts: Counts = { events: 0, lines: 0, wireBytes: 0, bodyBytes: 0, verifyErrors: [] };
  private server = net.createServer((s) => this.conn(s));
  private socks = new Set<net.Socket>();
  port = 0;
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  reset(): void {
    this.counts = { events: 0, lines: 0, wireBytes: 0, bodyBytes: 0, verifyErrors: [] };
  }
  private conn(s: net.Socket): void {
    this.socks.add(s);
    s.on('close', () => this.socks.delete(s));
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      this.counts.wireBytes += d.length;
      this.counts.bodyBytes += d.length;
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      let i = 0;
      for (;;) {
        const sp = buf.indexOf(0x20, i);
        if (sp === -1 || sp - i > 10) break;
        const len = Number(buf.toString('latin1', i, sp));
        if (!Number.isFinite(len)) {
          this.counts.verifyErrors.push(`bad frame at ${i}`);
          s.destroy();
          return;
        }
        if (sp + 1 + len > buf.length) break;
        const msg = buf.subarray(sp + 1, sp + 1 + len);
        let nl = 0;
        for (let k = msg.indexOf(0x0a); k !== -1; k = msg.indexOf(0x0a, k + 1)) nl++;
        const c = this.counts;
        c.lines += nl + (len > 0 && msg[len - 1] !== 0x0a ? 1 : 0);
        if (c.events++ % 101 === 0) {
          const err = noCleartextPassword(msg);
          if (err && c.verifyErrors.length < 20) c.verifyErrors.push(err);
        }
        i = sp + 1 + len;
      }
      buf = buf.subarray(i);
    });
  }
  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// ---------------------------------------------------------------- peers' configs

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/** rsyslog's `startmsg.regex` (POSIX ERE) for a profile's grouper; ERE has no look-ahead, so `long`'s is spelled for its data (only `Caused by:` starts with C). */
function rsyslogStart(p: Profile): string | undefined {
  if (!p.config.lineGroupers) return undefined;
  return p.name === 'long' ? '^([^C[:space:]]|C[^a])' : '^[0-9]';
}

export function rsyslogConfig(dir: string, p: Profile, file: string, port: number): string {
  const start = rsyslogStart(p);
  const drop = (p.config.sampling_rules ?? []).filter((r) => r.sampling_rate === 0).map((r) => `  if ($msg contains "${esc(r.match_expression)}") then stop\n`).join('');
  const red = p.config.redaction_rules[0];
  // ERE spelling of the redaction (\S is not ERE).
  const re = red.match_expression.replace('\\S', '[^[:space:]]');
  return `# sluice bench/sidebyside.ts: rsyslog tails the benchmark file and forwards over TCP
global(workDirectory="${dir}/work" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")
module(load="imfile" mode="inotify")
template(name="redacted" type="string" string="%$.m%")
ruleset(name="bench") {
${drop}  set $.pw = re_extract($msg, "${esc(re)}", 0, 0, "");
  if ($.pw != "") then { set $.m = replace($msg, $.pw, "${esc(red.replacement)}"); } else { set $.m = $msg; }
  action(type="omfwd" target="127.0.0.1" port="${port}" protocol="tcp" TCP_Framing="octet-counted" template="redacted")
}
input(type="imfile" file="${file}" tag="bench" ruleset="bench" freshStartTail="off" escapeLF="off" readTimeout="1"${start ? ` startmsg.regex="${esc(start)}"` : ''})
`;
}

export function rsyslogVersion(): string | undefined {
  try {
    return execFileSync(RSYSLOGD, ['-v'], { encoding: 'utf8' }).split('\n')[0].replace(/\s*compiled with:.*$/, '').replace(/\s+/g, ' ').trim();
  } catch {
    return undefined;
  }
}

export function syslogNgConfig(file: string, url: string, p: Profile): string {
  const ml = !p.config.lineGroupers
    ? ''
    : p.name === 'long'
      ? ` multi-line-mode(prefix-garbage) multi-line-prefix("^(?!Caused by: )[^\\\\s]") multi-line-garbage("^  END-OF-BENCH")`
      : ` multi-line-mode(regexp) multi-line-prefix("${esc(p.config.lineGroupers[0].start)}") multi-line-timeout(2)`;
  const drops = (p.config.sampling_rules ?? []).filter((r) => r.sampling_rate === 0);
  const red = p.config.redaction_rules[0];
  return `@version: 3.38
options { threaded(yes); use-dns(no); use-fqdn(no); dns-cache(no); stats-freq(0); log-fifo-size(100000); };
source s_file { file("${esc(file)}" follow-freq(1) flags(no-parse)${ml} log-fetch-limit(10000) log-iw-size(100000) log-msg-size(65536)); };
${drops.length ? `filter f_drop { not (${drops.map((d) => `message("${esc(d.match_expression)}" type(string) flags(substring))`).join(' or ')}); };\n` : ''}rewrite r_redact { subst("${esc(red.match_expression)}", "${esc(red.replacement)}", value("MESSAGE") flags(global)); };
destination d_http { http(url("${url}/api/addEvents") method("POST") headers("Content-Type: application/json") workers(1)
  batch-lines(5000) batch-bytes(5800000) batch-timeout(200)
  body-prefix("{\\"token\\":\\"bench\\",\\"session\\":\\"syslog-ng\\",\\"events\\":[") delimiter(",") body-suffix("]}")
  body("{\\"ts\\":\\"\${R_UNIXTIME}000000000\\",\\"attrs\\":$(format-json --scope none message=$MSG parser=bench)}")); };
log { source(s_file); ${drops.length ? 'filter(f_drop); ' : ''}rewrite(r_redact); destination(d_http); flags(flow-control); };
`;
}

interface SyslogNg {
  bin: string;
  env: NodeJS.ProcessEnv;
  args: string[];
  version: string;
}

/** syslog-ng installed, or unpacked (see the header); undefined when neither works. */
export function findSyslogNg(log: (s: string) => void): SyslogNg | undefined {
  const tryRun = (bin: string, env: NodeJS.ProcessEnv, args: string[]): SyslogNg | undefined => {
    try {
      const v = execFileSync(bin, [...args, '--version'], { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      return { bin, env, args, version: v.split('\n')[0].trim() };
    } catch {
      return undefined;
    }
  };
  const installed = tryRun('syslog-ng', {}, []);
  if (installed) return installed;
  const unpacked = (dir: string) => tryRun(path.join(dir, 'usr/sbin/syslog-ng'), { LD_LIBRARY_PATH: `${dir}/usr/lib/syslog-ng:${dir}/usr/lib/x86_64-linux-gnu` }, [`--module-path=${dir}/usr/lib/syslog-ng/3.38`]);
  const cache = path.join(process.env.SLUICE_BENCH_DIR ?? path.join(os.tmpdir(), 'sluice-bench'), 'syslog-ng-unpacked');
  for (const dir of [process.env.SLUICE_SYSLOGNG_DIR, '/opt/syslog-ng-unpacked', cache]) {
    if (dir && fs.existsSync(path.join(dir, 'usr/sbin/syslog-ng'))) {
      const s = unpacked(dir);
      if (s) return s;
    }
  }
  try {
    log(`unpacking syslog-ng into ${cache} (apt-get download syslog-ng-core syslog-ng-mod-http; dpkg -x)\n`);
    const dl = tmpDir('sluice-syslogng-deb-');
    execFileSync('apt-get', ['download', 'syslog-ng-core', 'syslog-ng-mod-http'], { cwd: dl, stdio: 'ignore' });
    fs.mkdirSync(cache, { recursive: true });
    for (const deb of fs.readdirSync(dl).filter((f) => f.endsWith('.deb'))) execFileSync('dpkg', ['-x', path.join(dl, deb), cache]);
    fs.rmSync(dl, { recursive: true, force: true });
    const s = unpacked(cache);
    // The unpacked binary needs syslog-ng-core's libraries (installing the package itself would remove rsyslog).
    if (!s) log('the unpacked syslog-ng does not run: apt-get install -y libivykis0 libnet1 libpcre3 libjson-c5 libcurl4 libwrap0, then run again\n');
    return s;
  } catch (err) {
    log(`syslog-ng unavailable: ${(err as Error).message}\n`);
    return undefined;
  }
}

// ---------------------------------------------------------------- one run

export interface Run {
  profile: string;
  shipper: ShipperName;
  run: number;
  sizeMiB: number;
  wallS: number;
  mbps: number;
  cpuS: number;
  cpuPerGiB: number;
  peakRssMiB: number;
  wireMiBPerGiB: number;
  bodyMiBPerGiB: number;
  events: number;
  expectedEvents: number;
  lines: number;
  expectedLines: number;
  /** Seconds from the last write to the clock stop (live only). */
  lagS?: number;
  verifyErrors: string[];
  error?: string;
}

interface Env {
  http: CountingReceiver;
  tcp: TcpCounter;
  cpus: string;
  recvCpus: string;
  syslogNg?: SyslogNg;
  liveRate: number;
  keep: boolean;
}

function spawnPinned(cpus: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  return spawn('taskset', ['-c', cpus, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/** Ships `m` once through `shipper`; `live`: the shipper tails an empty file a writer appends `m` to. */
async function runOnce(shipper: ShipperName, m: Manifest, p: Profile, live: boolean, e: Env, runNo: number): Promise<Run> {
  const dir = tmpDir(`sluice-sbs-${shipper}-`);
  const file = live ? path.join(dir, 'live.log') : m.file;
  if (live) fs.writeFileSync(file, '');
  const counts = (): Counts => (shipper === 'rsyslog' ? e.tcp.counts : e.http.counts);
  e.http.reset();
  e.tcp.reset();
  let child: ChildProcess | undefined;
  let stop: () => Promise<void> = async () => {};
  let out = '';
  let t0 = process.hrtime.bigint();
  const keepOut = (c: Buffer) => {
    out += c.toString();
    if (out.length > 100_000) out = out.slice(-50_000);
  };
  let pid: number;
  let output = () => out;
  if (shipper === 'sluice' || shipper === 'sluice-none') {
    const entry = { path: file, copy_from_start: true, attributes: { parser: 'bench' }, ...p.config };
    const config = benchConfig(dir, e.http.url, [entry], shipper === 'sluice' ? { compression_type: 'deflate', compression_level: 6 } : { compression_type: 'none' });
    t0 = process.hrtime.bigint();
    const a = startAgent({ dir: path.join(dir, 'agent'), config, cpus: e.cpus });
    pid = a.pid;
    child = a.child;
    stop = async () => void (await a.stop(10_000));
    output = a.output;
  } else {
    let cmd: string;
    let args: string[];
    let env: NodeJS.ProcessEnv | undefined;
    if (shipper === 'plain') {
      cmd = process.execPath;
      args = [path.join(REPO, 'dist/bench/plainShipper.js'), '--file', file, '--url', e.http.url, '--profile', p.name];
    } else if (shipper === 'rsyslog') {
      fs.mkdirSync(path.join(dir, 'work'), { recursive: true });
      const conf = path.join(dir, 'rsyslog.conf');
      fs.writeFileSync(conf, rsyslogConfig(dir, p, file, e.tcp.port));
      cmd = RSYSLOGD;
      args = ['-n', '-f', conf, '-i', path.join(dir, 'pid')];
    } else {
      const s = e.syslogNg!;
      const conf = path.join(dir, 'syslog-ng.conf');
      fs.writeFileSync(conf, syslogNgConfig(file, e.http.url, p));
      cmd = s.bin;
      args = [...s.args, '-F', '-f', conf, `--persist-file=${dir}/persist`, `--pidfile=${dir}/pid`, `--control=${dir}/ctl`, '--no-caps'];
      env = s.env;
    }
    t0 = process.hrtime.bigint();
    const c = spawnPinned(e.cpus, cmd, args, env);
    child = c;
    pid = c.pid!;
    c.stdout!.on('data', keepOut);
    c.stderr!.on('data', keepOut);
    const exitP = new Promise<void>((r) => c.once('exit', () => r()));
    stop = async () => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exitP;
      clearTimeout(t);
    };
  }
  let exited = false;
  child.once('exit', () => (exited = true));
  const onExit = () => child!.kill('SIGKILL');
  process.once('exit', onExit);
  // The clock stops at every line but the terminator (grouping may hold it for its completion wait).
  const timedLines = m.expectedLines - 1;
  // syslog-ng's prefix-garbage mode drops the long profile's terminator (its garbage line).
  const allLines = shipper === 'syslog-ng' && p.name === 'long' ? m.expectedLines - 1 : m.expectedLines;
  const res: Run = { profile: live ? 'live' : p.name, shipper, run: runNo, sizeMiB: m.bytes / MiB, wallS: NaN, mbps: NaN, cpuS: NaN, cpuPerGiB: NaN, peakRssMiB: NaN, wireMiBPerGiB: NaN, bodyMiBPerGiB: NaN, events: 0, expectedEvents: m.expectedEvents, lines: 0, expectedLines: allLines, verifyErrors: [] };
  let last = treeSample(pid);
  const sampler = setInterval(() => (last = treeSample(pid) ?? last), 250);
  try {
    let writerDone: number | undefined;
    let writer: ChildProcess | undefined;
    if (live) {
      // Give the shipper time to start tailing, then write; the clock starts at the first write.
      await sleep(1500);
      t0 = process.hrtime.bigint();
      writer = spawnPinned(e.recvCpus || e.cpus, process.execPath, [path.join(REPO, 'dist/bench/generate.js'), '--live', '--source', m.file, '--out', file, '--rate', String(e.liveRate)]);
      writer.once('exit', () => (writerDone = Number(process.hrtime.bigint() - t0) / 1e9));
    }
    const deadline = Date.now() + Math.max(120_000, (m.bytes / MiB) * 2000);
    while (counts().lines < timedLines) {
      if (exited) throw new Error(`${shipper} exited early:\n${output().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${shipper} timed out: ${counts().lines}/${timedLines} lines\n${output().slice(-2000)}`);
      await sleep(5);
    }
    res.wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const s = treeSample(pid) ?? last!;
    clearInterval(sampler);
    res.cpuS = s.cpu;
    res.mbps = m.bytes / MiB / res.wallS;
    res.cpuPerGiB = (s.cpu / m.bytes) * GiB;
    res.peakRssMiB = s.hwmKiB / 1024;
    if (writer) {
      // The lag: how long after the writer's last write the clock stopped (0 when it kept up; the
      // writer's exit comes a little after its last write, so it can show as before it).
      while (writerDone === undefined && writer.exitCode === null) await sleep(5);
      res.lagS = Math.max(0, res.wallS - (writerDone ?? res.wallS));
    }
    // Untimed: the rest must arrive (the held terminator: up to sluice's 5 s completion wait).
    const rest = Date.now() + 30_000;
    while (counts().lines < allLines && Date.now() < rest && !exited) await sleep(20);
    await sleep(300); // duplicates would show now
    const c = counts();
    res.events = c.events;
    res.lines = c.lines;
    res.wireMiBPerGiB = (c.wireBytes / MiB / m.bytes) * GiB;
    res.bodyMiBPerGiB = (c.bodyBytes / MiB / m.bytes) * GiB;
    res.verifyErrors = [...c.verifyErrors];
    if (c.lines !== allLines) res.error = `${c.lines} lines received, ${allLines} expected`;
    if (writer && writer.exitCode === null) writer.kill('SIGKILL');
  } catch (err) {
    res.error = (err as Error).message.split('\n')[0];
    process.stdout.write(`    ${(err as Error).message.slice(0, 1500)}\n`);
  } finally {
    clearInterval(sampler);
    process.off('exit', onExit);
    await stop();
    if (!e.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  return res;
}

function describe(r: Run): string {
  if (r.error && !Number.isFinite(r.mbps)) return `FAILED: ${r.error}`;
  return `${r.mbps.toFixed(1)} MB/s, ${r.cpuPerGiB.toFixed(1)} CPU-s/GiB, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${r.wireMiBPerGiB.toFixed(0)} MiB wire/GiB, ${r.events}/${r.expectedEvents} events, ${r.lines}/${r.expectedLines} lines${r.lagS !== undefined ? `, lag ${r.lagS.toFixed(2)} s after the last write` : ''}${r.verifyErrors.length ? `, VERIFY: ${r.verifyErrors[0].slice(0, 120)}` : ''}${r.error ? `, ERROR: ${r.error}` : ''}`;
}

// ---------------------------------------------------------------- main

const TARGETS = { mbps: 1.2, cpu: 0.8, rssMiB: 100, noneMbps: 100 };

async function main(): Promise<void> {
  const f = new Flags();
  const profiles = f.str('profiles', 'short,short-nogroup,tiny,medium,long,live').split(',').filter(Boolean);
  const size = f.num('size', 256);
  const runs = f.num('runs', 3);
  const cpus = f.str('cpus', '0');
  const recvCpus = f.str('receiver-cpus', cpus === '0' ? '1' : '0');
  const liveSize = f.num('live-size', 64);
  const liveRate = f.num('live-rate', 50_000);
  const liveProfile = profileOf(f.str('live-profile', 'short'));
  const shippersWanted = f.str('shippers', ALL_SHIPPERS.join(',')).split(',') as ShipperName[];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.resolve(f.str('out', path.join(process.env.SLUICE_BENCH_DIR ?? path.join(os.tmpdir(), 'sluice-bench'), 'sidebyside')));
  fs.mkdirSync(outDir, { recursive: true });
  const rawPath = path.join(outDir, `sidebyside-${stamp}.md`);
  const log = (s: string) => {
    process.stdout.write(s);
    fs.appendFileSync(rawPath, s);
  };
  for (const p of profiles) if (p !== 'live') profileOf(p);
  for (const s of shippersWanted) if (!ALL_SHIPPERS.includes(s)) throw new Error(`--shippers: unknown shipper '${s}' (one of ${ALL_SHIPPERS.join(', ')})`);
  if (recvCpus) pinSelf(recvCpus);

  const shippers = [...shippersWanted];
  const rsv = rsyslogVersion();
  if (shippers.includes('rsyslog') && !rsv) {
    log(`${RSYSLOGD} not found: rsyslog not measured\n`);
    shippers.splice(shippers.indexOf('rsyslog'), 1);
  }
  const sng = shippers.includes('syslog-ng') ? findSyslogNg(log) : undefined;
  if (shippers.includes('syslog-ng') && !sng) shippers.splice(shippers.indexOf('syslog-ng'), 1);

  const http = await startReceiver({ verify: noCleartextPassword, verifyEvery: 101 });
  const tcp = new TcpCounter();
  await tcp.start();
  const env: Env = { http, tcp, cpus, recvCpus, syslogNg: sng, liveRate, keep: f.has('keep') };
  const manifests = new Map<string, { m: Manifest; p: Profile; live: boolean }>();
  for (const name of profiles) {
    const live = name === 'live';
    const p = live ? liveProfile : PROFILES[name as ProfileName];
    manifests.set(name, { m: await cachedLog(live ? liveSize : size, f.num('seed', 42), undefined, p.name), p, live });
  }
  log(`# side by side (issue 19)\n\n${new Date().toISOString()}; shippers on CPU ${cpus}, receiver${profiles.includes('live') ? ' and live writer' : ''} on ${recvCpus || 'any'}; ${machine()}; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  log(`command: node dist/bench/sidebyside.js ${process.argv.slice(2).join(' ')}\n`);
  log(`shippers: ${shippers.join(', ')}; ${rsv ?? 'no rsyslog'}; ${sng?.version ?? 'no syslog-ng'}\n`);
  for (const [name, { m, p, live }] of manifests) {
    log(`profile ${name}: ${live ? `${p.name} lines written live at ${liveRate || 'max'} lines/s in writes of 1-20 lines, ` : ''}${(m.bytes / MiB).toFixed(0)} MiB, ${m.lines} lines (${(m.bytes / m.lines).toFixed(0)} B/line), ${m.expectedEvents} events (${((m.expectedEvents / m.bytes) * GiB / 1e6).toFixed(2)} M/GiB); config ${JSON.stringify(p.config)}\n`);
  }

  const results: Run[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      for (const [name, { m, p, live }] of manifests) {
        // Rotate the order each run so no shipper always runs first (warm page cache, drift).
        const order = shippers.map((_, k) => shippers[(k + i) % shippers.length]);
        for (const s of order) {
          const r = await runOnce(s, m, p, live, env, i + 1);
          r.profile = name;
          results.push(r);
          log(`  run ${i + 1} ${name.padEnd(13)} ${s.padEnd(11)} ${describe(r)}\n`);
        }
      }
    }
  } finally {
    await http.close();
    await tcp.close();
  }

  // Summary table: medians [min–max] per profile and shipper.
  const rows: string[] = ['| profile | shipper | MB/s | CPU-s/GiB | peak RSS MiB | wire MiB per input GiB | all lines, no cleartext password |', '|---|---|---:|---:|---:|---:|---|'];
  const ok = (rs: Run[]) => rs.every((r) => !r.error && r.verifyErrors.length === 0);
  const good = (rs: Run[]) => rs.filter((r) => Number.isFinite(r.mbps));
  for (const name of profiles) {
    for (const s of shippers) {
      const rs = good(results.filter((r) => r.profile === name && r.shipper === s));
      const all = results.filter((r) => r.profile === name && r.shipper === s);
      if (!all.length) continue;
      rows.push(`| ${name} | ${s} | ${spread(rs.map((r) => r.mbps))} | ${spread(rs.map((r) => r.cpuPerGiB))} | ${spread(rs.map((r) => r.peakRssMiB), 0)} | ${spread(rs.map((r) => r.wireMiBPerGiB), 0)} | ${ok(all) ? 'yes' : 'NO: ' + (all.find((r) => r.error)?.error ?? all.find((r) => r.verifyErrors.length)?.verifyErrors[0] ?? '').slice(0, 80)} |`);
    }
  }
  log(`\n## Medians [min–max] over ${runs} run(s)\n\n${rows.join('\n')}\n`);

  // Targets: sluice vs plain, per run pair.
  if (shippers.includes('plain') && (shippers.includes('sluice') || shippers.includes('sluice-none'))) {
    const t: string[] = [
      `| profile | sluice/plain MB/s (≥ ${TARGETS.mbps}×) | sluice/plain CPU-s/GiB (≤ ${TARGETS.cpu}×) | sluice peak RSS (< ${TARGETS.rssMiB} MiB) | sluice wire/plain wire | sluice-none MB/s (≥ ${TARGETS.noneMbps}) |`,
      '|---|---:|---:|---:|---:|---:|',
    ];
    const verdict = (good: boolean) => (good ? 'met' : 'MISSED');
    for (const name of profiles) {
      const pair = (metric: (r: Run) => number, a: ShipperName) => {
        const xs: number[] = [];
        for (let i = 1; i <= runs; i++) {
          const x = results.find((r) => r.profile === name && r.shipper === a && r.run === i);
          const y = results.find((r) => r.profile === name && r.shipper === 'plain' && r.run === i);
          if (x && y && Number.isFinite(metric(x)) && Number.isFinite(metric(y))) xs.push(metric(x) / metric(y));
        }
        return xs;
      };
      const mb = pair((r) => r.mbps, 'sluice');
      const cpu = pair((r) => r.cpuPerGiB, 'sluice');
      const wire = pair((r) => r.wireMiBPerGiB, 'sluice');
      const rss = good(results.filter((r) => r.profile === name && r.shipper === 'sluice')).map((r) => r.peakRssMiB);
      const none = good(results.filter((r) => r.profile === name && r.shipper === 'sluice-none')).map((r) => r.mbps);
      const cell = (xs: number[], pass: (x: number) => boolean, d = 2) => (xs.length ? `${spread(xs, d)} ${verdict(pass(median(xs)))}` : 'n/a');
      t.push(
        `| ${name} | ${cell(mb, (x) => x >= TARGETS.mbps)} | ${cell(cpu, (x) => x <= TARGETS.cpu)} | ${cell(rss, (x) => x < TARGETS.rssMiB, 0)} | ${wire.length ? spread(wire, 2) : 'n/a'} | ${name === 'live' ? (none.length ? spread(none) + ' (writer-bound)' : 'n/a') : cell(none, (x) => x >= TARGETS.noneMbps, 1)} |`,
      );
    }
    log(`\n## sluice against the targets (ratios per run pair, median [min–max])\n\n${t.join('\n')}\n`);
  }
  log(`\nraw output: ${rawPath}\n`);
  record('sidebyside', { profiles, size, runs, cpus, recvCpus, liveSize, liveRate, shippers, rsyslog: rsv, syslogNg: sng?.version, results });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`sidebyside: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
