/**
 * Pure per-minute aggregation of completed requests and application events (Scout's Ruby agent
 * model, behaviour notes §3): per wall-clock minute and per (app key, app name) it keeps endpoint
 * metrics with histograms, child metrics by span type, errors, queue time, job metrics by queue,
 * DB query metrics, samplers, the latest `scout.metadata`, and at most 10 slow traces (one per
 * endpoint, by score). Time handling (which minute is closed) belongs to `aggregateSpans`.
 */
import type {
  AppEvent,
  ApmItem,
  ApmMinute,
  CompletedRequest,
  CompletedSpan,
  DbQueryMetric,
  EndpointMetric,
  MetricStats,
  SlowTrace,
} from '../../lib/apm/types.js';
import { NumericHistogram } from './histogram.js';
import { sqlName } from './sqlName.js';

export const MAX_TRACES_PER_MINUTE = 10;
export const MAX_TRACE_SPANS = 1500;
/** Distinct endpoints per (minute, app); more are dropped (`endpoint_cap`). */
export const MAX_ENDPOINTS_PER_MINUTE = 2000;
/** Endpoints remembered for slow-trace scoring across minutes. */
const MAX_HISTORY_ENDPOINTS = 10_000;
/** Queue times above this (ns) are implausible (clock skew, wrong header unit) and ignored. */
const MAX_QUEUE_TIME_NS = 3600e9;

const newStats = (): MetricStats => ({ callCount: 0, totalCallTime: 0, totalExclusiveTime: 0, minCallTime: Infinity, maxCallTime: 0 });
function addStats(s: MetricStats, total: number, exclusive: number, minMaxOf = total): void {
  s.callCount++;
  s.totalCallTime += total;
  s.totalExclusiveTime += exclusive;
  if (minMaxOf < s.minCallTime) s.minCallTime = minMaxOf;
  if (minMaxOf > s.maxCallTime) s.maxCallTime = minMaxOf;
}
const finishStats = (s: MetricStats): MetricStats => ({ ...s, minCallTime: s.callCount ? s.minCallTime : 0 });

interface EndpointAcc {
  name: string;
  kind: 'web' | 'job';
  queue?: string;
  stats: MetricStats;
  errors: number;
  hist: NumericHistogram;
  exHist: NumericHistogram;
  children: Map<string, MetricStats>;
  queueTime?: MetricStats;
}

interface DbAcc {
  model: string;
  operation: string;
  scope: string;
  stats: MetricStats;
  transactionCount: number;
  hist: NumericHistogram;
}

interface Candidate {
  score: number;
  endpoint: string;
  build: () => SlowTrace;
}

export interface AppMinuteAcc {
  minute: number;
  appKey: string;
  appName: string;
  endpoints: Map<string, EndpointAcc>;
  endpointTimeTotal: number;
  errorsTotal: number;
  samplers: Map<string, MetricStats>;
  db: Map<string, DbAcc>;
  traces: Map<string, Candidate>;
  metadata?: { source: string; value: unknown; timestamp: number };
  requests: number;
}

const truthy = (v: unknown) => v === true || v === 'true' || v === 'True' || v === 1 || v === '1';

/** Long-lived state across minutes (slow-trace scoring). */
export class EndpointHistory {
  readonly hist = new Map<string, NumericHistogram>();
  readonly lastTraceMinute = new Map<string, number>();
}

/** Finds the endpoint span: the earliest `Controller/`/`Job/` span, shallowest on ties. */
export function findEndpoint(spans: CompletedSpan[]): CompletedSpan | undefined {
  let best: CompletedSpan | undefined;
  for (const s of spans) {
    if (!(s.operation.startsWith('Controller/') || s.operation.startsWith('Job/'))) continue;
    if (!best || s.start < best.start || (s.start === best.start && !s.parentId && best.parentId)) best = s;
  }
  return best;
}

export class MinuteAggregator {
  /** Open minutes: minute start → app id → accumulator. */
  readonly minutes = new Map<number, Map<string, AppMinuteAcc>>();
  readonly history = new EndpointHistory();

  constructor(
    private readonly minuteMs: number,
    private readonly drop: (reason: string, n?: number) => void,
  ) {}

