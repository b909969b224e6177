/**
 * `npm run soak -- --minutes 30 [--seed N] [--rate EVENTS_PER_SEC] [--files N] [--work DIR]
 *   [--chaos-secs 20,60] [--fault-secs 3,15] [--calm 0.4] [--rotate-bytes N] [--rss] [--json FILE]`:
 * the long form of the conservation harness (see harness.ts and docs/RELIABILITY.md). The first
 * 60 % of the time has kills and restarts; the rest keeps faults and config edits without kills,
 * so one agent process runs long enough to show its RSS. Prints the judge's report (and the RSS
 * samples with `--rss`); exit code 0 only when the run passed.
 */
import { formatReport, runConservation } from './harness.js';

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

/** `"a,b"` seconds → [ms, ms]. */
function pair(v: string | undefined, dflt: [number, number]): [number, number] {
  const [a, b] = (v ?? '').split(',').map(Number);
  return Number.isFinite(a) && Number.isFinite(b) && v ? [a * 1000, b * 1000] : [dflt[0] * 1000, dflt[1] * 1000];
}

async function main(argv: string[]): Promise<number> {
  const minutes = Number(flag(argv, 'minutes') ?? 30);
  const seed = flag(argv, 'seed');
  const report = await runConservation({
    durationMs: minutes * 60_000,
    calmFraction: Number(flag(argv, 'calm') ?? 0.4),
    seed: seed === undefined ? undefined : Number(seed),
    rate: Number(flag(argv, 'rate') ?? 2000),
    filesPerEntry: Number(flag(argv, 'files') ?? 2),
    rotateBytes: Number(flag(argv, 'rotate-bytes') ?? 2 * 1024 * 1024),
    chaosEveryMs: pair(flag(argv, 'chaos-secs'), [20, 60]),
    faultEveryMs: pair(flag(argv, 'fault-secs'), [3, 15]),
    drainTimeoutMs: 180_000,
    rssEveryMs: 10_000,
    workDir: flag(argv, 'work'),
  });
  process.stdout.write(formatReport(report) + '\n');
  if (argv.includes('--rss')) {
    for (const s of report.rss) process.stdout.write(`rss +${Math.round(s.t / 1000)}s run ${s.run} ${(s.rss / 1048576).toFixed(1)} MiB\n`);
  }
  if (flag(argv, 'json')) {
    const fs = await import('node:fs');
    fs.writeFileSync(flag(argv, 'json')!, JSON.stringify(report, null, 2));
  }
  return report.passed ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err) => {
    process.stderr.write(`soak: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
