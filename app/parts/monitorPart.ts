/**
 * The monitor part: one `monitors[]` entry, sampled by its monitor component. Its restart key is
 * the values of what the monitor entry (`MONITOR_PART_OPTIONS`: its keys and its route) and the monitor's component
 * declare; a monitor the registry does not hold (a plugin module by path) declares nothing, so
 * any change to its entry restarts it.
 */
import type { AgentConfig, MonitorConfig } from '../../lib/config/types.js';
import type { ComponentCounters } from '../../lib/types.js';
import { errorMessage } from '../../lib/counters.js';
import { logBacklog } from '../../lib/checkpoints/backlog.js';
import type { LogBacklog } from '../../lib/component.js';
import type { AgentStatus } from '../../lib/status/types.js';
import { createMonitorSource, type MonitorSource, type MonitorStatus } from '../../sources/monitors/monitorSource.js';
import { MONITOR_PART_OPTIONS, routeOf } from './routes.js';
import { assignMonitorIds, monitorName } from '../../sources/monitors/metricLine.js';
import { declared, derive, undeclared, type Built, type KindSpec, type Listed, type Part, type PartContext } from './types.js';

type MonitorItem = AgentStatus['monitors'][number];

export interface MonitorPart extends Part<'monitor', { status: MonitorStatus; counters: ComponentCounters }> {
  source: MonitorSource;
}

export interface MonitorPartSpec extends KindSpec<MonitorPart> {
  /** `<module>(<id>)`. */
  name: string;
}

/** What a monitor part is built from: the monitor entry's declarations and the monitor's component. */
export function monitorPartComponents(m: MonitorConfig, ctx: Pick<PartContext, 'registry'>): Built[] {
  const module = String(m.module ?? '');
  return [{ components: [declared('monitor entry', MONITOR_PART_OPTIONS), ctx.registry.component('monitor', module) ?? undeclared(`monitor:${module}`)], own: m }];
}

export function monitorSpec(cfg: AgentConfig, m: MonitorConfig, id: string, ctx: PartContext): MonitorPartSpec {
  const name = monitorName(m.module, id);
  const { slice, live } = derive(monitorPartComponents(m, ctx), cfg);
  return {
    key: `monitor:${name}`,
    kind: 'monitor',
    name,
    slice,
    live,
    create: () => {
      const source = createMonitorSource(m, {
        logger: ctx.logger,
        agent: cfg,
        registry: ctx.registry,
        id,
        baseDir: ctx.configDir,
        services: { logBacklog: ((p: string) => logBacklog(ctx.checkpoints, p)) satisfies LogBacklog },
      });
      const route = routeOf(m);
      const sub = source.batches$.subscribe({ next: (b) => ctx.hub.deliver(b, route), error: (err) => ctx.logger.error(`Monitor ${name} stopped: ${errorMessage(err)}`) });
      return {
        kind: 'monitor',
        source,
        status: () => ({ status: source.status(), counters: source.counters }),
        async stop() {
          sub.unsubscribe();
          await source.stop();
        },
      };
    },
  };
}

export function monitorSpecs(cfg: AgentConfig, ctx: PartContext): MonitorPartSpec[] {
  const ids = assignMonitorIds(cfg.monitors);
  return cfg.monitors.map((m, i) => monitorSpec(cfg, m, ids[i], ctx));
}

/** One `monitors` item of the status. */
export function monitorStatus(p: Listed<MonitorPart, MonitorPartSpec>): MonitorItem {
  const s = p.part?.status();
  return { key: p.spec.name, status: s?.status, counters: s?.counters, error: p.error };
}
