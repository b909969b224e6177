/**
 * The log path end to end, sluice as a real child process: tail → group → sample → redact →
 * batch → deflate (level 6) → HTTP POST to the local counting receiver (this process).
 *
 *   node dist/bench/logpath.js [--size 1024] [--runs 3] [--cpus 0] [--compression deflate|none]
 *        [--plain] [--cpu-prof DIR] [--receiver-cpus 1] [--pending MiB] [--in-flight N]
 *        [--config '{"read_page_size":262144}'] [--threads]
 *
 * The agent runs under `taskset -c <cpus>`; this process (receiver, inflate, counting) pins
 * itself to `--receiver-cpus` (default: the other core when the agent has one core, unpinned
 * otherwise). A run ends when the receiver has every expected line (all but DEBUG lines);
 * the agent's CPU (utime+stime from /proc/<pid>/stat) and VmHWM are read at that moment.
 * `--plain` turns grouping, sampling and redaction off. Figures: MB/s and lines/s over the whole
 * run (spawn → last line received: startup included), CPU-seconds per GiB of input, peak RSS.
 * `--pending` sets `max_pending_bytes` (MiB; the agent's default is 6); `--in-flight` sets
 * `upload.max_in_flight` (requests outstanding at once; default 1); `--config` merges a JSON object
 * into the agent's config (experiments); `--threads` prints each agent thread's CPU per GiB.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cachedLog, BENCH_GROUPER, BENCH_REDACTION, BENCH_SAMPLING, type Manifest } from './generate.js';
import { startReceiver, noCleartextPassword, type CountingReceiver } from './receiver.js';
import { Flags, GiB, MiB, benchConfig, isMain, machine, median, pinSelf, procSample, record, sleep, spread, startAgent, threadCpu, tmpDir, type ProcSample } from './common.js';

export interface ShipOptions {
  cpus: string;
  compression: 'deflate' | 'none';
  plain?: boolean;
  cpuProfDir?: string;
  /** Print every agent thread's CPU per GiB at the end of the run (`--threads`). */
  threads?: boolean;
  /** Sample RSS every this many ms into `rssSeries`. */
  sampleMs?: number;
  timeoutMs?: number;
  keep?: boolean;
  extraConfig?: Record<string, unknown>;
}

export interface ShipRun {
  wallS: number;
  /** First to last counted request (startup excluded). */
  steadyS: number;
  cpuS: number;
  mbps: number;
  steadyMbps: number;
  linesPerS: number;
  cpuPerGiB: number;
  /** The agent's main (JavaScript) thread alone, CPU-seconds per GiB. */
  mainCpuPerGiB: number;
  peakRssMiB: number;
  /** CPU of this process (the receiver: inflate + scan) per GiB of input; it shares the cores. */
  receiverCpuPerGiB: number;
  events: number;
  lines: number;
  expectedLines: number;
  requests: number;
  wireMiB: number;
  /** Request bodies before compression (what deflate reads). */
  bodyMiB: number;
  verifyErrors: string[];
  rssSeries: [number, number][];
}

