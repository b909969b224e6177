/**
 * `openmetrics_monitor`: scrapes a Prometheus / OpenMetrics text endpoint (`url`) at each sample
 * and records each scraped sample as a metric line, with Scalyr's names and conversions
 * (scalyr_agent/builtin_monitors/openmetrics_monitor.py):
 *
 * - the metric name is the sample's name lowercased, quotes removed, spaces and `-` as `_`;
 *   its labels become fields (`le`, `quantile` included), then `extra_fields` are added (they win);
 *   a sample timestamp that is an integer becomes field `timestamp`;
 * - the value: with a `.`, a float; with `e+`/`e-`, the float cut to an integer; `+Inf` is kept
 *   as the string `"+Inf"`; otherwise an integer; anything else (`NaN`, `-Inf`) is skipped;
 * - a sample whose name has a `# TYPE` other than counter, gauge or untyped is skipped (so, as in
 *   Scalyr, summary quantile lines are skipped while histogram `_bucket`/`_sum`/`_count` and
 *   summary `_sum`/`_count`, whose names differ from the family's, are kept);
 * - sluice: the samples of a `counter` family (`# TYPE x_total counter` in the Prometheus text
 *   format, `# TYPE x counter` with sample `x_total` in OpenMetrics) and the `_count` of a
 *   histogram or summary and `_bucket` of a histogram (cumulative counts by the exposition
 *   format's definition) are marked as counters, exported over OTLP as monotonic sums; the rest
 *   (gauges, untyped samples, `_sum`, `_created`) as gauges;
 * - filters: `metric_name_exclude_list` (globs) first, then `metric_component_value_include_list`
 *   (metric name or `*` → label → globs of values), then `metric_name_include_list` (globs);
 *   all of it skipped when the include list has `*` and the other two are empty;
 * - a request carries `User-Agent: scalyr-agent-2/OpenMetricsMonitor` and `headers`; `timeout`
 *   seconds; `verify_https` and `ca_file` for https;
 * - more than 2000 included metrics in a scrape, or metrics none of which pass the filters: one
 *   warning a day.
 *
 * Faults (a sample errors; the monitor runner counts it, logs the first error of a burst,
 * retries with backoff and logs the recovery): the peer refuses or resets the connection, does
 * not answer within `timeout`, answers a status other than 200, answers protobuf, answers a body
 * larger than `max_response_bytes` (sluice; the transfer is cut there), or answers a body with no
 * valid sample line but some invalid ones (garbage). A change of fault kind during a burst is
 * logged once more. A body with some invalid lines among valid samples is used; the invalid lines
 * are counted (drop reason `invalid_line`) and warned about once until a clean body arrives.
 * Samples beyond `max_metrics_per_scrape` (sluice) are dropped and counted (`too_many_metrics`).
 */
import { Observable } from 'rxjs';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, readDeclared, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { countDrop } from '../../lib/counters.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { parseExposition } from './openmetricsParse.js';

export const OPENMETRICS_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'url', type: 'string', description: 'URL of the OpenMetrics / Prometheus endpoint (e.g. `https://my.host:8080/metrics`). Required.' }),
  s({ name: 'headers', type: 'stringMap', default: {}, description: 'HTTP headers sent with each request (besides `User-Agent: scalyr-agent-2/OpenMetricsMonitor`, which they may replace).' }),
  s({ name: 'timeout', type: 'int', default: 10, min: 1, description: 'Seconds a request may take (connecting and reading the whole body).' }),
  s({ name: 'ca_file', type: 'string', description: 'A file with the CA certificate(s) that validate the server certificate (https only).' }),
  s({ name: 'verify_https', type: 'bool', default: true, description: 'Set to false to accept any server certificate and host name (https only).' }),
  s({ name: 'metric_name_include_list', type: 'stringArray', default: ['*'], description: 'Globs of metric names to record (default all). Set it to `[]` when using `metric_component_value_include_list`, otherwise every metric is included.' }),
  s({ name: 'metric_name_exclude_list', type: 'stringArray', default: [], description: 'Globs of metric names not to record; wins over both include lists.' }),
  s({ name: 'metric_component_value_include_list', type: 'any', default: {}, defaultText: '`{}`', description: 'Metric name (or `*` for all) → label name → list of globs of its values: a metric whose label value matches is included, e.g. `{"kafka_log_log_numlogsegments": {"topic": ["connect-status"]}}`.' }),
  s({ name: 'extra_fields', type: 'stringMap', default: {}, description: 'Fields added to every metric line (they replace labels of the same name).' }),
  own({ name: 'max_response_bytes', type: 'int', default: 10485760, min: 1024, description: 'A response body larger than this many bytes is cut off and the scrape fails (counted as an error): the memory a scrape may take is bounded.' }),
  own({ name: 'max_metrics_per_scrape', type: 'int', default: 20000, min: 1, description: 'At most this many samples are parsed from one scrape; the rest are dropped and counted (drop reason `too_many_metrics`).' }),
];

