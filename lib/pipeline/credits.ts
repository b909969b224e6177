/**
 * A byte budget shared by everything between reading and acknowledgement.
 *
 * A source takes credits before it reads (`acquire`) and gives them back when the sink
 * acknowledged the bytes (`release`). When the sink is slow or down no credits come back, so
 * reading pauses and the file is the buffer: memory stays flat whatever the backlog.
 *
 * Waiters are served in FIFO order so one busy file cannot starve the others. A request larger
 * than the whole budget is clamped to the budget, so it can never wait forever.
 */
export class Credits {
  private available: number;
  private readonly waiters: { n: number; least: number; resolve: (taken: number) => void }[] = [];
  private readonly waitListeners = new Set<() => void>();

  constructor(readonly total: number) {
    this.available = total;
  }

  /** Bytes currently handed out (read but not yet acknowledged). */
  get inUse(): number {
    return this.total - this.available;
  }

  /** True while a reader waits for bytes (the budget is used up). */
  get exhausted(): boolean {
    return this.waiters.length > 0;
  }

  /**
   * Calls `fn` (in a microtask, never inside `acquire`) each time a reader starts to wait while
   * none was waiting: a sink holding data back for a fuller request can send it now. Returns
   * the unsubscribe function.
   */
  onWait(fn: () => void): () => void {
    this.waitListeners.add(fn);
    return () => this.waitListeners.delete(fn);
  }

  /** Free bytes right now. */
  get free(): number {
    return this.available;
  }

  /** Takes `n` bytes (clamped to the total) now if possible. */
  tryAcquire(n: number): boolean {
    n = Math.min(n, this.total);
    if (this.waiters.length === 0 && this.available >= n) {
      this.available -= n;
      return true;
    }
    return false;
  }

  /**
   * Resolves once `n` bytes (clamped to the total) are taken, or, when waiting, once at least
   * `min` (default `n`) are free: then it takes what is free, up to `n`. Returns the amount
   * taken. A reader that itself holds bytes it cannot give back before its next read (a partial
   * line, an open group) passes a `min` below `n`, or a budget barely larger than a page would
   * never free a whole page for it.
   */
  acquire(n: number, min = n): Promise<number> {
    n = Math.min(Math.max(0, n), this.total);
    if (this.tryAcquire(n)) return Promise.resolve(n);
    const least = Math.max(1, Math.min(n, min));
    return new Promise<number>((resolve) => {
      this.waiters.push({ n, least, resolve });
      if (this.waiters.length === 1) {
        for (const fn of this.waitListeners) {
          queueMicrotask(() => {
            try {
              fn();
            } catch {
              // a listener's failure is its own; the budget goes on
            }
          });
        }
      }
    });
  }

  /** Gives back `n` bytes and wakes waiters that now fit. */
  release(n: number): void {
    if (n <= 0) return;
    this.available = Math.min(this.total, this.available + n);
    while (this.waiters.length > 0 && this.waiters[0].least <= this.available) {
      const w = this.waiters.shift()!;
      const take = Math.min(w.n, this.available);
      this.available -= take;
      w.resolve(take);
    }
  }
}
