/**
 * Files the agent writes (the embedded sink's events.ndjson, its own agent.log, checkpoints) are
 * never world-readable: checked after a real run, with a umask of 0 so the modes come from the
 * agent itself, and with pre-existing world-readable files that lose those bits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent } from '../app/index.js';
import { waitFor } from './helpers/wait.js';
import { readNdjson } from './helpers/ndjson.js';

const mode = (f: string) => fs.statSync(f).mode & 0o777;

let oldUmask: number | undefined;
beforeAll(() => {
  try {
    oldUmask = process.umask(0);
  } catch {
    oldUmask = undefined; // not allowed here (worker thread): the default umask still applies
  }
});
afterAll(() => {
  if (oldUmask !== undefined) process.umask(oldUmask);
});

async function run(dir: string): Promise<void> {
  const log = path.join(dir, 'app.log');
  fs.writeFileSync(log, '');
  const agent = createAgent({
    config: {
      agent_data_path: path.join(dir, 'data'),
      agent_log_path: path.join(dir, 'log'),
      implicit_metric_monitor: false,
      implicit_agent_process_metrics_monitor: false,
      implicit_agent_log_collection: false,
      line_completion_wait_time: 0.2,
      max_new_log_detection_time: 0.2,
      full_checkpoint_interval_in_seconds: 0.2,
      logs: [{ path: log }],
    },
  });
  await agent.start();
  try {
    fs.appendFileSync(log, 'one\ntwo\n');
    await waitFor('two events in the embedded sink', () => (readNdjson(path.join(dir, 'data', 'events')).length >= 2 ? true : undefined));
  } finally {
    await agent.stop();
  }
}

function expectPrivate(files: string[]): void {
  for (const f of files) {
    expect({ f, exists: fs.existsSync(f) }).toEqual({ f, exists: true });
    const m = mode(f);
    expect({ f, worldBits: m & 0o007 }).toEqual({ f, worldBits: 0 });
    expect({ f, ok: m === 0o600 || m === 0o640 }).toEqual({ f, ok: true });
  }
}

describe('file modes', () => {
  test('new files: events.ndjson, agent.log and checkpoints.json are 0600/0640', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-modes-'));
    try {
      await run(dir);
      expectPrivate([path.join(dir, 'data', 'events', 'events.ndjson'), path.join(dir, 'log', 'agent.log'), path.join(dir, 'data', 'checkpoints.json')]);
      expect(mode(path.join(dir, 'data', 'checkpoints.json'))).toBe(0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('existing world-readable files lose their world bits', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-modes-old-'));
    try {
      const events = path.join(dir, 'data', 'events', 'events.ndjson');
      const agentLog = path.join(dir, 'log', 'agent.log');
      for (const f of [events, agentLog]) {
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, '');
        fs.chmodSync(f, 0o644);
      }
      await run(dir);
      expectPrivate([events, agentLog, path.join(dir, 'data', 'checkpoints.json')]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