/** Scalyr's set: other types (histogram, summary…) are skipped when the sample's name is the family's. */
const SUPPORTED_METRIC_TYPES = new Set(['counter', 'gauge', 'untyped']);
/**
 * Whether a scraped sample (by its name as written) is a cumulative counter: a sample of a
 * `counter` family, or the `_count` / `_bucket` of a histogram (`_count` of a summary).
 */
export function isCounterSample(types: ReadonlyMap<string, string>, name: string): boolean {
  if (types.get(name) === 'counter') return true;
  const m = /^(.*)_(total|count|bucket)$/.exec(name);
  if (!m) return false;
  const family = types.get(m[1]);
  if (m[2] === 'total') return family === 'counter';
  if (m[2] === 'count') return family === 'histogram' || family === 'summary';
  return family === 'histogram';
}

/** More included metrics than this in one scrape: a warning (once a day). */
export const MAX_METRICS_PER_GATHER_WARN = 2000;
const DAY_MS = 86_400_000;

export function checkOpenmetricsMonitor(c: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const url = c.url;
  if (typeof url !== 'string' || url.trim() === '') {
    problems.push({ key: 'url', message: 'missing required option "url"' });
  } else {
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      problems.push({ key: 'url', message: `is not a URL: ${url}` });
    }
    if (u && u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ key: 'url', message: `must be http:// or https:// (got ${u.protocol})` });
  }
  const f = c.metric_component_value_include_list;
  if (f !== undefined && f !== null) {
    if (typeof f !== 'object' || Array.isArray(f)) {
      problems.push({ key: 'metric_component_value_include_list', message: 'must be an object: metric name → label name → list of globs' });
    } else {
      for (const [metric, byLabel] of Object.entries(f as Record<string, unknown>)) {
        if (byLabel === null || typeof byLabel !== 'object' || Array.isArray(byLabel)) {
          problems.push({ key: `metric_component_value_include_list.${metric}`, message: 'must be an object: label name → list of globs' });
          continue;
        }
        for (const [label, globs] of Object.entries(byLabel as Record<string, unknown>)) {
          if (!Array.isArray(globs) || !globs.every((g) => typeof g === 'string')) {
            problems.push({ key: `metric_component_value_include_list.${metric}.${label}`, message: 'must be a list of strings (globs)' });
          }
        }
      }
    }
  }
  return problems;
}

/** Python `fnmatch.fnmatchcase` as a RegExp: `*`, `?`, `[seq]`, `[!seq]`. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) re += '\\[';
      else {
        let body = glob.slice(i + 1, j).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = '^' + body.slice(1);
        else if (body.startsWith('^')) body = '\\' + body;
        re += `[${body}]`;
        i = j;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Scalyr's metric name: lowercased, quotes removed, spaces and `-` as `_`. */
export function scalyrMetricName(name: string): string {
  return name.toLowerCase().replace(/['"]/g, '').replace(/[ -]/g, '_');
}

/** Scalyr's value conversion; `undefined`: the sample is skipped. */
export function scalyrMetricValue(v: string): { value: number | string; float: boolean } | undefined {
  if (v.includes('.')) {
    const n = Number(v);
    return Number.isFinite(n) ? { value: n, float: true } : undefined;
  }
  if (v.includes('e+') || v.includes('e-')) {
    const n = Number(v);
    return Number.isFinite(n) ? { value: Math.trunc(n), float: false } : undefined;
  }
  if (v === '+Inf') return { value: '+Inf', float: false };
  if (/^[+-]?\d+$/.test(v)) return { value: Number(v), float: false };
  return undefined;
}

interface Options {
  url: URL;
  headers: Record<string, string>;
  timeoutMs: number;
  ca?: Buffer;
  verifyHttps: boolean;
  include: RegExp[];
  exclude: RegExp[];
  componentInclude: Map<string, [string, RegExp[]][]>;
  includeAll: boolean;
  extraFields: Record<string, string>;
  maxBytes: number;
  maxMetrics: number;
}

function strings(v: unknown): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (typeof v === 'string') return v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  return [];
}

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = String(x);
  return out;
}

