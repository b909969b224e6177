/**
 * Tailer: reads ONE file incarnation (an open handle on one dev+inode) and turns it into a
 * `Stream` of line batches.
 *
 * Promises:
 * - Reads happen only after `await credits.acquire(n)`, in chunks of at most `read_page_size`.
 *   Events are views into the chunk. With `readBuffers`, a chunk's page goes back to the pool
 *   only when `stream.ack` has passed its last byte (so no event in it is pending any more);
 *   after a final `close()` pages are left to the garbage collector instead (batches of this
 *   incarnation may still sit in a sink). Without it, every chunk is a fresh Buffer.
 *   Credits come back from `stream.ack(end)` (end − previous ack), or all at once on `close()`.
 * - `stream.ack(end)` also records the acknowledged offset, which is what the follower
 *   checkpoints. Nothing unacknowledged is ever checkpointed.
 * - Event `end` offsets are file offsets, used as sequence numbers under `seqId` (a uuid kept in
 *   the checkpoint), so a re-read after a restart re-sends the same `si`/`sn`.
 * - The first up to 256 bytes are kept to fingerprint the incarnation (inode-reuse guard), and
 *   re-read after every chunk: a changed head means the file was truncated and rewritten while
 *   this reader waited, so the chunk is discarded (`replaced`) instead of read as an append.
 * - Never throws from `ack`; read errors are returned to the follower.
 */
import { promises as fsp } from 'node:fs';
import { Subject, type Observable, type SchedulerLike, tap } from 'rxjs';
import type { Batch, Stream } from '../../lib/types.js';
import type { Credits } from '../../lib/pipeline/credits.js';
import type { ReadBuffers } from '../../lib/pipeline/readBuffers.js';
import type { IncarnationCheckpoint } from '../../lib/checkpoints/types.js';
import { splitLines, type FileChunk, type PauseChunk, type SkipChunk } from '../../operators/splitLines.js';
import { FINGERPRINT_BYTES, fingerprintOf, readHead } from './fingerprint.js';

export interface TailerOptions {
  /** Where the incarnation lives now (a copytruncate copy may live under another name). */
  path: string;
  fh: fsp.FileHandle;
  dev: number;
  ino: number;
  /** Offset to start reading at (the acknowledged offset when resuming). */
  start: number;
  seqId: string;
  streamId: string;
  /** `Stream.path` (the `logfile` value). */
  streamPath: string;
  attrs: Record<string, string>;
  credits: Credits;
  /** Reusable read pages (optional; see the header). */
  readBuffers?: ReadBuffers;
  readPageSize: number;
  maxLineSize: number;
  lineCompletionWaitMs: number;
  scheduler?: SchedulerLike;
  /** Called after every ack that moved the acknowledged offset. */
  onAck: (t: Tailer) => void;
}

/**
 * `replaced`: the first bytes behind the handle changed while reading (truncated and rewritten,
 * e.g. a copytruncate): what was read is discarded, nothing moved; the follower looks for the copy.
 */
export type ReadResult = 'data' | 'eof' | 'stopped' | 'replaced';

export class Tailer {
  readonly stream: Stream;
  /** Lines after splitting (before the per-file chain). */
  readonly batches$: Observable<Batch>;
  path: string;
  dev: number;
  ino: number;
  readonly startPos: number;
  readPos: number;
  acked: number;
  /** Largest size seen through the handle. */
  size = 0;
  head: Buffer = Buffer.alloc(0);
  /** The path now shows another file (or this one is a copy): drain to EOF, then retire. */
  rotatedAway = false;
  /** The content behind the handle was replaced (truncated): read nothing more. */
  frozen = false;
  finished = false;
  closed = false;
  ackedLines = 0;
  readBytes = 0;
  /** Epoch ms of the last ack that moved the offset (0 = none yet). */
  lastAckTime = 0;
  private fh: fsp.FileHandle;
  private creditsHeld = 0;
  private readonly chunks = new Subject<FileChunk | SkipChunk | PauseChunk>();
  private readonly lineMarks: number[] = []; // pairs: end, lines
  /** Pages lent by readBuffers, in file order, with the offset just past their bytes. */
  private readonly lent: { end: number; buf: Buffer }[] = [];
  private lentHead = 0;
  private markHead = 0;
  private acksEnabled = true;
  private cancelled = false;
  private cancelWait?: () => void;
  private fp?: string;
  private fpLen = -1;
  private headScratch?: Buffer;

