/**
 * Rotations while the agent is stopped: what docs/RELIABILITY.md promises and what it lists as
 * known limits, pinned by tests (in-process agent, embedded sink, real files).
 *
 * Promised: one rename rotation while down (the old file is found again by inode and drained);
 * a copytruncate while down whose copy has a recognised name (`x.log.1`).
 * Known limits, asserted as such so a change in behaviour is noticed:
 * - a copytruncate whose copy is not found loses the unread tail — reported (a warning naming the
 *   file), never silent;
 * - a file rotated away TWICE while down: the middle file was never seen, so it is not read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { waitFor } from './helpers/wait.js';
import { readNdjson } from './helpers/ndjson.js';
import { isolatedAgent } from './helpers/isolated.js';

const lines = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `line ${a + i}\n`).join('');
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => `line ${a + i}`);

type Kind = 'rename once' | 'copytruncate, copy found' | 'copytruncate, copy not found' | 'rename twice';

async function whileDown(kind: Kind): Promise<{ got: string[]; warnings: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rot-down-'));
  const log = path.join(dir, 'x.log');
  const config = {
    ...isolatedAgent(dir),
    max_new_log_detection_time: 0.2,
    line_completion_wait_time: 0.2,
    logs: [{ path: log, copy_from_start: true }],
  };
  const out = path.join(dir, 'data', 'events');
  const logger = memoryLogger();
  try {
    fs.writeFileSync(log, lines(0, 10));
    let agent = createAgent({ logger, watchConfig: false, config });
    await agent.start();
    await waitFor('first ten lines', () => readNdjson(out).length >= 10);
    await agent.stop();
    fs.appendFileSync(log, lines(10, 20)); // written while down, not yet read
    if (kind.startsWith('copytruncate')) {
      fs.copyFileSync(log, path.join(dir, kind === 'copytruncate, copy found' ? 'x.log.1' : 'backup-of-x'));
      fs.truncateSync(log, 0);
      fs.appendFileSync(log, lines(20, 25));
    } else {
      fs.renameSync(log, path.join(dir, 'x.log.1'));
      fs.writeFileSync(log, lines(20, 30));
      if (kind === 'rename twice') {
        fs.renameSync(log, path.join(dir, 'x.log.2'));
        fs.writeFileSync(log, lines(30, 35));
      }
    }
    agent = createAgent({ logger, watchConfig: false, config });
    await agent.start();
    const last = kind.startsWith('copytruncate') ? 'line 24' : kind === 'rename twice' ? 'line 34' : 'line 29';
    await waitFor(`${last} delivered`, () => readNdjson(out).some((r) => r.message.trim() === last), 8000);
    await new Promise((r) => setTimeout(r, 300)); // anything else still coming would show now
    await agent.stop();
    const warnings = logger.records.filter((r) => r.level === 'warn' || r.level === 'error').map((r) => r.message).join('\n');
    return { got: readNdjson(out).map((r) => r.message.trim()), warnings };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('rotation while the agent is down', () => {
  it('promised: one rename rotation — the old file is found by inode and drained', async () => {
    const { got } = await whileDown('rename once');
    expect(got).toEqual(range(0, 30));
  });

  it('promised: a copytruncate whose copy has a recognised name (x.log.1)', async () => {
    const { got } = await whileDown('copytruncate, copy found');
    expect(got).toEqual(range(0, 25));
  });

  it('known limit: a copytruncate whose copy is not found loses the unread tail, with a warning', async () => {
    const { got, warnings } = await whileDown('copytruncate, copy not found');
    expect(got).toEqual([...range(0, 10), ...range(20, 25)]);
    expect(warnings).toMatch(/x\.log/);
  });

  it('known limit: rotated away twice while down — the middle file was never seen and is not read', async () => {
    const { got } = await whileDown('rename twice');
    expect(got).toEqual([...range(0, 20), ...range(30, 35)]);
  });
});
