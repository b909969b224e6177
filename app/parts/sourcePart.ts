/**
 * The plugin source parts: one per top-level `sources[]` item, built by `createSourcePart`
 * (`app/parts/pluginSource.ts`) through the registry. Its restart key is the values of what the item's
 * source component declares (the whole item when it declares nothing).
 */
import type { AgentConfig } from '../../lib/config/types.js';
import type { ComponentCounters } from '../../lib/types.js';
import { errorMessage } from '../../lib/counters.js';
import { createSourcePart, sourceId, type SourceItem, type SourcePart } from './pluginSource.js';
import { derive, undeclared, type Built, type KindSpec, type Listed, type Part, type PartContext } from './types.js';

export interface SourceStatus {
  key: string;
  status?: unknown;
  counters?: ComponentCounters;
  error?: string;
}

export interface PluginSourcePart extends Part<'source', { status?: unknown; counters: ComponentCounters }> {
  source: SourcePart;
}

export interface SourcePartSpec extends KindSpec<PluginSourcePart> {
  /** `type(id)` or `type`. */
  name: string;
}

export function sourcePartComponents(item: SourceItem, ctx: Pick<PartContext, 'registry'>): Built[] {
  return [{ components: [ctx.registry.component('source', item.type) ?? undeclared(`source:${item.type}`)], own: item }];
}

export function sourceSpecs(cfg: AgentConfig, ctx: PartContext): SourcePartSpec[] {
  const items = ((cfg as { sources?: SourceItem[] }).sources ?? []) as SourceItem[];
  const seen = new Set<string>();
  const specs: SourcePartSpec[] = [];
  items.forEach((item, i) => {
    const name = sourceId(item);
    if (seen.has(name)) {
      ctx.logger.warn(`sources[${i}]: ${name} is listed twice (give each an id); the first wins.`);
      return;
    }
    seen.add(name);
    const { slice, live } = derive(sourcePartComponents(item, ctx), cfg);
    specs.push({
      key: `source:${name}`,
      kind: 'source',
      name,
      slice,
      live,
      create: () => {
        const source = createSourcePart(item, { registry: ctx.registry, logger: ctx.logger, agent: cfg as unknown as Record<string, unknown>, credits: ctx.hub.budgets.of(), dataPath: cfg.agent_data_path, id: name });
        const sub = source.batches$.subscribe({ next: ctx.hub.deliver, error: (err) => ctx.logger.error(`Source ${name} stopped: ${errorMessage(err)}`) });
        return {
          kind: 'source',
          source,
          status: () => ({ status: source.status?.(), counters: source.counters }),
          async stop(deadline = ctx.stopDeadlineMs) {
            sub.unsubscribe();
            await source.stop(deadline);
          },
        };
      },
    });
  });
  return specs;
}

/** One `sources` item of the status. */
export function sourceStatus(p: Listed<PluginSourcePart, SourcePartSpec>): SourceStatus {
  const s = p.part?.status();
  return { key: p.spec.name, status: s?.status, counters: s?.counters, error: p.error };
}
