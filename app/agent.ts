/**
 * `createAgent`: the whole pipeline from a config file or object, embeddable in a Node app.
 *
 * Data flow: parts (log entries, monitors, plugin sources, the APM intake) write batches into one
 * hub (`parts/hub.ts`) that hands them to the current sink (Scalyr `addEvents`, the embedded
 * NDJSON default when no `api_key` is set, or a plugin's). Sinks ack streams; acks advance
 * checkpoints and return read credits.
 *
 * Each part kind has its builder under `parts/`: it turns the config into a `PartSpec` whose
 * restart key and live values are derived from the declarations of the components the part is
 * built from. Configuration is a stream: every validated config goes through `concatMap` into the
 * supervisor, which restarts only the parts whose key changed and hands changed live values to
 * the others (docs/design/reload.md). Agent options read only at start are reported as needing a
 * restart. A bad config is reported and the last good one keeps running.
 *
 * The agent never calls `process.exit` and never throws into the host's event loop: `start()`
 * rejects with {@link ConfigInvalidError} when the first config is bad; later problems are
 * logged, counted and shown in `status()`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Subject, concatMap, from } from 'rxjs';
import type { AgentConfig } from '../lib/config/types.js';
import { formatConfigError, type ConfigError, type ConfigResult } from '../lib/config/load.js';
import type { Logger } from '../lib/types.js';
import { errorMessage } from '../lib/counters.js';
import { Credits } from '../lib/pipeline/credits.js';
import { ReadBuffers } from '../lib/pipeline/readBuffers.js';
import { Taps } from '../lib/pipeline/taps.js';
import type { Registry } from '../lib/registry.js';
import { createAgentLog, type AgentLog } from '../lib/agentLog.js';
import { silentLogger } from '../lib/logger.js';
import { CheckpointStore } from '../lib/checkpoints/store.js';
import { watchConfigFiles } from '../lib/configWatcher.js';
import { VERSION } from '../lib/version.js';
import type { AgentStatus, ConfigStatus } from '../lib/status/types.js';
import { Supervisor, type PartSpec } from './supervisor.js';
import { createDefaultRegistry } from './builtins.js';
import { loadAgentConfig } from './config.js';
import { buildCheck } from './check.js';
import { createHub } from './parts/hub.js';
import type { KindSpec, Listed, Part, PartContext } from './parts/types.js';
import { sinkSpec, sinkStatus, sinkType, type SinkPart } from './parts/sinkPart.js';
import { logSpecs, logStatus, type LogPart, type LogPartSpec } from './parts/logPart.js';
import { monitorSpecs, monitorStatus, type MonitorPart, type MonitorPartSpec } from './parts/monitorPart.js';
import { apmSpecs, apmStatus, type ApmPartRecord } from './parts/apmPart.js';
import { httpEndpointSpecs } from './parts/httpEndpointPart.js';
import { sourceSpecs, sourceStatus, type PluginSourcePart, type SourcePartSpec } from './parts/sourcePart.js';
import { needsRestart } from './parts/agentOptions.js';

export type { AgentStatus, ConfigStatus };

export interface AgentOptions {
  /** Path of agent.json (watched for changes unless `watchConfig: false`). */
  configPath?: string;
  /** A config object instead of a file (embedding). Relative paths resolve against `baseDir`. */
  config?: Record<string, unknown>;
  baseDir?: string;
  /** Component registry; defaults to the built-ins. Plugins named in the config register into it. */
  registry?: Registry;
  /** Logger; defaults to winston writing `<agent_log_path>/agent.log`. */
  logger?: Logger;
  /** Also log to the console (the CLI's `--foreground`). */
  consoleLog?: boolean;
  env?: NodeJS.ProcessEnv;
  hostname?: string;
  watchConfig?: boolean;
  /** Deadline for `stop()` when none is given. */
  stopDeadlineMs?: number;
}

export class ConfigInvalidError extends Error {
  constructor(readonly errors: ConfigError[]) {
    super(`Invalid configuration:\n${errors.map(formatConfigError).join('\n')}`);
    this.name = 'ConfigInvalidError';
  }
}

