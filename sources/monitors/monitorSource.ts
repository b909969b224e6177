/**
 * One monitor entry as a source of metric Batches (behavior §6.1, §6.2).
 *
 * Scalyr's monitors write lines to `<agent_log_path>/<module>.log` which is then shipped with
 * `parser: agent-metrics`; sluice skips the file and emits the same lines directly as a stream
 * of kind `metric` with that path and attributes, one event per metric line.
 *
 * Promises:
 * - the module is resolved lazily through the registry (a monitor's type or alias, e.g. Scalyr's
 *   `scalyr_agent.builtin_monitors.<name>`; a dotted name's last part), else a user ES module /
 *   package; a component's `check` runs on the entry before it is created;
 * - the options it reads are `MONITOR_ENTRY_OPTIONS` (entry keys and top-level ones), read once
 *   at creation, with the defaults of their declarations;
 * - sampling runs on a timer: `sample_interval` (default `global_monitor_sample_interval`),
 *   after an initial jitter (§6.2) unless `global_monitor_sample_interval_enable_jitter: false`
 *   or the component is `longLived` (a listener starts at once);
 * - at each tick the factory's Observable is subscribed; what it emits until it completes is
 *   that tick's sample. A tick that finds the previous subscription still running is skipped
 *   and counted (runs never pile up); an Observable that never completes is simply a
 *   long-lived stream of samples;
 * - a module that fails to load, a factory that throws, an Observable that errors, and samples
 *   that are garbage (bad shapes, non-finite numbers, unencodable fields) are counted, logged
 *   once per burst, shown in `status()`, and retried with exponential backoff; nothing of this
 *   escapes to other monitors (batches$ never errors);
 * - lines are rate limited like Scalyr (`monitor_log_write_rate` B/s, burst
 *   `monitor_log_max_write_burst`), skipped lines are counted and reported by a warning line;
 * - each line's event carries the sample as a `MetricRecord`; a cumulative counter (the sample's
 *   `counter: true`, or a metric its component declares in `counterMetrics`) is `monotonic` with
 *   the start of its series' cumulative period (`counterSeries.ts`), a gauge is not;
 * - `stop()` unsubscribes (which kills a monitor's child processes), completes `batches$`,
 *   and is idempotent.
 */
import { Observable, Subject, Subscription, asyncScheduler, from, isObservable, share, takeUntil, type SchedulerLike } from 'rxjs';
import path from 'node:path';
import type { AgentConfig, MonitorConfig } from '../../lib/config/types.js';
import type { Batch, ComponentCounters, Event, Logger, Stream } from '../../lib/types.js';
import type { MonitorContext, MonitorFactory, Registry } from '../../lib/registry.js';
import type { OptionDecl } from '../../lib/component.js';
import { scalyrOption as s } from '../../lib/config/schema.js';
import { Credits } from '../../lib/pipeline/credits.js';
import { countDrop, countError, createCounters, errorMessage } from '../../lib/counters.js';
import { formatMetricLine, formatMetricTime, monitorName, shortModuleName, type ScalyrMonitorSample } from './metricLine.js';
import { lookupMonitorComponent, resolveMonitorComponent, resolveMonitorModule, type MonitorComponent } from './resolveMonitor.js';
import { readDeclared } from '../../lib/component.js';
import type { MetricRecord } from '../../lib/telemetry.js';
import { CounterPeriods, counterMatcher, type CounterMatcher } from './counterSeries.js';

/**
 * What the monitor source itself reads: the keys every `monitors[]` entry may have (`own`; a
 * monitor's other keys are its component's), and the top-level options (`global`).
 */
