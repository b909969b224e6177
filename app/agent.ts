/**
 * `createAgent`: the whole pipeline from a config file or object, embeddable in a Node app.
 *
 * Data flow: sources (log entries, monitors, the APM intake) emit batches into one hub that
 * writes them to the current sink (Scalyr `addEvents`, or the embedded NDJSON default when no
 * `api_key` is set). Sinks ack streams; acks advance checkpoints and return read credits.
 *
 * Configuration is a stream: every validated config goes through `concatMap` into the
 * supervisor, which diffs it by key against the running parts and restarts only what changed
 * (see docs/design/reload.md). A bad config is reported and the last good one keeps running.
 *
 * The agent never calls `process.exit` and never throws into the host's event loop: `start()`
 * rejects with {@link ConfigInvalidError} when the first config is bad; later problems are
 * logged, counted and shown in `status()`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Subject, Subscription, concatMap, from, type Observable } from 'rxjs';
import type { AgentConfig, LogEntryConfig, MonitorConfig } from '../lib/config/types.js';
import { loadConfig, parseConfigObject, formatConfigError, type ConfigError, type ConfigResult } from '../lib/config/load.js';
import type { Batch, Logger, Sink, Stream } from '../lib/types.js';
import { createCounters, errorMessage } from '../lib/counters.js';
import { Credits } from '../lib/pipeline/credits.js';
import { ReadBuffers } from '../lib/pipeline/readBuffers.js';
import { Supervisor, type PartSpec, type RunningPart } from './supervisor.js';
import { Taps } from '../lib/pipeline/taps.js';
import { entryChain, createEntryStats, summarize, type EntryStats } from './logPipeline.js';
import type { Registry } from '../lib/registry.js';
import { createDefaultRegistry } from './builtins.js';
import { createAgentLog, type AgentLog } from '../lib/agentLog.js';
import { silentLogger } from '../lib/logger.js';
import { CheckpointStore } from '../lib/checkpoints/store.js';
import { createLogSource, type LogSource } from '../sources/file/logSource.js';
import { createMonitorSource, type MonitorSource } from '../sources/monitors/monitorSource.js';
import { assignMonitorIds, monitorName } from '../sources/monitors/metricLine.js';
import { renameLogfile } from '../lib/renameLogfile.js';
import { watchConfigFiles } from '../lib/configWatcher.js';
import { buildCheck } from './check.js';
import { VERSION } from '../lib/version.js';
import type { AgentStatus, ConfigStatus } from '../lib/status/types.js';

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
  stop(deadlineMs?: number): Promise<void>;
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
  unchanged?: string[];
}

interface LogPart extends RunningPart {
  kind: 'log';
  entry: LogEntryConfig;
  source: LogSource;
  stats: EntryStats;
  detach(deadlineMs?: number): Promise<void>;
  /** Drops this part's batches still queued in the sink whose streams a successor re-reads (`reread`: their sequence ids); after `stop()`. */
  discardQueued(reread: ReadonlySet<string>): void;
}

interface MonitorPart extends RunningPart {
  kind: 'monitor';
  source: MonitorSource;
}

interface SinkPart extends RunningPart {
  kind: 'sink';
  sink: Sink & { setServerAttributes?(attrs: Record<string, string>): void };
}

const DEFAULT_STOP_MS = 10_000;

