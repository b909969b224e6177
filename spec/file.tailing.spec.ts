/**
 * The file source end to end on real files: start positions, rotation kinds, deletion,
 * restarts from checkpoints, ack-only checkpointing, long/partial/binary lines, backpressure,
 * inode-reuse guard.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Credits } from '../lib/pipeline/credits.js';
import { entryFor, sleep, startRun, tmpDir, waitFor, type Run } from './file.harness.js';
import type { Batch } from '../lib/types.js';

const runs: Run[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.stop().catch(() => undefined);
});
async function start(...args: Parameters<typeof startRun>): Promise<Run> {
  const r = await startRun(...args);
  runs.push(r);
  return r;
}
async function stopRun(r: Run): Promise<void> {
  runs.splice(runs.indexOf(r), 1);
  await r.stop();
}
const ckpt = (dataDir: string) => JSON.parse(fs.readFileSync(path.join(dataDir, 'checkpoints.json'), 'utf8')).checkpoints;

describe('start positions', () => {
  it('starts pre-existing files at their end at startup, new lines are read', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'old1\nold2\n');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir() });
    fs.appendFileSync(f, 'new\n');
    await waitFor(() => r.lines().length >= 1);
    await sleep(50);
    expect(r.lines()).toEqual(['new\n']);
  });

  it('copy_from_start reads pre-existing files from byte 0', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'old1\nold2\n');
    const r = await start({ entry: entryFor(f, { copy_from_start: true }), dataDir: tmpDir() });
    await waitFor(() => r.lines().length >= 2);
    expect(r.lines()).toEqual(['old1\n', 'old2\n']);
  });

  it('files found after the first scan start at byte 0 (watcher)', async () => {
    const dir = tmpDir();
    const r = await start({ entry: entryFor(path.join(dir, '*.log')), dataDir: tmpDir(), agent: { max_new_log_detection_time: 3600 } });
    fs.writeFileSync(path.join(dir, 'b.log'), 'first\nsecond\n');
    await waitFor(() => r.lines().length >= 2, 5000, 'watcher to find b.log');
    expect(r.lines()).toEqual(['first\n', 'second\n']);
  });

  it('files found after the first scan start at byte 0 (periodic rescan, no watcher)', async () => {
    const dir = tmpDir();
    const r = await start({ entry: entryFor(path.join(dir, '*.log')), dataDir: tmpDir(), watch: false, agent: { max_new_log_detection_time: 0.05 } });
    fs.writeFileSync(path.join(dir, 'c.log'), 'x\n');
    await waitFor(() => r.lines().length >= 1, 5000, 'rescan to find c.log');
    expect(r.lines()).toEqual(['x\n']);
  });

  it('a literal path that does not exist yet is picked up when it appears', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'later.log');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir(), agent: { max_new_log_detection_time: 0.05 } });
    fs.writeFileSync(f, 'hello\n');
    await waitFor(() => r.lines().length >= 1);
    expect(r.lines()).toEqual(['hello\n']);
  });
});

describe('problems', () => {
  it('reports unusable matches (dangling symlink) in status and logs once; they are retried at each scan', async () => {
    const dir = tmpDir();
    fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'bad.log'));
    const r = await start({ entry: entryFor(path.join(dir, '*.log')), dataDir: tmpDir(), watch: false, agent: { max_new_log_detection_time: 0.03 } });
    await sleep(120);
    const st = r.source.status();
    expect(st).toHaveLength(1);
    expect(st[0]).toMatchObject({ path: path.join(dir, 'bad.log'), error: 'dangling symlink' });
    expect(r.logger.records.filter((x) => x.level === 'warn' && x.message.includes('bad.log'))).toHaveLength(1);
    fs.writeFileSync(path.join(dir, 'nowhere'), 'now here\n');
    await waitFor(() => r.lines().length >= 1);
    expect(r.lines()).toEqual(['now here\n']); // found by a later scan: from byte 0
  });
});

describe('overlapping entries', () => {
  it('a file matched by two entries sharing a checkpoint store is tailed once; the other takes over after stop', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const { CheckpointStore } = await import('../lib/checkpoints/store.js');
    const { createLogSource } = await import('../sources/file/logSource.js');
    const { Credits } = await import('../lib/pipeline/credits.js');
    const { memoryLogger } = await import('../lib/logger.js');
    const store = await CheckpointStore.open(data);
    const mk = (p: string) => {
      const logger = memoryLogger();
      const src = createLogSource(entryFor(p), {
        credits: new Credits(1 << 20),
        checkpoints: store,
        logger,
        agent: { max_new_log_detection_time: 0.05 },
        startup: true,
        streamAttrs: (x) => ({ logfile: x }),
        perFile: () => (o) => o,
        pollIntervalMs: 20,
      });
      const lines: string[] = [];
      const sub = src.batches$.subscribe((b) => {
        for (const e of b.events) lines.push(e.message.toString());
        b.stream.ack(b.end);
      });
      return { src, lines, sub, logger };
    };
    const a = mk(f);
    await a.src.ready();
    const b = mk(path.join(dir, '*.log'));
    await b.src.ready();
    expect(b.src.status()).toEqual([expect.objectContaining({ path: f, error: 'already tailed by another logs[] entry' })]);
    fs.appendFileSync(f, 'one\n');
    await waitFor(() => a.lines.length === 1);
    a.sub.unsubscribe();
    await a.src.stop();
    fs.appendFileSync(f, 'two\n');
    await waitFor(() => b.lines.length === 1, 3000, 'b to take over');
    expect(b.lines).toEqual(['two\n']); // resumed from a's checkpoint
    b.sub.unsubscribe();
    await b.src.stop();
    await store.close();
  });
});

describe('lines', () => {
  it('splits long lines, holds partial lines until line_completion_wait_time, passes binary bytes', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir(), agent: { max_line_size: 8, line_completion_wait_time: 0.2, read_page_size: 5 } });
    fs.appendFileSync(f, Buffer.from('abcdefghijkl\nbin\x00\xff\n', 'latin1'));
    await waitFor(() => r.lines().length >= 3);
    expect(r.lines()).toEqual(['abcdefgh', 'ijkl\n', 'bin\x00\xff\n']);
    fs.appendFileSync(f, 'part');
    await sleep(60);
    expect(r.lines()).toHaveLength(3); // held
    const held = r.batches[r.batches.length - 1].end;
    expect(held).toBe(19);
    await waitFor(() => r.lines().length >= 4, 3000, 'partial line timeout');
    expect(r.lines()[3]).toBe('part');
    fs.appendFileSync(f, 'ial\n');
    await waitFor(() => r.lines().length >= 5);
    expect(r.lines()[4]).toBe('ial\n');
  });

  it('event.end offsets are file offsets and messages are views (no copies) within a chunk', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'aa\nbbb\n');
    const r = await start({ entry: entryFor(f, { copy_from_start: true }), dataDir: tmpDir() });
    await waitFor(() => r.lines().length >= 2);
    const ev = r.batches[0].events;
    expect(ev.map((e) => e.end)).toEqual([3, 7]);
    expect((ev[0].message as Buffer).buffer).toBe((ev[1].message as Buffer).buffer);
    expect(r.batches[0].stream.seqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.batches[0].stream.kind).toBe('log');
    expect(r.batches[0].stream.path).toBe(f);
  });
});

describe('rotation', () => {
  it('rename + create: the old file is drained (bytes written before the rename) then the new one from 0', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'text.txt');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir() });
    fs.appendFileSync(f, 'L001\n');
    await waitFor(() => r.lines().length >= 1);
    fs.appendFileSync(f, 'L002\nL003\n');
    fs.renameSync(f, `${f}.1`);
    fs.writeFileSync(f, 'L004\nL005\n');
    await waitFor(() => r.lines().length >= 5);
    expect(r.lines()).toEqual(['L001\n', 'L002\n', 'L003\n', 'L004\n', 'L005\n']);
    expect(new Set(r.batches.map((b) => b.stream.id)).size).toBe(2);
  });

  it('a partial last line of a rotated-away file is sent as it is when that file is finished', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir() });
    fs.appendFileSync(f, 'full\npart');
    await waitFor(() => r.lines().length >= 1);
    fs.renameSync(f, `${f}.1`);
    fs.writeFileSync(f, 'new\n');
    await waitFor(() => r.lines().length >= 3);
    expect(r.lines()).toEqual(['full\n', 'part', 'new\n']);
  });

  it('copytruncate: the unread tail comes from the copy (same stream), then the truncated file from 0', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'text.txt');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir(), pollIntervalMs: 1000, watch: false });
    fs.appendFileSync(f, 'L001\nL002\n');
    await waitFor(() => r.lines().length >= 2, 3000);
    // Everything below happens before the follower's next poll (1 s).
    fs.appendFileSync(f, 'L003\n');
    fs.copyFileSync(f, `${f}.1`);
    fs.truncateSync(f, 0);
    fs.appendFileSync(f, 'L004\n');
    await waitFor(() => r.lines().length >= 4, 5000);
    expect(r.lines()).toEqual(['L001\n', 'L002\n', 'L003\n', 'L004\n']);
    const ids = r.batches.map((b) => b.stream.id);
    expect(ids[0]).toBe(ids[ids.length - 2]); // L003 through the same stream as L001
    expect(ids[ids.length - 1]).not.toBe(ids[0]);
    expect(r.source.status()[0].skippedBytes).toBe(0);
  });

  it('copytruncate while the reader waits for credits, the file regrowing past the read offset: the tail still comes from the copy', async () => {
    // The reader is mid-file (it knows more bytes exist) and blocked on credits when the file is
    // copied, truncated and written past its read offset. Reading on at that offset would take
    // the new file's bytes for the old file's tail.
    const dir = tmpDir();
    const f = path.join(dir, 'c.log');
    const old = (i: number) => `old ${String(i).padStart(4, '0')}\n`; // 9 bytes
    const neu = (i: number) => `NEW ${String(i).padStart(4, '0')}\n`;
    fs.writeFileSync(f, Array.from({ length: 100 }, (_, i) => old(i)).join('')); // 900 bytes
    const credits = new Credits(90);
    let acking = false;
    const held: Batch[] = [];
    const r = await start({
      entry: entryFor(f, { copy_from_start: true }),
      dataDir: tmpDir(),
      credits,
      pollIntervalMs: 1000,
      watch: false,
      onBatch: (b) => (acking ? b.stream.ack(b.end) : held.push(b)),
    });
    await waitFor(() => r.lines().length >= 10); // 90 bytes read, no credits left
    await sleep(50);
    fs.copyFileSync(f, `${f}.1`);
    fs.truncateSync(f, 0);
    fs.appendFileSync(f, Array.from({ length: 50 }, (_, i) => neu(i)).join('')); // 450 bytes > 90
    acking = true;
    for (const b of held.splice(0)) b.stream.ack(b.end);
    await waitFor(() => r.lines().length >= 150, 5000);
    await sleep(100);
    expect(r.lines()).toEqual([...Array.from({ length: 100 }, (_, i) => old(i)), ...Array.from({ length: 50 }, (_, i) => neu(i))]);
    expect(r.source.status()[0].skippedBytes).toBe(0);
  });

  it("copytruncate whose copy holds less than what was read: logrotate's window is warned about and counted", async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'w.log');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir(), pollIntervalMs: 1000, watch: false });
    fs.appendFileSync(f, 'L001\n');
    fs.copyFileSync(f, `${f}.1`); // the copy: L001 only
    fs.appendFileSync(f, 'L002\n'); // written between the copy and the truncation
    await waitFor(() => r.lines().length >= 2, 3000); // the agent read L002 from the file
    fs.truncateSync(f, 0);
    fs.appendFileSync(f, 'L003\n');
    await waitFor(() => r.lines().length >= 3, 5000);
    expect(r.lines()).toEqual(['L001\n', 'L002\n', 'L003\n']);
    const warn = r.logger.records.find((x) => x.level === 'warn' && /copytruncate window/.test(x.message));
    expect(warn?.message).toMatch(/w\.log\.1 \(5 bytes\), which holds less than the 10 bytes already read/);
    expect(r.source.counters.dropped.copytruncate_window).toBe(1);
  });

  it('truncation in place without a copy: read again from 0 under a new sequence id', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir(), pollIntervalMs: 1000, watch: false });
    fs.appendFileSync(f, 'first\n');
    await waitFor(() => r.lines().length >= 1);
    fs.truncateSync(f, 0);
    fs.appendFileSync(f, 'x\n');
    await waitFor(() => r.lines().length >= 2, 5000);
    expect(r.lines()).toEqual(['first\n', 'x\n']);
    // A different sequence id: offsets restart at 0.
    expect(r.batches[1].stream.seqId).not.toBe(r.batches[0].stream.seqId);
  });

  it('truncate-and-rewrite past the old offset is detected by the head fingerprint', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir(), pollIntervalMs: 1000, watch: false });
    fs.appendFileSync(f, 'aaaa\n');
    await waitFor(() => r.lines().length >= 1);
    fs.writeFileSync(f, 'bbbbbbbbbb\ncccc\n'); // O_TRUNC then longer content
    await waitFor(() => r.lines().length >= 3, 5000);
    expect(r.lines()).toEqual(['aaaa\n', 'bbbbbbbbbb\n', 'cccc\n']);
  });

  it('deletion: the open handle is drained, closed after log_deletion_delay, checkpoint forgotten', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: data, agent: { log_deletion_delay: 0.3 }, pollIntervalMs: 1000, watch: false });
    const fd = fs.openSync(f, 'a');
    fs.writeSync(fd, 'L001\nL002\n');
    fs.unlinkSync(f);
    fs.writeSync(fd, 'L003\n'); // the writer keeps writing to the deleted file
    fs.closeSync(fd);
    await waitFor(() => r.lines().length >= 3, 5000);
    expect(r.lines()).toEqual(['L001\n', 'L002\n', 'L003\n']);
    await waitFor(() => r.source.status().length === 0, 5000, 'follower to end');
    await r.store.flush();
    expect(ckpt(data)[f]).toBeUndefined();
  });
});

describe('checkpoints and restarts', () => {
  it('restart resumes from the checkpoint: nothing lost, nothing duplicated', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r1 = await start({ entry: entryFor(f), dataDir: data });
    fs.appendFileSync(f, 'First line\nSecond line\n');
    await waitFor(() => r1.lines().length >= 2);
    await stopRun(r1);
    expect(ckpt(data)[f].position).toBe(23);
    fs.appendFileSync(f, 'Third line\nFourth line\n');
    const r2 = await start({ entry: entryFor(f), dataDir: data });
    await waitFor(() => r2.lines().length >= 2);
    await sleep(50);
    expect(r2.lines()).toEqual(['Third line\n', 'Fourth line\n']);
    expect(r2.batches[0].stream.seqId).toBe(r1.batches[0].stream.seqId);
  });

  it('only acknowledged offsets are checkpointed: unacked lines are read again with the same sequence numbers', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'L001\nL002\nL003\nL004\n');
    const r1 = await start({
      entry: entryFor(f, { copy_from_start: true }),
      dataDir: data,
      read_page_size: undefined,
      agent: { read_page_size: 5 },
      ack: (b) => b.end <= 5, // only the first line is acknowledged
    } as never);
    await waitFor(() => r1.lines().length >= 4);
    await stopRun(r1);
    expect(ckpt(data)[f].position).toBe(5);
    const r2 = await start({ entry: entryFor(f, { copy_from_start: true }), dataDir: data });
    await waitFor(() => r2.lines().length >= 3);
    expect(r2.lines()).toEqual(['L002\n', 'L003\n', 'L004\n']);
    const ends = (r: Run) => r.batches.flatMap((b) => b.events.map((e) => e.end));
    expect(ends(r2)).toEqual(ends(r1).slice(1));
    expect(r2.batches[0].stream.seqId).toBe(r1.batches[0].stream.seqId);
  });

  it('a file renamed while stopped is drained from its checkpoint, then the new file read from 0', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r1 = await start({ entry: entryFor(f), dataDir: data });
    fs.appendFileSync(f, 'one\n');
    await waitFor(() => r1.lines().length >= 1);
    await stopRun(r1);
    fs.appendFileSync(f, 'two\n');
    fs.renameSync(f, path.join(dir, 'a.log.1'));
    fs.writeFileSync(f, 'three\n');
    const r2 = await start({ entry: entryFor(f), dataDir: data });
    await waitFor(() => r2.lines().length >= 2);
    expect(r2.lines()).toEqual(['two\n', 'three\n']);
  });

  it('copytruncate while stopped: the copy supplies the tail, then the file from 0', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r1 = await start({ entry: entryFor(f), dataDir: data });
    fs.appendFileSync(f, 'one\n');
    await waitFor(() => r1.lines().length >= 1);
    await stopRun(r1);
    fs.appendFileSync(f, 'two\n');
    fs.copyFileSync(f, path.join(dir, 'a.log.1'));
    fs.truncateSync(f, 0);
    fs.appendFileSync(f, '3\n');
    const r2 = await start({ entry: entryFor(f), dataDir: data });
    await waitFor(() => r2.lines().length >= 2);
    expect(r2.lines()).toEqual(['two\n', '3\n']);
  });

  it('resumedSeqIds names the incarnations found again from the checkpoint, and only those', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    const g = path.join(dir, 'b.log');
    fs.writeFileSync(f, 'f1\n');
    fs.writeFileSync(g, 'g1\n');
    const entry = entryFor(path.join(dir, '*.log'), { copy_from_start: true });
    const r1 = await start({ entry, dataDir: data, ack: false });
    await waitFor(() => r1.lines().length >= 2);
    const seqOf = (p: string) => r1.batches.find((b) => b.stream.path === p)!.stream.seqId!;
    const [sf, sg] = [seqOf(f), seqOf(g)];
    expect(r1.source.resumedSeqIds().size).toBe(0); // nothing was checkpointed before
    await stopRun(r1);
    // b.log is replaced while stopped and its old file is gone: that incarnation is not found.
    fs.rmSync(g);
    fs.writeFileSync(g, 'g2\n');
    const r2 = await start({ entry, dataDir: data });
    await waitFor(() => r2.lines().length >= 2);
    expect([...r2.source.resumedSeqIds()]).toEqual([sf]);
    expect(r2.source.resumedSeqIds().has(sg)).toBe(false);
  });

  it('inode reuse guard: same inode with different content is read as a new file from 0', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'new content, same inode\n');
    const st = fs.statSync(f);
    // A checkpoint as if an older file with this inode had been read to offset 10.
    fs.writeFileSync(
      path.join(data, 'checkpoints.json'),
      JSON.stringify({
        time: Date.now() / 1000,
        checkpoints: { [f]: { position: 10, inode: st.ino, dev: st.dev, fingerprint: '5:' + 'f'.repeat(40), sequence_id: 's', sequence_number: 10, time: Date.now() / 1000 } },
      }),
    );
    const r = await start({ entry: entryFor(f), dataDir: data });
    await waitFor(() => r.lines().length >= 1);
    expect(r.lines()).toEqual(['new content, same inode\n']);
    expect(r.source.counters.dropped.inode_reused).toBe(1);
  });

  it('resumes from a checkpoint written by Scalyr Agent 2 (drop-in migration)', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'sent by scalyr\nnot yet\n');
    const ino = fs.statSync(f).ino;
    const scalyrEntry = { position: 0, pending_files: [{ position_start: -15, position_end: 0, last_known_size: 15, is_log_file: true, inode: ino }], sequence_id: 'x', sequence_number: 15, time: Date.now() / 1000 };
    fs.writeFileSync(path.join(data, 'checkpoints-worker-default-0.json'), JSON.stringify({ time: Date.now() / 1000, checkpoints: { [f]: scalyrEntry } }));
    const r = await start({ entry: entryFor(f), dataDir: data });
    await waitFor(() => r.lines().length >= 1);
    expect(r.lines()).toEqual(['not yet\n']);
    expect(r.batches[0].stream.seqId).not.toBe('x');
  });

  it('a corrupt checkpoint file is ignored: files start at their end', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'old\n');
    fs.writeFileSync(path.join(data, 'checkpoints.json'), '{{{');
    const r = await start({ entry: entryFor(f), dataDir: data });
    fs.appendFileSync(f, 'new\n');
    await waitFor(() => r.lines().length >= 1);
    expect(r.lines()).toEqual(['new\n']);
    expect(fs.existsSync(path.join(data, 'checkpoints.json.corrupt'))).toBe(true);
  });
});

describe('backpressure', () => {
  it('with a tiny credit budget and no acks reading stops; acks let it continue', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    const line = 'x'.repeat(19) + '\n';
    fs.writeFileSync(f, line.repeat(500)); // 10000 bytes
    const credits = new Credits(100);
    let ack = false;
    const r = await start({ entry: entryFor(f, { copy_from_start: true }), dataDir: tmpDir(), credits, ack: () => ack });
    await waitFor(() => r.lines().length >= 5);
    await sleep(100);
    const bytes = () => r.lines().reduce((n, l) => n + l.length, 0);
    expect(bytes()).toBeLessThanOrEqual(100);
    expect(credits.free).toBe(0);
    // Ack what was emitted: reading resumes, and with acks on it finishes.
    ack = true;
    for (const b of [...r.batches]) b.stream.ack(b.end);
    await waitFor(() => r.lines().length >= 500, 5000);
    expect(bytes()).toBe(10000);
    await waitFor(() => credits.free === 100);
  });

  it('a partial line finished while reading waits for credits is not cut by the completion wait', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    const full = ('x'.repeat(99) + '\n').repeat(10);
    fs.writeFileSync(f, full + 'part');
    const credits = new Credits(full.length + 4); // exactly what is in the file now
    const held: Batch[] = [];
    let acking = false;
    const r = await start({
      entry: entryFor(f, { copy_from_start: true }),
      dataDir: tmpDir(),
      credits,
      watch: false,
      agent: { line_completion_wait_time: 0.2 },
      onBatch: (b) => (acking ? b.stream.ack(b.end) : held.push(b)),
    });
    await waitFor(() => r.lines().length >= 10);
    fs.appendFileSync(f, 'ial\n' + 'y\n'.repeat(100)); // the rest is in the file; no credits left
    await sleep(600); // three times the completion wait
    acking = true;
    for (const b of held.splice(0)) b.stream.ack(b.end);
    await waitFor(() => r.lines().length >= 111, 5000);
    expect(r.lines().slice(10, 12)).toEqual(['partial\n', 'y\n']);
  });

  it('status reports copied (acked) and pending bytes', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'a\nb\nc\n');
    const r = await start({
      entry: entryFor(f, { copy_from_start: true }),
      dataDir: tmpDir(),
      ack: (b) => b.end <= 2,
      agent: { read_page_size: 2, copy_staleness_threshold: 0.1 },
    });
    await waitFor(() => r.lines().length >= 3);
    const s = r.source.status();
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ path: f, copiedBytes: 2, copiedLines: 1, pendingBytes: 4, skippedBytes: 0, stalled: false });
    expect(s[0].lastAcked).toBeGreaterThan(0);
    await waitFor(() => r.source.status()[0].stalled, 3000, 'stalled flag');
  });
});

describe('event-driven wake-ups', () => {
  it('appends and rename rotations are noticed through watcher events, without polling', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, '');
    const r = await start({ entry: entryFor(f), dataDir: tmpDir(), pollIntervalMs: 60_000, agent: { max_new_log_detection_time: 3600 } });
    await sleep(50);
    fs.appendFileSync(f, 'one\n');
    await waitFor(() => r.lines().length >= 1, 3000, 'append event');
    fs.renameSync(f, `${f}.1`);
    fs.writeFileSync(f, 'two\n');
    await waitFor(() => r.lines().length >= 2, 3000, 'rotation event');
    expect(r.lines()).toEqual(['one\n', 'two\n']);
  });
});

describe('ignore_stale_files', () => {
  it('does not open files older than staleness_threshold_secs, and closes files that go stale (keeping the checkpoint)', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const old = path.join(dir, 'old.log');
    const live = path.join(dir, 'live.log');
    fs.writeFileSync(old, 'o\n');
    const past = new Date(Date.now() - 3600_000);
    fs.utimesSync(old, past, past);
    fs.writeFileSync(live, '');
    const r = await start({
      entry: entryFor(path.join(dir, '*.log'), { ignore_stale_files: true, staleness_threshold_secs: 0.3 }),
      dataDir: data,
      agent: { max_new_log_detection_time: 3600 },
    });
    expect(r.source.status().map((s) => path.basename(s.path))).toEqual(['live.log']);
    fs.appendFileSync(live, 'x\n');
    await waitFor(() => r.lines().length >= 1);
    await waitFor(() => r.source.status().length === 0, 5000, 'stale follower to close');
    await r.store.flush();
    expect(ckpt(data)[live].position).toBe(2);
    // Written again: the watcher event brings it back, resuming from its checkpoint.
    fs.appendFileSync(live, 'y\n');
    await waitFor(() => r.lines().length >= 2, 5000, 'stale file to come back');
    expect(r.lines()).toEqual(['x\n', 'y\n']);
  });
});

describe('stop', () => {
  it('is idempotent, closes everything, and flushes the checkpoint', async () => {
    const dir = tmpDir();
    const data = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'a\n');
    const r = await start({ entry: entryFor(f, { copy_from_start: true }), dataDir: data });
    await waitFor(() => r.lines().length >= 1);
    r.sub.unsubscribe();
    await Promise.all([r.source.stop(), r.source.stop()]);
    expect(ckpt(data)[f].position).toBe(2);
  });
});