export function openmetricsOptions(config: Readonly<Record<string, unknown>>): Options {
  const c = readDeclared(OPENMETRICS_MONITOR_OPTIONS, config);
  const [problem] = checkOpenmetricsMonitor(c);
  if (problem) throw new Error(`openmetrics_monitor: "${problem.key}" ${problem.message}`);
  const timeout = Number(c.timeout);
  if (!(timeout > 0)) throw new Error(`openmetrics_monitor: "timeout" must be a positive number of seconds (got ${String(c.timeout)})`);
  const includeGlobs = strings(c.metric_name_include_list);
  const excludeGlobs = strings(c.metric_name_exclude_list);
  const componentInclude = new Map<string, [string, RegExp[]][]>();
  for (const [metric, byLabel] of Object.entries((c.metric_component_value_include_list ?? {}) as Record<string, Record<string, string[]>>)) {
    componentInclude.set(metric, Object.entries(byLabel).map(([label, globs]) => [label, globs.map(globToRegExp)]));
  }
  const ca = typeof c.ca_file === 'string' && c.ca_file !== '' ? fs.readFileSync(c.ca_file) : undefined;
  return {
    url: new URL(String(c.url)),
    headers: { 'User-Agent': 'scalyr-agent-2/OpenMetricsMonitor', ...strMap(c.headers) },
    timeoutMs: timeout * 1000,
    ca,
    verifyHttps: !(c.verify_https === false || c.verify_https === 'false'),
    include: includeGlobs.map(globToRegExp),
    exclude: excludeGlobs.map(globToRegExp),
    componentInclude,
    includeAll: includeGlobs.includes('*') && componentInclude.size === 0 && excludeGlobs.length === 0,
    extraFields: strMap(c.extra_fields),
    maxBytes: Number(c.max_response_bytes),
    maxMetrics: Number(c.max_metrics_per_scrape),
  };
}

function shouldInclude(o: Options, name: string, fields: Record<string, string | number>): boolean {
  if (o.includeAll) return true;
  if (o.exclude.some((g) => g.test(name))) return false;
  const filters = o.componentInclude.get(name) ?? o.componentInclude.get('*') ?? [];
  for (const [label, globs] of filters) {
    const v = fields[label];
    const text = v === undefined ? '' : String(v);
    if (globs.some((g) => g.test(text))) return true;
  }
  return o.include.some((g) => g.test(name));
}

/** A scrape failure of a kind (the state the monitor is in). */
class ScrapeError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/** One GET; resolves with the body, rejects with a ScrapeError. `cancel` aborts it. */
function fetchBody(o: Options): { done: Promise<{ body: string; contentType: string }>; cancel: () => void } {
  let req: http.ClientRequest | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const url = o.url.toString();
  const done = new Promise<{ body: string; contentType: string }>((resolve, reject) => {
    const fail = (e: ScrapeError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      reject(e);
    };
    const mod = o.url.protocol === 'https:' ? https : http;
    const opts: https.RequestOptions = { method: 'GET', headers: o.headers };
    if (o.url.protocol === 'https:') {
      opts.rejectUnauthorized = o.verifyHttps;
      if (o.ca) opts.ca = o.ca;
    }
    timer = setTimeout(() => fail(new ScrapeError('timeout', `request to ${url} timed out after ${o.timeoutMs / 1000}s`)), o.timeoutMs);
    req = mod.request(o.url, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (b: Buffer) => {
        if (settled) return;
        size += b.length;
        if (size > o.maxBytes) {
          fail(new ScrapeError('too_large', `response from ${url} is larger than max_response_bytes (${o.maxBytes} bytes); transfer cut`));
          return;
        }
        chunks.push(b);
      });
      res.on('error', (e) => fail(new ScrapeError('down', `reading the response from ${url} failed: ${e.message}`)));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          reject(new ScrapeError(`status_${res.statusCode}`, `failed to fetch metrics from ${url}: status_code=${res.statusCode},body=${body.slice(0, 200)}`));
          return;
        }
        resolve({ body, contentType: String(res.headers['content-type'] ?? 'application/openmetrics-text') });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => fail(new ScrapeError('down', `request to ${url} failed: ${e.code ?? ''}${e.code ? ' ' : ''}${e.message}`)));
    req.end();
  });
  return {
    done,
    cancel: () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
    },
  };
}