  constructor(private readonly o: TailerOptions) {
    this.path = o.path;
    this.fh = o.fh;
    this.dev = o.dev;
    this.ino = o.ino;
    this.startPos = this.readPos = this.acked = o.start;
    this.stream = {
      id: o.streamId,
      kind: 'log',
      path: o.streamPath,
      attrs: o.attrs,
      seqId: o.seqId,
      ack: (end: number) => this.ack(end),
    };
    this.batches$ = this.chunks.pipe(
      splitLines(this.stream, { maxLineSize: o.maxLineSize, lineCompletionWaitMs: o.lineCompletionWaitMs, scheduler: o.scheduler }),
      tap((b) => {
        if (b.events.length) this.lineMarks.push(b.end, b.events.length);
      }),
    );
  }

  /** Reads the head for the fingerprint and the current size. Call once after construction. */
  async init(): Promise<void> {
    this.head = await readHead(this.fh);
    this.size = (await this.fh.stat()).size;
  }

  get fingerprint(): string | undefined {
    if (this.fpLen !== this.head.length) {
      this.fpLen = this.head.length;
      this.fp = this.head.length ? fingerprintOf(this.head) : undefined;
    }
    return this.fp;
  }

  /** Stops reading: a pending wait for credits ends at once with 'stopped'. */
  cancel(): void {
    this.cancelled = true;
    this.cancelWait?.();
  }

  /** Set by the follower right after a stat of the path confirmed `size` (saves an fstat when idle). */
  sizeFresh = false;

  /** Bytes not yet read according to the last size seen. */
  get unread(): number {
    return Math.max(0, this.size - this.readPos);
  }

  /** Reads at most one chunk. Returns 'stopped' if `cancel()` was called while waiting for credits. */
  async readOnce(): Promise<ReadResult> {
    if (this.cancelled) return 'stopped';
    if (this.frozen || this.closed) return 'eof';
    const fresh = this.sizeFresh;
    this.sizeFresh = false;
    if (this.readPos >= this.size) {
      // The follower's stat of the path just now saw no more bytes. A rotated-away file is always
      // fstat'ed: its last bytes may have been written after that stat, before the rename.
      if (fresh && !this.rotatedAway) return 'eof';
      const st = await this.fh.stat();
      if (st.size <= this.readPos) return 'eof'; // a shrink is noticed by the follower (path stat)
      this.size = st.size;
    }
    const want = Math.min(this.o.readPageSize, this.size - this.readPos);
    const credits = this.o.credits;
    let got: number;
    if (credits.tryAcquire(want)) got = Math.min(want, credits.total);
    else {
      // Bytes wait in the file but the read budget is spent: a partial line or an open line group
      // must not time out while we wait (the rest of it is in the file).
      this.chunks.next({ pause: true });
      // A quarter of the budget will do: what this file holds unacknowledged (its partial last
      // line, an open group) waits for this very read, so a whole page may never come free.
      const acquiring = credits.acquire(want, credits.total >>> 2);
      const r = await new Promise<number | undefined>((resolve) => {
        this.cancelWait = () => resolve(undefined);
        void acquiring.then(resolve);
      });
      this.cancelWait = undefined;
      if (r === undefined) {
        void acquiring.then((n) => credits.release(n)); // granted later: give it straight back
        return 'stopped';
      }
      got = r;
    }
    if (this.cancelled) {
      credits.release(got);
      return 'stopped';
    }
    if (this.closed || this.frozen) {
      this.o.credits.release(got);
      return 'eof';
    }
    const pool = this.o.readBuffers;
    const buf = pool ? pool.take(got) : Buffer.allocUnsafe(got);
    let bytesRead = 0;
    try {
      ({ bytesRead } = await this.fh.read(buf, 0, got, this.readPos));
    } catch (err) {
      this.o.credits.release(got);
      pool?.give(buf);
      throw err;
    }
    if (bytesRead < got) this.o.credits.release(got - bytesRead);
    if (bytesRead === 0) {
      pool?.give(buf);
      this.size = this.readPos; // shrank under us
      return 'eof';
    }
    // The reader may have waited (credits, a sleep) since the follower last looked: a file
    // truncated and written past our offset meanwhile reads like an append. The head, read after
    // the chunk, tells: unchanged → the chunk belongs to this incarnation.
    if (!(await this.headUnchanged().catch(() => true))) {
      this.o.credits.release(bytesRead);
      pool?.give(buf);
      return 'replaced';
    }
    if (pool && this.acksEnabled && pool.isLent(buf)) this.lent.push({ end: this.readPos + bytesRead, buf });
    this.creditsHeld += bytesRead;
    const start = this.readPos;
    const data = bytesRead === got ? buf : buf.subarray(0, bytesRead);
    if (start <= this.head.length && this.head.length < FINGERPRINT_BYTES) {
      const from = this.head.length - start;
      const take = Math.min(bytesRead, FINGERPRINT_BYTES - start) - from;
      if (take > 0) this.head = Buffer.concat([this.head, data.subarray(from, from + take)]);
    }
    this.readPos += bytesRead;
    this.readBytes += bytesRead;
    // `more`: bytes beyond this chunk are known to exist (a partial line at its end is not final).
    this.chunks.next({ buf: data, start, more: this.readPos < this.size });
    return 'data';
  }

