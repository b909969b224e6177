/**
 * splitLines: raw file chunks in, batches of line events out (Scalyr's line reading, §2.5).
 *
 * Promises:
 * - Lines end at `\n` bytes; a `\r` before it stays in the line. Every event's `message` is a
 *   Buffer INCLUDING its trailing `\n`, and `end` is the offset just after it. Bytes are never
 *   decoded (invalid UTF-8, NUL pass through untouched).
 * - No copies on the hot path: a line inside one chunk is a `subarray` view of the chunk. Only a
 *   line that spans two chunks is joined (one copy, into a shared slab: lib/slab.ts).
 * - A line longer than `maxLineSize` is split: every `maxLineSize` bytes without a newline
 *   become one event (no newline); the rest continues as the next event. Nothing is truncated.
 * - A final partial line is held back (the batch `end` stops before it, so no ack can pass it)
 *   until `lineCompletionWaitMs` after it was first seen, then emitted as is; bytes appended
 *   later become a separate line. When the input completes, a held partial line is emitted.
 *   The wait does not run while the reader knows more bytes follow: after a chunk marked `more`,
 *   and after a `{ pause }` chunk (the reader waits for read credits with bytes unread), which
 *   also goes on as an empty batch marked `more` so line groups do not time out either.
 * - One output batch per input chunk that produced events; never one emission per line.
 * - A `{ skipTo }` chunk (the reader jumped ahead, e.g. "too far behind") emits what is held,
 *   then an empty batch whose `end` is the new offset so the skip gets acknowledged.
 */
import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Batch, Event, Stream } from '../lib/types.js';
import { joinBuffers } from '../lib/slab.js';

/** Bytes read from a file: `buf` holds the bytes starting at file offset `start`. */
export interface FileChunk {
  buf: Buffer;
  start: number;
  /**
   * The reader knows more bytes follow this chunk (it stopped for the page size or for credits,
   * not at the end of the file). A partial line at the end of such a chunk is not waited for:
   * the rest of it is in the file, so no completion timer may cut it.
   */
  more?: boolean;
}

/** The reader skipped ahead to `skipTo` (bytes before it will not be read). */
export interface SkipChunk {
  skipTo: number;
}

/**
 * The reader has bytes to read but waits for read credits (the sink is behind): no completion
 * wait may run out meanwhile. Passed on as an empty batch marked `more` (for line groups).
 */
export interface PauseChunk {
  pause: true;
}

export interface SplitLinesOptions {
  /** Longest event in bytes (Scalyr `max_line_size`, 49900). */
  maxLineSize: number;
  /** Milliseconds to hold a partial last line (Scalyr `line_completion_wait_time` × 1000). */
  lineCompletionWaitMs: number;
  /** Scheduler for the partial-line timer (tests pass a TestScheduler). */
  scheduler?: SchedulerLike;
}

const NL = 10;

/**
 * The synchronous line splitter behind the operator (exported for benchmarks and tests).
 * `push` returns the events of one chunk; `takePartial` hands over the held partial line.
 */
