/**
 * Scalyr's checkpoint vectors (spec/fixtures/vectors/scalyr/checkpoints.json) that concern the store.
 * The start-position scenarios run against the real log source in spec/file.vectors.spec.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointStore } from '../lib/checkpoints/store.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr/checkpoints.json'), 'utf8'));
const byName = (n: string) => vectors.cases.find((c: { name: string }) => c.name === n);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ckv-'));

describe('checkpoints.json vectors (store)', () => {
  it('checkpoint_files_layout: consolidated file name, shape and temp-then-rename', async () => {
    const c = byName('checkpoint_files_layout');
    const dir = tmp();
    const s = await CheckpointStore.open(dir);
    expect(s.file).toBe(path.join(dir, path.basename(c.expected.files.consolidated)));
    s.update('/x.log', { position: 1, inode: 1, sequence_id: 'a', sequence_number: 1 });
    await s.close();
    const f = JSON.parse(fs.readFileSync(s.file, 'utf8'));
    expect(Object.keys(f).sort()).toEqual(Object.keys(c.expected.file_shape).sort());
    // Deliberate difference: sluice writes only the consolidated file (no per-session full/active files);
    // Scalyr's per-session files found at start are merged (next test) and renamed *.imported.
  });

  it('per_file_checkpoint_shape_after_reading_59_bytes: a Scalyr entry is converted to an absolute offset', async () => {
    const c = byName('per_file_checkpoint_shape_after_reading_59_bytes');
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'checkpoints.json'), JSON.stringify({ time: c.expected.checkpoint.time, checkpoints: { '/a.log': c.expected.checkpoint } }));
    const s = await CheckpointStore.open(dir);
    const e = s.get('/a.log')!;
    expect(e.position).toBe(c.input.bytes_acknowledged);
    expect(e.inode).toBe(c.expected.checkpoint.pending_files[0].inode);
    // A new sequence id: Scalyr's sequence numbers count bytes across rotations, ours are offsets.
    expect(e.sequence_id).not.toBe(c.expected.checkpoint.sequence_id);
    await s.close();
  });

  it('newer_active_file_overrides_full (Scalyr per-session files are merged and imported)', async () => {
    const c = byName('newer_active_file_overrides_full');
    const dir = tmp();
    const withIds = (f: { time: number; checkpoints: Record<string, Record<string, unknown>> }, pos: number) => ({
      time: f.time,
      checkpoints: Object.fromEntries(
        Object.entries(f.checkpoints).map(([p, e]) => [p, { ...e, position: 0, pending_files: [{ position_start: -pos, position_end: 0, inode: 5, is_log_file: true }] }]),
      ),
    });
    fs.writeFileSync(path.join(dir, 'checkpoints-worker-default-0.json'), JSON.stringify(withIds(c.input.full, 10)));
    fs.writeFileSync(path.join(dir, 'active-checkpoints-worker-default-0.json'), JSON.stringify(withIds(c.input.active, 20)));
    const s = await CheckpointStore.open(dir);
    expect(s.get('/a.log')?.position).toBe(20); // from "active"
    expect(s.get('/a.log')?.time).toBe(c.expected.merged_time);
    expect(fs.existsSync(path.join(dir, 'active-checkpoints-worker-default-0.json.imported'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(s.file, 'utf8')).checkpoints['/a.log'].position).toBe(20);
    await s.close();
  });

  it('an active file older than its full file does not override it', async () => {
    const dir = tmp();
    const e = (pos: number, time: number) => ({ time, checkpoints: { '/a.log': { time, position: pos, inode: 1, sequence_id: 's' } } });
    fs.writeFileSync(path.join(dir, 'checkpoints-worker-default-0.json'), JSON.stringify(e(10, 200)));
    fs.writeFileSync(path.join(dir, 'active-checkpoints-worker-default-0.json'), JSON.stringify(e(20, 100)));
    const s = await CheckpointStore.open(dir);
    expect(s.get('/a.log')?.position).toBe(10);
    await s.close();
  });

  it('stale_entries_pruned_on_update (only when max_allowed_checkpoint_age > 0)', async () => {
    const c = byName('stale_entries_pruned_on_update');
    const dir = tmp();
    const checkpoints: Record<string, unknown> = {};
    for (const [p, e] of Object.entries(c.input.existing as Record<string, Record<string, unknown>>)) {
      checkpoints[p] = { ...e, position: 0, inode: 1, sequence_id: 's' };
    }
    fs.writeFileSync(path.join(dir, 'checkpoints.json'), JSON.stringify({ time: c.input.now, checkpoints }));
    const s = await CheckpointStore.open(dir, { maxAgeSecs: c.input.max_allowed_checkpoint_age, now: () => c.input.now * 1000 });
    s.update('/new.log', { position: 0, inode: 2, sequence_id: 't', sequence_number: 0 });
    await s.close();
    const kept = Object.keys(JSON.parse(fs.readFileSync(s.file, 'utf8')).checkpoints);
    for (const k of c.expected.kept) expect(kept).toContain(k);
    for (const d of c.expected.dropped) expect(kept).not.toContain(d);
  });

  it('a whole file older than max_allowed_checkpoint_age is ignored when the age is > 0', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'checkpoints.json'), JSON.stringify({ time: 1000, checkpoints: { '/a': { time: 1000, position: 5, inode: 1, sequence_id: 's' } } }));
    const s = await CheckpointStore.open(dir, { maxAgeSecs: 900, now: () => 5000 * 1000 });
    expect(s.get('/a')).toBeUndefined();
    await s.close();
  });

  it('corrupt_or_non_utf8_checkpoint_ignored', async () => {
    const c = byName('corrupt_or_non_utf8_checkpoint_ignored');
    for (const bytes of [Buffer.from('not json'), Buffer.from([0xc3, 0x28])]) {
      const dir = tmp();
      fs.writeFileSync(path.join(dir, 'checkpoints.json'), bytes);
      const s = await CheckpointStore.open(dir);
      expect(s.paths().length > 0).toBe(c.expected.used);
      await s.close();
    }
  });
});
