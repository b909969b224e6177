/**
 * The APM part's wiring (`app/parts/apmPipeline.ts` builds it): present when `apm.enabled`; its restart key
 * is the values of what the components living in the `apm` section (`home: 'section:apm'`)
 * declare. With none registered, the whole section is the key.
 */
import { homeOf } from '../../lib/component.js';
import type { AgentConfig } from '../../lib/config/types.js';
import { routeOf } from './routes.js';
import { SINKS_ROUTE } from '../../lib/config/sharedOptions.js';
import { declared, derive, undeclared, type Built, type KindSpec, type Listed, type Part, type PartContext } from './types.js';

export type ApmPartRecord = Part<'apm', Record<string, unknown>>;

export function apmPartComponents(cfg: AgentConfig, ctx: Pick<PartContext, 'registry'>): Built[] {
  const inSection = ctx.registry.components().filter((c) => homeOf(c) === 'section:apm');
  // Its route (`apm.sinks`) is part of the key too: a change restarts the APM part.
  return [{ components: [...(inSection.length > 0 ? inSection : [undeclared('apm')]), declared('apm route', [SINKS_ROUTE])], own: (cfg.apm ?? {}) as Record<string, unknown> }];
}

export function apmSpecs(cfg: AgentConfig, ctx: PartContext): KindSpec<ApmPartRecord>[] {
  if (!cfg.apm?.enabled) return [];
  const { slice, live } = derive(apmPartComponents(cfg, ctx), cfg);
  return [
    {
      key: 'apm',
      kind: 'apm',
      slice,
      live,
      // Loaded on demand: the APM code (with its SQL parser) costs memory only when used.
      create: async () => {
        const route = routeOf(cfg.apm as unknown as Record<string, unknown>);
        const part = await (await import('./apmPipeline.js')).createApmPart(cfg, { logger: ctx.logger, deliver: (b) => ctx.hub.deliver(b, route), registry: ctx.registry });
        return { kind: 'apm', stop: (deadline) => part.stop(deadline), status: () => part.status() };
      },
    },
  ];
}

/** The `apm` section of the status (undefined when the part is not running). */
export function apmStatus(p: Listed<ApmPartRecord> | undefined): unknown {
  return p?.part?.status();
}