  minuteOf(t: number): number {
    return Math.floor(t / this.minuteMs) * this.minuteMs;
  }

  private acc(minute: number, appKey: string, appName: string): { acc: AppMinuteAcc; created: boolean } {
    let m = this.minutes.get(minute);
    let created = false;
    if (!m) {
      m = new Map();
      this.minutes.set(minute, m);
      created = true;
    }
    const id = appKey + '\u0000' + appName;
    let a = m.get(id);
    if (!a) {
      a = {
        minute,
        appKey,
        appName,
        endpoints: new Map(),
        endpointTimeTotal: 0,
        errorsTotal: 0,
        samplers: new Map(),
        db: new Map(),
        traces: new Map(),
        requests: 0,
      };
      m.set(id, a);
    }
    return { acc: a, created };
  }

  /** Adds one item to `minute`; returns true when that minute was newly opened. */
  add(item: ApmItem, minute: number): boolean {
    if (item.type === 'request') return this.addRequest(item, minute);
    return this.addEvent(item, minute);
  }

  private addEvent(e: AppEvent, minute: number): boolean {
    if (e.eventType === 'CPU/Utilization' || e.eventType === 'Memory/Physical') {
      const v = typeof e.value === 'number' ? e.value : typeof e.value === 'string' ? Number(e.value) : NaN;
      if (!Number.isFinite(v)) {
        this.drop('invalid_sampler_value');
        return false;
      }
      const { acc, created } = this.acc(minute, e.appKey, e.appName);
      let s = acc.samplers.get(e.eventType);
      if (!s) acc.samplers.set(e.eventType, (s = newStats()));
      addStats(s, v, v);
      return created;
    }
    if (e.eventType === 'scout.metadata') {
      const { acc, created } = this.acc(minute, e.appKey, e.appName);
      acc.metadata = { source: e.source, value: e.value, timestamp: e.timestamp };
      return created;
    }
    this.drop('unknown_app_event');
    return false;
  }

