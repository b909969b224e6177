/**
 * The OTLP receiver part (`otlp_receiver`): present when the section is (unless `enabled:
 * false`). It builds the registered `otlp_receiver` source from the section, applies the
 * section's `sampling_rules` and `redaction_rules` to the logs it receives (the registry's
 * `sample` and `redact` operators, as for a `logs` entry), and delivers every batch to the sinks
 * of the section's route (`otlp_receiver.sinks`, default all). Its restart key is the values of
 * what the components living in the section declare, plus its route.
 *
 * Memory: the receiver keeps its own budget of accepted bytes the sinks have not acknowledged
 * (`max_pending_bytes`, answered 429 past it); acknowledgements come back through the hub once
 * every routed sink has them.
 */
import { of, pipe, type MonoTypeOperatorFunction, type OperatorFunction, type Subscription } from 'rxjs';
import { homeOf, type Component, type ComponentContext } from '../../lib/component.js';
import type { AgentConfig } from '../../lib/config/types.js';
import type { Batch, ComponentCounters } from '../../lib/types.js';
import { createCounters, errorMessage } from '../../lib/counters.js';
import { SINKS_ROUTE } from '../../lib/config/sharedOptions.js';
import { createRedactionStats } from '../../operators/redact.js';
import { createSamplingStats } from '../../operators/sample.js';
import type { OtlpReceiverSource } from '../../sources/otlp/types.js';
import { routeOf } from './routes.js';
import { declared, derive, undeclared, type Built, type KindSpec, type Listed, type Part, type PartContext } from './types.js';

export interface OtlpReceiverStatus {
  status: Record<string, unknown>;
  counters: ComponentCounters;
  redactions: number;
  droppedBySampling: { lines: number; bytes: number };
}

export type OtlpReceiverPart = Part<'otlp_receiver', OtlpReceiverStatus> & { address(): { host: string; port: number } | undefined };

const SECTION = 'section:otlp_receiver';

export function otlpReceiverPartComponents(cfg: AgentConfig, ctx: Pick<PartContext, 'registry'>): Built[] {
  const inSection = ctx.registry.components().filter((c) => homeOf(c) === SECTION);
  return [{ components: [...(inSection.length > 0 ? inSection : [undeclared('otlp_receiver')]), declared('otlp_receiver route', [SINKS_ROUTE])], own: (cfg.otlp_receiver ?? {}) as Record<string, unknown> }];
}

export function otlpReceiverSpecs(cfg: AgentConfig, ctx: PartContext): KindSpec<OtlpReceiverPart>[] {
  const section = cfg.otlp_receiver as Record<string, unknown> | undefined;
  if (!section || section.enabled === false) return [];
  const { slice, live } = derive(otlpReceiverPartComponents(cfg, ctx), cfg);
  return [
    {
      key: 'otlp_receiver',
      kind: 'otlp_receiver',
      slice,
      live,
      create: async () => {
        const component = ctx.registry.component('source', 'otlp_receiver');
        if (!component) throw new Error('otlp_receiver: no "otlp_receiver" source is registered');
        const route = routeOf(section);
        const counters = createCounters();
        const sampling = createSamplingStats();
        const redaction = createRedactionStats();
        const base = { logger: ctx.logger, agent: cfg as unknown as Record<string, unknown>, credits: ctx.hub.budgets.of(route), dataPath: cfg.agent_data_path };
        const source = component.create(section, { ...base, id: 'otlp_receiver', counters }) as unknown as OtlpReceiverSource;
        // The logs signal goes through the section's sampling and redaction, each batch at once
        // (both stages are synchronous and hold nothing back); metrics and spans go as they are.
        const stages = logStages(ctx.registry.component('operator', 'sample'), ctx.registry.component('operator', 'redact'), section, { ...base, id: 'otlp_receiver', services: { sampling, redaction } });
        const deliver = (b: Batch) => ctx.hub.deliver(b, route);
        let sub: Subscription | undefined;
        try {
          await source.ready();
          sub = source.batches$.subscribe({
            next: (b) => {
              if (!stages || b.stream.kind !== 'log') return deliver(b);
              stages(of(b)).subscribe({ next: deliver, error: (err) => ctx.logger.error(`otlp_receiver: a logs batch failed its stages: ${errorMessage(err)}`) });
            },
            error: (err) => ctx.logger.error(`otlp_receiver stopped: ${errorMessage(err)}`),
          });
        } catch (err) {
          await source.stop(1000);
          throw err;
        }
        const addr = source.address();
        if (addr) ctx.logger.info(`otlp_receiver: listening on http://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port} (/v1/logs, /v1/metrics, /v1/traces)`);
        return {
          kind: 'otlp_receiver',
          address: () => source.address(),
          status: () => ({ status: source.status(), counters: source.counters ?? counters, redactions: redaction.redactedLines, droppedBySampling: { lines: sampling.droppedLines, bytes: sampling.droppedBytes } }),
          async stop(deadline = ctx.stopDeadlineMs) {
            const until = Date.now() + deadline;
            // Stop taking requests first, then let what was accepted reach the sinks.
            await source.stop(deadline);
            sub?.unsubscribe();
            await ctx.hub.flush(Math.max(0, until - Date.now()), route);
          },
        };
      },
    },
  ];
}

/** `sample` then `redact`, each only when the section has rules for it (undefined: neither). */
function logStages(sample: Component | undefined, redact: Component | undefined, section: Record<string, unknown>, ctx: ComponentContext): MonoTypeOperatorFunction<Batch> | undefined {
  const ops: MonoTypeOperatorFunction<Batch>[] = [];
  const has = (k: string) => Array.isArray(section[k]) && (section[k] as unknown[]).length > 0;
  const make = (c: Component, name: string) => (c.create as (own: Record<string, unknown>, x: ComponentContext) => OperatorFunction<Batch, Batch>)(section, { ...ctx, id: `otlp_receiver.${name}`, counters: createCounters() });
  if (sample && has('sampling_rules')) ops.push(make(sample, 'sampling_rules'));
  if (redact && has('redaction_rules')) ops.push(make(redact, 'redaction_rules'));
  if (ops.length === 0) return undefined;
  return (pipe as (...o: MonoTypeOperatorFunction<Batch>[]) => MonoTypeOperatorFunction<Batch>)(...ops);
}

/** The `otlp_receiver` section of the status (undefined when the part is not running). */
export function otlpReceiverStatus(p: Listed<OtlpReceiverPart> | undefined): OtlpReceiverStatus | { error: string } | undefined {
  if (!p) return undefined;
  return p.part?.status() ?? (p.error ? { error: p.error } : undefined);
}
