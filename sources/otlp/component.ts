/**
 * The OTLP/HTTP receiver as a source component (`otlp_receiver`, home `section:otlp_receiver`):
 * applications instrumented with OpenTelemetry SDKs send logs, metrics and traces
 * (`POST /v1/logs|metrics|traces`, protobuf or JSON, gzip) and they come out of `batches$` as one
 * Batch per request per signal, on the streams `otlp:logs` (kind `log`), `otlp:metrics`
 * (`metric`) and `otlp:traces` (`trace`), each event with its `record` (lib/telemetry.ts).
 *
 * `create` only reads and checks the options (a bad `endpoint` throws here); `ready()` imports
 * the implementation (`./receiver.ts`: the HTTP server, the OTLP definitions, the conversion)
 * and binds, rejecting with a clear error when the address is in use. Subscribe to `batches$`
 * right after `ready()`: until something subscribes, requests are answered 503 with
 * `Retry-After` (nothing is lost: the sender retries). `stop()` closes the listener, bounded by
 * the deadline, and completes `batches$`; idempotent, never rejects.
 *
 * `redaction_rules` and `sampling_rules` are declared here for the logs signal (the same
 * declarations as a logs entry's); the part applies them with the registry's `sample` and
 * `redact` operators.
 */
import { Subject } from 'rxjs';
import { defineComponent, type ComponentContext } from '../../lib/component.js';
import type { Batch, ComponentCounters } from '../../lib/types.js';
import { createCounters, errorMessage } from '../../lib/counters.js';
import { OTLP_RECEIVER_OPTIONS, receiverOptions } from './options.js';
import type { OtlpReceiverSource } from './types.js';

export type { OtlpReceiverSource } from './types.js';
export { OTLP_RECEIVER_OPTIONS };

/** Builds the receiver from the `otlp_receiver` object; see the module comment. */
export function createOtlpReceiver(own: Readonly<Record<string, unknown>>, ctx: Pick<ComponentContext, 'logger'> & Partial<Pick<ComponentContext, 'counters'>>): OtlpReceiverSource {
  receiverOptions(own); // throws on a bad value, before anything starts
  const counters: ComponentCounters = ctx.counters ?? createCounters();
  const batches = new Subject<Batch>();
  let impl: OtlpReceiverSource | undefined;
  let stopped = false;
  let listening: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  return {
    batches$: batches.asObservable(),
    counters,
    ready: () =>
      (listening ??= (async () => {
        const { buildOtlpReceiver } = await import('./receiver.js');
        if (stopped) return;
        impl = buildOtlpReceiver(own, { logger: ctx.logger, counters }, { observed: () => batches.observed });
        impl.batches$.subscribe(batches);
        await impl.ready();
      })()),
    address: () => impl?.address(),
    stop(deadlineMs = 5000) {
      stopping ??= (async () => {
        const until = Date.now() + deadlineMs;
        stopped = true;
        if (listening) await Promise.race([listening.catch(() => undefined), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
        if (impl) await impl.stop(Math.max(0, until - Date.now()));
        batches.complete();
      })().catch((err) => ctx.logger.error('OTLP receiver stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => impl?.status() ?? { listening: null },
  };
}

export const otlpReceiver = defineComponent({
  kind: 'source',
  type: 'otlp_receiver',
  home: 'section:otlp_receiver',
  countsItself: true,
  doc: 'An OTLP/HTTP listener (loopback `:4318` by default) for applications instrumented with OpenTelemetry SDKs: `POST /v1/logs`, `/v1/metrics` and `/v1/traces`, protobuf or JSON, gzip. What it accepts enters the pipeline as `log`, `metric` and `trace` streams (`otlp:logs`, `otlp:metrics`, `otlp:traces`) and leaves through any sink (addEvents included). Memory is bounded: past `max_pending_bytes` of unacknowledged data it answers 429 with `Retry-After`, and the SDK retries.',
  options: OTLP_RECEIVER_OPTIONS,
  example: { endpoint: '127.0.0.1:0' },
  create: createOtlpReceiver,
});