export interface Agent {
  start(): Promise<void>;
  /** Stops everything within the deadline; resolves with what was left undelivered. */
  stop(deadlineMs?: number): Promise<StopOutcome>;
  /** Re-reads the config files (or re-applies an object) now. */
  reload(config?: Record<string, unknown>): Promise<ReloadOutcome>;
  status(): AgentStatus;
  readonly taps: Taps;
  readonly config: AgentConfig | undefined;
  readonly registry: Registry;
}

export interface ReloadOutcome {
  ok: boolean;
  errors?: string[];
  started?: string[];
  stopped?: string[];
  restarted?: string[];
  /** Parts that took changed live options without a restart (also in `unchanged`). */
  reconfigured?: string[];
  unchanged?: string[];
  /** Agent options that differ from those the agent started with and take effect only after a restart. */
  needsRestart?: string[];
}

/** What `stop()` left behind, once the sink (stopped last) has stopped. */
export interface StopOutcome {
  /** Bytes read but not acknowledged by the sink (the read credits still in use). */
  pendingBytes: number;
  /** The sink's own figures, when it reports them. */
  sinkPendingBytes?: number;
  batchesPending?: number;
}

const DEFAULT_STOP_MS = 10_000;

/** The running agent's pieces, made once at start. */
interface Running {
  ctx: PartContext & { readBuffers: ReadBuffers; initialPositions: Record<string, number> };
  supervisor: Supervisor;
  /** The config the agent started with: agent options read only at start keep these values. */
  startConfig: AgentConfig;
}