export function createAgent(opts: AgentOptions): Agent {
  const registry = opts.registry ?? createDefaultRegistry();
  const taps = new Taps();
  const startedAt = Date.now();
  const stopDeadline = opts.stopDeadlineMs ?? DEFAULT_STOP_MS;
  const configStatus: ConfigStatus = { status: 'good', files: [], errors: [], warnings: [], lastChecked: null, lastChanged: null, lastGood: null };

  let config: AgentConfig | undefined;
  let logger: Logger = opts.logger ?? silentLogger;
  let agentLog: AgentLog | undefined;
  let credits: Credits | undefined;
  /** Read pages reused across files once acknowledged (at most the read budget's worth kept). */
  let readBuffers: ReadBuffers | undefined;
  let checkpoints: CheckpointStore | undefined;
  let supervisor: Supervisor | undefined;
  let firstApply = true;
  let started: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  const configs$ = new Subject<{ config: AgentConfig; done: (r: ReloadOutcome) => void }>();
  let configSub: Subscription | undefined;
  let stopWatcher: (() => Promise<void>) | undefined;
  let ownLogStart: Record<string, number> = {};

  /** The sink every source writes to; replaced (before the old one hands over) on a sink change. */
  let currentSink: SinkPart['sink'] | undefined;

  /** The hub: every source writes here; the current sink takes it. */
  function deliver(batch: Batch): void {
    taps.observe('sink', batch);
    if (currentSink) {
      currentSink.write(batch);
      noSinkLogged = false;
    } else if (!noSinkLogged) {
      // Not acked, so not checkpointed: the data is read again once a sink runs (or after a restart).
      noSinkLogged = true;
      logger.error('No sink is running (see status for why); reading pauses until one starts.');
    }
  }
  let noSinkLogged = false;

  function load(objectConfig?: Record<string, unknown>): ConfigResult {
    const env = opts.env ?? process.env;
    const hostname = opts.hostname ?? os.hostname();
    if (objectConfig ?? opts.config) {
      return parseConfigObject(objectConfig ?? opts.config, { baseDir: opts.baseDir ?? process.cwd(), env, hostname });
    }
    if (!opts.configPath) return { ok: false, errors: [{ path: '', message: 'no config given (configPath or config)' }], warnings: [], files: [] };
    return loadConfig({ path: opts.configPath, env, hostname });
  }

  /** The sink type: `sink.type` (a registered type, e.g. a plugin's), else addEvents with an api_key, else the embedded default. */
  function sinkType(cfg: AgentConfig): string {
    return (cfg.sink as { type?: string } | undefined)?.type ?? (cfg.api_key ? 'addEvents' : 'embedded');
  }

  function sinkSpec(cfg: AgentConfig): PartSpec<SinkPart> {
    const type = sinkType(cfg);
    const slice =
      type === 'embedded'
        ? { type, dir: cfg.embedded_output }
        : {
            type,
            scalyr_server: cfg.scalyr_server,
            api_key: cfg.api_key,
            compression_type: cfg.compression_type,
            compression_level: cfg.compression_level,
            https_proxy: cfg.https_proxy,
            http_proxy: cfg.http_proxy,
            ca_cert_path: cfg.ca_cert_path,
            verify_server_certificate: cfg.verify_server_certificate,
            allow_http: cfg.allow_http,
            max_allowed_request_size: cfg.max_allowed_request_size,
            request_deadline: cfg.request_deadline,
            max_no_success_secs: cfg.max_no_success_secs,
            upload: cfg.upload,
            sink: cfg.sink,
          };
    const create = (): SinkPart => {
      const factory = registry.get('sink', type);
      if (!factory) throw new Error(`sink.type: no sink named "${type}" (registered: ${registry.types('sink').join(', ')})`);
      // Sinks read the options they know from the whole config (`upload` and `sink` refine it).
      const options = { ...(cfg as unknown as Record<string, unknown>), ...((cfg.upload as object) ?? {}), ...((cfg.sink as object) ?? {}) };
      const sink = factory(options, { id: 'sink', logger, agent: cfg, credits: credits!, dataPath: cfg.agent_data_path }) as SinkPart['sink'];
      currentSink = sink;
      return {
        kind: 'sink',
        sink,
        stop: (deadline) => sink.stop(deadline),
        status: () => sink.status(),
      };
    };
    return {
      key: 'sink',
      slice,
      create,
      // Swap without losing queued events: new writes go to the new sink first (create() makes
      // it current), then it takes the old one's unacked batches.
      async replace(old) {
        const next = create();
        const pending = old.sink.takePending?.() ?? [];
        for (const b of pending) next.sink.write(b);
        await old.stop(stopDeadline);
        logger.info(`Upload sink replaced; ${pending.length} queued batches moved to the new sink.`);
        return next;
      },
    };
  }

  function logSpec(cfg: AgentConfig, entry: LogEntryConfig, index: number, startup: boolean): PartSpec<LogPart> {
    const id = `logs[${index}]`;
    const globals = {
      max_line_size: cfg.max_line_size,
      line_completion_wait_time: cfg.line_completion_wait_time,
      read_page_size: cfg.read_page_size,
      log_deletion_delay: cfg.log_deletion_delay,
      max_new_log_detection_time: cfg.max_new_log_detection_time,
    };
    return {
      key: `log:${entry.path}`,
      slice: { entry, globals },
      create: async () => {
        const stats = createEntryStats();
        const perFile = entryChain({ id, entry, agent: cfg, registry, taps, stats, logger, credits: credits! });
        const source = createLogSource(entry, {
          credits: credits!,
          readBuffers,
          checkpoints: checkpoints!,
          logger,
          agent: cfg,
          startup,
          streamAttrs: (realPath: string) => streamAttrs(entry, realPath, logger),
          perFile,
          initialPositions: entry.implicit ? ownLogStart : undefined,
        });
        // The streams this part delivered: a successor re-reads them, so their queued batches go.
        const streams = new WeakSet<Stream>();
        const sub = source.batches$.subscribe({
          next: (b) => {
            streams.add(b.stream);
            deliver(b);
          },
          error: (err) => logger.error(`${id} (${entry.path}) stopped: ${errorMessage(err)}`),
        });
        // The first scan fixes where each existing file starts (its end, unless copy_from_start);
        // wait for it so that lines appended after start() resolves are never taken for old ones.
        await Promise.race([source.ready(), new Promise((r) => setTimeout(r, 5000).unref())]);
        return {
          kind: 'log',
          entry,
          source,
          stats,
          status: () => source.status(),
          async detach(deadline = stopDeadline) {
            // Stop reading, let what is in flight be acknowledged, then checkpoint and give the
            // files up (handles stay open until stop()).
            sub.unsubscribe();
            if (currentSink) await currentSink.flush(deadline);
            await source.detach();
          },
          async stop(deadline = stopDeadline) {
            sub.unsubscribe();
            if (currentSink) await currentSink.flush(deadline);
            await source.stop(deadline);
          },
          discardQueued(reread) {
            // After stop(): this source ignores acks now, and the successor reads these streams
            // again from their checkpoints (only those it found again), so nothing is lost.
            const n = currentSink?.discard?.((s) => streams.has(s) && s.seqId !== undefined && reread.has(s.seqId)) ?? 0;
            if (n > 0) logger.info(`${id} (${entry.path}) restarted: ${n} queued events dropped from the sink; the restarted entry reads them again from its checkpoint.`);
          },
        };
      },
      // A changed entry: the successor resumes from the acknowledged checkpoints while the old
      // source still holds its files open, so a file rotated away and deleted in between is
      // still reachable (nothing acknowledged is re-sent, nothing unacknowledged is lost).
      async replace(old) {
        await old.detach();
        let next: LogPart | undefined;
        try {
          next = await this.create();
          return next;
        } finally {
          await old.stop(stopDeadline);
          if (next) old.discardQueued(next.source.resumedSeqIds());
        }
      },
    };
  }

  function monitorSpec(cfg: AgentConfig, m: MonitorConfig, id: string): PartSpec<MonitorPart> {
    const key = monitorName(m.module, id);
    return {
      key: `monitor:${key}`,
      slice: { m, interval: cfg.global_monitor_sample_interval, jitter: cfg.global_monitor_sample_interval_enable_jitter, logPath: cfg.agent_log_path },
      create: () => {
        const source = createMonitorSource(m, { logger, agent: cfg, registry, id, baseDir: configDir() });
        const sub = source.batches$.subscribe({ next: deliver, error: (err) => logger.error(`Monitor ${key} stopped: ${errorMessage(err)}`) });
        return {
          kind: 'monitor',
          source,
          status: () => source.status(),
          async stop() {
            sub.unsubscribe();
            await source.stop();
          },
        };
      },
    };
  }

  function specsFor(cfg: AgentConfig): PartSpec[] {
    const specs: PartSpec[] = [sinkSpec(cfg) as unknown as PartSpec];
    const startup = firstApply;
    const seen = new Set<string>();
    cfg.logs.forEach((entry, i) => {
      if (seen.has(entry.path)) {
        logger.warn(`logs[${i}]: path ${entry.path} is listed twice; the first entry wins.`);
        return;
      }
      seen.add(entry.path);
      specs.push(logSpec(cfg, entry, i, startup) as unknown as PartSpec);
    });
    const ids = assignMonitorIds(cfg.monitors);
    cfg.monitors.forEach((m, i) => {
      specs.push(monitorSpec(cfg, m, ids[i]) as unknown as PartSpec);
    });
    if (cfg.apm?.enabled) {
      specs.push({
        key: 'apm',
        slice: cfg.apm,
        // Loaded on demand: the APM code (with its SQL parser) costs memory only when used.
        create: async () => (await import('./apmPart.js')).createApmPart(cfg, { logger, deliver, registry }),
      });
    }
    if (cfg.http_endpoint?.enabled) {
      specs.push({
        key: 'http_endpoint',
        slice: cfg.http_endpoint,
        create: async () => {
          const { startHttpEndpoint } = await import('./httpEndpoint.js');
          return startHttpEndpoint(cfg.http_endpoint!, { status: () => agent.status(), logger });
        },
      });
    }
    return specs;
  }

  function configDir(): string {
    return opts.configPath ? path.dirname(path.resolve(opts.configPath)) : (opts.baseDir ?? process.cwd());
  }

  /** Applies a validated and build-checked config (plugins are loaded by the build check). */
  async function applyConfig(cfg: AgentConfig): Promise<ReloadOutcome> {
    const before = config;
    config = cfg;
    agentLog?.setDebugLevel(cfg.debug_level);
    const report = await supervisor!.apply(specsFor(cfg));
    firstApply = false;
    // Live settings: server attributes go into the next request's sessionInfo.
    currentSink?.setServerAttributes?.(cfg.server_attributes);
    if (before) {
      configStatus.lastChanged = Date.now();
      logger.info(
        `New configuration applied: ${report.started.length} started, ${report.restarted.length} restarted, ${report.stopped.length} stopped, ${report.unchanged.length} unchanged.`,
      );
    }
    return { ok: report.failed.length === 0, ...report, errors: report.failed.map((f) => `${f.key}: ${f.error}`) };
  }

  /** Loads the configuration and records the outcome in `configStatus`. */
  function loadAndRecord(objectConfig?: Record<string, unknown>): ConfigResult {
    const result = load(objectConfig);
    configStatus.lastChecked = Date.now();
    configStatus.files = result.files;
    configStatus.warnings = result.warnings.map(formatConfigError);
    configStatus.status = result.ok ? 'good' : 'bad';
    configStatus.errors = result.ok ? [] : result.errors.map(formatConfigError);
    if (result.ok) configStatus.lastGood = Date.now();
    return result;
  }

  /**
   * Builds what the config describes without starting it (plugins, operator chains, monitor
   * modules): what `sluice validate` checks, so start and reload refuse what validate refuses.
   */
  async function buildProblems(cfg: AgentConfig): Promise<ConfigError[]> {
    const problems = await buildCheck(cfg, opts.configPath ? path.resolve(opts.configPath) : undefined, registry, configDir());
    if (problems.length === 0) return [];
    configStatus.status = 'bad';
    configStatus.errors = problems;
    return problems.map((message) => ({ path: '', message }));
  }

  async function reload(objectConfig?: Record<string, unknown>): Promise<ReloadOutcome> {
    if (!supervisor || stopping) return { ok: false, errors: ['agent is not running'] };
    const result = loadAndRecord(objectConfig);
    if (result.ok) await buildProblems(result.config);
    if (!result.ok || configStatus.status === 'bad') {
      logger.error(`Bad configuration seen; using the last good configuration.\n${configStatus.errors.join('\n')}`);
      return { ok: false, errors: configStatus.errors };
    }
    return new Promise<ReloadOutcome>((resolve) => configs$.next({ config: result.config, done: resolve }));
  }

  async function doStart(): Promise<void> {
    const result = loadAndRecord();
    if (!result.ok) throw new ConfigInvalidError(result.errors);
    const cfg = result.config;
    const problems = await buildProblems(cfg);
    if (problems.length) throw new ConfigInvalidError(problems);
    // The agent's own log is collected from the size it had when this process started (Scalyr).
    ownLogStart = { [path.join(cfg.agent_log_path, 'agent.log')]: fileSize(path.join(cfg.agent_log_path, 'agent.log')) };
    if (!opts.logger) {
      agentLog = createAgentLog({ dir: cfg.agent_log_path, debugLevel: cfg.debug_level, console: opts.consoleLog });
      logger = agentLog;
    }
    logger.info(`sluice ${VERSION} starting (pid ${process.pid}); configuration ${result.files.join(', ') || '(object)'}.`);
    for (const w of configStatus.warnings) logger.warn(`Configuration: ${w}`);
    if (!cfg.api_key) logger.info(`No api_key configured: events go to the embedded default sink under ${cfg.embedded_output}.`);
    credits = new Credits(cfg.max_pending_bytes);
    const pageSize = cfg.read_page_size;
    readBuffers = new ReadBuffers(pageSize, Math.ceil(cfg.max_pending_bytes / pageSize));
    checkpoints = await CheckpointStore.open(cfg.agent_data_path, {
      logger,
      maxAgeSecs: cfg.max_allowed_checkpoint_age,
      ignorePathGlobs: (cfg.ignore_checkpoints_on_startup_path_globs as string[] | undefined) ?? [],
    });
    supervisor = new Supervisor(logger, { stopDeadlineMs: stopDeadline });
    configSub = configs$
      .pipe(concatMap(({ config: c, done }) => from(applyConfig(c).then(done, (err) => done({ ok: false, errors: [errorMessage(err)] })))))
      .subscribe();
    const first = await new Promise<ReloadOutcome>((resolve) => configs$.next({ config: cfg, done: resolve }));
    if (first.errors?.length) logger.warn(`Some parts did not start: ${first.errors.join('; ')}`);
    if (opts.configPath && opts.watchConfig !== false) {
      stopWatcher = await watchConfigFiles(opts.configPath, cfg.config_directory, () => {
        void reload();
      });
    }
  }

  async function doStop(deadlineMs: number): Promise<void> {
    if (started) await started.catch(() => undefined);
    await stopWatcher?.();
    configSub?.unsubscribe();
    // Sources first (they wait for the sink to flush what they sent), the sink last.
    await supervisor?.stopAll((keys) => [...keys.filter((k) => k !== 'sink'), ...keys.filter((k) => k === 'sink')], deadlineMs);
    await checkpoints?.close();
    readBuffers?.clear();
    logger.info('sluice stopped.');
    await agentLog?.close();
  }

  const agent: Agent = {
    taps,
    registry,
    get config() {
      return config;
    },
    start() {
      if (!started) started = doStart();
      return started;
    },
    stop(deadlineMs = stopDeadline) {
      if (!stopping) {
        const work = doStop(deadlineMs);
        // Bounded: stop resolves by the deadline (plus a margin) even if a part hangs.
        stopping = Promise.race([work, new Promise<void>((r) => setTimeout(r, deadlineMs + 2000).unref())]).catch((err) =>
          logger.error(`Stop failed: ${errorMessage(err)}`),
        );
      }
      return stopping;
    },
    reload,
    status(): AgentStatus {
      const sinkPart = supervisor?.get<SinkPart>('sink');
      const parts = supervisor?.list() ?? [];
      return {
        version: VERSION,
        pid: process.pid,
        startedAt,
        now: Date.now(),
        user: safeUser(),
        serverHost: config?.server_attributes.serverHost ?? os.hostname(),
        mode: config ? sinkType(config) : 'embedded',
        config: configStatus,
        sink: { ...(sinkPart?.sink.status() ?? {}), counters: sinkPart?.sink.counters },
        logs: parts
          .filter((p) => p.key.startsWith('log:'))
          .map((p) => {
            const lp = p.part as LogPart | undefined;
            return {
              key: p.key,
              path: p.key.slice(4),
              files: lp?.source.status() ?? [],
              counters: lp ? summarize(lp.source.counters, lp.stats) : createCounters(),
              stages: lp?.stats.stages,
              redactions: lp?.stats.redaction.redactedLines ?? 0,
              droppedBySampling: lp ? { lines: lp.stats.sampling.droppedLines, bytes: lp.stats.sampling.droppedBytes } : { lines: 0, bytes: 0 },
              error: p.error,
            };
          }),
        monitors: parts
          .filter((p) => p.key.startsWith('monitor:'))
          .map((p) => {
            const mp = p.part as MonitorPart | undefined;
            return { key: p.key.slice(8), status: mp?.source.status(), counters: mp?.source.counters, error: p.error };
          }),
        apm: parts.find((p) => p.key === 'apm')?.part?.status?.(),
        pendingBytes: credits?.inUse ?? 0,
        creditsTotal: credits?.total ?? 0,
        healthMaxSecs: Number(config?.healthy_max_time_since_last_copy_attempt ?? 60),
      };
    },
  };
  return agent;
}

/** The attributes every event of a file carries: the entry's attributes plus `logfile`. */
export function streamAttrs(entry: LogEntryConfig, realPath: string, logger: Logger): Record<string, string> {
  const attrs: Record<string, string> = { ...entry.attributes };
  if (attrs.logfile === undefined && attrs.filename === undefined) {
    if (entry.rename_logfile) {
      const r = renameLogfile(realPath, entry.rename_logfile);
      if (r.warning) logger.warn(`rename_logfile for ${realPath}: ${r.warning}`);
      attrs.logfile = r.logfile;
      if (r.logfile !== realPath) attrs.original_file = realPath;
    } else {
      attrs.logfile = realPath;
    }
  }
  return attrs;
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

export type { Observable };