export const MONITOR_ENTRY_OPTIONS: OptionDecl[] = [
  s({ name: 'module', type: 'string', required: true, description: 'The monitor: Scalyr module name (`scalyr_agent.builtin_monitors.shell_monitor`), its short name (`shell_monitor`), or a plugin.' }),
  s({ name: 'id', type: 'string', description: 'Distinguishes several instances of the same monitor (shown as `module(id)`).' }),
  s({ name: 'sample_interval', type: 'float', min: 0.001, defaultText: '`global_monitor_sample_interval`', description: 'Seconds between samples.' }),
  s({ name: 'log_path', type: 'string', description: 'Name of the metric log (default `<module>.log`).' }),
  s({ name: 'stop_agent_on_failure', type: 'bool', default: false, description: 'Stop the agent when this monitor fails permanently.' }),
  s({ name: 'tags', type: 'stringMap', default: {}, description: 'Extra attributes of the monitor\'s metric log (its events), besides `parser: agent-metrics`. Scalyr reads them for `linux_system_metrics`; sluice for every monitor.' }),
  s({ name: 'monitor_log_write_rate', type: 'int', min: -1, defaultText: '`monitor_log_write_rate`', description: 'Bytes per second this monitor may write before lines are skipped (counted).' }),
  s({ name: 'monitor_log_max_write_burst', type: 'int', min: -1, defaultText: '`monitor_log_max_write_burst`', description: 'Burst size, in bytes, for this monitor\'s `monitor_log_write_rate`.' }),
  // --- top-level options
  s({ name: 'global_monitor_sample_interval', type: 'float', default: 30, min: 0.001, scope: 'global', description: 'Default seconds between monitor samples.' }),
  s({ name: 'global_monitor_sample_interval_enable_jitter', type: 'bool', default: true, scope: 'global', description: 'Start each monitor after a random delay so samples spread out.' }),
  s({ name: 'monitor_log_write_rate', type: 'int', default: 2000, min: 0, scope: 'global', description: 'Bytes per second a monitor may write before lines are skipped (counted).' }),
  s({ name: 'monitor_log_max_write_burst', type: 'int', default: 100000, min: 0, scope: 'global', description: 'Burst size, in bytes, for `monitor_log_write_rate`.' }),
  s({ name: 'agent_log_path', type: 'string', default: '/var/log/sluice', scope: 'global', description: 'Directory of the agent\'s own logs; relative `logs[].path` values are joined to it. sluice: a relative path resolves against the main config file\'s directory (Scalyr\'s default is `/var/log/scalyr-agent-2`).' }),
  s({ name: 'agent_data_path', type: 'string', default: '/var/lib/sluice', scope: 'global', description: 'Directory for checkpoints, status and the embedded sink. sluice: a relative path resolves against the main config file\'s directory (Scalyr\'s default is `/var/lib/scalyr-agent-2`).' }),
];

export interface MonitorSourceContext {
  logger: Logger;
  agent: AgentConfig;
  /** Monitor factories by short name (built-ins and plugins). */
  registry: Registry;
  scheduler?: SchedulerLike;
  /** Random numbers in [0, 1) for the initial jitter (tests pass a fixed one). */
  random?: () => number;
  /** Directory relative plugin paths are resolved against (the config file's directory); default cwd. */
  baseDir?: string;
  /** The id to use when the caller numbered entries with `assignMonitorIds`; default `cfg.id ?? ''`. */
  id?: string;
  /** Shared read budget handed to factories (monitors do not use it); a private one by default. */
  credits?: Credits;
  /** Services handed to the monitor (`ctx.services`): `logBacklog` (see `LogBacklog`). */
  services?: Readonly<Record<string, unknown>>;
}

export interface MonitorStatus {
  /** `<short module>(<id>)`. */
  name: string;
  module: string;
  linesEmitted: number;
  errors: number;
  /** Loaded, started, not stopped and not in a failure burst. */
  alive: boolean;
  lastError?: string;
  /** Ticks skipped because the previous sample was still running or during backoff. */
  skippedTicks: number;
  /** Lines dropped by the write-rate limit. */
  rateLimitedLines: number;
  /** Samples rejected as garbage. */
  invalidSamples: number;
  /** Seconds between samples. */
  sampleInterval: number;
  /** Scalyr's `stop_agent_on_failure`: the agent should exit while this monitor is not alive. */
  stopAgentOnFailure: boolean;
}

export interface MonitorSource {
  /** `<short module>(<id>)`, e.g. `linux_process_metrics(agent)`. */
  id: string;
  batches$: Observable<Batch>;
  counters: ComponentCounters;
  status(): MonitorStatus;
  stop(): Promise<void>;
}