/** Ships the generated file once through a fresh sluice process. */
export async function shipOnce(m: Manifest, receiver: CountingReceiver, o: ShipOptions): Promise<ShipRun> {
  const dir = tmpDir('sluice-logpath-');
  const entry: Record<string, unknown> = { path: m.file, copy_from_start: true, attributes: { parser: 'bench' } };
  if (!o.plain) {
    entry.lineGroupers = [BENCH_GROUPER];
    entry.sampling_rules = BENCH_SAMPLING;
    entry.redaction_rules = BENCH_REDACTION;
  }
  const expectedLines = o.plain ? m.lines : m.expectedLines;
  const config = benchConfig(dir, receiver.url, [entry], {
    compression_type: o.compression,
    ...(o.compression === 'deflate' ? { compression_level: 6 } : {}),
    ...o.extraConfig,
  });
  receiver.reset();
  const nodeArgs = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const agent = startAgent({ dir, config, cpus: o.cpus, nodeArgs });
  const rssSeries: [number, number][] = [];
  let last = procSample(agent.pid);
  const sampler = setInterval(() => {
    const s = procSample(agent.pid);
    if (s) {
      last = s;
      rssSeries.push([Number(process.hrtime.bigint() - t0) / 1e9, s.rssKiB / 1024]);
    }
  }, o.sampleMs ?? 250);
  let exitedEarly = false;
  void agent.exited.then(() => (exitedEarly = true));
  try {
    const deadline = Date.now() + (o.timeoutMs ?? Math.max(120_000, (m.bytes / MiB) * 1000));
    while (receiver.counts.lines < expectedLines) {
      if (exitedEarly) throw new Error(`sluice exited early:\n${agent.output().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timed out: ${receiver.counts.lines}/${expectedLines} lines received\n${agent.output().slice(-3000)}`);
      await sleep(5);
    }
    const s = procSample(agent.pid) ?? last!;
    if (o.threads) {
      const busy = threadCpu(agent.pid).filter((t) => t.cpu > 0); // largest first
      const per = [...busy.filter((t) => t.main), ...busy.filter((t) => !t.main)];
      process.stdout.write(`    threads, CPU-s/GiB by thread id (main thread first, then the rest largest first): ${per.map((t) => `${t.main ? 'main ' : ''}${t.tid}=${((t.cpu / m.bytes) * GiB).toFixed(2)}`).join(', ')}\n`);
    }
    clearInterval(sampler);
    const cpu = process.cpuUsage(cpu0);
    const run = await finishRun(m, receiver, t0, s, expectedLines, rssSeries);
    run.receiverCpuPerGiB = ((cpu.user + cpu.system) / 1e6 / m.bytes) * GiB;
    return run;
  } finally {
    clearInterval(sampler);
    await agent.stop();
    if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The figures of one shipping run, once the receiver has every expected line: wall and steady
 * throughput, CPU per GiB and peak RSS from the shipper's last /proc sample. Waits a little
 * longer first: anything beyond the expected lines would be a duplicate.
 */
export async function finishRun(m: Manifest, receiver: CountingReceiver, t0: bigint, s: ProcSample, expectedLines: number, rssSeries: [number, number][]): Promise<ShipRun> {
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(300);
  const c = receiver.counts;
  const steadyS = (c.lastAt - c.firstAt) / 1000;
  return {
    wallS,
    steadyS,
    cpuS: s.cpu,
    mbps: m.bytes / MiB / wallS,
    steadyMbps: m.bytes / MiB / Math.max(steadyS, 1e-3),
    linesPerS: m.lines / wallS,
    cpuPerGiB: (s.cpu / m.bytes) * GiB,
    mainCpuPerGiB: (s.mainCpu / m.bytes) * GiB,
    peakRssMiB: s.hwmKiB / 1024,
    receiverCpuPerGiB: NaN,
    events: c.events,
    lines: c.lines,
    expectedLines,
    requests: c.requests,
    wireMiB: c.wireBytes / MiB,
    bodyMiB: c.bodyBytes / MiB,
    verifyErrors: [...c.verifyErrors],
    rssSeries,
  };
}

export function describeRun(r: ShipRun): string {
  const dup = r.lines > r.expectedLines ? ` (+${r.lines - r.expectedLines} duplicate lines)` : '';
  return `${r.mbps.toFixed(1)} MB/s (steady ${r.steadyMbps.toFixed(1)}), ${(r.linesPerS / 1000).toFixed(0)}k lines/s, ${r.cpuPerGiB.toFixed(1)} CPU-s/GiB (main thread ${r.mainCpuPerGiB.toFixed(1)})${Number.isFinite(r.receiverCpuPerGiB) ? ` (receiver ${r.receiverCpuPerGiB.toFixed(1)})` : ''}, peak RSS ${r.peakRssMiB.toFixed(0)} MiB, ${r.events} events/${r.lines} lines${dup}, ${r.requests} requests, ${r.wireMiB.toFixed(0)} MiB on the wire (bodies ${r.bodyMiB.toFixed(0)} MiB)${r.verifyErrors.length ? `, VERIFY ERRORS: ${r.verifyErrors[0]}` : ''}`;
}

export function summarize(results: ShipRun[]): Record<string, unknown> {
  return {
    mbps: spread(results.map((r) => r.mbps)),
    steadyMbps: spread(results.map((r) => r.steadyMbps)),
    klinesPerS: spread(results.map((r) => r.linesPerS / 1000), 0),
    cpuPerGiB: spread(results.map((r) => r.cpuPerGiB)),
    cpuBoundMbps: spread(results.map((r) => 1024 / r.cpuPerGiB)),
    peakRssMiB: spread(results.map((r) => r.peakRssMiB), 0),
    medianMbps: median(results.map((r) => r.mbps)),
    medianCpuPerGiB: median(results.map((r) => r.cpuPerGiB)),
    medianPeakRssMiB: median(results.map((r) => r.peakRssMiB)),
  };
}

async function main(): Promise<void> {
  const f = new Flags();
  const size = f.num('size', 1024);
  const runs = f.num('runs', 3);
  const cpus = f.str('cpus', '0');
  const compression = f.str('compression', 'deflate') as 'deflate' | 'none';
  const plain = f.has('plain');
  const cpuProfDir = f.has('cpu-prof') ? path.resolve(f.str('cpu-prof', 'cpu-prof')) : undefined;
  const recvCpus = f.str('receiver-cpus', cpus.includes(',') ? '' : cpus === '0' ? '1' : '0');
  if (recvCpus) pinSelf(recvCpus);
  const m = await cachedLog(size, f.num('seed', 42));
  const receiver = await startReceiver({ verify: plain ? undefined : noCleartextPassword, verifyEvery: 101 });
  process.stdout.write(
    `log path: ${plain ? 'plain' : 'group+sample+redact'}, ${compression}${compression === 'deflate' ? ' level 6' : ''}, agent on CPU ${cpus}, receiver on ${recvCpus || 'any'}; ${(m.bytes / MiB).toFixed(0)} MiB, ${m.lines} lines; ${machine()}\n`,
  );
  const results: ShipRun[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const extraConfig: Record<string, unknown> = {};
      if (f.has('pending')) extraConfig.max_pending_bytes = f.num('pending', 6) * MiB;
      if (f.has('in-flight')) extraConfig.upload = { max_in_flight: f.num('in-flight', 1) };
      if (f.has('config')) Object.assign(extraConfig, JSON.parse(f.str('config', '{}')) as Record<string, unknown>);
      const r = await shipOnce(m, receiver, { cpus, compression, plain, cpuProfDir, threads: f.has('threads'), extraConfig, timeoutMs: f.num('timeout', 0) * 1000 || undefined });
      results.push(r);
      process.stdout.write(`  run ${i + 1}: ${describeRun(r)}\n`);
    }
  } finally {
    await receiver.close();
  }
  const summary = summarize(results);
  process.stdout.write(
    `median [min–max]: ${summary.mbps} MB/s (steady ${summary.steadyMbps}), ${summary.klinesPerS}k lines/s, ${summary.cpuPerGiB} CPU-s/GiB (= ${summary.cpuBoundMbps} MB/s per busy core), peak RSS ${summary.peakRssMiB} MiB\n`,
  );
  if (cpuProfDir) process.stdout.write(`CPU profiles in ${cpuProfDir} (summarize: node dist/bench/profile.js ${cpuProfDir})\n`);
  record('logpath', { sizeMiB: size, cpus, compression, plain, runs, pending: f.has('pending') ? f.num('pending', 64) : undefined, inFlight: f.has('in-flight') ? f.num('in-flight', 1) : undefined, ...summary, results: results.map(({ rssSeries: _r, ...rest }) => rest) });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`logpath: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