export function createAgent(opts: AgentOptions): Agent {
  const registry = opts.registry ?? createDefaultRegistry();
  const taps = new Taps();
  const startedAt = Date.now();
  const stopDeadline = opts.stopDeadlineMs ?? DEFAULT_STOP_MS;
  const configStatus: ConfigStatus = { status: 'good', files: [], errors: [], warnings: [], lastChecked: null, lastChanged: null, lastGood: null };
  const configs$ = new Subject<{ config: AgentConfig; done: (r: ReloadOutcome) => void }>();
  const configDir = opts.configPath ? path.dirname(path.resolve(opts.configPath)) : (opts.baseDir ?? process.cwd());
  let config: AgentConfig | undefined;
  let logger: Logger = opts.logger ?? silentLogger;
  let agentLog: AgentLog | undefined;
  let running: Running | undefined;
  let started: Promise<void> | undefined;
  let stopping: Promise<StopOutcome> | undefined;
  let stopWatcher: (() => Promise<void>) | undefined;

  /** Every part the config describes, one builder per kind. */
  function specsFor(cfg: AgentConfig, r: Running, startup: boolean): PartSpec[] {
    const { ctx } = r;
    return [sinkSpec(cfg, ctx), ...logSpecs(cfg, startup, ctx), ...sourceSpecs(cfg, ctx), ...monitorSpecs(cfg, ctx), ...apmSpecs(cfg, ctx), ...httpEndpointSpecs(cfg, ctx)] as PartSpec[];
  }

  /** Applies a validated and build-checked config (plugins are loaded by the build check). */
  async function applyConfig(cfg: AgentConfig, r: Running): Promise<ReloadOutcome> {
    const first = config === undefined;
    config = cfg;
    agentLog?.setDebugLevel(cfg.debug_level);
    const report = await r.supervisor.apply(specsFor(cfg, r, first));
    const restartNeeded = needsRestart(r.startConfig, cfg);
    const newly = restartNeeded.filter((o) => !(configStatus.needsRestart ?? []).includes(o));
    configStatus.needsRestart = restartNeeded;
    if (newly.length) logger.warn(`Configuration: ${newly.join(', ')} changed; the new value takes effect only after a restart (sluice restart).`);
    if (!first) {
      configStatus.lastChanged = Date.now();
      logger.info(
        `New configuration applied: ${report.started.length} started, ${report.restarted.length} restarted, ${report.reconfigured.length} reconfigured, ${report.stopped.length} stopped, ${report.unchanged.length} unchanged.`,
      );
    }
    return { ok: report.failed.length === 0, ...report, needsRestart: restartNeeded, errors: report.failed.map((f) => `${f.key}: ${f.error}`) };
  }

  /** Loads and build-checks the configuration, recording the outcome in `configStatus`. */
  async function loadChecked(objectConfig?: Record<string, unknown>): Promise<ConfigResult> {
    const env = opts.env ?? process.env;
    const result = await loadAgentConfig({ configPath: opts.configPath, config: objectConfig ?? opts.config, baseDir: opts.baseDir, env, hostname: opts.hostname ?? os.hostname(), registry });
    configStatus.lastChecked = Date.now();
    configStatus.files = result.files;
    configStatus.warnings = result.warnings.map(formatConfigError);
    // Build what the config describes without starting it (plugins, chains, monitor modules):
    // start and reload refuse what `sluice validate` refuses.
    const problems = result.ok ? await buildCheck(result.config, opts.configPath ? path.resolve(opts.configPath) : undefined, registry, configDir) : [];
    const errors = result.ok ? problems.map((message) => ({ path: '', message })) : result.errors;
    configStatus.status = errors.length === 0 ? 'good' : 'bad';
    configStatus.errors = result.ok ? problems : result.errors.map(formatConfigError);
    if (result.ok) configStatus.lastGood = Date.now();
    return errors.length === 0 ? result : { ok: false, errors, warnings: result.warnings, files: result.files };
  }

  async function reload(objectConfig?: Record<string, unknown>): Promise<ReloadOutcome> {
    if (!running || stopping) return { ok: false, errors: ['agent is not running'] };
    const result = await loadChecked(objectConfig);
    if (!result.ok) {
      logger.error(`Bad configuration seen; using the last good configuration.\n${configStatus.errors.join('\n')}`);
      return { ok: false, errors: configStatus.errors };
    }
    return new Promise<ReloadOutcome>((resolve) => configs$.next({ config: result.config, done: resolve }));
  }

  async function doStart(): Promise<void> {
    const result = await loadChecked();
    if (!result.ok) throw new ConfigInvalidError(result.errors);
    const cfg = result.config;
    // The agent's own log is collected from the size it had when this process started (Scalyr).
    const ownLog = path.join(cfg.agent_log_path, 'agent.log');
    const initialPositions = { [ownLog]: fileSize(ownLog) };
    if (!opts.logger) logger = agentLog = createAgentLog({ dir: cfg.agent_log_path, debugLevel: cfg.debug_level, console: opts.consoleLog });
    logger.info(`sluice ${VERSION} starting (pid ${process.pid}); configuration ${result.files.join(', ') || '(object)'}.`);
    for (const w of configStatus.warnings) logger.warn(`Configuration: ${w}`);
    if (!cfg.api_key) logger.info(`No api_key configured: events go to the embedded default sink under ${cfg.embedded_output}.`);
    const checkpoints = await CheckpointStore.open(cfg.agent_data_path, {
      logger,
      maxAgeSecs: cfg.max_allowed_checkpoint_age,
      ignorePathGlobs: (cfg.ignore_checkpoints_on_startup_path_globs as string[] | undefined) ?? [],
    });
    const ctx = {
      logger,
      registry,
      taps,
      hub: createHub(taps, logger),
      credits: new Credits(cfg.max_pending_bytes),
      // Read pages reused across files once acknowledged (at most the read budget's worth kept).
      readBuffers: new ReadBuffers(cfg.read_page_size, Math.ceil(cfg.max_pending_bytes / cfg.read_page_size)),
      checkpoints,
      stopDeadlineMs: stopDeadline,
      configDir,
      agentStatus: () => agent.status(),
      initialPositions,
    };
    const r: Running = (running = { ctx, supervisor: new Supervisor(logger, { stopDeadlineMs: stopDeadline }), startConfig: cfg });
    configs$.pipe(concatMap(({ config: c, done }) => from(applyConfig(c, r).then(done, (err) => done({ ok: false, errors: [errorMessage(err)] }))))).subscribe();
    const first = await new Promise<ReloadOutcome>((resolve) => configs$.next({ config: cfg, done: resolve }));
    if (first.errors?.length) logger.warn(`Some parts did not start: ${first.errors.join('; ')}`);
    if (opts.configPath && opts.watchConfig !== false) stopWatcher = await watchConfigFiles(opts.configPath, cfg.config_directory, () => void reload());
  }

  async function doStop(deadlineMs: number): Promise<StopOutcome> {
    if (started) await started.catch(() => undefined);
    await stopWatcher?.();
    configs$.complete();
    // Sources first (they wait for the sink to flush what they sent), the sink last.
    await running?.supervisor.stopAll((keys) => [...keys.filter((k) => k !== 'sink'), ...keys.filter((k) => k === 'sink')], deadlineMs);
    await running?.ctx.checkpoints.close();
    running?.ctx.readBuffers.clear();
    logger.info('sluice stopped.');
    await agentLog?.close();
    return leftBehind();
  }

  /** What is still read but undelivered: the read credits in use and the last sink's own figures. */
  function leftBehind(): StopOutcome {
    const out: StopOutcome = { pendingBytes: running?.ctx.credits.inUse ?? 0 };
    const sink = running?.ctx.hub.sink?.status() as { bytesPending?: unknown; pendingBytes?: unknown; batchesPending?: unknown } | undefined;
    const sp = sink?.bytesPending ?? sink?.pendingBytes;
    if (typeof sp === 'number') out.sinkPendingBytes = sp;
    if (typeof sink?.batchesPending === 'number') out.batchesPending = sink.batchesPending;
    return out;
  }

  /** The supervisor's parts of one kind, typed (those that failed to start included). */
  function partsOf<P extends Part, S extends KindSpec<P> = KindSpec<P>>(kind: P['kind']): Listed<P, S>[] {
    return (running?.supervisor.list() ?? []).filter((p) => p.spec.kind === kind) as unknown as Listed<P, S>[];
  }

  const agent: Agent = {
    taps,
    registry,
    get config() {
      return config;
    },
    start() {
      started ??= doStart();
      return started;
    },
    stop(deadlineMs = stopDeadline) {
      // Bounded: stop resolves by the deadline (plus a margin) even if a part hangs.
      stopping ??= Promise.race([doStop(deadlineMs), new Promise<StopOutcome>((r) => setTimeout(() => r(leftBehind()), deadlineMs + 2000).unref())]).catch((err) => {
        logger.error(`Stop failed: ${errorMessage(err)}`);
        return leftBehind();
      });
      return stopping;
    },
    reload,
    status(): AgentStatus {
      return {
        version: VERSION,
        pid: process.pid,
        startedAt,
        now: Date.now(),
        user: safeUser(),
        serverHost: config?.server_attributes.serverHost ?? os.hostname(),
        mode: config ? sinkType(config) : 'embedded',
        config: configStatus,
        sink: sinkStatus(partsOf<SinkPart>('sink')[0]),
        logs: partsOf<LogPart, LogPartSpec>('log').map(logStatus),
        monitors: partsOf<MonitorPart, MonitorPartSpec>('monitor').map(monitorStatus),
        ...optional('sources', partsOf<PluginSourcePart, SourcePartSpec>('source').map(sourceStatus)),
        apm: apmStatus(partsOf<ApmPartRecord>('apm')[0]),
        pendingBytes: running?.ctx.credits.inUse ?? 0,
        creditsTotal: running?.ctx.credits.total ?? 0,
        healthMaxSecs: Number(config?.healthy_max_time_since_last_copy_attempt ?? 60),
      };
    },
  };
  return agent;
}

/** `{[name]: list}` when the list is not empty (status keeps its shape for configs without that part kind). */
function optional<K extends string, T>(name: K, list: T[]): { [k in K]?: T[] } {
  return (list.length > 0 ? { [name]: list } : {}) as { [k in K]?: T[] };
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
