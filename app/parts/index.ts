/**
 * Every part a config describes, one builder per kind, and the agent's status collected from the
 * running part records by kind.
 */
import os from 'node:os';
import type { AgentConfig } from '../../lib/config/types.js';
import type { AgentStatus, ConfigStatus } from '../../lib/status/types.js';
import { VERSION } from '../../lib/version.js';
import type { PartSpec, Supervisor } from '../supervisor.js';
import type { KindSpec, Listed, Part } from './types.js';
import type { Services } from './services.js';
import { sinkSpecs, sinkStatus, sinksStatus, sinkMode, sinksOf, type SinkPart, type SinkPartSpec } from './sinkPart.js';
import { logSpecs, logStatus, type LogPart, type LogPartSpec } from './logPart.js';
import { sourceSpecs, sourceStatus, type PluginSourcePart, type SourcePartSpec } from './sourcePart.js';
import { monitorSpecs, monitorStatus, type MonitorPart, type MonitorPartSpec } from './monitorPart.js';
import { apmSpecs, apmStatus, type ApmPartRecord } from './apmPart.js';
import { httpEndpointSpecs } from './httpEndpointPart.js';
import { otlpReceiverSpecs, otlpReceiverStatus, type OtlpReceiverPart } from './otlpReceiverPart.js';

/** The specs of every part `cfg` describes (`startup`: the first config of this process). */
export function partSpecs(cfg: AgentConfig, s: Services, startup: boolean): PartSpec[] {
  // The sink names first: the parts built next resolve their routes against them.
  s.hub.configure(sinksOf(cfg).map((x) => x.name));
  return [...sinkSpecs(cfg, s), ...logSpecs(cfg, startup, s), ...sourceSpecs(cfg, s), ...monitorSpecs(cfg, s), ...apmSpecs(cfg, s), ...otlpReceiverSpecs(cfg, s), ...httpEndpointSpecs(cfg, s)] as PartSpec[];
}

export interface StatusInputs {
  startedAt: number;
  config: AgentConfig | undefined;
  configStatus: ConfigStatus;
  services: Services | undefined;
  supervisor: Supervisor | undefined;
}

export function collectStatus({ startedAt, config, configStatus, services, supervisor }: StatusInputs): AgentStatus {
  const listed = supervisor?.list() ?? [];
  /** The parts of one kind, typed (those that failed to start included). */
  const of = <P extends Part, S extends KindSpec<P> = KindSpec<P>>(kind: P['kind']) => listed.filter((p) => p.spec.kind === kind) as unknown as Listed<P, S>[];
  const sources = of<PluginSourcePart, SourcePartSpec>('source').map(sourceStatus);
  const routes = services?.hub.budgets.list().map((r) => ({ sinks: r.route, pendingBytes: r.credits.inUse, totalBytes: r.credits.total, waiting: r.credits.exhausted }));
  return {
    version: VERSION,
    pid: process.pid,
    startedAt,
    now: Date.now(),
    user: safeUser(),
    serverHost: config?.server_attributes.serverHost ?? os.hostname(),
    mode: config ? sinkMode(config) : 'embedded',
    config: configStatus,
    sink: sinkStatus(of<SinkPart>('sink')[0]),
    sinks: sinksStatus(of<SinkPart, SinkPartSpec>('sink'), services),
    ...(routes && routes.length > 1 ? { routes } : {}),
    logs: of<LogPart, LogPartSpec>('log').map(logStatus),
    monitors: of<MonitorPart, MonitorPartSpec>('monitor').map(monitorStatus),
    // Present only with plugin sources, so the status of other configs keeps its shape.
    ...(sources.length > 0 ? { sources } : {}),
    apm: apmStatus(of<ApmPartRecord>('apm')[0]),
    ...(() => {
      const r = otlpReceiverStatus(of<OtlpReceiverPart>('otlp_receiver')[0]);
      return r ? { otlpReceiver: r } : {};
    })(),
    pendingBytes: services?.hub.budgets.inUse ?? 0,
    creditsTotal: services?.hub.budgets.capacity ?? config?.max_pending_bytes ?? 0,
    healthMaxSecs: Number(config?.healthy_max_time_since_last_copy_attempt ?? 60),
  };
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
