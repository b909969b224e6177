/**
 * The Scout check-in payload (`POST /apps/checkin.scout`, report_format json, payload_version 2)
 * built from one {@link ApmMinute}, following the only public model of it (Scout's Ruby agent,
 * behaviour notes §3.7). What the real core agent sends upstream is not public; this is the
 * documented shape, not a verified byte-for-byte copy.
 */
import type { ApmMinute, MetricStats, SlowTrace } from '../../lib/apm/types.js';
import { formatInstant } from '../../lib/apm/timestamp.js';

export interface CheckinMeta {
  hostname: string;
  agentVersion: string;
  pid: number;
  uniqueId: string;
  appRoot?: string;
  gitSha?: string;
}

type Key = { bucket: string; name: string; desc: null | string; extra: Record<string, unknown>; scope: null | { bucket: string; name: string } };

const split = (metric: string) => {
  const i = metric.indexOf('/');
  return i < 0 ? { bucket: metric, name: metric } : { bucket: metric.slice(0, i), name: metric.slice(i + 1) };
};
const key = (metric: string, scope?: string, desc: string | null = null): Key => ({
  ...split(metric),
  desc,
  extra: {},
  scope: scope ? split(scope) : null,
});
const stats = (s: MetricStats) => ({
  call_count: s.callCount,
  total_call_time: s.totalCallTime,
  total_exclusive_time: s.totalExclusiveTime,
  min_call_time: s.minCallTime,
  max_call_time: s.maxCallTime,
});

function spanTrace(t: SlowTrace, meta: CheckinMeta) {
  const tags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t.tags)) tags[k] = v;
  return {
    version: 1,
    identity: {
      transaction_id: t.requestId,
      revision: meta.gitSha ?? '',
      host: meta.hostname,
      start_instant: formatInstant(t.start),
      stop_instant: formatInstant(t.stop),
      type: t.kind === 'job' ? 'Job' : 'Web',
      naming: { path: t.uri ?? '', code: '' },
      score: { total: t.score, percentile: 0, age: 0, memory_delta: 0, allocations: 0 },
    },
    tags,
    spans: t.spans.map((s) => {
      const st: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.tags)) {
        if (k === 'stack' && Array.isArray(v)) {
          st.backtrace = v.map((f) => (f && typeof f === 'object' ? { ...f, line: String((f as { line?: unknown }).line ?? '') } : f));
        } else st[k] = v;
      }
      return {
        type: 'Standard',
        identity: { id: s.id, parent_id: s.parentId ?? '', start_instant: formatInstant(s.start), stop_instant: formatInstant(s.stop), operation: s.operation },
        tags: st,
      };
    }),
  };
}

export function buildCheckinPayload(m: ApmMinute, meta: CheckinMeta): Record<string, unknown> {
  const metrics: Record<string, unknown>[] = [];
  const jobs: Record<string, unknown>[] = [];
  const histograms: Record<string, unknown>[] = [];
  for (const e of m.endpoints) {
    if (e.kind === 'job') {
      jobs.push({
        queue: e.queue ?? 'default',
        name: e.name.replace(/^Job\//, ''),
        count: e.callCount,
        errors: e.errors,
        total_time: e.histogram,
        exclusive_time: e.exclusiveHistogram,
        metrics: Object.entries(e.children).map(([name, s]) => ({
          ...split(name),
          count: s.callCount,
          total_call_time: s.totalCallTime,
          total_exclusive_time: s.totalExclusiveTime,
          min_call_time: s.minCallTime,
          max_call_time: s.maxCallTime,
          metrics: [],
          detail: {},
        })),
      });
      continue;
    }
    metrics.push({ key: key(e.name), ...stats(e) });
    for (const [name, s] of Object.entries(e.children)) metrics.push({ key: key(name, e.name), ...stats(s) });
    if (e.errors > 0) metrics.push({ key: key(`Errors/${e.name}`), call_count: e.errors, total_call_time: 0, total_exclusive_time: 0, min_call_time: 0, max_call_time: 0 });
    if (e.queueTime) metrics.push({ key: key('QueueTime/Request', e.name), ...stats(e.queueTime) });
    histograms.push({ name: e.name, histogram: e.histogram });
  }
  if (m.errorsTotal > 0) metrics.push({ key: key('Errors/Request'), call_count: m.errorsTotal, total_call_time: 0, total_exclusive_time: 0, min_call_time: 0, max_call_time: 0 });
  for (const [name, s] of Object.entries(m.samplers)) metrics.push({ key: key(name), ...stats(s) });
  const md = (m.metadata?.value ?? {}) as Record<string, unknown>;
  return {
    metadata: {
      app_root: typeof md.application_root === 'string' ? md.application_root : (meta.appRoot ?? ''),
      unique_id: meta.uniqueId,
      agent_version: meta.agentVersion,
      agent_time: new Date(m.minute).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      agent_pid: meta.pid,
      platform: typeof md.language === 'string' ? md.language : 'core-agent',
      payload_version: 2,
    },
    metrics,
    slow_transactions: [],
    jobs,
    slow_jobs: [],
    histograms,
    db_metrics: {
      query: m.dbQueries.map((d) => ({
        model_name: d.model,
        operation: d.operation,
        scope: d.scope,
        transaction_count: d.transactionCount,
        call_count: d.callCount,
        histogram: d.histogram,
        call_time: d.totalCallTime,
        max_call_time: d.maxCallTime,
        min_call_time: d.minCallTime,
        max_rows_returned: 0,
        min_rows_returned: 0,
        rows_returned: 0,
      })),
    },
    es_metrics: { http: [] },
    span_traces: m.traces.map((t) => spanTrace(t, meta)),
  };
}
