/**
 * The vocabulary of configuration options: the {@link OptionSpec} shape every declaration uses
 * (`scalyrOption` / `sluiceOption` to write one), how a global option is read from the
 * environment (`envNamesFor`), the keys Scalyr renames, and the Scalyr monitors sluice does not
 * run. The options themselves are declared by whoever reads them: the agent and the loader in
 * `agentOptions.ts`, every component beside its code (`lib/component.ts`); `derive.ts` builds
 * the schema the validator (`validate.ts`) and the reference (`docs.ts`) read from those
 * declarations.
 */

/** How a value is read (see `coerce.ts` for the exact, Scalyr-compatible conversions). */
export type OptionType =
  | 'string'
  | 'bool'
  | 'int'
  | 'float'
  /** A list of strings (numbers are converted). */
  | 'stringArray'
  /** An object whose values are strings (numbers are converted). */
  | 'stringMap'
  /** A string holding a Python-syntax regular expression; compiled while validating. */
  | 'regex'
  /** A nested object described by `fields`. */
  | 'object'
  /** A list; items described by `fields` when they are objects. */
  | 'array'
  /** Anything; passed through. */
  | 'any';

export interface OptionSpec {
  name: string;
  type: OptionType;
  /** `scalyr`: an option of Scalyr Agent 2's agent.json; `sluice`: sluice's own. */
  origin: 'scalyr' | 'sluice';
  /** For people: what it does, units, interactions. */
  description: string;
  /** The default when the option is absent (after environment overrides). */
  default?: unknown;
  /** Shown in the docs instead of `default` when the default is computed. */
  defaultText?: string;
  required?: boolean;
  min?: number;
  max?: number;
  enum?: readonly string[];
  /** Global options: read from the environment when absent from every file (default true for scalars). */
  env?: boolean;
  /** Global options: may appear in several files (main file and `agent.d` fragments). */
  repeatable?: boolean;
  /** Accepted so existing Scalyr configs load, but sluice does not act on it (`description` says why). */
  noEffect?: boolean;
  /** Nested object fields (`object`) or list item fields (`array` of objects). */
  fields?: OptionSpec[];
  /** Unknown nested keys are kept without a warning (monitor-specific options). */
  openFields?: boolean;
}

/** An option of Scalyr Agent 2's agent.json (same name, same meaning). */
export const scalyrOption = <T extends Omit<OptionSpec, 'origin'>>(o: T): T & { origin: 'scalyr' } => ({ origin: 'scalyr', ...o });
/** An option of sluice's own. */
export const sluiceOption = <T extends Omit<OptionSpec, 'origin'>>(o: T): T & { origin: 'sluice' } => ({ origin: 'sluice', ...o });

/** The four continuation keys of a `lineGroupers[]` item; a grouper needs exactly one. */
export const CONTINUATION_KEYS = ['continueThrough', 'continuePast', 'haltBefore', 'haltWith'] as const;

const CONTAINERS = 'this build does not support containers';
const K8S_INSTEAD = 'collect the container logs with a logs entry on /var/log/containers/*.log with parse_format: "cri" instead';
const WINDOWS = 'it needs Windows, and sluice runs on Linux only';
const JMX = 'it reads JVM MBeans over JMX, which needs a Java runtime and a JMX bridge sluice does not carry';
const NOT_YET = 'not implemented yet in sluice; the rest of the config runs';

/**
 * Real monitors of Scalyr Agent 2 (`scalyr_agent.builtin_monitors.<name>`) that sluice does not
 * run, with the reason and what to use instead. A config naming one still loads: the monitor is
 * skipped with a warning (validate, start, `status -v`). Names neither here, built in, nor a
 * loadable plugin stay errors.
 */
export const UNSUPPORTED_SCALYR_MONITORS: Readonly<Record<string, string>> = {
  docker_monitor: `it needs Docker, and ${CONTAINERS}; collect container logs with a logs entry on /var/lib/docker/containers/*/*-json.log with parse_format: "json" instead`,
  kubernetes_monitor: `it needs Kubernetes, and ${CONTAINERS}; ${K8S_INSTEAD}`,
  kubernetes_events_monitor: `it needs Kubernetes, and ${CONTAINERS}; ${K8S_INSTEAD}`,
  kubernetes_openmetrics_monitor: `it needs Kubernetes, and ${CONTAINERS}; ${K8S_INSTEAD}`,
  windows_event_log_monitor: WINDOWS,
  windows_process_metrics: `${WINDOWS}; on Linux use linux_process_metrics`,
  windows_system_metrics: `${WINDOWS}; on Linux use linux_system_metrics`,
  tomcat_monitor: `${JMX}; run the Prometheus JMX exporter in Tomcat's JVM and scrape it with openmetrics_monitor, and linux_process_metrics with commandline "tomcat" gives its process metrics`,
  jmx_monitor: `${JMX}; run the Prometheus JMX exporter in the JVM and scrape it with openmetrics_monitor, and linux_process_metrics gives the JVM's process metrics`,
  garbage_monitor: `${NOT_YET} (it reports Python garbage-collector data of Scalyr's own agent, which has no equivalent here)`,
};

/** The reason a Scalyr module name (short or `scalyr_agent.builtin_monitors.<name>`) is not run, if it is one. */
export function unsupportedScalyrMonitor(module: unknown): { name: string; reason: string } | undefined {
  if (typeof module !== 'string') return undefined;
  const m = /^(?:scalyr_agent\.builtin_monitors\.)?([A-Za-z0-9_]+)$/.exec(module.trim());
  if (!m || !Object.prototype.hasOwnProperty.call(UNSUPPORTED_SCALYR_MONITORS, m[1])) return undefined;
  return { name: m[1], reason: UNSUPPORTED_SCALYR_MONITORS[m[1]] };
}

/** Keys Scalyr renames before validating. */
export const RENAMED_KEYS: Record<string, string> = { api_keys: 'workers' };

/** Environment variable names tried for a global option (first match wins). */
export function envNamesFor(spec: OptionSpec): string[] {
  if (spec.env === false) return [];
  if (spec.type === 'object' || spec.type === 'array' || spec.type === 'any') {
    // Structured sluice options are file-only; Scalyr's list options are env-aware via the lenient parser.
    if (spec.origin === 'sluice') return [];
  }
  const base = spec.origin === 'sluice' ? `SLUICE_${spec.name}` : spec.name.startsWith('scalyr_') ? spec.name : `SCALYR_${spec.name}`;
  return [base.toUpperCase(), base.toLowerCase()];
}
