/**
 * The APM intake as a source component (`apm_intake`, home `section:apm`): the Scout core-agent
 * span intake (a Unix socket, optionally loopback TCP) → `aggregateSpans` → one `apm` Batch per
 * (minute, app) on `batches$`. It reads the fields of the `apm` section it declares (the
 * intake's and the aggregation's), once, when it is created; `enabled` is the agent's.
 *
 * Services the APM part hands it (`ctx.services`, all optional): `keyring` (shared with the
 * check-in sink), `onMinute(m)` (sees each minute before its batch goes out), `onShutdown` and
 * `holdShutdownClients` (the core-agent command), `minuteMs` / `graceMs` (tests).
 *
 * `ready()` loads the aggregation and binds the socket(s) (rejects with code `EADDRINUSE_LIVE` when a live agent answers
 * there); subscribe to `batches$` first. `stop()` closes the intake, flushes the open minute
 * through `batches$` and completes it, bounded by the deadline; idempotent, never rejects.
 */
import { merge, Subject, type Subscription } from 'rxjs';
import { defineComponent, type ComponentContext, type SourceInstance } from '../../lib/component.js';
import type { Batch, ComponentCounters } from '../../lib/types.js';
import type { ApmMinute } from '../../lib/apm/types.js';
import { countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';
import { aggregationOptions, APM_AGGREGATION_OPTIONS } from '../../operators/spans/options.js';
import { createApmBatcher } from '../../sinks/checkin/toBatches.js';
import type { ScoutKeyring } from '../../sinks/checkin/keyring.js';
import { createSpanIntake, type SpanIntake } from './index.js';
import { SPAN_INTAKE_OPTIONS } from './options.js';

export interface ApmIntakeServices {
  keyring?: ScoutKeyring;
  onMinute?: (m: ApmMinute) => void;
  onShutdown?: () => void;
  holdShutdownClients?: boolean;
  minuteMs?: number;
  graceMs?: number;
}

export interface ApmIntakeSource extends SourceInstance {
  intake: SpanIntake;
  /** Binds the socket(s); once (later calls return the same promise). */
  ready(): Promise<void>;
  status(): Record<string, unknown>;
}

/**
 * The source's counters: received = the frames the intake took in, sent = the events of the
 * batches it emitted, dropped and errors = the intake's and the aggregation's together (a view:
 * only the sent counters are its own; count errors and drops on the intake or the aggregation).
 */
function sourceCounters(intake: ComponentCounters, aggregation: ComponentCounters): ComponentCounters {
  const out = { sentEvents: 0, sentBytes: 0 } as ComponentCounters;
  Object.defineProperties(out, {
    receivedEvents: { enumerable: true, get: () => intake.receivedEvents },
    receivedBytes: { enumerable: true, get: () => intake.receivedBytes },
    errors: { enumerable: true, get: () => intake.errors + aggregation.errors },
    lastError: {
      enumerable: true,
      get: () => {
        const [a, b] = [intake.lastError, aggregation.lastError];
        return a && b ? (a.time >= b.time ? a : b) : (a ?? b);
      },
    },
    dropped: {
      enumerable: true,
      get: () => {
        const all: Record<string, number> = { ...intake.dropped };
        for (const [reason, n] of Object.entries(aggregation.dropped)) all[reason] = (all[reason] ?? 0) + n;
        return all;
      },
    },
  });
  return out;
}

export const APM_INTAKE_OPTIONS = [...SPAN_INTAKE_OPTIONS, ...APM_AGGREGATION_OPTIONS];

/** Builds the intake source from the `apm` section (`own`); see the module comment for `ctx.services`. */
export function createApmIntakeSource(own: Readonly<Record<string, unknown>>, ctx: Pick<ComponentContext, 'logger' | 'services'>): ApmIntakeSource {
  const services = (ctx.services ?? {}) as ApmIntakeServices;
  const log = ctx.logger;
  const timing = aggregationOptions(own);
  const minuteMs = services.minuteMs ?? timing.minuteMs;
  const graceMs = services.graceMs ?? timing.graceMs;
  const intake = createSpanIntake(own, { logger: log, onShutdown: services.onShutdown, holdShutdownClients: services.holdShutdownClients });
  const batcher = createApmBatcher({ keyring: services.keyring });
  const aggregation = createCounters();
  const counters = sourceCounters(intake.counters, aggregation);
  const batches = new Subject<Batch>();
  let wired: Subscription | undefined;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let stopped = false;

  // The aggregation (and its SQL parser) is loaded when the intake starts listening, so that
  // registering the APM components costs nothing until APM is enabled.
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
          counters.sentEvents += batch.events.length;
          for (const ev of batch.events) counters.sentBytes += messageBytes(ev.message);
          batches.next(batch);
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
        batches.complete();
      })().catch((err) => log.error('APM stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => ({
      intake: { ...intake.status(), counters: intake.counters },
      aggregation,
      ackedEnd: batcher.acked(),
    }),
  };
}

export const apmIntakeSource = defineComponent({
  kind: 'source',
  type: 'apm_intake',
  home: 'section:apm',
  countsItself: true,
  doc: 'The APM intake, a drop-in for the Scout APM core agent: language agents (scout_apm for Python, Ruby, Node…) connect to its Unix socket (or loopback TCP) and send requests and spans; they are aggregated per minute and app (endpoint metrics, slow traces, DB queries) and sent as `apm` events through the upload sink (and to Scout with `ingest_url`).',
  options: APM_INTAKE_OPTIONS,
  example: { tcp: '127.0.0.1:0' },
  create: createApmIntakeSource,
});
