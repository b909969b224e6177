/**
 * Memory benchmarks, sluice as a real child process (RSS from /proc/<pid>/statm, peak VmHWM).
 *
 *   node dist/bench/memory.js backlog [--size 1024] [--runs 3] [--cpus 0]
 *       peak RSS while shipping a backlog file (group+sample+redact, deflate), RSS over time.
 *   node dist/bench/memory.js outage [--outage 60 | --long] [--rate 2] [--mode 500|refuse] [--runs 1]
 *       lines keep arriving (`--rate` MB/s appended to a tailed file) while the receiver fails
 *       for `--outage` seconds (`--long` = 600 s): RSS printed every 5 s; then the receiver
 *       recovers and the run checks every line arrived (none lost) and how long catching up took.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { cachedLog, BENCH_GROUPER, BENCH_REDACTION, BENCH_SAMPLING, END_LINE } from './generate.js';
import { startReceiver, noCleartextPassword, type ReceiverMode } from './receiver.js';
import { shipOnce, describeRun, summarize, type ShipRun } from './logpath.js';
import { Flags, MiB, SLUICE_BIN, benchConfig, isMain, machine, median, pinSelf, procSample, record, rssKiB, sleep, spread, startAgent, tmpDir } from './common.js';

async function backlog(f: Flags): Promise<void> {
  const size = f.num('size', 1024);
  const runs = f.num('runs', 3);
  const cpus = f.str('cpus', '0');
  pinSelf(cpus === '0' ? '1' : '0');
  const m = await cachedLog(size);
  const receiver = await startReceiver({ verify: noCleartextPassword, verifyEvery: 101 });
  process.stdout.write(`backlog memory: ${(m.bytes / MiB).toFixed(0)} MiB file, group+sample+redact, deflate 6, CPU ${cpus}; ${machine()}\n`);
  const results: ShipRun[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const r = await shipOnce(m, receiver, { cpus, compression: 'deflate', sampleMs: 500 });
      results.push(r);
      const series = r.rssSeries.filter((_, j) => j % 4 === 0).map(([t, v]) => `${t.toFixed(0)}s:${v.toFixed(0)}`);
      process.stdout.write(`  run ${i + 1}: ${describeRun(r)}\n    RSS MiB over time: ${series.join(' ')}\n`);
    }
  } finally {
    await receiver.close();
  }
  const s = summarize(results);
  process.stdout.write(`peak RSS median [min–max]: ${s.peakRssMiB} MiB (target < 100 MiB)\n`);
  record('memory-backlog', { sizeMiB: size, cpus, runs, ...s, rssSeries: results.map((r) => r.rssSeries.filter((_, j) => j % 4 === 0)), results: results.map(({ rssSeries: _r, ...rest }) => rest) });
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den ? num / den : 0;
}

interface OutageRun {
  rssBeforeMiB: number;
  rssMaxDuringMiB: number;
  rssEndMiB: number;
  /** MiB per minute over the second half of the outage. */
  slopeSecondHalfMiBPerMin: number;
  peakRssMiB: number;
  writtenMiB: number;
  /** Bytes appended during the outage (all of it waits in the file). */
  pendingAtEndMiB: number;
  catchUpS: number;
  linesWritten: number;
  linesReceived: number;
  failedRequests: number;
  /** `sluice status -v` when not everything arrived. */
  agentStatus?: string;
  samples: [number, number][];
}

