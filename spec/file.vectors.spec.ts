/**
 * Scalyr's log_tailing vectors (spec/fixtures/vectors/scalyr/log_tailing.json) and the start-position
 * scenarios of checkpoints.json, run against the real file source.
 *
 * Scalyr's vectors drive a pull-style iterator (`scan`, `read`, `mark`, `seek`). sluice pushes
 * batches, so each `log_file_iteration` case is replayed as: the file exists (empty) when the
 * source starts, the ops that change files are applied in order, and the lines the source emits
 * must equal the non-empty `read` results in order. `scan`/`read` are synchronisation points.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { matchPaths } from '../sources/file/discover.js';
import { entryFor, sleep, startRun, tmpDir, waitFor, type Run } from './file.harness.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = (f: string) => JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr', f), 'utf8'));
const tailing = load('log_tailing.json');
const checkpoints = load('checkpoints.json');

interface Op {
  op: string;
  data?: string;
  name?: string;
  advance?: number;
  to?: string;
  as?: string;
}
interface Case {
  name: string;
  kind: string;
  input: { max_line_size: number; read_page_size: number; ops: Op[]; files?: string[]; log_config?: Record<string, unknown> };
  expected: { results?: unknown[]; matched?: { path: string; logfile_attr: string; original_file_attr: string | null }[] };
}

/** Cases whose mechanism does not exist in sluice's push design (explained per case). */
const SKIPPED: Record<string, string> = {
  // sluice never skips data unless `skip_too_far_behind` is set; there is no manual skip_to_end API.
  skip_to_end: 'no manual skip in a push design (too-far-behind skipping is tested in the source spec)',
  // Rolling back after a failed send is the sink's job in sluice (it keeps the batch and retries);
  // the equivalent guarantee (same si/sn when bytes are re-read) is the "only acknowledged offsets" test.
  seek_back_before_mark_rereads: 'rollback is done by the sink retrying the same batch; re-read sequence numbers are tested after restart',
  // rename_logfile is applied by the integrator's streamAttrs callback (app/agent.ts streamAttrs), not by the file source.
  rename_basename: 'rename_logfile belongs to the integrator (streamAttrs)',
  rename_invalid_placeholder_keeps_original: 'rename_logfile belongs to the integrator (streamAttrs)',
  rename_regex_form: 'rename_logfile belongs to the integrator (streamAttrs)',
};

const runs: Run[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.stop().catch(() => undefined);
});

async function replay(c: Case): Promise<void> {
  const dir = tmpDir('sluice-vec-');
  const data = tmpDir('sluice-vecd-');
  const f = path.join(dir, 'text.txt');
  fs.writeFileSync(f, '');
  const results = c.expected.results ?? [];
  const ops = c.input.ops;
  // Expected non-empty reads, split into segments at each restart.
  const segments: string[][] = [[]];
  ops.forEach((op, i) => {
    if (op.op === 'checkpoint_restart') segments.push([]);
    if (op.op === 'read' && typeof results[i] === 'string' && results[i] !== '') segments[segments.length - 1].push(results[i] as string);
  });
  const hasMark = ops.some((o) => o.op === 'mark');
  const agent = { max_line_size: c.input.max_line_size, read_page_size: c.input.read_page_size, log_deletion_delay: 0.3, line_completion_wait_time: 5 };
  const mk = async () => {
    const r = await startRun({ entry: entryFor(f), dataDir: data, agent, pollIntervalMs: 20, watch: false, ack: () => !hasMark });
    runs.push(r);
    return r;
  };
  let run = await mk();
  let seg = 0;
  let readsInSeg = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    switch (op.op) {
      case 'append':
        fs.appendFileSync(f, op.data!);
        break;
      case 'write_new':
        fs.writeFileSync(f, op.data!);
        break;
      case 'rename_to':
        fs.renameSync(f, path.join(dir, op.name!));
        break;
      case 'copy_to':
        fs.copyFileSync(f, path.join(dir, op.name!));
        break;
      case 'truncate':
        fs.truncateSync(f, 0);
        break;
      case 'delete':
        fs.unlinkSync(f);
        break;
      case 'read':
        if (typeof results[i] === 'string' && results[i] !== '') readsInSeg++;
        await waitFor(() => run.lines().length >= readsInSeg, 5000, `${c.name}: ${readsInSeg} lines`);
        break;
      case 'mark': {
        // Scalyr's mark = everything read so far was uploaded: acknowledge exactly up to there.
        const markAt = segments[seg].slice(0, readsInSeg).reduce((n, l) => n + Buffer.byteLength(l, 'latin1'), 0);
        run.batches[0].stream.ack(markAt);
        break;
      }
      case 'checkpoint_restart': {
        expect(run.lines().slice(0, segments[seg].length)).toEqual(segments[seg]);
        runs.splice(runs.indexOf(run), 1);
        await run.stop();
        const ck = JSON.parse(fs.readFileSync(path.join(data, 'checkpoints.json'), 'utf8')).checkpoints[f];
        const want = (results[i] as { checkpoint_without_sequence_id: { sequence_number: number; pending_files: { last_known_size: number }[] } })
          .checkpoint_without_sequence_id;
        expect(ck.position).toBe(want.sequence_number);
        expect(ck.sequence_number).toBe(want.sequence_number);
        expect(ck.last_known_size).toBe(want.pending_files[0].last_known_size);
        seg++;
        readsInSeg = 0;
        run = await mk();
        break;
      }
      case 'at_end':
        // at_end is true only after log_deletion_delay has passed for a deleted file: the follower ends.
        if (results[i] === true) await waitFor(() => run.source.status().length === 0, 5000, 'follower to end');
        else expect(run.source.status().length).toBe(1);
        break;
      case 'scan':
      case 'tell':
      case 'seek':
      case 'sequence_number':
        await sleep(20);
        break;
      default:
        throw new Error(`unknown op ${op.op}`);
    }
  }
  await sleep(60);
  expect(run.lines()).toEqual(segments[seg]);
}