/** Context handed to monitor factories (the registry's MonitorContext plus sluice extras). */
export interface SluiceMonitorContext extends MonitorContext {
  scheduler: SchedulerLike;
  /** The directory plugin paths are relative to. */
  baseDir: string;
  /** Short module name and `<module>(<id>)` name. */
  module: string;
  monitorName: string;
  /** A long-lived monitor's "I am up" (ends a failure burst and its backoff, as a completed sample does). */
  healthy(): void;
}

const MAX_BACKOFF_MS = 5 * 60_000;

/** The declared defaults of the top-level options (used when a value is unusable). */
const MONITOR_DEFAULTS = readDeclared(MONITOR_ENTRY_OPTIONS, {}, 'global');

/**
 * The initial delay before the first sample (§6.2): a random whole number of seconds between
 * 20% and 80% of the interval, or 15–40 s when the interval is ≥ 40 s. Sub-second intervals
 * (tests) get a fractional delay in the same 20–80% band.
 */
export function initialJitterMs(intervalSecs: number, random: () => number = Math.random): number {
  let lo: number;
  let hi: number;
  if (intervalSecs >= 40) {
    lo = 15;
    hi = 40;
  } else {
    lo = intervalSecs * 0.2;
    hi = intervalSecs * 0.8;
  }
  if (intervalSecs >= 5) {
    const a = Math.ceil(lo);
    const b = Math.floor(hi);
    return (a + Math.min(b - a, Math.floor(random() * (b - a + 1)))) * 1000;
  }
  return Math.round((lo + random() * (hi - lo)) * 1000);
}

/** Checks one emitted item; returns why it is garbage, or undefined when it is a usable sample. */
export function validateSample(s: unknown): string | undefined {
  if (s === null || typeof s !== 'object' || Array.isArray(s)) return `sample is not an object (${s === null ? 'null' : typeof s})`;
  const o = s as Record<string, unknown>;
  if (typeof o.metric !== 'string' || o.metric.trim() === '') return 'sample has no metric name';
  const v = o.value;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return `metric ${o.metric}: non-finite value ${v}`;
  } else if (typeof v !== 'string' && typeof v !== 'boolean') {
    return `metric ${o.metric}: value must be a number, string or boolean (got ${v === null ? 'null' : typeof v})`;
  }
  if (o.counter !== undefined && typeof o.counter !== 'boolean') return `metric ${o.metric}: counter must be true or false (got ${o.counter === null ? 'null' : typeof o.counter})`;
  if (o.fields !== undefined && o.fields !== null) {
    if (typeof o.fields !== 'object' || Array.isArray(o.fields)) return `metric ${o.metric}: fields must be an object`;
    for (const [k, fv] of Object.entries(o.fields as Record<string, unknown>)) {
      if (k === '') return `metric ${o.metric}: empty field name`;
      if (typeof fv === 'number' ? !Number.isFinite(fv) : typeof fv !== 'string' && typeof fv !== 'boolean') {
        return `metric ${o.metric}: field ${k} has a bad value (${typeof fv === 'number' ? fv : fv === null ? 'null' : typeof fv})`;
      }
    }
  }
  return undefined;
}

function num(v: unknown, dflt: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : dflt;
}

/**
 * Resolves a monitor entry's module to its factory without running it (used by `sluice
 * validate` and by the source itself). Rejects with an error naming the module and why.
 */
export function resolveMonitorFactory(cfg: Pick<MonitorConfig, 'module'>, opts: { registry: Registry; baseDir?: string }): Promise<MonitorFactory> {
  return resolveMonitorModule(String(cfg.module ?? ''), opts.registry, opts.baseDir ?? process.cwd());
}

