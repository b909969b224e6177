/**
 * A component is a value that sits beside its code: its kind, the type names it answers to
 * (Scalyr module names included), the options it reads, and `create`. The registry holds these
 * values; everything else is derived from them:
 *
 * - config validation and `docs/configuration.md` (`lib/config/schema.ts` `schemaFrom`),
 * - what a reload restarts (`restartKey`: the values of the options a part's components declare,
 *   minus those they apply live),
 * - the compliance spec (every registered component counts and stops the same way).
 *
 * Built-ins are declared exactly like plugins. A plugin that registers a bare factory (the old
 * shape) gets a component that declares nothing: its config is passed through unvalidated, and
 * any change to it restarts its part.
 */
import type { Observable, OperatorFunction } from 'rxjs';
import type { OptionSpec } from './config/schema.js';
import type { Batch, ComponentCounters, Logger, Sink } from './types.js';
import type { Credits } from './pipeline/credits.js';

export type ComponentKind = 'source' | 'operator' | 'parser' | 'monitor' | 'sink';

/** What every factory receives besides its own config. */
export interface ComponentContext {
  /** The component's id as shown in status (`logs[0]`, `linux_process_metrics(agent)`…). */
  id: string;
  logger: Logger;
  /** The whole validated agent config, read-only. Read only the global options you declare. */
  agent: Readonly<Record<string, unknown>>;
  /** The shared read budget (sources acquire, acks release). */
  credits: Credits;
  /** The agent's data directory (checkpoints, status, embedded sink output). */
  dataPath: string;
  /**
   * The counters of this component instance, made by whoever builds it. A component that
   * `countsItself` adds received/sent here; every component adds drops (by reason) and errors.
   */
  counters?: ComponentCounters;
  /** Shared services the assembly hands to the sources that need them (checkpoints, read pages…). */
  services?: Readonly<Record<string, unknown>>;
}

/** A log file a monitor writes and the agent ships (see `Component.logs`). */
export interface MonitorLog {
  /** Absolute path. */
  path: string;
  /** Attributes of its events (`parser`…). */
  attributes?: Record<string, string>;
  /**
   * Read a file found at start without a checkpoint from its beginning (the monitor wrote it, so
   * nothing in it was shipped yet as far as the agent knows): at least once, never skipped.
   */
  copy_from_start?: boolean;
}

/**
 * `ctx.services.logBacklog(path)` for monitors: the bytes written to the file at `path` (and
 * to its rotated copies still being read) that no sink has acknowledged yet. A listener that
 * writes a message log pauses its TCP connections while this is over its budget, so the
 * sender waits instead of the agent dropping or buffering without bound.
 */
export type LogBacklog = (path: string) => number;

/** A monitor: returns an Observable of samples (see `sources/monitors/`). */
export interface MonitorFactory {
  (config: Record<string, unknown>, ctx: MonitorContext): Observable<MonitorSample | MonitorSample[]>;
}

/** A metric sample as a monitor emits it. */
export interface MonitorSample {
  metric: string;
  value: number | string | boolean;
  fields?: Record<string, string | number | boolean>;
  /**
   * `true`: the value is a cumulative counter (a running total that only grows until it is
   * reset: requests served, bytes sent, CPU time); `false`: a gauge. Absent: whatever the
   * monitor component declares in `counterMetrics` (a gauge when it declares nothing). The
   * metric line is the same either way; sinks that type metrics (OTLP) export a counter as a
   * monotonic cumulative Sum, a gauge as a Gauge.
   */
  counter?: boolean;
}

export interface MonitorContext extends ComponentContext {
  /** Seconds between samples. */
  sampleInterval: number;
}

/** An operator factory: a config slice in, an rxjs operator on batches out. */
export type OperatorFactory = (config: Record<string, unknown>, ctx: ComponentContext) => OperatorFunction<Batch, Batch>;

/** A parser is an operator selected by `parse_format` (or a plugin's name for one). */
export type ParserFactory = OperatorFactory;

/** A sink factory. */
export type SinkFactory = (config: Record<string, unknown>, ctx: ComponentContext) => Sink;

/** A running source: batches out, its counters, a bounded idempotent stop. */
export interface SourceInstance {
  batches$: Observable<Batch>;
  counters: ComponentCounters;
  status?(): unknown;
  stop(deadlineMs?: number): Promise<void>;
}

