/**
 * The APM intake as a source component (`apm_intake`, home `section:apm`): the Scout core-agent
 * span intake (a Unix socket, optionally loopback TCP) → `aggregateSpans` → one `apm` Batch per
 * (minute, app) on `batches$`; with `export_spans`, also each finished request as one `trace`
 * Batch (one event per span, `Event.record` a SpanRecord: `./toSpans.ts`). It reads the fields of
 * the `apm` section it declares (the intake's and the aggregation's), once, when it is created;
 * `enabled` is the agent's.
 *
 * Services the APM part hands it (`ctx.services`, all optional): `keyring` (shared with the
 * check-in sink), `onMinute(m)` (sees each minute before its batch goes out), `onShutdown` and
 * `holdShutdownClients` (the core-agent command), `minuteMs` / `graceMs` (tests).
 *
 * The implementation (`./intakeSource.ts`: the socket server, framing, replies, the request
 * assembler, the batcher, the aggregation and its SQL parser) is imported by `ready()`, so
 * registering the component costs nothing until APM is enabled; `create` only checks the options.
 *
 * `ready()` loads the implementation and binds the socket(s) (rejects with code `EADDRINUSE_LIVE` when a live agent answers
 * there); subscribe to `batches$` first. `stop()` closes the intake, flushes the open minute
 * through `batches$` and completes it, bounded by the deadline; idempotent, never rejects.
 */
import { Subject } from 'rxjs';
import { defineComponent, type ComponentContext } from '../../lib/component.js';
import type { Batch, ComponentCounters } from '../../lib/types.js';
import { createCounters, errorMessage } from '../../lib/counters.js';
import { aggregationOptions, APM_AGGREGATION_OPTIONS } from '../../operators/spans/options.js';
import type { SpanIntake } from './index.js';
import type { ApmIntakeSource } from './intakeTypes.js';
import { intakeOptions, SPAN_INTAKE_OPTIONS } from './options.js';

export type { ApmIntakeServices, ApmIntakeSource } from './intakeTypes.js';

export const APM_INTAKE_OPTIONS = [...SPAN_INTAKE_OPTIONS, ...APM_AGGREGATION_OPTIONS];

const COUNTER_KEYS = ['receivedEvents', 'receivedBytes', 'sentEvents', 'sentBytes', 'errors', 'lastError', 'dropped'] as const;

/**
 * Builds the intake source from the `apm` section (`own`); see the module comment for
 * `ctx.services`. The options are checked now (a bad `tcp` throws here); the implementation is
 * imported and built by `ready()`, and `batches$`, `counters` and `status()` are views of it.
 */
export function createApmIntakeSource(own: Readonly<Record<string, unknown>>, ctx: Pick<ComponentContext, 'logger' | 'services'>): ApmIntakeSource {
  intakeOptions(own);
  aggregationOptions(own);
  const log = ctx.logger;
  const idle = createCounters();
  let impl: ApmIntakeSource | undefined;
  const batches = new Subject<Batch>();
  const counters = {} as ComponentCounters;
  for (const key of COUNTER_KEYS) {
    Object.defineProperty(counters, key, {
      enumerable: true,
      get: () => (impl?.counters ?? idle)[key],
      set: (v) => void (((impl?.counters ?? idle) as unknown as Record<string, unknown>)[key] = v),
    });
  }
  let stopped = false;
  let listening: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  return {
    get intake(): SpanIntake {
      if (!impl) throw new Error('apm_intake: the intake exists once ready() resolved');
      return impl.intake;
    },
    batches$: batches.asObservable(),
    counters,
    ready: () =>
      (listening ??= (async () => {
        const { buildApmIntakeSource } = await import('./intakeSource.js');
        if (stopped) return;
        impl = buildApmIntakeSource(own, ctx);
        impl.batches$.subscribe(batches);
        await impl.ready();
      })()),
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        const until = Date.now() + deadlineMs;
        stopped = true;
        // A ready() under way finishes loading first (it builds nothing once stopped is set).
        if (listening) await Promise.race([listening.catch(() => undefined), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
        if (impl) await impl.stop(Math.max(0, until - Date.now()));
        batches.complete();
      })().catch((err) => log.error('APM stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => impl?.status() ?? { intake: { listening: [], counters: idle }, aggregation: idle },
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
