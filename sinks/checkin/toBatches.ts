/**
 * Turns per-minute APM aggregates into pipeline {@link Batch}es so every sink (Scalyr addEvents,
 * the embedded NDJSON sink, the Scout check-in sink) can carry them.
 *
 * One stream (kind `apm`, path `scout-apm` by default). Each {@link ApmMinute} becomes one batch:
 * one event per endpoint metric, slow trace, DB query metric, sampler, plus a `minute` summary
 * event and a `metadata` event when one arrived. The message is the record as a JSON string; the
 * attrs carry `apm_type`, `scout_app`, `scout_key_id` (never the key itself), `minute` (ISO) and
 * the headline numbers for querying. Offsets are a running event count: the batch `end` is acked
 * by sinks; nothing upstream waits for it (the intake has already replied to clients).
 */
import type { Batch, Event, Stream } from '../../lib/types.js';
import type { ApmMinute } from '../../lib/apm/types.js';
import { ScoutKeyring } from './keyring.js';

export interface ApmBatcherOptions {
  keyring?: ScoutKeyring;
  path?: string;
  id?: string;
  /** Called with each acked offset (status, tests). */
  onAck?: (end: number) => void;
}

export interface ApmBatcher {
  readonly stream: Stream;
  readonly keyring: ScoutKeyring;
  toBatch(m: ApmMinute): Batch;
  /** Highest offset acked by sinks so far. */
  acked(): number;
}

const round = (v: number) => Math.round(v * 1e6) / 1e6;

export function createApmBatcher(opts: ApmBatcherOptions = {}): ApmBatcher {
  const keyring = opts.keyring ?? new ScoutKeyring();
  let offset = 0;
  let ackedEnd = 0;
  let lastTs = 0n;
  const path = opts.path ?? 'scout-apm';
  const stream: Stream = {
    id: opts.id ?? `apm:${path}`,
    kind: 'apm',
    path,
    attrs: { parser: 'scout-apm', logfile: path },
    ack(end: number) {
      if (end > ackedEnd) ackedEnd = end;
      opts.onAck?.(end);
    },
  };
  return {
    stream,
    keyring,
    acked: () => ackedEnd,
    toBatch(m: ApmMinute): Batch {
      const minuteIso = new Date(m.minute).toISOString();
      const common = { scout_app: m.appName, scout_key_id: keyring.add(m.appKey), minute: minuteIso };
      const minuteNs = BigInt(m.minute) * 1_000_000n;
      const events: Event[] = [];
      const push = (apm_type: string, record: Record<string, unknown>, attrs: Record<string, unknown>) => {
        // Event time = the minute's start, nudged so times stay unique and increasing on the stream.
        const ts = minuteNs > lastTs ? minuteNs : lastTs + 1n;
        lastTs = ts;
        events.push({
          message: safeJson({ apm_type, minute: minuteIso, minute_ms: m.minuteMs, app: m.appName, ...record }),
          end: ++offset,
          ts,
          attrs: { apm_type, ...common, ...attrs },
        });
      };
      push('minute', { requests: m.requests, errors_total: m.errorsTotal }, { requests: m.requests, errors_total: m.errorsTotal });
      for (const e of m.endpoints) {
        push('endpoint', { ...e }, {
          endpoint: e.name,
          kind: e.kind,
          ...(e.queue !== undefined ? { queue: e.queue } : {}),
          call_count: e.callCount,
          total_call_time: round(e.totalCallTime),
          total_exclusive_time: round(e.totalExclusiveTime),
          min_call_time: round(e.minCallTime),
          max_call_time: round(e.maxCallTime),
          errors: e.errors,
        });
      }
      for (const d of m.dbQueries) {
        push('db_query', { ...d }, { model: d.model, operation: d.operation, endpoint: d.scope, call_count: d.callCount, total_call_time: round(d.totalCallTime) });
      }
      for (const [name, s] of Object.entries(m.samplers)) {
        push('sampler', { name, ...s }, { sampler: name, call_count: s.callCount, total: round(s.totalCallTime), min: s.minCallTime, max: s.maxCallTime });
      }
      for (const t of m.traces) {
        push('trace', { ...t }, { endpoint: t.endpoint, request_id: t.requestId, total_call_time: round(t.totalCallTime), score: t.score, spans: t.spans.length });
      }
      if (m.metadata) push('metadata', { ...m.metadata }, { source: m.metadata.source });
      return { stream, events, end: offset };
    },
  };
}

/** JSON.stringify that never throws (cycles and absurd nesting become a placeholder). */
export function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  } catch {
    try {
      // Drop the culprit: tag values (and app metadata) are the only client-controlled structures.
      return JSON.stringify(v, (k, x) => (k === 'tags' || k === 'value' ? { unserializable: true } : typeof x === 'bigint' ? x.toString() : x));
    } catch {
      return '{"unserializable":true}';
    }
  }
}

/** Rebuilds the per-minute records from an `apm` batch (what the check-in sink consumes). */
export function batchToMinutes(batch: Batch, keyring?: ScoutKeyring): ApmMinute[] {
  return batchToMinuteGroups(batch, keyring).groups.map((g) => g.minute);
}

/**
 * As {@link batchToMinutes}, with the number of the batch's events each minute was rebuilt from,
 * and the number of events that are no APM record (no `apm_type`, or a message that is no JSON).
 */
export function batchToMinuteGroups(batch: Batch, keyring?: ScoutKeyring): { groups: { minute: ApmMinute; events: number }[]; invalid: number } {
  const byMinute = new Map<string, { minute: ApmMinute; events: number }>();
  let invalid = 0;
  for (const ev of batch.events) {
    const a = ev.attrs ?? {};
    const type = a.apm_type;
    if (typeof type !== 'string') {
      invalid++;
      continue;
    }
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(typeof ev.message === 'string' ? ev.message : ev.message.toString('utf8'));
    } catch {
      invalid++;
      continue;
    }
    const keyIdv = String(a.scout_key_id ?? '');
    const id = `${a.minute}\u0000${a.scout_app}\u0000${keyIdv}`;
    let g = byMinute.get(id);
    if (!g) {
      const m: ApmMinute = {
        minute: Date.parse(String(a.minute)),
        minuteMs: Number(rec.minute_ms) || 60_000,
        appKey: keyring?.get(keyIdv) ?? '',
        appName: String(a.scout_app ?? ''),
        endpoints: [],
        errorsTotal: 0,
        samplers: {},
        dbQueries: [],
        traces: [],
        requests: 0,
      };
      g = { minute: m, events: 0 };
      byMinute.set(id, g);
    }
    g.events++;
    const m = g.minute;
    const { apm_type: _t, minute: _m, minute_ms: _ms, app: _a, ...body } = rec;
    switch (type) {
      case 'minute':
        m.requests = Number(body.requests) || 0;
        m.errorsTotal = Number(body.errors_total) || 0;
        break;
      case 'endpoint':
        m.endpoints.push(body as unknown as ApmMinute['endpoints'][number]);
        break;
      case 'db_query':
        m.dbQueries.push(body as unknown as ApmMinute['dbQueries'][number]);
        break;
      case 'sampler': {
        const { name, ...s } = body;
        m.samplers[String(name)] = s as unknown as ApmMinute['samplers'][string];
        break;
      }
      case 'trace':
        m.traces.push(body as unknown as ApmMinute['traces'][number]);
        break;
      case 'metadata':
        m.metadata = body as unknown as NonNullable<ApmMinute['metadata']>;
        break;
    }
  }
  return { groups: [...byMinute.values()], invalid };
}
