/**
 * The APM part of the full agent (`createAgent`): span intake → aggregateSpans → one `apm` Batch
 * per (minute, app) handed to `deliver` (the agent's hub → Scalyr addEvents or the embedded
 * NDJSON sink), plus the Scout check-in sink of its own when `apm.ingest_url` is set.
 *
 * Config (`apm` in agent.json; sluice options): `enabled`, `socket_path`, `tcp`, `ingest_url`,
 * `key`, `max_frame_bytes`, `request_timeout_secs`, and optionally `socket_mode`,
 * `max_connections`, `max_live_requests`, `max_spans_per_request`, `max_live_spans`,
 * `frame_timeout_secs`, `core_agent_version`, `minute_secs` (60), `grace_secs` (10).
 *
 * `stop()` closes the intake, flushes the open minute through `deliver` (so call it before the
 * hub's sink stops), then stops the check-in sink; bounded by the deadline, never rejects.
 * A live agent already on the socket makes creation reject with code `EADDRINUSE_LIVE`.
 */
import { merge, type Subscription } from 'rxjs';
import type { AgentConfig } from '../lib/config/types.js';
import type { Batch, Logger } from '../lib/types.js';
import { createSpanIntake, type SpanIntake } from '../sources/spanSocket/index.js';
import { aggregateSpans } from '../operators/aggregateSpans.js';
import { createApmBatcher } from '../sinks/checkin/toBatches.js';
import { createCheckinSink, type CheckinSink } from '../sinks/checkin/index.js';
import { countError, createCounters, errorMessage } from '../lib/counters.js';
import type { ApmMinute } from '../lib/apm/types.js';

export interface ApmPart {
  intake: SpanIntake;
  stop(deadlineMs?: number): Promise<void>;
  status(): Record<string, unknown>;
}

export interface ApmPartContext {
  logger: Logger;
  /** Where each minute's batch goes (the agent's hub, or the core-agent command's sinks). */
  deliver: (b: Batch) => void;
  /** Called when a client sent CoreAgentShutdown. */
  onShutdownRequest?: () => void;
  /** Keep shutdown clients waiting until `intake.release()` (the core-agent command). */
  holdShutdownClients?: boolean;
  /** Overrides of `apm.minute_secs` / `apm.grace_secs` (tests). */
  minuteMs?: number;
  graceMs?: number;
  /** Proxy for the check-in sink (default: `https_proxy`, then `http_proxy`). */
  proxy?: string;
  /** Sees every emitted minute (tests). */
  onMinute?: (m: ApmMinute) => void;
  registry?: unknown;
}

export async function createApmPart(cfg: Pick<AgentConfig, 'apm' | 'https_proxy' | 'http_proxy'>, ctx: ApmPartContext): Promise<ApmPart> {
  const apm = cfg.apm;
  if (!apm) throw new Error('apm: no configuration');
  const log = ctx.logger;
  const minuteSecs = typeof apm.minute_secs === 'number' && apm.minute_secs > 0 ? apm.minute_secs : 60;
  const graceSecs = typeof apm.grace_secs === 'number' && apm.grace_secs >= 0 ? apm.grace_secs : 10;
  const intake = createSpanIntake(apm, { logger: log, onShutdown: ctx.onShutdownRequest, holdShutdownClients: ctx.holdShutdownClients });
  const batcher = createApmBatcher();
  let checkin: CheckinSink | undefined;
  if (apm.ingest_url) {
    checkin = createCheckinSink(
      { ingest_url: apm.ingest_url, key: apm.key, proxy: ctx.proxy ?? cfg.https_proxy ?? cfg.http_proxy },
      { logger: log, keyring: batcher.keyring },
    );
  }
  const counters = createCounters();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sub: Subscription = merge(intake.completed$, intake.appEvents$)
    .pipe(aggregateSpans({ graceMs: ctx.graceMs ?? graceSecs * 1000, minuteMs: ctx.minuteMs ?? minuteSecs * 1000, counters }))
    .subscribe({
      next: (m) => {
        try {
          ctx.onMinute?.(m);
          const batch = batcher.toBatch(m);
          ctx.deliver(batch);
          if (checkin) checkin.writeMinute(m);
        } catch (err) {
          countError(counters, err);
        }
      },
      error: (err) => {
        log.error('APM aggregation failed', { error: errorMessage(err) });
        done();
      },
      complete: () => done(),
    });
  try {
    await intake.listen();
  } catch (err) {
    sub.unsubscribe();
    await intake.stop(0);
    await checkin?.stop(0);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    intake,
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        const until = Date.now() + deadlineMs;
        await intake.stop(Math.min(2000, deadlineMs));
        await Promise.race([finished, new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())).unref())]);
        sub.unsubscribe();
        await checkin?.stop(Math.max(0, until - Date.now()));
      })().catch((err) => log.error('APM stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => ({
      intake: { ...intake.status(), counters: intake.counters },
      aggregation: counters,
      ackedEnd: batcher.acked(),
      ...(checkin ? { checkin: { counters: checkin.counters, ...checkin.status() } } : {}),
    }),
  };
}