/** Builds the source for one monitor entry. Nothing runs until `batches$` is subscribed. */
export function createMonitorSource(cfg: MonitorConfig, ctx: MonitorSourceContext): MonitorSource {
  const scheduler = ctx.scheduler ?? asyncScheduler;
  const random = ctx.random ?? Math.random;
  const agent = ctx.agent;
  const logger = ctx.logger;
  const baseDir = ctx.baseDir ?? process.cwd();
  // Every option this source reads, read once here (only the declared ones; defaults from the declarations).
  const own = readDeclared(MONITOR_ENTRY_OPTIONS, cfg);
  const global = readDeclared(MONITOR_ENTRY_OPTIONS, agent as unknown as Record<string, unknown>, 'global');
  const module = String(own.module ?? '');
  const short = shortModuleName(module);
  const id = ctx.id ?? (own.id === undefined ? '' : String(own.id));
  const name = monitorName(module, id);
  const counters = createCounters();
  const stopAgentOnFailure = own.stop_agent_on_failure === true || own.stop_agent_on_failure === 'true';

  const configured = num(global.global_monitor_sample_interval, NaN);
  const globalInterval = configured > 0 ? configured : Number(MONITOR_DEFAULTS.global_monitor_sample_interval);
  let intervalSecs = num(own.sample_interval, globalInterval);
  if (!(intervalSecs > 0)) {
    logger.warn(`monitor ${name}: sample_interval ${String(own.sample_interval)} is not positive; using ${globalInterval}`, { monitor: name });
    intervalSecs = globalInterval;
  }
  const intervalMs = intervalSecs * 1000;
  const jitter = global.global_monitor_sample_interval_enable_jitter === false ? 0 : initialJitterMs(intervalSecs, random);

  const logDir = String(global.agent_log_path);
  const logPath = typeof own.log_path === 'string' && own.log_path ? path.resolve(logDir, own.log_path) : path.join(logDir, `${short}.log`);
  const tags: Record<string, string> = {};
  if (own.tags && typeof own.tags === 'object' && !Array.isArray(own.tags)) {
    for (const [k, v] of Object.entries(own.tags as Record<string, unknown>)) tags[k] = String(v);
  }
  const stream: Stream = {
    id: `monitor:${name}`,
    kind: 'metric',
    path: logPath,
    attrs: { ...tags, parser: 'agent-metrics', logfile: logPath },
    ack() {
      /* lines are generated, not read: nothing to checkpoint or release */
    },
  };

  // Rate limit (Scalyr: monitor_log_write_rate / monitor_log_max_write_burst, per entry or global).
  // A component's own defaults (Scalyr's graphite/openmetrics: -1) replace the top-level ones once it is resolved; negative: no limit.
  let rate = 0;
  let burst = 0;
  const setRate = (c?: MonitorComponent) => {
    const d = c?.monitorLogDefaults;
    rate = num(own.monitor_log_write_rate ?? d?.monitor_log_write_rate ?? global.monitor_log_write_rate, Number(MONITOR_DEFAULTS.monitor_log_write_rate));
    burst = num(own.monitor_log_max_write_burst ?? d?.monitor_log_max_write_burst ?? global.monitor_log_max_write_burst, Number(MONITOR_DEFAULTS.monitor_log_max_write_burst));
    tokens = burst;
  };
  let tokens = 0;
  setRate();
  let tokensAt = scheduler.now();
  let pendingSkipped = 0;

  // State.
  let offset = 0;
  let linesEmitted = 0;
  let skippedTicks = 0;
  let rateLimitedLines = 0;
  let invalidSamples = 0;
  let factory: MonitorComponent | undefined;
  let declaredCounter: CounterMatcher = counterMatcher(undefined);
  const periods = new CounterPeriods();
  let sample$: Observable<unknown> | undefined;
  let loading = false;
  let loadAttempts = 0;
  let running: Subscription | undefined;
  let started = false;
  let stopped = false;
  let failures = 0; // consecutive failures (the current burst)
  let backoffUntil = -Infinity;
  let lastError: string | undefined;
  const stop$ = new Subject<void>();
  let out: { next(b: Batch): void } | undefined;

  const factoryCtx: SluiceMonitorContext = {
    id: name,
    logger,
    agent: agent as Readonly<Record<string, unknown>>,
    credits: ctx.credits ?? new Credits(1 << 20),
    dataPath: String(global.agent_data_path),
    sampleInterval: intervalSecs,
    // The runner's counters: a monitor adds the drops (by reason) and errors it sees inside a sample.
    counters,
    services: ctx.services,
    // A long-lived monitor (a listener) calls this once it is up: the failure burst ends as a completed sample would end it.
    healthy: () => succeeded(),
    scheduler,
    baseDir,
    module: short,
    monitorName: name,
  };

  function fail(stage: string, err: unknown): void {
    const message = `${stage}: ${errorMessage(err)}`;
    countError(counters, message);
    lastError = message;
    failures++;
    const delay = Math.min(intervalMs * 2 ** Math.min(failures - 1, 16), Math.max(MAX_BACKOFF_MS, intervalMs));
    backoffUntil = scheduler.now() + delay - 1;
    if (failures === 1) {
      logger.error(`monitor ${name}: ${message} (retrying with backoff; further errors of this burst are not logged)`, { monitor: name });
    } else {
      logger.debug(`monitor ${name}: ${message} (failure ${failures} of this burst)`, { monitor: name });
    }
  }

  function succeeded(): void {
    if (failures > 0) logger.info(`monitor ${name}: recovered after ${failures} failure(s)`, { monitor: name });
    failures = 0;
    backoffUntil = -Infinity;
  }

  let garbageBurst = false;
  function garbage(reason: string): void {
    invalidSamples++;
    countDrop(counters, 'invalid_sample');
    countError(counters, reason);
    lastError = `invalid sample: ${reason}`;
    if (!garbageBurst) {
      garbageBurst = true;
      logger.warn(`monitor ${name}: dropped invalid sample: ${reason} (further ones of this burst are not logged)`, { monitor: name });
    }
  }

  function takeTokens(n: number): boolean {
    if (rate < 0 || burst < 0) return true;
    const now = scheduler.now();
    tokens = Math.min(burst, tokens + ((now - tokensAt) / 1000) * rate);
    tokensAt = now;
    if (tokens >= n) {
      tokens -= n;
      return true;
    }
    return false;
  }

  function emitSamples(value: unknown): void {
    const items = Array.isArray(value) ? value : [value];
    const now = scheduler.now();
    const ts = BigInt(Math.round(now)) * 1_000_000n;
    const events: Event[] = [];
    let clean = true;
    for (const item of items) {
      const why = validateSample(item);
      if (why) {
        garbage(why);
        clean = false;
        continue;
      }
      const s = item as ScalyrMonitorSample;
      let line: string;
      try {
        line = formatMetricLine(now, name, s.metric, s.value, s.fields, s.float === true, s.floatFields) + '\n';
      } catch (err) {
        garbage(`metric ${s.metric}: ${errorMessage(err)}`);
        clean = false;
        continue;
      }
      // The structured sample beside the line, for sinks that export metrics as such (OTLP gauges
      // and sums). A counter's period is tracked for every valid sample, rate limited or not.
      const record = metricRecord(s, short);
      if ((s.counter ?? declaredCounter(s.metric)) && typeof record.value === 'number') {
        record.monotonic = true;
        record.startNs = periods.startOf(record.name, record.fields, record.value, ts);
      }
      const bytes = Buffer.byteLength(line);
      counters.receivedEvents++;
      counters.receivedBytes += bytes;
      if (!takeTokens(bytes)) {
        pendingSkipped++;
        rateLimitedLines++;
        countDrop(counters, 'rate_limit');
        continue;
      }
      if (pendingSkipped > 0) {
        const warn = `${formatMetricTime(now)} [${name}] Warning, skipped writing ${pendingSkipped} log lines due to limit set by \`monitor_log_write_rate\` option.\n`;
        pendingSkipped = 0;
        offset += Buffer.byteLength(warn);
        events.push({ message: warn, end: offset, ts });
      }
      offset += bytes;
      events.push({ message: line, end: offset, ts, record });
    }
    if (clean) garbageBurst = false;
    if (events.length === 0 || !out) return;
    linesEmitted += events.length;
    counters.sentEvents += events.length;
    for (const e of events) counters.sentBytes += Buffer.byteLength(e.message as string);
    out.next({ stream, events, end: offset });
  }

  function runSample(): void {
    if (!sample$ || stopped) return;
    let finished = false;
    const sub = new Subscription();
    running = sub;
    const done = () => {
      finished = true;
      if (running === sub) running = undefined;
    };
    try {
      sub.add(
        sample$.subscribe({
          next: (v) => {
            try {
              emitSamples(v);
            } catch (err) {
              garbage(errorMessage(err));
            }
          },
          error: (err) => {
            done();
            fail('sample failed', err);
          },
          complete: () => {
            done();
            succeeded();
          },
        }),
      );
    } catch (err) {
      done();
      fail('sample failed', err);
    }
    if (finished) sub.unsubscribe();
  }

  function startWith(c: MonitorComponent): void {
    factory = c;
    setRate(c);
    declaredCounter = counterMatcher(c.counterMetrics);
    try {
      const problems = c.check?.(cfg) ?? [];
      if (problems.length > 0) throw new Error(problems.map((p) => `"${p.key}": ${p.message}`).join('; '));
      // A component that declares its options reads them from the entry itself; one that declares
      // nothing (an old-style plugin factory) gets its own copy of the whole entry.
      const produced = c.create(c.options === undefined ? { ...cfg } : cfg, factoryCtx) as unknown;
      sample$ = isObservable(produced) ? produced : from(produced as never);
    } catch (err) {
      factory = undefined;
      sample$ = undefined;
      fail('monitor failed to start', err);
      return;
    }
    logger.info(`monitor ${name}: started (interval ${intervalSecs}s)`, { monitor: name });
    runSample();
  }

  function load(): void {
    // Registered types start synchronously (deterministic under virtual-time schedulers).
    const registered = lookupMonitorComponent(module, ctx.registry);
    if (registered) {
      startWith(registered);
      return;
    }
    loading = true;
    resolveMonitorComponent(module, ctx.registry, baseDir, loadAttempts++)
      .then((c) => {
        loading = false;
        if (stopped) return;
        startWith(c);
      })
      .catch((err) => {
        loading = false;
        if (stopped) return;
        fail('monitor failed to load', err);
      });
  }

  function onTick(): void {
    if (stopped) return;
    if (loading || running || scheduler.now() < backoffUntil) {
      skippedTicks++;
      return;
    }
    if (!factory || !sample$) {
      load();
      return;
    }
    runSample();
  }

  const batches$ = new Observable<Batch>((subscriber) => {
    if (stopped) {
      subscriber.complete();
      return undefined;
    }
    started = true;
    out = subscriber;
    let tickSub: Subscription | undefined;
    const tick = () => {
      onTick();
      tickSub = scheduler.schedule(tick, intervalMs);
    };
    // A long-lived monitor (a listener, a journal follower) starts at once, as Scalyr starts its servers.
    tickSub = scheduler.schedule(tick, lookupMonitorComponent(module, ctx.registry)?.longLived === true ? 0 : jitter);
    return () => {
      out = undefined;
      tickSub?.unsubscribe();
      running?.unsubscribe();
      running = undefined;
      started = false;
    };
  }).pipe(takeUntil(stop$), share());

  return {
    id: name,
    batches$,
    counters,
    status(): MonitorStatus {
      return {
        name,
        module,
        linesEmitted,
        errors: counters.errors,
        alive: started && !stopped && !!sample$ && failures === 0,
        ...(lastError !== undefined ? { lastError } : {}),
        skippedTicks,
        rateLimitedLines,
        invalidSamples,
        sampleInterval: intervalSecs,
        stopAgentOnFailure,
      };
    },
    stop(): Promise<void> {
      if (!stopped) {
        stopped = true;
        running?.unsubscribe();
        running = undefined;
        stop$.next();
        stop$.complete();
      }
      return Promise.resolve();
    },
  };
}

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A sample as a {@link MetricRecord}: a numeric string (a shell command's `42`) as the number Scalyr would read. */
export function metricRecord(s: ScalyrMonitorSample, monitor: string): MetricRecord {
  const value = typeof s.value === 'string' && NUMERIC.test(s.value.trim()) ? Number(s.value) : s.value;
  return { kind: 'metric', name: s.metric, value, ...(s.fields ? { fields: s.fields } : {}), monitor };
}
