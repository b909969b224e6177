/**
 * Scalyr's metric line format (behavior §6.1): what a monitor writes for each value it reports,
 * byte for byte as `scalyr_logging.py::MetricLogFormatter` / `emit_value` produce it:
 *
 * ```
 * 2024-05-01 12:00:00.123Z [linux_process_metrics(agent)] app.cpu 12 app="agent" type="user"
 * ```
 *
 * UTC time with milliseconds, `[<short module>(<id>)]`, the (sanitized) metric name, the value
 * JSON-encoded the way Python's `json` does it, then ` key=<JSON value>` for each extra field
 * sorted by (sanitized) name. Also the monitor naming rules (`<short module>(<id>)` and the
 * numbering of monitors without an `id`).
 */
import type { MonitorSample } from '../../lib/registry.js';

/** A sample as sluice's monitors emit it; `float` marks a Python float (`0` prints as `0.0`). */
export interface ScalyrMonitorSample extends MonitorSample {
  /** The value is a float even when integral (Python `float`): printed with a decimal point. */
  float?: boolean;
  /** Fields whose values are Python floats (printed with a decimal point even when integral: `orig_time=1700000000.0`). */
  floatFields?: readonly string[];
}

/** Field/metric names Scalyr reserves: a `_` is appended to them. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['logfile', 'monitor', 'metric', 'value', 'instance', 'severity']);

const VALID_NAME = /^[_a-zA-Z][\w.\-]*$/;

/**
 * Makes a metric or field name acceptable: characters outside `[\w.-]` become `_`, a name not
 * starting with a letter or `_` gets the `sa_` prefix, and a reserved *field* name (not a metric
 * name: `isMetric`) gets a `_` suffix.
 */
export function sanitizeName(name: string, isMetric = false): string {
  let out = name;
  if (!VALID_NAME.test(out)) {
    out = out.replace(/[^\w.\-]/g, '_');
    if (!/^[_a-zA-Z]/.test(out)) out = 'sa_' + out;
  }
  if (!isMetric && RESERVED_NAMES.has(out)) out += '_';
  return out;
}

/** Python's `repr(float)` (what `json.dumps` prints for a float), for a finite number. */
export function pythonFloatRepr(x: number): string {
  if (Object.is(x, -0)) return '-0.0';
  if (x === 0) return '0.0';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const sign = neg ? '-' : '';
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
    const e = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' + e : e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intLen = exp + 1;
  if (digits.length <= intLen) return `${sign}${digits}${'0'.repeat(intLen - digits.length)}.0`;
  return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
}

/**
 * A value JSON-encoded as Python's `json.dumps` would: strings quoted with non-ASCII escaped as
 * `\uXXXX`, booleans `true`/`false`, integers plain, floats with a decimal point or exponent.
 * Throws on non-finite numbers and other types (the caller counts them as bad samples).
 */
export function encodeValue(value: unknown, float = false): string {
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`non-finite number ${value}`);
    if (Number.isInteger(value) && !float && Math.abs(value) < 1e21) return value.toFixed(0);
    return pythonFloatRepr(value);
  }
  if (typeof value === 'bigint') return value.toString();
  throw new Error(`unsupported value type ${value === null ? 'null' : typeof value}`);
}

/** `YYYY-MM-DD HH:MM:SS.mmmZ` in UTC. */
export function formatMetricTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2024-05-01T12:00:00.123Z
  return iso.slice(0, 10) + ' ' + iso.slice(11, 23) + 'Z';
}

/**
 * The metric message (without time and monitor name): `name value k=v ...`, fields sorted by
 * their sanitized names. Throws on a value or field value that cannot be encoded.
 */
export function formatMetricMessage(
  metric: string,
  value: unknown,
  fields?: Record<string, unknown> | null,
  float = false,
  floatFields?: readonly string[],
): string {
  let out = sanitizeName(metric, true) + ' ' + encodeValue(value, float);
  if (fields) {
    const entries = Object.entries(fields).map(([k, v]) => [sanitizeName(k), v, floatFields?.includes(k) === true] as const);
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [k, v, f] of entries) out += ' ' + k + '=' + encodeValue(v, f);
  }
  return out;
}

/** The whole line (no trailing newline) a monitor named `monitorName` writes at `timeMs`. */
export function formatMetricLine(
  timeMs: number,
  monitorName: string,
  metric: string,
  value: unknown,
  fields?: Record<string, unknown> | null,
  float = false,
  floatFields?: readonly string[],
): string {
  return `${formatMetricTime(timeMs)} [${monitorName}] ${formatMetricMessage(metric, value, fields, float, floatFields)}`;
}

/** `scalyr_agent.builtin_monitors.shell_monitor` / a path `./x/my-mon.mjs` → `shell_monitor` / `my-mon`. */
export function shortModuleName(module: string): string {
  let m = module.trim();
  if (m.includes('/') || m.includes('\\') || /\.(m|c)?js$|\.ts$/.test(m)) {
    m = m.split(/[\\/]/).pop() ?? m;
    return m.replace(/\.(m|c)?js$|\.ts$/, '') || 'monitor';
  }
  const parts = m.split('.');
  return parts[parts.length - 1] || m;
}

/** `<short module>(<id>)`, e.g. `linux_process_metrics(agent)`, `linux_system_metrics()`. */
export function monitorName(module: string, id: string | undefined): string {
  return `${shortModuleName(module)}(${id ?? ''})`;
}

/**
 * The ids Scalyr gives a list of monitor entries: an explicit `id` is kept; a module that
 * appears once without `id` gets `''`; several entries of one module without ids are numbered
 * `1`, `2`, … in order. Returns one id per entry.
 */
export function assignMonitorIds(monitors: ReadonlyArray<{ module: string; id?: unknown }>): string[] {
  const withoutId = new Map<string, number>();
  for (const m of monitors) {
    if (m.id === undefined || m.id === null || m.id === '') {
      const k = shortModuleName(m.module);
      withoutId.set(k, (withoutId.get(k) ?? 0) + 1);
    }
  }
  const seen = new Map<string, number>();
  return monitors.map((m) => {
    if (!(m.id === undefined || m.id === null || m.id === '')) return String(m.id);
    const k = shortModuleName(m.module);
    if ((withoutId.get(k) ?? 0) <= 1) return '';
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    return String(n);
  });
}

/**
 * Rewrites a tcollector output line `metric ts value k=v ...` to the metric message
 * `metric value k="v" ...` (timestamp dropped, tag values quoted), as linux_system_metrics does.
 */
export function rewriteCollectorLine(line: string): string | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 3) return undefined;
  const [metric, , value, ...tags] = parts;
  let out = metric + ' ' + value;
  for (const t of tags) {
    const eq = t.indexOf('=');
    if (eq <= 0) continue;
    out += ' ' + t.slice(0, eq) + '=' + JSON.stringify(t.slice(eq + 1));
  }
  return out;
}
