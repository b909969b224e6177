/**
 * The APM part of the full agent (`createAgent`) and of the `core-agent` command: the registry's
 * `apm_intake` source (span intake → aggregateSpans → one `apm` Batch per (minute, app)) handed
 * to `deliver` (the agent's hub → Scalyr addEvents or the embedded NDJSON sink), plus the
 * registry's `scout_checkin` sink when `apm.ingest_url` is set. Both read their options from the
 * `apm` section (and the top-level proxies), as they declare; `enabled` is the agent's.
 *
 * `stop()` closes the intake, flushes the open minute through `deliver` (so call it before the
 * hub's sink stops), then stops the check-in sink; bounded by the deadline, never rejects.
 * A live agent already on the socket makes creation reject with code `EADDRINUSE_LIVE`.
 */
import type { Subscription } from 'rxjs';
import type { AgentConfig } from '../../lib/config/types.js';
import type { Batch, ComponentCounters, Logger } from '../../lib/types.js';
import type { Registry } from '../../lib/registry.js';
import type { ComponentContext } from '../../lib/component.js';
import { Credits } from '../../lib/pipeline/credits.js';
import type { SpanIntake } from '../../sources/spanSocket/index.js';
import type { ApmIntakeServices, ApmIntakeSource } from '../../sources/spanSocket/component.js';
import type { CheckinSink } from '../../sinks/checkin/index.js';
import type { CheckinServices } from '../../sinks/checkin/component.js';
import { ScoutKeyring } from '../../sinks/checkin/keyring.js';
import { countError, errorMessage } from '../../lib/counters.js';
import type { ApmMinute } from '../../lib/apm/types.js';
import { createDefaultRegistry } from '../builtins.js';

/** The registry names of the APM components. */
export const APM_INTAKE_TYPE = 'apm_intake';
export const APM_CHECKIN_TYPE = 'scout_checkin';

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
  /** Where the APM components come from (default: the built-ins). */
  registry?: Registry;
}

export async function createApmPart(cfg: Pick<AgentConfig, 'apm' | 'https_proxy' | 'http_proxy'>, ctx: ApmPartContext): Promise<ApmPart> {
  const apm = cfg.apm as unknown as Record<string, unknown> | undefined;
  if (!apm) throw new Error('apm: no configuration');
  const log = ctx.logger;
  const registry = ctx.registry ?? createDefaultRegistry();
  const sourceComponent = registry.component('source', APM_INTAKE_TYPE);
  if (!sourceComponent) throw new Error(`apm: no source "${APM_INTAKE_TYPE}" is registered`);
  const agent = cfg as unknown as Readonly<Record<string, unknown>>;
  const base = (id: string, services: Record<string, unknown>): ComponentContext => ({
    id,
    logger: log,
    agent,
    credits: new Credits(1 << 20),
    dataPath: '',
    services,
  });
  const keyring = new ScoutKeyring();
  let checkin: CheckinSink | undefined;
  if (apm.ingest_url) {
    const sinkComponent = registry.component('sink', APM_CHECKIN_TYPE);
    if (!sinkComponent) throw new Error(`apm.ingest_url: no sink "${APM_CHECKIN_TYPE}" is registered`);
    const services: CheckinServices = { keyring, proxy: ctx.proxy };
    checkin = sinkComponent.create(apm, base('apm:checkin', services as Record<string, unknown>)) as CheckinSink;
  }
  const services: ApmIntakeServices = {
    keyring,
    onMinute: (m) => {
      ctx.onMinute?.(m);
      checkin?.writeMinute(m);
    },
    onShutdown: ctx.onShutdownRequest,
    holdShutdownClients: ctx.holdShutdownClients,
    minuteMs: ctx.minuteMs,
    graceMs: ctx.graceMs,
  };
  const source = sourceComponent.create(apm, base('apm', services as Record<string, unknown>)) as ApmIntakeSource;
  const sub: Subscription = source.batches$.subscribe({
    next: (batch) => {
      try {
        ctx.deliver(batch);
      } catch (err) {
        // Counted with the aggregation's errors, as a minute that could not be handed on.
        countError(source.status().aggregation as ComponentCounters, err);
      }
    },
  });
  try {
    await source.ready();
  } catch (err) {
    sub.unsubscribe();
    await source.stop(0);
    await checkin?.stop(0);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    intake: source.intake,
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        const until = Date.now() + deadlineMs;
        await source.stop(deadlineMs);
        sub.unsubscribe();
        await checkin?.stop(Math.max(0, until - Date.now()));
      })().catch((err) => log.error('APM stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => ({
      ...source.status(),
      ...(checkin ? { checkin: { counters: checkin.counters, ...checkin.status() } } : {}),
    }),
  };
}
