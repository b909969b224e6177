/**
 * Conservation, short form (~1.5 minutes): lines with unique ids are written to four files with
 * rename and copytruncate rotations, deletions, partial lines and stack-trace groups, while the
 * agent — a real `sluice start --foreground` child process — is killed (-9 and SIGTERM) and
 * restarted, its config is edited, and the HTTPS receiver injects 5xx, 429, backoff, late answers,
 * resets and refused connections. Nothing may be lost; duplicates only inside the window.
 * The long form is `npm run soak -- --minutes 30` (see docs/RELIABILITY.md).
 */
import fs from 'node:fs';
import path from 'node:path';
import { formatReport, runConservation } from '../reliability/harness.js';
import { repoRoot } from '../reliability/agentProcess.js';

const built = fs.existsSync(path.join(repoRoot(), 'dist', 'app', 'cli', 'main.js'));

describe('conservation under faults, kills and rotation', () => {
  (built ? it : it.skip)(
    'delivers every line written, in order, with duplicates only inside the window',
    async () => {
      const seed = process.env.SLUICE_RELIABILITY_SEED ? Number(process.env.SLUICE_RELIABILITY_SEED) : undefined;
      const report = await runConservation({
        durationMs: Number(process.env.SLUICE_RELIABILITY_MS ?? 60_000),
        seed,
        rate: 1200,
        filesPerEntry: 2,
        rotateBytes: 192 * 1024,
        chaosEveryMs: [2500, 6000],
        faultEveryMs: [2000, 5000],
        drainTimeoutMs: 40_000,
        log: () => undefined,
      });
      process.stdout.write(formatReport(report) + '\n');
      expect(report.failures).toEqual([]);
      expect(report.lost).toBe(0);
      expect(report.written).toBeGreaterThan(10_000);
      expect(report.restarts).toBeGreaterThan(0);
      expect(report.faultsTotal).toBeGreaterThan(0);
      expect(report.writer.renames + report.writer.copytruncates).toBeGreaterThan(0);
      expect(report.health.code).toBe(0);
    },
    240_000,
  );
});