export class LineSplitter {
  private held: Buffer[] = [];
  private heldLen = 0;
  private heldStart = 0;
  /** Offset up to which everything was emitted (batch `end`). */
  emittedEnd = -1;

  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new Error(`splitLines: max_line_size must be >= 1 (got ${max})`);
  }

  /** Bytes currently held as a partial line. */
  get partialBytes(): number {
    return this.heldLen;
  }

  /** Splits one chunk. Chunks must be contiguous (start = previous start + length). */
  push(buf: Buffer, start: number, out: Event[]): void {
    const max = this.max;
    const len = buf.length;
    let i = 0;
    if (this.emittedEnd < 0) this.emittedEnd = start;
    if (this.heldLen > 0) {
      const need = max - this.heldLen; // >= 1: a held partial is always shorter than max
      const look = Math.min(len, need);
      const nl = buf.subarray(0, look).indexOf(NL);
      if (nl !== -1 || len >= need) {
        i = nl !== -1 ? nl + 1 : need;
        this.held.push(buf.subarray(0, i));
        out.push({ message: joinBuffers(this.held, this.heldLen + i), end: start + i });
        this.held = [];
        this.heldLen = 0;
        this.emittedEnd = start + i;
      } else {
        this.held.push(buf);
        this.heldLen += len;
        return;
      }
    }
    let nl = len > i ? buf.indexOf(NL, i) : -1;
    while (i < len) {
      if (nl !== -1 && nl < i) nl = buf.indexOf(NL, i);
      const limit = i + max;
      if (nl !== -1 && nl < limit) {
        out.push({ message: buf.subarray(i, nl + 1), end: start + nl + 1 });
        i = nl + 1;
        nl = i < len ? buf.indexOf(NL, i) : -1;
      } else if (limit <= len) {
        out.push({ message: buf.subarray(i, limit), end: start + limit });
        i = limit;
      } else {
        this.held = [buf.subarray(i)];
        this.heldLen = len - i;
        this.heldStart = start + i;
        break;
      }
    }
    this.emittedEnd = start + i;
  }

  /** Hands over the held partial line as one event (or nothing). */
  takePartial(): Event | undefined {
    if (this.heldLen === 0) return undefined;
    const message = this.held.length === 1 ? this.held[0] : joinBuffers(this.held, this.heldLen);
    const end = this.heldStart + this.heldLen;
    this.held = [];
    this.heldLen = 0;
    this.emittedEnd = end;
    return { message, end };
  }
}

/** The operator: one per stream (file incarnation). */
export function splitLines(stream: Stream, opts: SplitLinesOptions): OperatorFunction<FileChunk | SkipChunk | PauseChunk, Batch> {
  const scheduler = opts.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<Batch>((subscriber) => {
      const splitter = new LineSplitter(opts.maxLineSize);
      let timer: Subscription | undefined;
      /** Identifies the partial line the timer was started for. */
      let timerFor = -1;
      const emitPartial = () => {
        const e = splitter.takePartial();
        if (e) subscriber.next({ stream, events: [e], end: e.end });
      };
      const armTimer = (heldStart: number) => {
        if (timer && timerFor === heldStart) return; // "since first seen": keep the running timer
        timer?.unsubscribe();
        timerFor = heldStart;
        timer = scheduler.schedule(() => {
          timer = undefined;
          timerFor = -1;
          emitPartial();
        }, opts.lineCompletionWaitMs);
      };
      const disarm = () => {
        timer?.unsubscribe();
        timer = undefined;
        timerFor = -1;
      };
      const sub = source.subscribe({
        next(chunk) {
          if ('pause' in chunk) {
            disarm();
            if (splitter.emittedEnd >= 0) subscriber.next({ stream, events: [], end: splitter.emittedEnd, more: true });
            return;
          }
          if ('skipTo' in chunk) {
            disarm();
            emitPartial();
            if (chunk.skipTo > splitter.emittedEnd) {
              splitter.emittedEnd = chunk.skipTo;
              subscriber.next({ stream, events: [], end: chunk.skipTo });
            }
            return;
          }
          if (chunk.buf.length === 0) return;
          if (splitter.emittedEnd < 0) splitter.emittedEnd = chunk.start;
          const before = splitter.emittedEnd;
          const events: Event[] = [];
          splitter.push(chunk.buf, chunk.start, events);
          if (events.length > 0 || splitter.emittedEnd > before) {
            subscriber.next(chunk.more ? { stream, events, end: splitter.emittedEnd, more: true } : { stream, events, end: splitter.emittedEnd });
          }
          if (splitter.partialBytes > 0 && !chunk.more) armTimer(splitter.emittedEnd);
          else disarm();
        },
        error(err) {
          disarm();
          subscriber.error(err);
        },
        complete() {
          disarm();
          emitPartial();
          subscriber.complete();
        },
      });
      return () => {
        disarm();
        sub.unsubscribe();
      };
    });
}
