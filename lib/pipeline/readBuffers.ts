/**
 * Read buffers that are reused once the sink has acknowledged everything in them.
 *
 * Why: a backlog is read in pages (64 KiB) and every line handed downstream is a view into its
 * page, so each page lives until its last line is acknowledged. With a fresh Buffer per read,
 * a gibibyte of pages per gibibyte shipped becomes garbage that V8 frees only at its next full
 * collection, and that garbage, not the data in flight, was the largest part of the agent's peak
 * memory. Reused pages make that churn disappear.
 *
 * Contract (see Sink in lib/types.ts): once a sink acknowledges a stream up to an offset, nothing
 * may still read the Buffers of the events before it; a sink that keeps bytes past the ack copies
 * them. Built-in sinks copy while encoding; taps decode synchronously.
 *
 * Promises:
 * - `take(n)` gives a Buffer of length `n`: a pooled page (a view of its first `n` bytes) when
 *   `n` is at least half a page, otherwise a fresh allocation (a small read, e.g. a few new lines
 *   in an idle file, does not hold a whole page).
 * - `give(b)` takes back a page handed out by `take` (anything else is ignored). At most
 *   `maxFree` pages are kept; all are dropped after `idleMs` without a `take`, so an idle agent
 *   gives the memory back.
 * - A page goes back at most once: a second `give` of it (or of any Buffer `take` did not hand
 *   out) is ignored, so two readers can never share a page.
 */
export class ReadBuffers {
  private readonly free: Buffer[] = [];
  /** Pages handed out and not yet given back (a second give of the same page is ignored). */
  private readonly out = new WeakSet<ArrayBufferLike>();
  private timer?: NodeJS.Timeout;
  private lastTake = 0;
  /** Pages handed out that came from the pool, for status and tests. */
  reused = 0;

  constructor(
    readonly pageSize: number,
    readonly maxFree: number,
    private readonly idleMs = 10_000,
  ) {}

  /** Pages waiting for reuse. */
  get freePages(): number {
    return this.free.length;
  }

  /** A Buffer of length `n` (see the file header). */
  take(n: number): Buffer {
    this.lastTake = Date.now();
    if (n > this.pageSize || n * 2 < this.pageSize) return Buffer.allocUnsafe(n);
    let page = this.free.pop();
    if (page) this.reused++;
    else page = Buffer.allocUnsafeSlow(this.pageSize);
    this.out.add(page.buffer);
    return n === this.pageSize ? page : page.subarray(0, n);
  }

  /** Whether `b` is a pooled page handed out and not yet given back. */
  isLent(b: Buffer): boolean {
    return this.out.has(b.buffer);
  }

  /** Gives back a Buffer `take` returned, once nothing reads it any more. */
  give(b: Buffer): void {
    if (!this.out.has(b.buffer)) return;
    this.out.delete(b.buffer);
    if (this.free.length >= this.maxFree) return;
    this.free.push(b.byteOffset === 0 && b.length === this.pageSize ? b : Buffer.from(b.buffer, 0, this.pageSize));
    if (!this.timer) {
      this.timer = setTimeout(() => this.trim(), this.idleMs);
      this.timer.unref();
    }
  }

  private trim(): void {
    this.timer = undefined;
    if (Date.now() - this.lastTake >= this.idleMs) this.free.length = 0;
    else if (this.free.length > 0) {
      this.timer = setTimeout(() => this.trim(), this.idleMs);
      this.timer.unref();
    }
  }

  /** Drops every free page and the idle timer (agent stop). */
  clear(): void {
    this.free.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
