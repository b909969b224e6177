/**
 * Idle cost, sluice as a real child process: N tailed files (default 1,000, matched by one glob)
 * that receive no writes. After every file's initial lines arrived and a settle period, the
 * agent's CPU (utime+stime from /proc) is measured over `--secs` (default 60) and reported as %
 * of one core, with RSS. Also measures a single tailed file for the idle-RSS baseline.
 *
 *   node dist/bench/idle.js [--files 1000] [--secs 60] [--runs 3] [--settle 10] [--cpus 0] [--cpu-prof DIR]
 */
import fs from 'node:fs';
import path from 'node:path';
import { startReceiver } from './receiver.js';
import { Flags, benchConfig, isMain, machine, median, pinSelf, procSample, record, sleep, spread, startAgent, tmpDir } from './common.js';

interface IdleRun {
  files: number;
  cpuPct: number;
  rssMiB: number;
  peakRssMiB: number;
  startupS: number;
}

async function idleOnce(files: number, secs: number, settleS: number, cpus: string, cpuProfDir?: string): Promise<IdleRun> {
  const dir = tmpDir('sluice-idle-');
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(logs, `app-${String(i).padStart(4, '0')}.log`), `2026-01-01T00:00:00.000Z INFO file ${i} line 1\n2026-01-01T00:00:00.001Z INFO file ${i} line 2\n`);
  const receiver = await startReceiver();
  const config = benchConfig(dir, receiver.url, [{ path: path.join(logs, '*.log'), copy_from_start: true, attributes: { parser: 'bench' } }]);
  const t0 = Date.now();
  const agent = startAgent({ dir: path.join(dir, 'agent'), config, cpus, nodeArgs: cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [] });
  try {
    await receiver.waitFor((c) => c.lines >= 2 * files, 180_000, 50);
    const startupS = (Date.now() - t0) / 1000;
    await sleep(settleS * 1000);
    const a = procSample(agent.pid)!;
    const ta = process.hrtime.bigint();
    await sleep(secs * 1000);
    const b = procSample(agent.pid)!;
    const elapsed = Number(process.hrtime.bigint() - ta) / 1e9;
    if (receiver.counts.lines !== 2 * files) throw new Error(`expected ${2 * files} lines, got ${receiver.counts.lines}`);
    return { files, cpuPct: ((b.cpu - a.cpu) / elapsed) * 100, rssMiB: b.rssKiB / 1024, peakRssMiB: b.hwmKiB / 1024, startupS };
  } finally {
    await agent.stop();
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const f = new Flags();
  const files = f.num('files', 1000);
  const secs = f.num('secs', 60);
  const runs = f.num('runs', 3);
  const settle = f.num('settle', 10);
  const cpus = f.str('cpus', '0');
  pinSelf(cpus === '0' ? '1' : '0');
  process.stdout.write(`idle: ${files} tailed files with no writes, CPU measured over ${secs} s after ${settle} s settling; agent on CPU ${cpus}; ${machine()}\n`);
  const out: Record<string, unknown> = {};
  for (const n of files === 1 ? [1] : [1, files]) {
    const rs: IdleRun[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await idleOnce(n, secs, settle, cpus, f.has('cpu-prof') ? path.resolve(f.str('cpu-prof', 'cpu-prof'), `files-${n}`) : undefined);
      rs.push(r);
      process.stdout.write(`  ${n} file(s) run ${i + 1}: ${r.cpuPct.toFixed(3)}% of one core, RSS ${r.rssMiB.toFixed(0)} MiB (peak ${r.peakRssMiB.toFixed(0)}), all initial lines in ${r.startupS.toFixed(1)} s\n`);
    }
    const s = { cpuPct: spread(rs.map((r) => r.cpuPct), 3), rssMiB: spread(rs.map((r) => r.rssMiB), 0), medianCpuPct: median(rs.map((r) => r.cpuPct)), medianRssMiB: median(rs.map((r) => r.rssMiB)), results: rs };
    process.stdout.write(`${n} file(s) median [min–max]: ${s.cpuPct}% CPU, RSS ${s.rssMiB} MiB${n >= 1000 ? ' (target < 0.5%)' : ''}\n`);
    out[`files_${n}`] = s;
  }
  record('idle', { files, secs, runs, settle, cpus, ...out });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`idle: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
