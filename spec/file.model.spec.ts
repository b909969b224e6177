/**
 * Model-based test of the file source (after Vector's file_watcher model test): fast-check
 * generates random sequences of append / partial append / rename rotation / copytruncate /
 * truncate / delete / restart, applies them to a real file under a real log source, and checks
 * that the lines delivered (across restarts) are exactly the lines written, in order.
 *
 * Synchronisation rules (what the source is NOT expected to survive, see docs/design/file-tailing.md):
 * - before a rotation or copytruncate, the source must have read everything but the last append,
 *   and at least one line of the current file if it has any (a file rotated away before the
 *   reader ever opened or read it is invisible: two rotations while behind lose the middle file,
 *   and a copytruncate of bytes never read leaves no trace, as in Scalyr);
 * - before a plain truncate or delete, the source must have read everything (truncation loses
 *   unread bytes by definition; a deleted file's unread bytes are lost if sluice restarts).
 * `copy_from_start` is on so a file recreated while sluice restarts is read from 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { entryFor, startRun, tmpDir, waitFor, type Run } from './file.harness.js';

type Op =
  | { k: 'append'; n: number }
  | { k: 'partial'; restartBetween: boolean }
  | { k: 'rotate' }
  | { k: 'copytruncate' }
  | { k: 'truncate' }
  | { k: 'delete' }
  | { k: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('append' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('partial' as const), restartBetween: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ k: 'rotate' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'copytruncate' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'truncate' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'delete' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'restart' as const }) },
);

async function check(ops: Op[]): Promise<void> {
  const dir = tmpDir('sluice-model-');
  const data = tmpDir('sluice-modeld-');
  const f = path.join(dir, 'app.log');
  fs.writeFileSync(f, '');
  const written: string[] = [];
  const prior: string[] = [];
  let counter = 0;
  let rot = 0;
  let beforeLastAppend = 0;
  let incarnationStart = 0;
  const beforeRotation = () => Math.max(beforeLastAppend, written.length > incarnationStart ? incarnationStart + 1 : 0);
  const mk = () =>
    startRun({
      entry: entryFor(f, { copy_from_start: true }),
      dataDir: data,
      agent: { log_deletion_delay: 0.1, max_new_log_detection_time: 0.05, line_completion_wait_time: 60, read_page_size: 64 },
      pollIntervalMs: 10,
    });
  let run: Run = await mk();
  const delivered = () => [...prior, ...run.lines()];
  const restart = async () => {
    await run.stop();
    prior.push(...run.lines());
    run = await mk();
  };
  const line = () => `L${++counter}-${'x'.repeat(counter % 11)}\n`;
  const syncTo = (n: number) => waitFor(() => delivered().length >= n, 5000, `${n} lines (ops ${JSON.stringify(ops)})`);
  try {
    for (const op of ops) {
      switch (op.k) {
        case 'append': {
          beforeLastAppend = written.length;
          const ls = Array.from({ length: op.n }, line);
          fs.appendFileSync(f, ls.join(''));
          written.push(...ls);
          break;
        }
        case 'partial': {
          beforeLastAppend = written.length;
          const l = line();
          const cut = Math.max(1, Math.floor(l.length / 2));
          fs.appendFileSync(f, l.slice(0, cut));
          if (op.restartBetween) await restart();
          fs.appendFileSync(f, l.slice(cut));
          written.push(l);
          break;
        }
        case 'rotate':
          if (!fs.existsSync(f)) break;
          await syncTo(beforeRotation());
          fs.renameSync(f, `${f}.${++rot}`);
          fs.writeFileSync(f, '');
          incarnationStart = written.length;
          break;
        case 'copytruncate':
          if (!fs.existsSync(f)) break;
          await syncTo(beforeRotation());
          fs.copyFileSync(f, `${f}.${++rot}`);
          fs.truncateSync(f, 0);
          incarnationStart = written.length;
          break;
        case 'truncate':
          if (!fs.existsSync(f)) break;
          await syncTo(written.length);
          fs.truncateSync(f, 0);
          incarnationStart = written.length;
          break;
        case 'delete':
          if (!fs.existsSync(f)) break;
          await syncTo(written.length);
          fs.unlinkSync(f);
          incarnationStart = written.length;
          break;
        case 'restart':
          await restart();
          break;
      }
    }
    await syncTo(written.length);
    await new Promise((r) => setTimeout(r, 30));
    expect(delivered()).toEqual(written);
  } finally {
    await run.stop();
  }
}

describe('file source model', () => {
  it('delivers every line exactly once and in order through random rotations and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 3, maxLength: 14 }), (ops) => check(ops)),
      { numRuns: 30, seed: 4242, endOnFailure: true },
    );
  }, 20000);

  it('regression sequences', async () => {
    await check([{ k: 'append', n: 3 }, { k: 'copytruncate' }, { k: 'rotate' }, { k: 'append', n: 2 }]);
    await check([{ k: 'append', n: 2 }, { k: 'rotate' }, { k: 'restart' }, { k: 'append', n: 1 }, { k: 'copytruncate' }, { k: 'restart' }, { k: 'append', n: 1 }]);
    await check([{ k: 'append', n: 2 }, { k: 'delete' }, { k: 'restart' }, { k: 'append', n: 2 }, { k: 'partial', restartBetween: true }]);
  });
});