async function outageOnce(f: Flags): Promise<OutageRun> {
  const outageS = f.has('long') ? 600 : f.num('outage', 60);
  const rateMBs = f.num('rate', 2);
  const cpus = f.str('cpus', '0');
  const mode = f.str('mode', '500') as ReceiverMode;
  const src = await cachedLog(64);
  const data = fs.readFileSync(src.file);
  const dir = tmpDir('sluice-outage-');
  const logFile = path.join(dir, 'app.log');
  fs.writeFileSync(logFile, '');
  const receiver = await startReceiver({ verify: noCleartextPassword, verifyEvery: 101 });
  // copy_from_start: the writer starts before the agent has looked at the file; without it the agent
  // would (rightly, like Scalyr) skip what was already there at its first sight of the file.
  const config = benchConfig(dir, receiver.url, [
    { path: logFile, copy_from_start: true, attributes: { parser: 'bench' }, lineGroupers: [BENCH_GROUPER], sampling_rules: BENCH_SAMPLING, redaction_rules: BENCH_REDACTION },
  ]);
  const agent = startAgent({ dir: path.join(dir, 'agent'), config, cpus });
  let pos = 0; // next byte of `data` to append
  let linesWritten = 0;
  let debugWritten = 0;
  let bytesWritten = 0;
  const fd = fs.openSync(logFile, 'a');
  const countOf = (buf: Buffer, needle: Buffer) => {
    let n = 0;
    let i = -1;
    while ((i = buf.indexOf(needle, i + 1)) !== -1) n++;
    return n;
  };
  const NLB = Buffer.from('\n');
  const DEBUG = Buffer.from(' DEBUG ');
  /** Appends about `bytes` bytes of whole lines (cycling through the generated file). */
  const append = (bytes: number) => {
    let end = Math.min(data.length, pos + bytes);
    const nl = data.lastIndexOf(10, end - 1);
    if (nl < pos) return;
    end = nl + 1;
    const chunk = data.subarray(pos, end);
    fs.writeSync(fd, chunk);
    linesWritten += countOf(chunk, NLB);
    debugWritten += countOf(chunk, DEBUG);
    bytesWritten += chunk.length;
    pos = end >= data.length - 1 ? 0 : end;
  };
  const tickMs = 100;
  const writer = setInterval(() => append((rateMBs * MiB * tickMs) / 1000), tickMs);
  const t0 = Date.now();
  const samples: [number, number][] = [];
  const sample = () => samples.push([(Date.now() - t0) / 1000, rssKiB(agent.pid) / 1024]);
  try {
    // Warm up: lines flow normally for 10 s.
    await receiver.waitFor((c) => c.lines > 0, 30_000);
    await sleep(10_000);
    sample();
    const rssBefore = samples[samples.length - 1][1];
    const bytesAtOutage = bytesWritten;
    await receiver.setMode(mode);
    const outStart = Date.now();
    process.stdout.write(`  outage (${mode}) for ${outageS} s, ${rateMBs} MB/s arriving; RSS MiB:`);
    while (Date.now() - outStart < outageS * 1000) {
      await sleep(5000);
      sample();
      process.stdout.write(` ${((Date.now() - outStart) / 1000).toFixed(0)}s:${samples[samples.length - 1][1].toFixed(0)}`);
    }
    process.stdout.write('\n');
    const outSamples = samples.filter(([t]) => t >= (outStart - t0) / 1000);
    const second = outSamples.filter(([t]) => t >= (outStart - t0) / 1000 + outageS / 2);
    const rssEnd = samples[samples.length - 1][1];
    clearInterval(writer);
    fs.writeSync(fd, END_LINE);
    linesWritten++;
    const expected = linesWritten - debugWritten;
    const pendingAtEnd = (bytesWritten - bytesAtOutage) / MiB;
    await receiver.setMode('ok');
    const recStart = Date.now();
    let catchUpS = NaN;
    let agentStatus: string | undefined;
    try {
      await receiver.waitFor((c) => c.lines >= expected, f.num('catchup-timeout', 180) * 1000, 200);
      catchUpS = (Date.now() - recStart) / 1000;
    } catch {
      // Not everything arrived: keep the agent's own view (read over its control socket) for the report.
      try {
        agentStatus = execFileSync(process.execPath, [SLUICE_BIN, 'status', '-v', '--format', 'json', '--config', agent.configPath], { encoding: 'utf8', timeout: 15_000 });
      } catch (e) {
        agentStatus = `(status failed: ${(e as Error).message})`;
      }
      const st = fs.statSync(logFile);
      const copied = /"copiedBytes":\s*(\d+)/.exec(agentStatus)?.[1];
      process.stdout.write(`  NOT CAUGHT UP: ${receiver.counts.lines} of ${expected} lines after ${f.num('catchup-timeout', 180)} s; file ${st.size} bytes, agent status copiedBytes ${copied}\n`);
    }
    await sleep(500);
    const peak = procSample(agent.pid)?.hwmKiB ?? NaN;
    return {
      rssBeforeMiB: rssBefore,
      rssMaxDuringMiB: Math.max(...outSamples.map((s) => s[1])),
      rssEndMiB: rssEnd,
      slopeSecondHalfMiBPerMin: slope(second) * 60,
      peakRssMiB: peak / 1024,
      writtenMiB: bytesWritten / MiB,
      pendingAtEndMiB: pendingAtEnd,
      catchUpS,
      linesWritten: expected,
      linesReceived: receiver.counts.lines,
      failedRequests: receiver.counts.failedRequests,
      agentStatus,
      samples,
    };
  } finally {
    clearInterval(writer);
    fs.closeSync(fd);
    const before = receiver.counts.lines;
    await agent.stop();
    if (receiver.counts.lines !== before) process.stdout.write(`  lines received while the agent stopped: ${receiver.counts.lines - before} (total ${receiver.counts.lines})\n`);
    await receiver.close();
    if (!f.has('keep')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function outage(f: Flags): Promise<void> {
  const runs = f.num('runs', 1);
  pinSelf(f.str('cpus', '0') === '0' ? '1' : '0');
  process.stdout.write(`outage memory: ${machine()}\n`);
  const results: OutageRun[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await outageOnce(f);
    results.push(r);
    process.stdout.write(
      `  run ${i + 1}: RSS before ${r.rssBeforeMiB.toFixed(0)} MiB, max during outage ${r.rssMaxDuringMiB.toFixed(0)} MiB, at end ${r.rssEndMiB.toFixed(0)} MiB, slope over the 2nd half ${r.slopeSecondHalfMiBPerMin.toFixed(2)} MiB/min; peak ${r.peakRssMiB.toFixed(0)} MiB; ${r.writtenMiB.toFixed(0)} MiB written (${r.pendingAtEndMiB.toFixed(0)} MiB during the outage); caught up in ${r.catchUpS.toFixed(1)} s; lines ${r.linesReceived}/${r.linesWritten} (${r.failedRequests} failed requests)\n`,
    );
  }
  process.stdout.write(
    `median [min–max]: max RSS during outage ${spread(results.map((r) => r.rssMaxDuringMiB), 0)} MiB, slope ${spread(results.map((r) => r.slopeSecondHalfMiBPerMin), 2)} MiB/min, catch-up ${spread(results.map((r) => r.catchUpS))} s\n`,
  );
  record('memory-outage', { argv: process.argv.slice(2), runs, medianMaxRss: median(results.map((r) => r.rssMaxDuringMiB)), results });
}

async function main(): Promise<void> {
  const f = new Flags();
  const what = process.argv[2];
  if (what === 'backlog') await backlog(f);
  else if (what === 'outage') await outage(f);
  else throw new Error('usage: memory.js backlog|outage [flags]');
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`memory: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