  private addRequest(r: CompletedRequest, minute: number): boolean {
    if (truthy(r.tags.ignore_transaction)) {
      this.drop('ignored');
      return false;
    }
    const endpointSpan = findEndpoint(r.spans);
    if (!endpointSpan) {
      this.drop('no_endpoint');
      return false;
    }
    const { acc, created } = this.acc(minute, r.appKey, r.appName);
    acc.requests++;

    // Rename SQL/Query spans once; remember names/descs per span.
    const ops = new Map<CompletedSpan, { op: string; model?: string; operation?: string; desc?: string }>();
    for (const s of r.spans) {
      if (s.operation === 'SQL/Query' && typeof s.tags['db.statement'] === 'string') {
        const n = sqlName(s.tags['db.statement'] as string);
        ops.set(s, { op: n.name, model: n.model, operation: n.operation, desc: n.scrubbed });
      }
    }
    const opOf = (s: CompletedSpan) => ops.get(s)?.op ?? s.operation;

    // Durations (seconds) and exclusive times.
    const byId = new Map<string, CompletedSpan>();
    for (const s of r.spans) byId.set(s.id, s);
    const childSum = new Map<CompletedSpan, number>();
    for (const s of r.spans) {
      const p = s.parentId !== undefined ? byId.get(s.parentId) : undefined;
      if (p && p !== s) childSum.set(p, (childSum.get(p) ?? 0) + (s.stop - s.start) / 1000);
    }
    const dur = (s: CompletedSpan) => Math.max(0, (s.stop - s.start) / 1000);
    const excl = (s: CompletedSpan) => Math.max(0, dur(s) - (childSum.get(s) ?? 0));

    const kind: 'web' | 'job' = endpointSpan.operation.startsWith('Job/') ? 'job' : 'web';
    let name = endpointSpan.operation;
    const renamed = r.tags['transaction.name'];
    if (typeof renamed === 'string' && renamed.length > 0) {
      name = renamed.includes('/') ? renamed : `${kind === 'job' ? 'Job' : 'Controller'}/${renamed}`;
    }
    const queue = kind === 'job' ? (typeof r.tags.queue === 'string' && r.tags.queue ? r.tags.queue : 'default') : undefined;
    const epKey = kind === 'job' ? `${queue}\u0000${name}` : name;
    let ep = acc.endpoints.get(epKey);
    if (!ep && acc.endpoints.size >= MAX_ENDPOINTS_PER_MINUTE) {
      this.drop('endpoint_cap'); // runaway endpoint-name cardinality (ids in names)
      return created;
    }
    if (!ep) {
      ep = { name, kind, stats: newStats(), errors: 0, hist: new NumericHistogram(), exHist: new NumericHistogram(), children: new Map() };
      if (queue !== undefined) ep.queue = queue;
      acc.endpoints.set(epKey, ep);
    }
    const total = dur(endpointSpan);
    const exclusive = excl(endpointSpan);
    addStats(ep.stats, total, exclusive);
    ep.hist.add(total);
    ep.exHist.add(exclusive);
    acc.endpointTimeTotal += total;
    if (truthy(r.tags.error)) {
      ep.errors++;
      acc.errorsTotal++;
    }
    const qtTag = kind === 'job' ? r.tags['scout.job_queue_time_ns'] : r.tags['scout.queue_time_ns'];
    if (qtTag !== undefined) {
      const ns = typeof qtTag === 'number' ? qtTag : typeof qtTag === 'string' && /^\d+(\.\d+)?$/.test(qtTag) ? Number(qtTag) : NaN;
      if (Number.isFinite(ns) && ns >= 0 && ns <= MAX_QUEUE_TIME_NS) {
        ep.queueTime ??= newStats();
        addStats(ep.queueTime, ns / 1e9, ns / 1e9);
      } else this.drop('implausible_queue_time');
    }

    // Child metrics by span type, and DB query metrics.
    const seenDb = new Set<string>();
    for (const s of r.spans) {
      if (s === endpointSpan) continue;
      const op = opOf(s);
      const slash = op.indexOf('/');
      const type = slash > 0 ? op.slice(0, slash) : op;
      const key = `${type}/all`;
      let c = ep.children.get(key);
      if (!c) ep.children.set(key, (c = newStats()));
      const d = dur(s);
      const x = excl(s);
      addStats(c, d, x, x);
      const n = ops.get(s);
      if (n?.operation) {
        const model = n.model ?? '';
        const dbKey = `${model}\u0000${n.operation}\u0000${name}`;
        let db = acc.db.get(dbKey);
        if (!db) {
          db = { model, operation: n.operation, scope: name, stats: newStats(), transactionCount: 0, hist: new NumericHistogram() };
          acc.db.set(dbKey, db);
        }
        addStats(db.stats, d, x);
        db.hist.add(d);
        if (!seenDb.has(dbKey)) {
          seenDb.add(dbKey);
          db.transactionCount++;
        }
      }
    }

    // Slow-trace scoring (Ruby slow_request_policy, percentile thresholds on a 0–100 scale).
    let h = this.history.hist.get(name);
    if (!h) {
      if (this.history.hist.size >= MAX_HISTORY_ENDPOINTS) {
        const oldest = this.history.hist.keys().next().value as string;
        this.history.hist.delete(oldest);
        this.history.lastTraceMinute.delete(oldest);
      }
      this.history.hist.set(name, (h = new NumericHistogram()));
    }
    const pct = h.quantileOfValue(total) * 100;
    h.add(total);
    const share = acc.endpointTimeTotal > 0 ? ep.stats.totalCallTime / acc.endpointTimeTotal : 0;
    const last = this.history.lastTraceMinute.get(name);
    const ageMin = last === undefined ? 10 : Math.min(10, Math.max(0, (minute - last) / this.minuteMs));
    const score = Math.log1p(total) * 0.25 + share * 2.5 + ageMin * 0.25 + (pct < 40 ? 0.4 : pct < 60 ? 1.4 : pct < 90 ? 0.7 : 1.4);
    this.offerTrace(acc, {
      score,
      endpoint: name,
      build: () => buildTrace(r, name, kind, score, total, opOf, ops),
    });
    return created;
  }

