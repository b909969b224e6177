/**
 * The sink parts: one per named sink (`sinks: {name: {type, ...}}`), or, without `sinks`, the one
 * `default` sink the config selects (`sink.type`, else `addEvents` with an `api_key`, else the
 * embedded default). A sink's restart key is the values of the options its component declares
 * (its own from its object; its top-level ones from the top level, or from its object where set
 * there); its live options (`server_attributes`) are applied to the running sink. Each sink is
 * its own part: changing one restarts only it.
 */
import type { AgentConfig } from '../../lib/config/types.js';
import type { AgentStatus, SinkStatus } from '../../lib/status/types.js';
import { optionsOf } from '../../lib/component.js';
import { derive, undeclared, type KindSpec, type Listed, type Part, type PartContext } from './types.js';
import type { AgentSink } from './hub.js';

export interface SinkPart extends Part<'sink', Record<string, unknown> & { counters?: unknown }> {
  sink: AgentSink;
}

export interface SinkPartSpec extends KindSpec<SinkPart> {
  name: string;
  type: string;
}

/** The name of the one sink of a config without `sinks`. */
export const DEFAULT_SINK = 'default';

/** The default sink's type: `sink.type` (a registered type, e.g. a plugin's), else addEvents with an api_key, else the embedded default. */
export function sinkType(cfg: AgentConfig): string {
  return (cfg.sink as { type?: string } | undefined)?.type ?? (cfg.api_key ? 'addEvents' : 'embedded');
}

/** The sinks a config describes: name, type, its own object, its status key. */
export function sinksOf(cfg: AgentConfig): { name: string; type: string; own: Record<string, unknown>; key: string; id: string }[] {
  if (cfg.sinks && typeof cfg.sinks === 'object') {
    return Object.entries(cfg.sinks).map(([name, own]) => ({ name, type: String(own.type), own: own as Record<string, unknown>, key: `sink:${name}`, id: `sinks.${name}` }));
  }
  return [{ name: DEFAULT_SINK, type: sinkType(cfg), own: (cfg.sink as Record<string, unknown> | undefined) ?? {}, key: 'sink', id: 'sink' }];
}

/** The mode shown in status: the sink type, or the types of the named sinks. */
export function sinkMode(cfg: AgentConfig): string {
  return [...new Set(sinksOf(cfg).map((s) => s.type))].join('+');
}

export function sinkSpecs(cfg: AgentConfig, ctx: PartContext): SinkPartSpec[] {
  return sinksOf(cfg).map((s) => sinkSpec(cfg, s, ctx));
}

function sinkSpec(cfg: AgentConfig, s: ReturnType<typeof sinksOf>[number], ctx: PartContext): SinkPartSpec {
  const { name, type, own } = s;
  const component = ctx.registry.component('sink', type);
  // Its top-level options may be set in its own object, for this sink alone.
  const overrides = Object.fromEntries(optionsOf(component ?? {}, 'global').filter((o) => own[o.name] !== undefined).map((o) => [o.name, own[o.name]]));
  const agent = { ...cfg, ...overrides } as AgentConfig;
  const { slice, live } = derive([{ components: [component ?? undeclared(type)], own }], agent);
  const create = (): SinkPart => {
    if (!component) throw new Error(`${s.id === 'sink' ? 'sink' : s.id}.type: no sink named "${type}" (registered: ${ctx.registry.types('sink').join(', ')})`);
    // Sinks read the options they know from the whole config (`upload` and their object refine it).
    const options = { ...(agent as unknown as Record<string, unknown>), ...((cfg.upload as object) ?? {}), ...own };
    const sink = component.create(options, { id: s.id, logger: ctx.logger, agent, credits: ctx.hub.budgets.forSink(name) as never, dataPath: cfg.agent_data_path }) as AgentSink;
    ctx.hub.setSink(name, sink, component.accepts);
    let stopped = false;
    const part: SinkPart = {
      kind: 'sink',
      sink,
      stop: async (deadline) => {
        await sink.stop(deadline);
        // A successor under the same name may be current already (a replace): leave it.
        if (!stopped && ctx.hub.sinks.get(name) === sink) ctx.hub.setSink(name, undefined);
        stopped = true;
      },
      status: () => ({ ...sink.status(), counters: sink.counters }),
    };
    if (sink.reconfigure) part.reconfigure = (values) => sink.reconfigure!(values);
    else if (sink.setServerAttributes) part.reconfigure = (values) => sink.setServerAttributes!(values.server_attributes as Record<string, string>);
    return part;
  };
  return {
    key: s.key,
    kind: 'sink',
    name,
    type,
    slice: { type, options: slice },
    live,
    create,
    // Swap without losing queued events: new writes go to the new sink first (create() makes
    // it current), then it takes the old one's unacked batches (their streams are this sink's views).
    async replace(old) {
      const next = create();
      const pending = old.sink.takePending?.() ?? [];
      for (const b of pending) next.sink.write(b);
      await old.stop(ctx.stopDeadlineMs);
      ctx.logger.info(`Sink "${name}" replaced; ${pending.length} queued batches moved to the new one.`);
      return next;
    },
  };
}

/** The `sink` section of the status: the first sink (only counters when it failed to start). */
export function sinkStatus(p: Listed<SinkPart> | undefined): AgentStatus['sink'] {
  return (p?.part?.status() as AgentStatus['sink'] | undefined) ?? { counters: undefined };
}

/** The `sinks` section: every sink by name, with what it holds back. */
export function sinksStatus(list: Listed<SinkPart, SinkPartSpec>[], ctx: Pick<PartContext, 'hub'> | undefined): Record<string, SinkStatus> {
  const out: Record<string, SinkStatus> = {};
  for (const p of list) {
    out[p.spec.name] = {
      type: p.spec.type,
      ...(p.part?.status() ?? { counters: undefined }),
      ...(p.error ? { error: p.error } : {}),
      ...(ctx ? { routing: ctx.hub.routing(p.spec.name) } : {}),
    } as SinkStatus;
  }
  return out;
}
