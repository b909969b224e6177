import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointStore } from '../lib/checkpoints/store.js';
import { memoryLogger } from '../lib/logger.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ckpt-'));
const entry = (position: number, extra: Record<string, unknown> = {}) => ({
  position,
  inode: 42,
  dev: 7,
  sequence_id: 'seq-1',
  sequence_number: position,
  ...extra,
});
const read = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints.json'), 'utf8'));

describe('CheckpointStore', () => {
  it('writes {time, checkpoints} atomically and reads it back', async () => {
    const dir = tmp();
    const s = await CheckpointStore.open(dir, { now: () => 1_700_000_000_000 });
    s.update('/var/log/a.log', entry(59, { fingerprint: '3:abc' }));
    await s.close();
    const f = read(dir);
    expect(f.time).toBe(1_700_000_000);
    expect(f.checkpoints['/var/log/a.log']).toEqual({ ...entry(59, { fingerprint: '3:abc' }), time: 1_700_000_000 });
    expect(fs.existsSync(path.join(dir, 'checkpoints.json~'))).toBe(false);
    const again = await CheckpointStore.open(dir);
    expect(again.get('/var/log/a.log')?.position).toBe(59);
    await again.close();
  });

  it('coalesces updates into at most one write per interval, and flush() writes at once', async () => {
    const dir = tmp();
    const s = await CheckpointStore.open(dir, { flushIntervalMs: 60_000 });
    for (let i = 1; i <= 100; i++) s.update('/a', entry(i));
    // The first write happens at once (nothing written yet); wait for it without a fixed delay.
    for (let t = 0; s.stats.writes < 1 && t < 5000; t += 5) await new Promise((r) => setTimeout(r, 5));
    expect(s.stats.writes).toBe(1);
    s.update('/a', entry(100));
    await new Promise((r) => setTimeout(r, 20));
    expect(s.stats.writes).toBe(1); // the next one waits for the interval
    await s.flush();
    expect(s.stats.writes).toBe(2);
    expect(read(dir).checkpoints['/a'].position).toBe(100);
    await s.flush(); // nothing changed: no write
    expect(s.stats.writes).toBe(2);
    await s.close();
  });

  it('ignores a corrupt file with a warning and keeps it aside as .corrupt', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'checkpoints.json'), '{"time": 1, "checkpoints": {');
    const logger = memoryLogger();
    const s = await CheckpointStore.open(dir, { logger });
    expect(s.paths()).toEqual([]);
    expect(s.stats.corruptFiles).toBe(1);
    expect(logger.records.some((r) => r.level === 'warn' && /corrupt/.test(r.message))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'checkpoints.json.corrupt'), 'utf8')).toContain('"time"');
    await s.close();
  });

  it('ignores invalid UTF-8 and drops single bad entries', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'checkpoints.json'), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    const s = await CheckpointStore.open(dir);
    expect(s.stats.corruptFiles).toBe(1);
    await s.close();
    const dir2 = tmp();
    fs.writeFileSync(
      path.join(dir2, 'checkpoints.json'),
      JSON.stringify({ time: 1, checkpoints: { '/good': { ...entry(5), time: 1 }, '/bad': { position: 'x' }, '/neg': entry(-1) } }),
    );
    const logger = memoryLogger();
    const s2 = await CheckpointStore.open(dir2, { logger });
    expect(s2.paths()).toEqual(['/good']);
    expect(logger.records.filter((r) => r.level === 'warn')).toHaveLength(2);
    await s2.close();
  });

  it('survives a write error: counted, logged, previous file intact, retried later', async () => {
    const dir = tmp();
    const logger = memoryLogger();
    const s = await CheckpointStore.open(dir, { logger });
    s.update('/a', entry(10));
    await s.flush();
    // Make the temp path a directory so open(tmp, 'w') fails with EISDIR.
    fs.mkdirSync(path.join(dir, 'checkpoints.json~'));
    s.update('/a', entry(20));
    await s.flush();
    expect(s.stats.writeErrors).toBe(1);
    expect(s.counters.errors).toBe(1);
    expect(logger.records.some((r) => r.level === 'error')).toBe(true);
    expect(read(dir).checkpoints['/a'].position).toBe(10);
    fs.rmdirSync(path.join(dir, 'checkpoints.json~'));
    await s.flush(); // still dirty: retried
    expect(read(dir).checkpoints['/a'].position).toBe(20);
    await s.close();
  });

  it('uses the temp file when a crash happened after it was written but before the rename', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'checkpoints.json'), JSON.stringify({ time: 10, checkpoints: { '/a': { ...entry(1), time: 10 } } }));
    fs.writeFileSync(path.join(dir, 'checkpoints.json~'), JSON.stringify({ time: 11, checkpoints: { '/a': { ...entry(2), time: 11 } } }));
    const s = await CheckpointStore.open(dir);
    expect(s.get('/a')?.position).toBe(2);
    await s.close();
  });

  it('never expires entries with max_allowed_checkpoint_age 0 (sluice default)', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'checkpoints.json'), JSON.stringify({ time: 1, checkpoints: { '/a': { ...entry(3), time: 1 } } }));
    const s = await CheckpointStore.open(dir, { now: () => 1e12 });
    expect(s.get('/a')?.position).toBe(3);
    await s.close();
  });

  it('reads the last write back after close/open cycles and removes forgotten paths', async () => {
    const dir = tmp();
    const s = await CheckpointStore.open(dir);
    s.update('/a', entry(1));
    s.update('/b', entry(2));
    s.remove('/a');
    await s.close();
    s.update('/c', entry(3)); // ignored after close
    expect(Object.keys(read(dir).checkpoints)).toEqual(['/b']);
  });
});