  private offerTrace(acc: AppMinuteAcc, c: Candidate): void {
    const traces = acc.traces;
    const existing = traces.get(c.endpoint);
    if (existing) {
      if (c.score > existing.score) traces.set(c.endpoint, c);
      return;
    }
    if (traces.size < MAX_TRACES_PER_MINUTE) {
      traces.set(c.endpoint, c);
      return;
    }
    let min: Candidate | undefined;
    for (const t of traces.values()) if (!min || t.score < min.score) min = t;
    if (min && c.score > min.score) {
      traces.delete(min.endpoint);
      traces.set(c.endpoint, c);
    }
  }

  /** Removes and renders every app of `minute` (sorted by app). */
  take(minute: number): ApmMinute[] {
    const m = this.minutes.get(minute);
    if (!m) return [];
    this.minutes.delete(minute);
    const out: ApmMinute[] = [];
    for (const a of [...m.values()].sort((x, y) => (x.appName + x.appKey).localeCompare(y.appName + y.appKey))) {
      for (const t of a.traces.values()) this.history.lastTraceMinute.set(t.endpoint, minute);
      out.push(render(a, this.minuteMs));
    }
    return out;
  }
}

function render(a: AppMinuteAcc, minuteMs: number): ApmMinute {
  const endpoints: EndpointMetric[] = [...a.endpoints.values()]
    .sort((x, y) => x.name.localeCompare(y.name) || (x.queue ?? '').localeCompare(y.queue ?? ''))
    .map((e) => {
      const children: Record<string, MetricStats> = {};
      for (const [k, s] of [...e.children].sort(([x], [y]) => x.localeCompare(y))) children[k] = finishStats(s);
      const out: EndpointMetric = {
        name: e.name,
        kind: e.kind,
        ...finishStats(e.stats),
        errors: e.errors,
        histogram: e.hist.toPairs(),
        exclusiveHistogram: e.exHist.toPairs(),
        children,
      };
      if (e.queue !== undefined) out.queue = e.queue;
      if (e.queueTime) out.queueTime = finishStats(e.queueTime);
      return out;
    });
  const samplers: Record<string, MetricStats> = {};
  for (const [k, s] of a.samplers) samplers[k] = finishStats(s);
  const dbQueries: DbQueryMetric[] = [...a.db.values()].map((d) => ({
    model: d.model,
    operation: d.operation,
    scope: d.scope,
    ...finishStats(d.stats),
    transactionCount: d.transactionCount,
    histogram: d.hist.toPairs(),
  }));
  const traces = [...a.traces.values()].sort((x, y) => y.score - x.score).map((c) => c.build());
  const out: ApmMinute = {
    minute: a.minute,
    minuteMs,
    appKey: a.appKey,
    appName: a.appName,
    endpoints,
    errorsTotal: a.errorsTotal,
    samplers,
    dbQueries,
    traces,
    requests: a.requests,
  };
  if (a.metadata) out.metadata = a.metadata;
  return out;
}

function buildTrace(
  r: CompletedRequest,
  endpoint: string,
  kind: 'web' | 'job',
  score: number,
  total: number,
  opOf: (s: CompletedSpan) => string,
  ops: Map<CompletedSpan, { desc?: string }>,
): SlowTrace {
  const spans = r.spans.slice(0, MAX_TRACE_SPANS).map((s) => {
    const tags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s.tags)) {
      if (k === 'db.statement') continue; // replaced by the scrubbed desc
      tags[k] = v;
    }
    const desc = ops.get(s)?.desc;
    if (desc !== undefined) tags.desc = desc;
    const out: SlowTrace['spans'][number] = { id: s.id, operation: opOf(s), start: s.start, stop: s.stop, tags };
    if (s.parentId !== undefined) out.parentId = s.parentId;
    return out;
  });
  const truncated = r.spans.length > MAX_TRACE_SPANS || (r.droppedSpans ?? 0) > 0;
  const tags = { ...r.tags };
  if (truncated) tags['scout.reached_span_cap'] = true;
  const t: SlowTrace = {
    requestId: r.requestId,
    endpoint,
    kind,
    score: Math.round(score * 1000) / 1000,
    start: r.start,
    stop: r.stop,
    totalCallTime: total,
    tags,
    spans,
    truncated,
  };
  if (typeof r.tags.path === 'string') t.uri = r.tags.path;
  return t;
}
