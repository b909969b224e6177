/**
 * Records → events (lib/types.ts `Event`): the text and flat attributes every sink understands
 * (addEvents, the embedded sink), with the record beside them for sinks that export structure.
 * `end` is filled by the receiver.
 */
import type { Event } from '../../lib/types.js';
import type { Attributes, MetricRecord, SpanRecord } from '../../lib/telemetry.js';
import { formatMetricLine } from '../monitors/metricLine.js';
import { flatValue, jsonOf, type LogItem, type MetricItem } from './convert.js';

type Flat = Record<string, string | number | boolean>;

function flatten(a: Attributes | undefined, into: Flat = {}): Flat {
  if (!a) return into;
  for (const [k, v] of Object.entries(a)) {
    const f = flatValue(v);
    if (f === undefined) continue;
    if (k === '__proto__') Object.defineProperty(into, k, { value: f, enumerable: true, writable: true, configurable: true });
    else into[k] = f;
  }
  return into;
}

function serviceName(resource: Attributes | undefined): string | undefined {
  const s = resource?.['service.name'];
  return typeof s === 'string' && s !== '' ? s : undefined;
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

export function logEvent(it: LogItem, now = nowNs()): Event {
  const r = it.record;
  const attrs = flatten(r.attributes);
  if (r.severityText) attrs.severity = r.severityText;
  if (r.traceId) attrs.trace_id = r.traceId;
  if (r.spanId) attrs.span_id = r.spanId;
  const svc = serviceName(r.resource);
  if (svc) attrs['service.name'] = svc;
  const message = it.text ?? (r.body === undefined ? '' : jsonOf(r.body));
  return { message, end: 0, ts: it.timeNs ?? now, attrs, record: r };
}

export function metricEvent(it: MetricItem, now = nowNs()): Event {
  const r: MetricRecord = it.record;
  const ts = it.timeNs ?? now;
  const svc = serviceName(r.resource);
  const line = formatMetricLine(Number(ts / 1_000_000n), `otlp(${svc ?? ''})`, r.name, r.value, r.fields) + '\n';
  const ev: Event = { message: line, end: 0, ts, record: r };
  if (svc) ev.attrs = { 'service.name': svc };
  return ev;
}

const STATUS = ['unset', 'ok', 'error'] as const;

export function spanEvent(r: SpanRecord): Event {
  const attrs = flatten(r.attributes);
  attrs.trace_id = r.traceId;
  attrs.span_id = r.spanId;
  if (r.parentSpanId) attrs.parent_span_id = r.parentSpanId;
  attrs.duration_ms = r.endNs >= r.startNs ? Number(r.endNs - r.startNs) / 1e6 : 0;
  attrs.status = STATUS[r.status?.code ?? 0];
  if (r.status?.message) attrs.status_message = r.status.message;
  const svc = serviceName(r.resource);
  if (svc) attrs['service.name'] = svc;
  return { message: r.name, end: 0, ts: r.startNs, attrs, record: r };
}