describe('log_tailing.json', () => {
  for (const c of tailing.cases as Case[]) {
    if (SKIPPED[c.name]) {
      it.skip(`${c.name} — ${SKIPPED[c.name]}`, () => undefined);
      continue;
    }
    if (c.kind === 'log_file_iteration') {
      it(c.name, async () => {
        await replay(c);
      });
    } else if (c.kind === 'glob_matching') {
      it(c.name, async () => {
        const dir = tmpDir('sluice-glob-');
        for (const name of c.input.files!) {
          fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
          fs.writeFileSync(path.join(dir, name), 'x\n');
        }
        const cfg = c.input.log_config as { path: string; exclude?: string[] };
        const r = await matchPaths(cfg.path.replace('<DIR>', dir), cfg.exclude ?? []);
        expect(r.files).toEqual(c.expected.matched!.map((m) => m.path.replace('<DIR>', dir)));
        expect(r.problems).toEqual([]);
      });
    }
  }
});

describe('checkpoints.json start-position scenarios', () => {
  const byName = (n: string) => checkpoints.cases.find((c: { name: string }) => c.name === n);

  it('restart_within_age_resumes', async () => {
    const c = byName('restart_within_age_resumes');
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r1 = await startRun({ entry: entryFor(f), dataDir: data });
    fs.appendFileSync(f, 'First line\nSecond line\n');
    await waitFor(() => r1.lines().length >= 2);
    await r1.stop();
    fs.appendFileSync(f, 'Third line\nFourth line\n');
    const r2 = await startRun({ entry: entryFor(f), dataDir: data });
    runs.push(r2);
    await waitFor(() => r2.lines().length >= 2);
    expect(r2.lines().map((l) => l.trimEnd())).toEqual(c.expected.first_request_after_start);
  });

  it('logs_initial_positions: the agent log starts where it was when the process started', async () => {
    const c = byName('logs_initial_positions');
    const dir = tmpDir();
    const f = path.join(dir, 'agent.log');
    fs.writeFileSync(f, c.input.file_content);
    const r = await startRun({ entry: entryFor(f), dataDir: tmpDir(), initialPositions: { [f]: c.input.initial_position } });
    runs.push(r);
    await waitFor(() => r.lines().length >= c.expected.first_request_lines.length);
    expect(r.lines().map((l) => l.trimEnd())).toEqual(c.expected.first_request_lines);
  });

  it('within_offset_new_file_copied (skip_too_far_behind on, file within max_log_offset_size)', async () => {
    const c = byName('within_offset_new_file_copied');
    const dir = tmpDir();
    const r = await startRun({
      entry: entryFor(path.join(dir, '*.log')),
      dataDir: tmpDir(),
      agent: { skip_too_far_behind: true, max_log_offset_size: c.input.max_log_offset_size, max_existing_log_offset_size: c.input.max_log_offset_size },
    });
    runs.push(r);
    fs.writeFileSync(path.join(dir, 'n.log'), c.input.new_file_bytes);
    await waitFor(() => r.lines().length >= 1);
    expect(r.lines()).toEqual(c.expected.events);
  });

  it('too far behind: with skip_too_far_behind a bigger new file jumps to its end (counted); without it nothing is skipped', async () => {
    const dir = tmpDir();
    const r = await startRun({ entry: entryFor(path.join(dir, '*.log')), dataDir: tmpDir(), agent: { skip_too_far_behind: true, max_log_offset_size: 20 } });
    runs.push(r);
    fs.writeFileSync(path.join(dir, 'n.log'), 'a string of 21bytes!\n');
    await waitFor(() => r.source.status().length === 1 && r.source.status()[0].skippedBytes > 0);
    expect(r.source.status()[0].skipped).toEqual({ too_far_behind: 21 });
    expect(r.source.counters.dropped.too_far_behind).toBe(1);
    fs.appendFileSync(path.join(dir, 'n.log'), 'next\n');
    await waitFor(() => r.lines().length >= 1);
    expect(r.lines()).toEqual(['next\n']);
    const dir2 = tmpDir();
    const r2 = await startRun({ entry: entryFor(path.join(dir2, '*.log')), dataDir: tmpDir(), agent: { max_log_offset_size: 20 } });
    runs.push(r2);
    fs.writeFileSync(path.join(dir2, 'n.log'), 'a string of 21bytes!\n');
    await waitFor(() => r2.lines().length >= 1);
    expect(r2.lines()).toEqual(['a string of 21bytes!\n']);
  });
});