/** A source factory. Returning a bare Observable (the old plugin shape) still works: the registry wraps it. */
export type SourceFactory = (config: Record<string, unknown>, ctx: ComponentContext) => SourceInstance | Observable<Batch>;

export type FactoryOf<K extends ComponentKind> = K extends 'source'
  ? SourceFactory
  : K extends 'operator'
    ? OperatorFactory
    : K extends 'parser'
      ? ParserFactory
      : K extends 'monitor'
        ? MonitorFactory
        : SinkFactory;

/**
 * Where an option lives:
 * - `own`: in the component's own config object: the `logs[]` entry for the file source, its
 *   parser and its built-in stages; the `monitors[]` entry for a monitor; the `operators[]` item
 *   for a plugin operator; `sink` for a sink; the section object (`apm`) for a section component;
 * - `global`: a top-level option of agent.json (`max_line_size`, `scalyr_server`…).
 */
export type OptionScope = 'own' | 'global';

/** One option a component reads. */
export interface OptionDecl extends OptionSpec {
  /** Default `own`. */
  scope?: OptionScope;
  /**
   * Takes effect in a running part without restarting it: a change is handed to the part's
   * `reconfigure` instead of restarting it.
   */
  live?: boolean;
}

/**
 * Which object holds a component's `own` options:
 * - `entry`: the `logs[]` entry (the file source, parsers, the built-in line stages);
 * - `item`: its own list item or object (`monitors[]`, `operators[]`, `sources[]`, `sink`);
 * - `section:<name>`: the top-level object `<name>` (the APM intake reads `apm`).
 */
export type ConfigHome = 'entry' | 'item' | `section:${string}`;

/** A problem a component's own cross-field check found (`key` is relative to its config object). */
export interface OptionProblem {
  key: string;
  message: string;
}

export interface Component<K extends ComponentKind = ComponentKind> {
  kind: K;
  /** The name configs use (`json`, `shell_monitor`, `addEvents`…). */
  type: string;
  /** Other names it answers to (`scalyr_agent.builtin_monitors.shell_monitor`). */
  aliases?: readonly string[];
  /** One paragraph for the docs. */
  doc?: string;
  /**
   * The options it reads. `undefined`: a component that declares nothing (an old-style plugin):
   * its config passes unvalidated and any change restarts its part.
   */
  options?: readonly OptionDecl[];
  /** Default: `entry` for parsers, `item` for the rest. */
  home?: ConfigHome;
  /**
   * The component keeps its received/sent counters itself (the built-ins do, per event and
   * byte). Otherwise the registry counts events at its boundary (`buildOperator`).
   */
  countsItself?: boolean;
  /** Cross-field rules beyond what each option's type says (e.g. "needs `commandline` or `pid`"). */
  check?(own: Readonly<Record<string, unknown>>): OptionProblem[];
  /** A small working config, shown in the docs and used by the contract spec. */
  example?: Record<string, unknown>;
  /**
   * A parser that parses whole lines longer than `max_line_size` (json and cri: Scalyr's
   * `internal_parse_max_line_size`): the longest line in bytes the reader should hand it, read
   * from the options it declares. The file source then cuts lines at the larger of this and
   * `max_line_size`, and the parser cuts what it emits to `max_line_size`. Read once, when the
   * entry's chain is built.
   */
  readLineLimit?(own: Readonly<Record<string, unknown>>, agent: Readonly<Record<string, unknown>>): number | undefined;
  /**
   * A monitor that writes log files (Scalyr's syslog and journald monitors write what they
   * receive to a message log): the files, from its validated entry, as `logs[]` entries the
   * agent adds, as Scalyr adds a monitor's log config. Each is read, sampled, redacted,
   * uploaded and checkpointed like any log file; the file is the buffer. A `logs[]` entry the
   * user wrote for the same path wins (it holds their rules), with these attributes as defaults.
   */
  logs?(own: Readonly<Record<string, unknown>>, agent: Readonly<Record<string, unknown>>): MonitorLog[];
  /**
   * A monitor whose metric log Scalyr does not rate limit by default (its `_initialize` sets
   * `monitor_log_write_rate`/`monitor_log_max_write_burst` defaults of -1: graphite, openmetrics):
   * the defaults of its entry's two options, used instead of the top-level ones. A negative value
   * means no limit.
   */
  monitorLogDefaults?: { monitor_log_write_rate: number; monitor_log_max_write_burst: number };
  /**
   * A monitor's cumulative counters: the metric names (exact, or fnmatch globs such as
   * `mysql.global.com_*`) whose samples are running totals rather than gauges. The monitor
   * runner marks their samples as counters (a sample's own `counter` wins), so the OTLP sink
   * exports them as monotonic cumulative Sums; the configuration reference lists them.
   */
  counterMetrics?: readonly string[];
  /**
   * A monitor whose Observable runs until it is stopped (a listener, a journal follower), not
   * one sample per interval: the runner starts it at once, without the initial jitter.
   */
  longLived?: boolean;
  /**
   * A sink that takes only some stream kinds (`log`, `metric`, `apm`, `trace`): batches of other
   * kinds routed to it are acknowledged for it at once, as not its business. Default: every kind.
   */
  accepts?: readonly string[];
  create: FactoryOf<K>;
}