  /** Jumps ahead (a counted skip); the skip is emitted so its ack moves the checkpoint. */
  skipTo(pos: number): void {
    if (pos <= this.readPos) return;
    this.readPos = pos;
    this.chunks.next({ skipTo: pos });
  }

  /** Checks that the first bytes behind the handle are still those read earlier. */
  async headUnchanged(): Promise<boolean> {
    const len = this.head.length;
    if (!len || this.closed) return true;
    const scratch = (this.headScratch ??= Buffer.allocUnsafe(FINGERPRINT_BYTES));
    const { bytesRead } = await this.fh.read(scratch, 0, len, 0);
    return bytesRead === len && scratch.compare(this.head, 0, len, 0, len) === 0;
  }

  /** The content behind the handle shrank below what was read, or its first bytes changed. */
  async shrunk(): Promise<boolean> {
    if (this.closed) return false;
    const st = await this.fh.stat();
    if (st.size < this.readPos) return true;
    return !(await this.headUnchanged());
  }

  /** Continues this incarnation through another handle (the copy of a copytruncate). */
  async switchTo(copy: { path: string; fh: fsp.FileHandle; dev: number; ino: number }): Promise<void> {
    const old = this.fh;
    this.fh = copy.fh;
    this.path = copy.path;
    this.dev = copy.dev;
    this.ino = copy.ino;
    this.size = (await copy.fh.stat()).size;
    await old.close().catch(() => undefined);
  }

  /** No more reads: the held partial line is emitted and the batch stream completes. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.chunks.complete();
  }

  /** Everything read was acknowledged (nothing more will come once finished). */
  get fullyAcked(): boolean {
    return this.acked >= this.readPos;
  }

  /** Acknowledged up to `end`: release credits, count lines, let the follower checkpoint. */
  private ack(end: number): void {
    if (!this.acksEnabled || !(end > this.acked)) return;
    const delta = end - this.acked;
    this.acked = end;
    this.lastAckTime = Date.now();
    const rel = Math.min(delta, this.creditsHeld);
    if (rel > 0) {
      this.creditsHeld -= rel;
      this.o.credits.release(rel);
    }
    const pool = this.o.readBuffers;
    if (pool) {
      // Every byte of these pages is acknowledged: no event in them is pending any more.
      const lent = this.lent;
      while (this.lentHead < lent.length && lent[this.lentHead].end <= end) pool.give(lent[this.lentHead++].buf);
      if (this.lentHead === lent.length) {
        lent.length = 0;
        this.lentHead = 0;
      } else if (this.lentHead > 256) {
        lent.splice(0, this.lentHead);
        this.lentHead = 0;
      }
    }
    const m = this.lineMarks;
    while (this.markHead < m.length && m[this.markHead] <= end) {
      this.ackedLines += m[this.markHead + 1];
      this.markHead += 2;
    }
    if (this.markHead > 1024) {
      m.splice(0, this.markHead);
      this.markHead = 0;
    }
    try {
      this.o.onAck(this);
    } catch {
      // the follower logs its own errors
    }
  }

  /** The checkpoint of this incarnation (acknowledged offset). */
  checkpoint(): IncarnationCheckpoint {
    return {
      position: this.acked,
      inode: this.ino,
      dev: this.dev,
      ...(this.fingerprint ? { fingerprint: this.fingerprint } : {}),
      sequence_id: this.o.seqId,
      sequence_number: this.acked,
      path: this.path,
      last_known_size: this.size,
    };
  }

  /** Closes the handle (idempotent). With `final`, later acks are ignored and held credits returned. */
  async close(final = false): Promise<void> {
    if (final) {
      this.acksEnabled = false;
      this.lent.length = 0; // batches of this incarnation may still sit in a sink: no reuse
      this.lentHead = 0;
      if (this.creditsHeld > 0) this.o.credits.release(this.creditsHeld);
      this.creditsHeld = 0;
    }
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }
}
