/**
 * The APM intake source's implementation (`apm_intake`, declared in `./component.ts`, which
 * imports this module only when the source starts: the APM code costs memory only when used).
 * The span intake → `aggregateSpans` → one `apm` Batch per (minute, app) on `batches$`; with
 * `export_spans`, also each finished request as one `trace` Batch (`./toSpans.ts`) on the same
 * `batches$`, bounded by the span events not yet acknowledged (the aggregation is unaffected).
 */
import { merge, Subject, type Subscription } from 'rxjs';
import type { ComponentContext } from '../../lib/component.js';
import type { Batch, ComponentCounters } from '../../lib/types.js';
import { countDrop, countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';
import { aggregationOptions } from '../../operators/spans/options.js';
import { createApmBatcher } from '../../sinks/checkin/toBatches.js';
import { createSpanIntake } from './index.js';
import { intakeOptions } from './options.js';
import { createSpanBatcher, type SpanBatcher } from './toSpans.js';
import type { ApmIntakeServices, ApmIntakeSource } from './intakeTypes.js';

/**
 * The source's counters: received = the frames the intake took in, sent = the events of the
 * batches it emitted (minute records and span events), dropped and errors = the intake's, the
 * aggregation's and the span export's together (a view: only the sent counters are its own;
 * count errors and drops on the part that had them).
 */
function sourceCounters(intake: ComponentCounters, aggregation: ComponentCounters, spans: ComponentCounters): ComponentCounters {
  const out = { sentEvents: 0, sentBytes: 0 } as ComponentCounters;
  const parts = [intake, aggregation, spans];
  Object.defineProperties(out, {
    receivedEvents: { enumerable: true, get: () => intake.receivedEvents },
    receivedBytes: { enumerable: true, get: () => intake.receivedBytes },
    errors: { enumerable: true, get: () => intake.errors + aggregation.errors + spans.errors },
    lastError: {
      enumerable: true,
      get: () => {
        let last: ComponentCounters['lastError'];
        for (const p of parts) if (p.lastError && (!last || p.lastError.time > last.time)) last = p.lastError;
        return last;
      },
    },
    dropped: {
      enumerable: true,
      get: () => {
        const all: Record<string, number> = { ...intake.dropped };
        for (const p of [aggregation, spans]) for (const [reason, n] of Object.entries(p.dropped)) all[reason] = (all[reason] ?? 0) + n;
        return all;
      },
    },
  });
  return out;
}

/** Builds the intake source from the `apm` section (`own`); see `./component.ts` for `ctx.services`. */
export function buildApmIntakeSource(own: Readonly<Record<string, unknown>>, ctx: Pick<ComponentContext, 'logger' | 'services'>): ApmIntakeSource {
  const services = (ctx.services ?? {}) as ApmIntakeServices;
  const log = ctx.logger;
  const timing = aggregationOptions(own);
  const minuteMs = services.minuteMs ?? timing.minuteMs;
  const graceMs = services.graceMs ?? timing.graceMs;
  const intake = createSpanIntake(own, { logger: log, onShutdown: services.onShutdown, holdShutdownClients: services.holdShutdownClients });
  const batcher = createApmBatcher({ keyring: services.keyring });
  const aggregation = createCounters();
  const spans = createCounters();
  const counters = sourceCounters(intake.counters, aggregation, spans);
  const batches = new Subject<Batch>();
  let wired: Subscription | undefined;
  const emit = (batch: Batch) => {
    counters.sentEvents += batch.events.length;
    for (const ev of batch.events) counters.sentBytes += messageBytes(ev.message);
    batches.next(batch);
  };

  // Each finished request as a trace, beside (never instead of) the aggregation.
  let spanBatcher: SpanBatcher | undefined;
  let spanSub: Subscription | undefined;
  if (intakeOptions(own).exportSpans) {
    const sb = createSpanBatcher({ keyring: batcher.keyring, drop: (reason, n) => countDrop(spans, reason, n) });
    spanBatcher = sb;
    spanSub = intake.completed$.subscribe((requests) => {
      for (const r of requests) {
        let batch: Batch | undefined;
        try {
          batch = sb.toBatch(r);
        } catch (err) {
          countError(spans, err);
          countDrop(spans, 'spans_error', r.spans.length || 1);
          continue;
        }
        try {
          if (batch) emit(batch);
        } catch (err) {
          countError(spans, err); // a subscriber's fault: the batch went out, its events are counted sent
        }
      }
    });
  }
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let stopped = false;

  // The aggregation (and its SQL parser) is loaded when the intake starts listening.
  const wire = async () => {
    const { aggregateSpans } = await import('../../operators/aggregateSpans.js');
    if (stopped) return;
    wired = merge(intake.completed$, intake.appEvents$)
      .pipe(aggregateSpans({ graceMs, minuteMs, counters: aggregation }))
      .subscribe({
        next: (m) => {
          let batch: Batch;
          try {
            services.onMinute?.(m);
            batch = batcher.toBatch(m);
          } catch (err) {
            countError(aggregation, err);
            return;
          }
          emit(batch);
        },
        error: (err) => {
          log.error('APM aggregation failed', { error: errorMessage(err) });
          batches.complete();
          done();
        },
        complete: () => {
          batches.complete();
          done();
        },
      });
  };

  let listening: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  return {
    intake,
    batches$: batches.asObservable(),
    counters,
    ready: () =>
      (listening ??= (async () => {
        await wire();
        await intake.listen();
      })()),
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        const until = Date.now() + deadlineMs;
        stopped = true;
        await intake.stop(Math.min(2000, deadlineMs));
        if (wired) await Promise.race([finished, new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())).unref())]);
        wired?.unsubscribe();
        spanSub?.unsubscribe();
        batches.complete();
      })().catch((err) => log.error('APM stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => ({
      intake: { ...intake.status(), counters: intake.counters },
      aggregation,
      ackedEnd: batcher.acked(),
      ...(spanBatcher ? { spans: { counters: spans, ...spanBatcher.status() } } : {}),
    }),
  };
}

