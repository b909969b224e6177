/**
 * In-process stage benchmark: tail (the real Tailer: credits, reads, splitLines) → groupLines →
 * sample → redact → a sink, in this process. Prints MB/s, lines/s and CPU-s/GiB per run and the
 * median/spread over runs.
 *
 *   node dist/bench/stages.js [--size 256] [--runs 3] [--sink embedded|null] [--cpus 0]
 *        [--stages split,group,sample,redact] [--alloc-prof]
 *
 * The process pins itself (all threads, libuv's pool included) to `--cpus` (default core 0).
 *
 * `--sink embedded` is the embedded NDJSON default sink (writes JSON lines to a temp dir);
 * `--sink null` acks every batch at once (the cost of the stages alone). `--stages` picks which
 * operators run, to see what each one costs (`split` = tail + splitLines only).
 *
 * `--alloc-prof` samples allocations during the runs (V8's sampling heap profiler, collected
 * objects included, one sample per 32 KiB allocated) and prints where the bytes were allocated,
 * by function, largest first: what the garbage collector has to deal with per GiB shipped.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { type MonoTypeOperatorFunction, pipe } from 'rxjs';
import { Tailer } from '../sources/file/tailer.js';
import { Credits } from '../lib/pipeline/credits.js';
import { groupLines } from '../operators/groupLines.js';
import { sample, seededRandom } from '../operators/sample.js';
import { redact } from '../operators/redact.js';
import { createNdjsonSink } from '../sinks/ndjson/sink.js';
import { silentLogger } from '../lib/logger.js';
import type { Batch, Sink } from '../lib/types.js';
import { createCounters } from '../lib/counters.js';
import { cachedLog, BENCH_GROUPER, BENCH_REDACTION, BENCH_SAMPLING, type Manifest } from './generate.js';
import { Flags, GiB, MiB, isMain, machine, median, pinSelf, record, spread, tmpDir } from './common.js';

export interface StageRun {
  wallS: number;
  cpuS: number;
  mbps: number;
  linesPerS: number;
  cpuPerGiB: number;
  events: number;
  peakRssMiB: number;
}

function nullSink(): Sink {
  const counters = createCounters();
  return {
    id: 'null',
    counters,
    write(b: Batch) {
      counters.sentEvents += b.events.length;
      b.stream.ack(b.end);
    },
    flush: async () => undefined,
    stop: async () => undefined,
    status: () => ({}),
  };
}

export async function runStages(m: Manifest, stages: Set<string>, sinkKind: string): Promise<StageRun> {
  const dir = tmpDir('sluice-stages-');
  const credits = new Credits(64 * MiB);
  const fh = await fsp.open(m.file, 'r');
  const st = await fh.stat();
  const sink = sinkKind === 'null' ? nullSink() : createNdjsonSink({ dir: path.join(dir, 'events'), maxFileBytes: 256 * MiB, maxFiles: 2 }, { logger: silentLogger });
  const counters = createCounters();
  const tailer = new Tailer({
    path: m.file,
    fh,
    dev: st.dev,
    ino: st.ino,
    start: 0,
    seqId: 'bench',
    streamId: `file:${m.file}`,
    streamPath: m.file,
    attrs: { parser: 'bench', logfile: m.file },
    credits,
    readPageSize: 65536,
    maxLineSize: 49900,
    lineCompletionWaitMs: 5000,
    onAck: () => undefined,
  });
  await tailer.init();
  const ops: MonoTypeOperatorFunction<Batch>[] = [];
  // keepText as the agent's entry chain sets it (app/logPipeline.ts): a line is decoded once.
  const later = (...names: string[]) => names.some((n) => stages.has(n));
  if (stages.has('group')) ops.push(groupLines([BENCH_GROUPER], { maxLineSize: 49900, completionWaitMs: 5000, counters, keepText: later('sample', 'redact') }));
  if (stages.has('sample')) ops.push(sample(BENCH_SAMPLING, { random: seededRandom(1), counters, keepText: later('redact') }));
  if (stages.has('redact')) ops.push(redact(BENCH_REDACTION, { counters }));
  const chain = (pipe as (...o: MonoTypeOperatorFunction<Batch>[]) => MonoTypeOperatorFunction<Batch>)(...ops);
  let events = 0;
  let done!: () => void;
  const completed = new Promise<void>((r) => (done = r));
  let peak = process.memoryUsage.rss();
  const memTimer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 100);

  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const sub = tailer.batches$.pipe(chain).subscribe({
    next(b) {
      events += b.events.length;
      sink.write(b);
    },
    complete: () => done(),
  });
  // (Older Tailer versions took an abort promise; an extra argument is harmless.)
  const readOnce = tailer.readOnce.bind(tailer) as (abort?: Promise<void>) => Promise<string>;
  const never = new Promise<void>(() => undefined);
  while ((await readOnce(never)) === 'data') {
    // keep reading until EOF
  }
  tailer.finish();
  await completed;
  await sink.flush(60_000);
  while (!tailer.fullyAcked) await new Promise((r) => setTimeout(r, 1));
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cu = process.cpuUsage(c0);
  clearInterval(memTimer);
  peak = Math.max(peak, process.memoryUsage.rss());
  sub.unsubscribe();
  await sink.stop(5000);
  await tailer.close(true);
  fs.rmSync(dir, { recursive: true, force: true });
  const cpuS = (cu.user + cu.system) / 1e6;
  return {
    wallS,
    cpuS,
    mbps: m.bytes / MiB / wallS,
    linesPerS: m.lines / wallS,
    cpuPerGiB: (cpuS / m.bytes) * GiB,
    events,
    peakRssMiB: peak / MiB,
  };
}

interface AllocNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: AllocNode[];
}

/** Sampled allocation bytes by function (self), per GiB of input, the top 25. */
function printAllocations(head: AllocNode, gib: number): void {
  const by = new Map<string, number>();
  let total = 0;
  const walk = (n: AllocNode) => {
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'}  (${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : 'native'})`;
    by.set(key, (by.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(head);
  process.stdout.write(`allocations (sampled, collected objects included): ${(total / gib / MiB).toFixed(0)} MiB per GiB of input\n`);
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    process.stdout.write(`  ${((v / total) * 100).toFixed(1).padStart(5)}%  ${(v / gib / MiB).toFixed(0).padStart(6)} MiB/GiB  ${k}\n`);
  }
}

async function main(): Promise<void> {
  const f = new Flags();
  const size = f.num('size', 256);
  const runs = f.num('runs', 3);
  const sinkKind = f.str('sink', 'embedded');
  const stages = new Set(f.str('stages', 'split,group,sample,redact').split(','));
  const cpus = f.str('cpus', '0');
  if (cpus) pinSelf(cpus);
  const m = await cachedLog(size, f.num('seed', 42));
  process.stdout.write(`stages: ${[...stages].join(' → ')} → ${sinkKind} sink, pinned to CPU ${cpus || 'any'}; ${(m.bytes / MiB).toFixed(0)} MiB, ${m.lines} lines; ${machine()}\n`);
  const results: StageRun[] = [];
  const session = f.has('alloc-prof') ? new inspector.Session() : undefined;
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) => session!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  if (session) {
    session.connect();
    await post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  for (let i = 0; i < runs; i++) {
    const r = await runStages(m, stages, sinkKind);
    results.push(r);
    process.stdout.write(
      `  run ${i + 1}: ${r.mbps.toFixed(1)} MB/s, ${(r.linesPerS / 1000).toFixed(0)}k lines/s, ${r.cpuPerGiB.toFixed(1)} CPU-s/GiB, ${r.events} events, peak RSS ${r.peakRssMiB.toFixed(0)} MiB\n`,
    );
  }
  if (session) {
    const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: AllocNode } };
    session.disconnect();
    printAllocations(profile.head, (m.bytes * runs) / GiB);
  }
  const mb = results.map((r) => r.mbps);
  const summary = {
    stages: [...stages],
    cpus,
    sink: sinkKind,
    sizeMiB: size,
    runs,
    mbps: spread(mb),
    klinesPerS: spread(results.map((r) => r.linesPerS / 1000), 0),
    cpuPerGiB: spread(results.map((r) => r.cpuPerGiB)),
    peakRssMiB: spread(results.map((r) => r.peakRssMiB), 0),
    medianMbps: median(mb),
    results,
  };
  process.stdout.write(`median [min–max]: ${summary.mbps} MB/s, ${summary.klinesPerS}k lines/s, ${summary.cpuPerGiB} CPU-s/GiB, peak RSS ${summary.peakRssMiB} MiB\n`);
  record('stages', summary);
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`stages: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
