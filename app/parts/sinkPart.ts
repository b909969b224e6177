/**
 * The sink part: the one registered sink the config selects (`sink.type`, else `addEvents` with
 * an `api_key`, else the embedded default). Its restart key is the values of the options that
 * sink declares; its live options (`server_attributes`) are applied to the running sink.
 */
import type { AgentConfig } from '../../lib/config/types.js';
import type { AgentStatus } from '../../lib/status/types.js';
import { derive, undeclared, type KindSpec, type Listed, type Part, type PartContext } from './types.js';
import type { AgentSink } from './hub.js';

export interface SinkPart extends Part<'sink', AgentStatus['sink']> {
  sink: AgentSink;
}

/** The sink type: `sink.type` (a registered type, e.g. a plugin's), else addEvents with an api_key, else the embedded default. */
export function sinkType(cfg: AgentConfig): string {
  return (cfg.sink as { type?: string } | undefined)?.type ?? (cfg.api_key ? 'addEvents' : 'embedded');
}

export function sinkSpec(cfg: AgentConfig, ctx: PartContext): KindSpec<SinkPart> {
  const type = sinkType(cfg);
  const component = ctx.registry.component('sink', type);
  // Its own options live in the `sink` object; global ones are read from the agent config.
  const own = (cfg.sink as Record<string, unknown> | undefined) ?? {};
  const { slice, live } = derive([{ components: [component ?? undeclared(type)], own }], cfg);
  const create = (): SinkPart => {
    if (!component) throw new Error(`sink.type: no sink named "${type}" (registered: ${ctx.registry.types('sink').join(', ')})`);
    // Sinks read the options they know from the whole config (`upload` and `sink` refine it).
    const options = { ...(cfg as unknown as Record<string, unknown>), ...((cfg.upload as object) ?? {}), ...own };
    const sink = component.create(options, { id: 'sink', logger: ctx.logger, agent: cfg, credits: ctx.credits, dataPath: cfg.agent_data_path }) as AgentSink;
    ctx.hub.sink = sink;
    const part: SinkPart = {
      kind: 'sink',
      sink,
      stop: (deadline) => sink.stop(deadline),
      status: () => ({ ...sink.status(), counters: sink.counters }),
    };
    if (sink.reconfigure) part.reconfigure = (values) => sink.reconfigure!(values);
    else if (sink.setServerAttributes) part.reconfigure = (values) => sink.setServerAttributes!(values.server_attributes as Record<string, string>);
    return part;
  };
  return {
    key: 'sink',
    kind: 'sink',
    slice: { type, options: slice },
    live,
    create,
    // Swap without losing queued events: new writes go to the new sink first (create() makes
    // it current), then it takes the old one's unacked batches.
    async replace(old) {
      const next = create();
      const pending = old.sink.takePending?.() ?? [];
      for (const b of pending) next.sink.write(b);
      await old.stop(ctx.stopDeadlineMs);
      ctx.logger.info(`Upload sink replaced; ${pending.length} queued batches moved to the new sink.`);
      return next;
    },
  };
}

/** The `sink` section of the status (only counters when the sink failed to start). */
export function sinkStatus(p: Listed<SinkPart> | undefined): AgentStatus['sink'] {
  return p?.part?.status() ?? { counters: undefined };
}
