/**
 * How long a failing request lane waits before its next attempt (used by {@link RequestLane}).
 *
 * Promises:
 * - {@link Backoff} is exponential with full jitter in [delay/2, delay], capped at `maxMs`, reset
 *   on success; `count` is the number of consecutive failures.
 */

/** Exponential backoff with jitter, capped. */
export class Backoff {
  private failures = 0;

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Consecutive failures so far. */
  get count(): number {
    return this.failures;
  }

  /** Records a failure and returns the delay before the next attempt. */
  next(): number {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return Math.round(exp / 2 + (this.random() * exp) / 2);
  }

  reset(): void {
    this.failures = 0;
  }
}