/** Identity with types: `export const shellMonitor = defineComponent({ kind: 'monitor', … })`. */
export function defineComponent<K extends ComponentKind>(c: Component<K>): Component<K> {
  return c;
}

/** The object that holds a component's own options. */
export function homeOf(c: Pick<Component, 'kind' | 'home'>): ConfigHome {
  return c.home ?? (c.kind === 'parser' ? 'entry' : 'item');
}

/** The component's options of one scope (its `own` ones by default). */
export function optionsOf(c: Pick<Component, 'options'>, scope: OptionScope = 'own'): OptionDecl[] {
  return (c.options ?? []).filter((o) => (o.scope ?? 'own') === scope);
}

type Obj = Readonly<Record<string, unknown>>;

/**
 * What decides whether a running part must restart: the values of every option the part's
 * components declare (own ones from `own`, global ones from `agent`), except those applied live.
 * A component that declares nothing contributes its whole own config. `noEffect` options are
 * left out: changing one changes nothing.
 */
export function restartKey(components: readonly Pick<Component, 'type' | 'options'>[], own: Obj, agent: Obj): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  for (const c of components) {
    if (c.options === undefined) {
      key[`${c.type}:*`] = own;
      continue;
    }
    for (const o of c.options) {
      if (o.live || o.noEffect) continue;
      key[`${c.type}:${o.scope ?? 'own'}:${o.name}`] = (o.scope === 'global' ? agent : own)[o.name];
    }
  }
  return key;
}

/** The values of the options the components apply live (handed to `reconfigure`). */
export function liveValues(components: readonly Pick<Component, 'options'>[], own: Obj, agent: Obj): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of components) {
    for (const o of c.options ?? []) {
      if (o.live) out[o.name] = (o.scope === 'global' ? agent : own)[o.name];
    }
  }
  return out;
}

/**
 * `config` with the declared defaults filled in for absent options of `scope` (for components
 * built outside the validated config, e.g. by a spec or an embedder): defaults live in the
 * declaration only, never again in the component's code.
 */
export function withDefaults(c: Pick<Component, 'options'>, config: Readonly<Record<string, unknown>>, scope: OptionScope = 'own'): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const o of c.options ?? []) {
    if ((o.scope ?? 'own') !== scope || o.default === undefined || out[o.name] !== undefined) continue;
    out[o.name] = structuredClone(o.default);
  }
  return out;
}

/**
 * The values of a component's options of `scope` read from `from`: each declared name read once
 * (so a component reads exactly what it declares), absent (undefined or null) ones given their
 * declared default (defaults live in the declaration only, never again in the code). `noEffect`
 * options are not read. Nothing else of `from` is touched.
 */
export function readDeclared(
  declared: readonly OptionDecl[] | Pick<Component, 'options'>,
  from: Readonly<Record<string, unknown>> | undefined,
  scope: OptionScope = 'own',
): Record<string, unknown> {
  const options = Array.isArray(declared) ? (declared as readonly OptionDecl[]) : ((declared as Pick<Component, 'options'>).options ?? []);
  const out: Record<string, unknown> = {};
  for (const o of options) {
    if ((o.scope ?? 'own') !== scope || o.noEffect || Object.prototype.hasOwnProperty.call(out, o.name)) continue;
    const v = from?.[o.name];
    out[o.name] = v === undefined || v === null ? (o.default === undefined ? undefined : structuredClone(o.default)) : v;
  }
  return out;
}
