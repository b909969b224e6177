/**
 * Which monitor samples are cumulative counters, and where each counter's cumulative period
 * starts: what the monitor runner puts in a sample's `MetricRecord` (`monotonic`, `startNs`)
 * so the OTLP sink exports it as a monotonic cumulative Sum.
 *
 * A sample is a counter when it says so (`counter: true`; `counter: false` says it is not), else
 * when its metric name is one its component declares in `counterMetrics` (exact names or fnmatch
 * globs).
 *
 * Start times follow the OpenTelemetry metrics data model ("Resets and Gaps"): a monitor reads
 * counters whose own start it does not know (a kernel counter counts since boot, a server's
 * since it started), so the first point of a series (a metric name and its fields) starts a new
 * sequence with an unknown start: its start is its own time (a zero-duration point, whose rate
 * contribution a backend takes as zero). Every later point of the series has that same start,
 * so a backend computes rates across them. A value lower than the previous one is a counter
 * reset (a reboot, a server restart, a wrap): that point starts a new sequence the same way.
 * `linux_process_metrics` reports sums of deltas that begin at 0 at its first sample, so there
 * the first point is also the true start. A monitor that restarts (a reload) starts new
 * sequences. Series not seen for a long time are forgotten past `maxSeries` (least recently
 * seen first); one seen again starts a new sequence, which is correct, only one rate step is lost.
 */
import { fnmatchRegExp } from '../../lib/fnmatch.js';

/** A test of a metric name against a component's `counterMetrics`. */
export type CounterMatcher = (metric: string) => boolean;

const NONE: CounterMatcher = () => false;

/** The matcher of `counterMetrics` (names; a name with `*`, `?` or `[` is a glob). */
export function counterMatcher(patterns: readonly string[] | undefined): CounterMatcher {
  if (!patterns || patterns.length === 0) return NONE;
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const p of patterns) {
    if (/[*?[]/.test(p)) globs.push(fnmatchRegExp(p));
    else exact.add(p);
  }
  if (globs.length === 0) return (m) => exact.has(m);
  return (m) => exact.has(m) || globs.some((re) => re.test(m));
}

/** The default bound of {@link CounterPeriods}: series remembered per monitor. */
export const MAX_COUNTER_SERIES = 50_000;

interface Series {
  startNs: bigint;
  last: number;
}

/** The cumulative periods of one monitor's counter series. */
export class CounterPeriods {
  private readonly series = new Map<string, Series>();

  constructor(private readonly maxSeries = MAX_COUNTER_SERIES) {}

  /** How many series are remembered. */
  get size(): number {
    return this.series.size;
  }

  /**
   * The start (ns since the epoch) of the cumulative period of the series `metric` + `fields`
   * whose value at `timeNs` is `value`: the time of its first point, or of the point where its
   * value went down.
   */
  startOf(metric: string, fields: Readonly<Record<string, string | number | boolean>> | undefined, value: number, timeNs: bigint): bigint {
    const key = seriesKey(metric, fields);
    const s = this.series.get(key);
    if (s !== undefined) {
      // Least recently seen first: move the series to the end of the map's order.
      this.series.delete(key);
      if (value < s.last) s.startNs = timeNs;
      s.last = value;
      this.series.set(key, s);
      return s.startNs;
    }
    if (this.series.size >= this.maxSeries) {
      const oldest = this.series.keys().next().value as string;
      this.series.delete(oldest);
    }
    this.series.set(key, { startNs: timeNs, last: value });
    return timeNs;
  }
}

/** A series' identity: the name and its fields in name order (the order a monitor wrote them in does not matter). */
function seriesKey(metric: string, fields: Readonly<Record<string, string | number | boolean>> | undefined): string {
  if (!fields) return metric;
  const names = Object.keys(fields);
  if (names.length === 0) return metric;
  names.sort();
  let key = metric;
  for (const n of names) {
    const v = fields[n];
    key += `\u0000${n}\u0000${typeof v === 'string' ? 's' : typeof v === 'number' ? 'n' : 'b'}${String(v)}`;
  }
  return key;
}