export function openmetricsMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const o = openmetricsOptions(config);
  const name = ctx.id;
  let state = 'ok';
  let failing = false;
  let garbageWarned = false;
  let lastManyWarn = -Infinity;
  let lastNoneWarn = -Infinity;

  const samplesOf = (body: string): ScalyrMonitorSample[] => {
    const parsed = parseExposition(body, { maxSamples: o.maxMetrics });
    if (parsed.samples.length === 0 && parsed.invalidLines > 0) {
      throw new ScrapeError('garbage', `${o.url.toString()} answered garbage: ${parsed.invalidLines} invalid line(s), no metric (${parsed.reasons.join('; ')})`);
    }
    if (parsed.invalidLines > 0) {
      if (ctx.counters) countDrop(ctx.counters, 'invalid_line', parsed.invalidLines);
      if (!garbageWarned) {
        garbageWarned = true;
        ctx.logger.warn(`monitor ${name}: ${parsed.invalidLines} invalid line(s) in the response from ${o.url.toString()} skipped (${parsed.reasons.join('; ')}); not logged again until a clean response`, { monitor: name });
      }
    } else garbageWarned = false;
    if (parsed.droppedSamples > 0) {
      if (ctx.counters) countDrop(ctx.counters, 'too_many_metrics', parsed.droppedSamples);
      ctx.logger.warn(`monitor ${name}: ${parsed.droppedSamples} sample(s) beyond max_metrics_per_scrape (${o.maxMetrics}) dropped`, { monitor: name });
    }
    const out: ScalyrMonitorSample[] = [];
    let total = 0;
    let badValues = 0;
    for (const p of parsed.samples) {
      const metric = scalyrMetricName(p.name);
      const fields: Record<string, string | number> = { ...p.labels };
      if (p.timestamp !== undefined && /^[+-]?\d+$/.test(p.timestamp)) fields.timestamp = Number(p.timestamp);
      const v = scalyrMetricValue(p.value);
      if (v === undefined) {
        badValues++;
        continue;
      }
      total++;
      if (!shouldInclude(o, metric, fields)) continue;
      const type = parsed.types.get(metric);
      if (type !== undefined && !SUPPORTED_METRIC_TYPES.has(type)) continue;
      Object.assign(fields, o.extraFields);
      out.push({ metric, value: v.value, fields, float: v.float, ...(isCounterSample(parsed.types, p.name) ? { counter: true } : {}) });
    }
    if (badValues > 0 && ctx.counters) countDrop(ctx.counters, 'unsupported_value', badValues);
    const now = Date.now();
    if (out.length > MAX_METRICS_PER_GATHER_WARN && now - lastManyWarn >= DAY_MS) {
      lastManyWarn = now;
      ctx.logger.warn(`monitor ${name}: parsed more than ${MAX_METRICS_PER_GATHER_WARN} metrics (${out.length}) for URL ${o.url.toString()}; filter them at the source or with "metric_name_exclude_list"`, { monitor: name });
    }
    if (total >= 1 && out.length === 0 && now - lastNoneWarn >= DAY_MS) {
      lastNoneWarn = now;
      ctx.logger.warn(`monitor ${name}: the server returned ${total} metrics, but none were included; the filters are likely too restrictive`, { monitor: name });
    }
    return out;
  };

  return new Observable<ScalyrMonitorSample[]>((subscriber) => {
    const f = fetchBody(o);
    f.done
      .then(({ body, contentType }) => {
        if (contentType.includes('application/openmetrics-protobuf') || contentType.includes('application/vnd.google.protobuf')) {
          throw new ScrapeError('protobuf', `${o.url.toString()} answered the protobuf format (Content-Type: ${contentType}), which is not supported`);
        }
        return samplesOf(body);
      })
      .then(
        (samples) => {
          state = 'ok';
          failing = false;
          subscriber.next(samples);
          subscriber.complete();
        },
        (err: unknown) => {
          const kind = err instanceof ScrapeError ? err.kind : 'error';
          // The runner logs the first failure of a burst; a change of kind within it is logged here.
          if (failing && kind !== state) ctx.logger.error(`monitor ${name}: ${err instanceof Error ? err.message : String(err)} (the failure changed; still retrying)`, { monitor: name });
          failing = true;
          state = kind;
          subscriber.error(err);
        },
      );
    return () => f.cancel();
  });
}

export const openmetricsMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'openmetrics_monitor',
  aliases: ['scalyr_agent.builtin_monitors.openmetrics_monitor'],
  // Scalyr does not rate limit openmetrics' metric log by default (its -1 defaults).
  monitorLogDefaults: { monitor_log_write_rate: -1, monitor_log_max_write_burst: -1 },
  doc: 'Scrapes a Prometheus / OpenMetrics text endpoint at each sample and records its counters, gauges and untyped samples as metric lines (labels as fields), filtered by metric name and label value globs. Counters (a `counter` family\'s samples, a histogram\'s `_bucket` and `_count`, a summary\'s `_count`) are exported over OTLP as monotonic cumulative sums, the rest as gauges.',
  options: OPENMETRICS_MONITOR_OPTIONS,
  check: checkOpenmetricsMonitor,
  example: { module: 'openmetrics_monitor', id: 'node', url: 'http://127.0.0.1:9100/metrics', metric_name_include_list: ['node_load*', 'node_memory_*'] },
  create: openmetricsMonitor,
});
