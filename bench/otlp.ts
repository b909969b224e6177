/**
 * OTLP export vs addEvents on the log path: the same generated log file shipped through a real
 * agent (a child process, `createAgent` with the OTLP sink registered: bench/otlpAgent.ts), once
 * with the addEvents sink (deflate level 6) and once with the OTLP sink (http/protobuf + gzip),
 * each to a local receiver in this process that counts what arrives. The agent is pinned to one
 * core (`taskset`), this process to the other.
 *
 *   node dist/bench/otlp.js [--size 256] [--runs 3] [--cpus 0] [--receiver-cpus 1] [--plain]
 *        [--protocol http/protobuf|http/json] [--only otlp|addEvents] [--cpu-prof DIR]
 *
 * The OTLP receiver gunzips each request and decodes it with the official definitions
 * (`@opentelemetry/otlp-transformer`'s protobufjs build), counting log records and lines (one
 * per record plus its inner newlines), so a run ends when every expected line arrived, as in
 * bench/logpath.ts. Figures per run: MB/s (spawn → last line), CPU-s per GiB of input (agent
 * utime+stime from /proc), peak RSS (VmHWM), requests and bytes on the wire.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import otlpRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../app/cli/nodeFlags.js';
import { cachedLog, BENCH_GROUPER, BENCH_REDACTION, BENCH_SAMPLING, type Manifest } from './generate.js';
import { startReceiver, noCleartextPassword, type ReceiverCounts } from './receiver.js';
import { Flags, GiB, MiB, REPO, benchConfig, isMain, machine, median, pinSelf, procSample, record, sleep, spread, tmpDir, type ProcSample } from './common.js';

const gunzip = promisify(zlib.gunzip);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const LogsRequest = (otlpRoot as any).opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;

/** A local OTLP/HTTP logs receiver that counts records and lines (127.0.0.1 only). */
export class OtlpCountingReceiver {
  readonly counts: ReceiverCounts = { requests: 0, failedRequests: 0, events: 0, lines: 0, messageBytes: 0, wireBytes: 0, bodyBytes: 0, firstAt: 0, lastAt: 0, verified: 0, verifyErrors: [], parseErrors: 0 };
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;
  private seen = 0;

  constructor(private readonly verify?: (m: Buffer) => string | undefined, private readonly verifyEvery = 101) {
    this.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  reset(): void {
    Object.assign(this.counts, { requests: 0, failedRequests: 0, events: 0, lines: 0, messageBytes: 0, wireBytes: 0, bodyBytes: 0, firstAt: 0, lastAt: 0, verified: 0, verifyErrors: [], parseErrors: 0 });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks);
        try {
          const body = req.headers['content-encoding'] === 'gzip' ? await gunzip(raw) : raw;
          const msg = LogsRequest.decode(body) as { resourceLogs: { scopeLogs: { logRecords: { body?: { stringValue?: string } }[] }[] }[] };
          let events = 0;
          let lines = 0;
          let bytes = 0;
          for (const rl of msg.resourceLogs) {
            for (const sl of rl.scopeLogs) {
              for (const r of sl.logRecords) {
                const s = r.body?.stringValue ?? '';
                events++;
                bytes += s.length;
                let n = 1;
                for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
                lines += n;
                if (this.verify && ++this.seen % this.verifyEvery === 0) {
                  this.counts.verified++;
                  const err = this.verify(Buffer.from(s));
                  if (err && this.counts.verifyErrors.length < 20) this.counts.verifyErrors.push(err);
                }
              }
            }
          }
          const now = Number(process.hrtime.bigint()) / 1e6;
          const c = this.counts;
          if (c.requests === 0) c.firstAt = now;
          c.lastAt = now;
          c.requests++;
          c.events += events;
          c.lines += lines;
          c.messageBytes += bytes;
          c.wireBytes += raw.length;
          c.bodyBytes += body.length;
          res.statusCode = 200;
          res.setHeader('Content-Type', 'application/x-protobuf');
          res.end();
        } catch (err) {
          this.counts.parseErrors++;
          res.statusCode = 400;
          res.end(String((err as Error).message));
        }
      })();
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface OtlpBenchRun {
  sink: 'addEvents' | 'otlp';
  wallS: number;
  mbps: number;
  cpuS: number;
  cpuPerGiB: number;
  mainCpuPerGiB: number;
  peakRssMiB: number;
  lines: number;
  expectedLines: number;
  events: number;
  requests: number;
  wireMiB: number;
  bodyMiB: number;
  receiverCpuPerGiB: number;
  verifyErrors: string[];
}

