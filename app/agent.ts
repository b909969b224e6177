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
import { Subject, concatMap, from } from 'rxjs';
import type { AgentConfig } from '../lib/config/types.js';
import { formatConfigError, type ConfigError } from '../lib/config/load.js';
import type { Logger } from '../lib/types.js';
import { errorMessage } from '../lib/counters.js';
import { Taps } from '../lib/pipeline/taps.js';
import type { Registry } from '../lib/registry.js';
import { createAgentLog, type AgentLog } from '../lib/agentLog.js';
import { silentLogger } from '../lib/logger.js';
import { watchConfigFiles } from '../lib/configWatcher.js';
import { VERSION } from '../lib/version.js';
import type { AgentStatus, ConfigStatus } from '../lib/status/types.js';
import { Supervisor } from './supervisor.js';
import { createDefaultRegistry } from './builtins.js';
import { ConfigState } from './parts/configState.js';
import { openServices, closeServices, leftBehind, type Services, type StopOutcome } from './parts/services.js';
import { partSpecs, collectStatus } from './parts/index.js';
import { needsRestart } from './parts/agentOptions.js';

export type { AgentStatus, ConfigStatus, StopOutcome };

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

const DEFAULT_STOP_MS = 10_000;

export function createAgent(opts: AgentOptions): Agent {
  const registry = opts.registry ?? createDefaultRegistry();
  const taps = new Taps();
  const startedAt = Date.now();
  const stopDeadline = opts.stopDeadlineMs ?? DEFAULT_STOP_MS;
  const state = new ConfigState(opts, registry);
  const configs$ = new Subject<{ config: AgentConfig; done: (r: ReloadOutcome) => void }>();
  let config: AgentConfig | undefined;
  /** The config the agent started with: agent options read only at start keep these values. */
  let startConfig: AgentConfig | undefined;
  let logger: Logger = opts.logger ?? silentLogger;
  let agentLog: AgentLog | undefined;
  let services: Services | undefined;
  let supervisor: Supervisor | undefined;
  let started: Promise<void> | undefined;
  let stopping: Promise<StopOutcome> | undefined;
  let stopWatcher: (() => Promise<void>) | undefined;

  /** Applies a validated and build-checked config: the supervisor restarts what changed. */
  async function apply(cfg: AgentConfig): Promise<ReloadOutcome> {
    const first = config === undefined;
    config = cfg;
    agentLog?.setDebugLevel(cfg.debug_level);
    const report = await supervisor!.apply(partSpecs(cfg, services!, first));
    const restart = needsRestart(startConfig!, cfg);
    const newly = state.needsRestart(restart);
    if (newly.length) logger.warn(`Configuration: ${newly.join(', ')} changed; the new value takes effect only after a restart (sluice restart).`);
    if (!first) {
      state.status.lastChanged = Date.now();
      logger.info(`New configuration applied: ${report.started.length} started, ${report.restarted.length} restarted, ${report.reconfigured.length} reconfigured, ${report.stopped.length} stopped, ${report.unchanged.length} unchanged.`);
    }
    return { ok: report.failed.length === 0, ...report, needsRestart: restart, errors: report.failed.map((f) => `${f.key}: ${f.error}`) };
  }

  async function reload(objectConfig?: Record<string, unknown>): Promise<ReloadOutcome> {
    if (!supervisor || stopping) return { ok: false, errors: ['agent is not running'] };
    const result = await state.load(objectConfig);
    if (!result.ok) {
      logger.error(`Bad configuration seen; using the last good configuration.\n${state.status.errors.join('\n')}`);
      return { ok: false, errors: state.status.errors };
    }
    return new Promise<ReloadOutcome>((resolve) => configs$.next({ config: result.config, done: resolve }));
  }

  async function doStart(): Promise<void> {
    const result = await state.load();
    if (!result.ok) throw new ConfigInvalidError(result.errors);
    const cfg = (startConfig = result.config);
    if (!opts.logger) {
      // Scalyr's rotation: at log_rotation_max_bytes, keeping log_rotation_backup_count copies (either 0: never rotate).
      const rotate = cfg.log_rotation_backup_count > 0 ? cfg.log_rotation_max_bytes : 0;
      logger = agentLog = createAgentLog({ dir: cfg.agent_log_path, debugLevel: cfg.debug_level, console: opts.consoleLog, maxBytes: rotate, maxFiles: cfg.log_rotation_backup_count + 1 });
    }
    logger.info(`sluice ${VERSION} starting (pid ${process.pid}); configuration ${result.files.join(', ') || '(object)'}.`);
    for (const w of state.status.warnings) logger.warn(`Configuration: ${w}`);
    if (!cfg.api_key) logger.info(`No api_key configured: events go to the embedded default sink under ${cfg.embedded_output}.`);
    services = await openServices(cfg, { logger, registry, taps, stopDeadlineMs: stopDeadline, configDir: state.dir, agentStatus: () => agent.status() });
    supervisor = new Supervisor(logger, { stopDeadlineMs: stopDeadline });
    configs$.pipe(concatMap(({ config: c, done }) => from(apply(c).then(done, (err) => done({ ok: false, errors: [errorMessage(err)] }))))).subscribe();
    const first = await new Promise<ReloadOutcome>((resolve) => configs$.next({ config: cfg, done: resolve }));
    if (first.errors?.length) logger.warn(`Some parts did not start: ${first.errors.join('; ')}`);
    if (opts.configPath && opts.watchConfig !== false) stopWatcher = await watchConfigFiles(opts.configPath, cfg.config_directory, () => void reload());
  }

  async function doStop(deadlineMs: number): Promise<StopOutcome> {
    if (started) await started.catch(() => undefined);
    await stopWatcher?.();
    configs$.complete();
    // Sources first (they wait for the sinks to flush what they sent), the sinks last.
    const isSink = (k: string) => k === 'sink' || k.startsWith('sink:');
    await supervisor?.stopAll((keys) => [...keys.filter((k) => !isSink(k)), ...keys.filter(isSink)], deadlineMs);
    await closeServices(services);
    logger.info('sluice stopped.');
    await agentLog?.close();
    return leftBehind(services);
  }

  const agent: Agent = {
    taps,
    registry,
    get config() {
      return config;
    },
    start: () => (started ??= doStart()),
    stop(deadlineMs = stopDeadline) {
      // Bounded: stop resolves by the deadline (plus a margin) even if a part hangs.
      stopping ??= Promise.race([doStop(deadlineMs), new Promise<StopOutcome>((r) => setTimeout(() => r(leftBehind(services)), deadlineMs + 2000).unref())]).catch((err) => {
        logger.error(`Stop failed: ${errorMessage(err)}`);
        return leftBehind(services);
      });
      return stopping;
    },
    reload,
    status: () => collectStatus({ startedAt, config, configStatus: state.status, services, supervisor }),
  };
  return agent;
}
