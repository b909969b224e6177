/**
 * aggregateSpans: completed Scout requests and application events in, per-minute aggregates out
 * (one {@link ApmMinute} per wall-clock minute and per (app key, app name)).
 *
 * Promises:
 * - an item lands in the minute of its own time (request stop / event timestamp), clamped to the
 *   current minute when it claims the future; an item for a minute already emitted (a late frame
 *   past the grace period) goes to the current minute instead, so nothing is lost or sent twice;
 * - minute M is emitted once `now ≥ M + minuteMs + graceMs` (timers on `scheduler`, re-armed
 *   when one fires before the wall clock gets there), minutes in ascending order; on complete
 *   every open minute is flushed, then the output completes;
 * - requests tagged `ignore_transaction` or without a `Controller/`/`Job/` span are dropped
 *   (counted in `counters.dropped`), `SQL/Query` spans with `db.statement` are renamed.
 *
 * Input elements may be single items or arrays of them (the intake emits arrays).
 */
import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { ComponentCounters } from '../lib/types.js';
import type { ApmItem, ApmMinute } from '../lib/apm/types.js';
import { MinuteAggregator } from './spans/minuteAggregator.js';
import { countDrop, countError, createCounters } from '../lib/counters.js';
import { aggregationOptions } from './spans/options.js';

export { APM_AGGREGATION_OPTIONS, aggregationOptions } from './spans/options.js';

export interface AggregateSpansOptions {
  /** How long after a minute closes late frames are still accepted into it. */
  graceMs: number;
  /** Bucket length (60 000; shorter in tests). */
  minuteMs?: number;
  scheduler?: SchedulerLike;
  /** Wall clock (defaults to `scheduler.now()`). */
  now?: () => number;
  /** Counters to update (a fresh set otherwise). */
  counters?: ComponentCounters;
}

export function aggregateSpans(opts: AggregateSpansOptions): OperatorFunction<ApmItem | readonly ApmItem[], ApmMinute> {
  const minuteMs = opts.minuteMs ?? aggregationOptions({}).minuteMs;
  const graceMs = Math.max(0, opts.graceMs);
  const scheduler = opts.scheduler ?? asyncScheduler;
  const now = opts.now ?? (() => scheduler.now());
  return (source) =>
    new Observable<ApmMinute>((subscriber) => {
      const counters = opts.counters ?? createCounters();
      const agg = new MinuteAggregator(minuteMs, (reason, n = 1) => countDrop(counters, reason, n));
      const timers = new Map<number, Subscription>();
      let lastEmitted = -Infinity;

      const emit = (minute: number) => {
        timers.get(minute)?.unsubscribe();
        timers.delete(minute);
        if (minute > lastEmitted) lastEmitted = minute;
        for (const m of agg.take(minute)) {
          counters.sentEvents++;
          subscriber.next(m);
        }
      };
      const emitDue = () => {
        const t = now();
        const due = [...agg.minutes.keys()].filter((m) => m + minuteMs + graceMs <= t).sort((a, b) => a - b);
        for (const m of due) emit(m);
      };
      const flushAll = () => {
        for (const m of [...agg.minutes.keys()].sort((a, b) => a - b)) emit(m);
      };
      const addOne = (item: ApmItem) => {
        counters.receivedEvents++;
        const t = now();
        const current = agg.minuteOf(t);
        const at = item.type === 'request' ? item.stop : item.timestamp;
        let minute = Number.isFinite(at) ? agg.minuteOf(at) : current;
        if (minute > current) minute = current;
        if (minute <= lastEmitted) minute = current > lastEmitted ? current : lastEmitted + minuteMs;
        if (agg.add(item, minute)) arm(minute, t);
      };
      // One timer per open minute, due at its end plus grace. A timer may fire while the wall clock
      // still reads a little before that (Node measures timers from the event loop's cached time,
      // which lags `Date.now()` under load; the clock may also be stepped): then it is armed again
      // for the rest, so a minute never waits for the next item to arrive.
      const arm = (minute: number, t: number) => {
        timers.get(minute)?.unsubscribe();
        const delay = Math.max(0, minute + minuteMs + graceMs - t);
        timers.set(
          minute,
          scheduler.schedule(() => {
            timers.delete(minute);
            emitDue();
            if (agg.minutes.has(minute)) arm(minute, Math.min(now(), minute + minuteMs + graceMs - 1));
          }, delay),
        );
      };

      const sub = source.subscribe({
        next: (v) => {
          try {
            if (Array.isArray(v)) for (const it of v as readonly ApmItem[]) addOne(it);
            else addOne(v as ApmItem);
            emitDue();
          } catch (err) {
            countError(counters, err); // one bad item never stops the aggregation
          }
        },
        error: (err) => {
          flushAll();
          subscriber.error(err);
        },
        complete: () => {
          flushAll();
          subscriber.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        for (const t of timers.values()) t.unsubscribe();
        timers.clear();
      };
    });
}
