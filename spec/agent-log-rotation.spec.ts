/**
 * The agent's own log rotates as Scalyr's does: at `log_rotation_max_bytes`, keeping
 * `log_rotation_backup_count` copies (`agent1.log`, …). A real agent writing its real log in a
 * temp dir; reloads make it write lines.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent } from '../app/index.js';
import { isolatedAgent } from './helpers/isolated.js';

async function runWith(extra: Record<string, unknown>): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-agentlog-'));
  const config = { ...isolatedAgent(dir), debug_level: 1, ...extra };
  const agent = createAgent({ config });
  await agent.start();
  const logDir = path.join(dir, 'log');
  // Each reload writes a line or two (about 100 bytes); 60 of them pass 2000 bytes a few times.
  // (Spaced a little: winston's file transport drops lines written during its own rename.)
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 20));
    await agent.reload({ ...config, server_attributes: { serverHost: `h${i}` } });
  }
  await agent.stop();
  return fs.readdirSync(logDir).sort();
}

describe('agent.log rotation', () => {
  it('rotates at log_rotation_max_bytes and keeps log_rotation_backup_count copies', async () => {
    const files = await runWith({ log_rotation_max_bytes: 2000, log_rotation_backup_count: 1 });
    expect(files).toEqual(['agent.log', 'agent1.log']);
  });

  it('never rotates with log_rotation_backup_count 0', async () => {
    const files = await runWith({ log_rotation_max_bytes: 2000, log_rotation_backup_count: 0 });
    expect(files).toEqual(['agent.log']);
  });
});