interface Counting {
  counts: ReceiverCounts;
  url: string;
  reset(): void;
}

async function shipOnce(m: Manifest, sink: 'addEvents' | 'otlp', receiver: Counting, o: { cpus: string; plain: boolean; protocol: string; cpuProfDir?: string }): Promise<OtlpBenchRun> {
  const dir = tmpDir('sluice-otlp-bench-');
  const entry: Record<string, unknown> = { path: m.file, copy_from_start: true, attributes: { parser: 'bench' } };
  if (!o.plain) {
    entry.lineGroupers = [BENCH_GROUPER];
    entry.sampling_rules = BENCH_SAMPLING;
    entry.redaction_rules = BENCH_REDACTION;
  }
  const expectedLines = o.plain ? m.lines : m.expectedLines;
  const config =
    sink === 'addEvents'
      ? benchConfig(dir, receiver.url, [entry], { compression_type: 'deflate', compression_level: 6 })
      : benchConfig(dir, undefined, [entry], { sink: { type: 'otlp', endpoint: receiver.url, protocol: o.protocol, compression: 'gzip' } });
  const configPath = path.join(dir, 'agent.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  receiver.reset();
  const extra = (process.env.SLUICE_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean); // experiments, as in common.ts startAgent
  const nodeArgs = [...AGENT_NODE_FLAGS, ...extra, ...(o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`, `--cpu-prof-name=${sink}-${Date.now()}.cpuprofile`] : []), path.join(REPO, 'dist', 'bench', 'otlpAgent.js'), configPath];
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const child = o.cpus ? spawn('taskset', ['-c', o.cpus, process.execPath, ...nodeArgs], { cwd: dir, env: { ...AGENT_ENV, ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, nodeArgs, { cwd: dir, env: { ...AGENT_ENV, ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const pid = child.pid!;
  let last: ProcSample | undefined;
  try {
    const deadline = Date.now() + Math.max(120_000, (m.bytes / MiB) * 1000);
    while (receiver.counts.lines < expectedLines) {
      if (gone) throw new Error(`the agent exited early:\n${out.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out: ${receiver.counts.lines}/${expectedLines} lines\n${out.slice(-3000)}`);
      last = procSample(pid) ?? last;
      await sleep(5);
    }
    const s = procSample(pid) ?? last!;
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    await sleep(300);
    const c = receiver.counts;
    return {
      sink,
      wallS,
      mbps: m.bytes / MiB / wallS,
      cpuS: s.cpu,
      cpuPerGiB: (s.cpu / m.bytes) * GiB,
      mainCpuPerGiB: (s.mainCpu / m.bytes) * GiB,
      peakRssMiB: s.hwmKiB / 1024,
      lines: c.lines,
      expectedLines,
      events: c.events,
      requests: c.requests,
      wireMiB: c.wireBytes / MiB,
      bodyMiB: c.bodyBytes / MiB,
      receiverCpuPerGiB: ((cpu.user + cpu.system) / 1e6 / m.bytes) * GiB,
      verifyErrors: [...c.verifyErrors],
    };
  } finally {
    if (!gone) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function describe(r: OtlpBenchRun): string {
  const dup = r.lines > r.expectedLines ? ` (+${r.lines - r.expectedLines} duplicate lines)` : '';
  return `${r.sink.padEnd(9)} ${r.mbps.toFixed(1)} MB/s, ${r.cpuPerGiB.toFixed(1)} CPU-s/GiB (main thread ${r.mainCpuPerGiB.toFixed(1)}; receiver ${r.receiverCpuPerGiB.toFixed(1)}), peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${r.events} events/${r.lines} lines${dup}, ${r.requests} requests, ${r.wireMiB.toFixed(1)} MiB on the wire (bodies ${r.bodyMiB.toFixed(0)} MiB)${r.verifyErrors.length ? `, VERIFY ERRORS: ${r.verifyErrors[0]}` : ''}`;
}

async function main(): Promise<void> {
  const f = new Flags();
  const size = f.num('size', 256);
  const runs = f.num('runs', 3);
  const cpus = f.str('cpus', '0');
  const plain = f.has('plain');
  const protocol = f.str('protocol', 'http/protobuf');
  const only = f.str('only', '');
  const cpuProfDir = f.has('cpu-prof') ? path.resolve(f.str('cpu-prof', 'cpu-prof')) : undefined;
  const recvCpus = f.str('receiver-cpus', cpus.includes(',') ? '' : cpus === '0' ? '1' : '0');
  if (recvCpus) pinSelf(recvCpus);
  const m = await cachedLog(size, f.num('seed', 42));
  const verify = plain ? undefined : noCleartextPassword;
  const scalyr = await startReceiver({ verify, verifyEvery: 101 });
  const otlp = new OtlpCountingReceiver(verify);
  await otlp.start();
  process.stdout.write(`OTLP vs addEvents, log path ${plain ? 'plain' : 'group+sample+redact'}; addEvents deflate 6 vs OTLP ${protocol} + gzip; agent on CPU ${cpus}, receiver on ${recvCpus || 'any'}; ${(m.bytes / MiB).toFixed(0)} MiB, ${m.lines} lines; ${machine()}\n`);
  const results: OtlpBenchRun[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      // Alternate the order so drift (thermal, page cache) does not favour one.
      const order: ('addEvents' | 'otlp')[] = i % 2 === 0 ? ['addEvents', 'otlp'] : ['otlp', 'addEvents'];
      for (const sink of order) {
        if (only && only !== sink) continue;
        const r = await shipOnce(m, sink, sink === 'otlp' ? otlp : scalyr, { cpus, plain, protocol, cpuProfDir });
        results.push(r);
        process.stdout.write(`  run ${i + 1}: ${describe(r)}\n`);
      }
    }
  } finally {
    await scalyr.close();
    await otlp.close();
  }
  const of = (s: string) => results.filter((r) => r.sink === s);
  const summary: Record<string, unknown> = {};
  for (const s of ['addEvents', 'otlp']) {
    const rs = of(s);
    if (rs.length === 0) continue;
    summary[s] = { mbps: spread(rs.map((r) => r.mbps)), cpuPerGiB: spread(rs.map((r) => r.cpuPerGiB)), peakRssMiB: spread(rs.map((r) => r.peakRssMiB), 0), wireMiB: spread(rs.map((r) => r.wireMiB)), medianCpuPerGiB: median(rs.map((r) => r.cpuPerGiB)) };
    process.stdout.write(`${s.padEnd(9)} median [min–max]: ${spread(rs.map((r) => r.mbps))} MB/s, ${spread(rs.map((r) => r.cpuPerGiB))} CPU-s/GiB, peak RSS ${spread(rs.map((r) => r.peakRssMiB), 0)} MiB, wire ${spread(rs.map((r) => r.wireMiB))} MiB\n`);
  }
  if (of('addEvents').length && of('otlp').length) {
    const ratio = median(of('otlp').map((r) => r.cpuPerGiB)) / median(of('addEvents').map((r) => r.cpuPerGiB));
    summary.cpuRatio = +ratio.toFixed(3);
    process.stdout.write(`OTLP / addEvents CPU per GiB: ${ratio.toFixed(2)} (goal ≤ 1.20)\n`);
  }
  if (cpuProfDir) process.stdout.write(`CPU profiles in ${cpuProfDir} (summarize: node dist/bench/profile.js ${cpuProfDir})\n`);
  record('otlp', { sizeMiB: size, cpus, plain, protocol, runs, ...summary, results });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`otlp bench: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
