/**
 * Approximate streaming histogram (Ben-Haim & Tom-Tov, as Scout's Ruby `NumericHistogram`): at
 * most `maxBins` bins; a new value gets its own bin (or joins an equal one), then the two closest
 * adjacent bins merge into their count-weighted mean. Quantiles walk the bins.
 */
export class NumericHistogram {
  private values: number[] = [];
  private counts: number[] = [];
  total = 0;

  constructor(private readonly maxBins = 50) {}

  add(value: number, count = 1): void {
    if (!Number.isFinite(value) || count <= 0) return;
    this.total += count;
    const v = this.values;
    let lo = 0;
    let hi = v.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    if (lo < v.length && v[lo] === value) {
      this.counts[lo]! += count;
      return;
    }
    v.splice(lo, 0, value);
    this.counts.splice(lo, 0, count);
    if (v.length > this.maxBins) this.trim();
  }

  private trim(): void {
    const v = this.values;
    const c = this.counts;
    while (v.length > this.maxBins) {
      let best = 0;
      let bestGap = Infinity;
      for (let i = 0; i < v.length - 1; i++) {
        const gap = v[i + 1]! - v[i]!;
        if (gap < bestGap) {
          bestGap = gap;
          best = i;
        }
      }
      const n = c[best]! + c[best + 1]!;
      v[best] = (v[best]! * c[best]! + v[best + 1]! * c[best + 1]!) / n;
      c[best] = n;
      v.splice(best + 1, 1);
      c.splice(best + 1, 1);
    }
  }

  merge(other: NumericHistogram): void {
    for (let i = 0; i < other.values.length; i++) this.add(other.values[i]!, other.counts[i]!);
  }

  /** Value at quantile q (0..1); 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const want = q * this.total;
    let cum = 0;
    for (let i = 0; i < this.values.length; i++) {
      cum += this.counts[i]!;
      if (cum >= want) return this.values[i]!;
    }
    return this.values[this.values.length - 1]!;
  }

  /** Fraction of the count strictly below the first bin ≥ value (0..1). */
  quantileOfValue(value: number): number {
    if (this.total === 0) return 0;
    let below = 0;
    for (let i = 0; i < this.values.length; i++) {
      if (this.values[i]! >= value) break;
      below += this.counts[i]!;
    }
    return below / this.total;
  }

  /** `[value rounded to 4 decimals, count]` pairs, ascending. */
  toPairs(): [number, number][] {
    return this.values.map((v, i) => [Math.round(v * 10000) / 10000, this.counts[i]!]);
  }
}
