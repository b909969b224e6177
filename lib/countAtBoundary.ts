/**
 * Counting at a component's boundary, for components that do not count themselves (a plugin's
 * operator or parser: `countsItself` unset). The registry wraps such an operator so that its
 * entry's figures stay true whatever the operator does:
 *
 * - `received*`: events and bytes going in; `sent*`: events and bytes coming out (a stage's `sent`
 *   is what the next stage receives, so `summarize` can read the real last stage).
 * - `dropped[reason]` (`operator:<type>` by default): events that went in and did not come out,
 *   counted only once they are settled. Sluice batches carry `end`, the offset up to which
 *   everything is processed; an operator that holds an event back (to join it with the next
 *   one) emits batches whose `end` stops before it. So when the operator emits a batch with
 *   `end` E, every input batch whose `end` is ≤ E is settled: each of its events was either
 *   passed on or removed. The drop count is (settled events in) − (events out) − (drops the
 *   operator counted itself into its counters), when that is positive; it never decreases.
 *   What this cannot tell apart: an operator that merges n events into one shows n − 1 of them
 *   here (nothing is lost, but fewer events went on); one that splits events shows no drops.
 *   An operator that breaks the `end` rule (emits a batch end past an event it still holds)
 *   shows the held events as dropped until it releases them; the count does not go back down.
 * - Errors pass through untouched (the source that runs the chain counts and logs them).
 *
 * One wrapper per stream (file incarnation), like the operator it wraps; the counters object is
 * shared by all streams of the entry, so every stream adds its own increments.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { Batch, ComponentCounters } from './types.js';
import { messageBytes } from './counters.js';

export interface BoundaryOptions {
  /** Reason events removed by the operator are counted under (default `operator`). */
  reason?: string;
}

function sumDrops(c: ComponentCounters, except: string): number {
  let n = 0;
  for (const [reason, v] of Object.entries(c.dropped)) if (reason !== except) n += v;
  return n;
}

/** Wraps `op` so `counters` count at its boundary (see the file header). */
export function countAtBoundary(op: OperatorFunction<Batch, Batch>, counters: ComponentCounters, opts: BoundaryOptions = {}): OperatorFunction<Batch, Batch> {
  const reason = opts.reason ?? 'operator';
  return (source) =>
    new Observable<Batch>((subscriber) => {
      // Input batches not yet settled: their end and the events in up to and including them.
      const pending: { end: number; inTotal: number }[] = [];
      let inTotal = 0;
      let settledIn = 0;
      let outTotal = 0;
      /** Drops this wrapper already added for this stream. */
      let counted = 0;
      // Drops the operator counted itself meanwhile (they explain part of the difference).
      const selfAtStart = sumDrops(counters, reason);

      const input = new Observable<Batch>((inner) =>
        source.subscribe({
          next(batch) {
            inTotal += batch.events.length;
            counters.receivedEvents += batch.events.length;
            for (const e of batch.events) counters.receivedBytes += messageBytes(e.message);
            pending.push({ end: batch.end, inTotal });
            inner.next(batch);
          },
          error: (err) => inner.error(err),
          complete: () => inner.complete(),
        }),
      );

      const settle = (end: number | undefined) => {
        while (pending.length > 0 && (end === undefined || pending[0].end <= end)) settledIn = pending.shift()!.inTotal;
        const selfDrops = sumDrops(counters, reason) - selfAtStart;
        const unexplained = settledIn - outTotal - Math.max(0, selfDrops);
        if (unexplained > counted) {
          counters.dropped[reason] = (counters.dropped[reason] ?? 0) + (unexplained - counted);
          counted = unexplained;
        }
      };

      return op(input).subscribe({
        next(batch) {
          outTotal += batch.events.length;
          counters.sentEvents += batch.events.length;
          for (const e of batch.events) counters.sentBytes += messageBytes(e.message);
          settle(batch.end);
          subscriber.next(batch);
        },
        error: (err) => subscriber.error(err),
        complete() {
          // Completed: whatever the operator did not emit by now it will never emit.
          settle(undefined);
          subscriber.complete();
        },
      });
    });
}
