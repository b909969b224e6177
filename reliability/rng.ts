/**
 * A small seeded random generator (mulberry32) so a harness run can be replayed with `--seed`.
 * Promises: the same seed gives the same sequence; `next()` is uniform in [0, 1).
 */
import { seededRandom } from '../lib/random.js';

export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = seededRandom(seed >>> 0 || 0x9e3779b9);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}
