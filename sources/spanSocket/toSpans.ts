/**
 * A finished Scout request as one trace of OpenTelemetry-shaped spans ({@link SpanRecord},
 * lib/telemetry.ts), for sinks that export spans (OTLP). Pure and deterministic: the same
 * request always gives the same ids, so a request delivered twice (at-least-once) is the same
 * trace twice, which backends de-duplicate.
 *
 * - traceId: the 32 hex digits of the request id's UUID when the id is a UUID, optionally with a
 *   word prefix (`req-…`, `job-…`: what Scout's agents send); otherwise the first 16 bytes of
 *   SHA-256 of the id.
 * - The root: the request's one top-level span when it is its only top-level span and a
 *   `Controller/` or `Job/` span (it keeps its own id); otherwise a synthetic `Request` span
 *   over the request's start and stop, with the top-level spans under it. Spans whose parent
 *   never arrived hang from the root; a parent cycle is cut where it closes (that span hangs from
 *   the root, the others keep their links).
 * - spanId: the first 8 bytes of SHA-256 of `requestId NUL spanId` (unique within the trace:
 *   a collision is re-hashed).
 * - Times: ms floats → ns, rounded to the µs (the precision Scout's timestamps carry).
 * - Attributes: the span's tags as Scout sent them (`db.statement` unscrubbed; values nested
 *   deeper than 8 levels become JSON text, itself cut at 32 levels) plus
 *   `scout.request_id`, `scout.span_id`, `scout.operation`; the root also carries the request's
 *   tags (the span's own win on a clash) and `scout.dropped_spans` when the span cap refused
 *   some. `autoClosed` spans get `scout.auto_closed: true`.
 * - Kind: 2 SERVER for a `Controller/` span that is the root (or directly under the synthetic
 *   root), 3 CLIENT for `SQL/` and `HTTP/` spans, 1 INTERNAL otherwise (Job roots included).
 * - Status 2 ERROR on the root when the request's `error` tag is true (`true`, `'true'`, as the
 *   aggregation reads it), and on any span whose own `error` tag is; no status otherwise.
 * - Resource: `service.name` = the app name, `scout.app_key_id` = the keyring's id of the org
 *   key (never the key; omitted without a keyring).
 */
import { createHash } from 'node:crypto';
import type { CompletedRequest, CompletedSpan } from '../../lib/apm/types.js';
import type { AttrValue, Attributes, SpanRecord } from '../../lib/telemetry.js';
import type { Batch, Stream } from '../../lib/types.js';

export interface ToSpansOptions {
  /** Maps the org key to its id (`ScoutKeyring.add`); without one, `scout.app_key_id` is omitted. */
  keyring?: { add(key: string): string };
  /** The resource's `service.name` when the request has no app name (default `unknown_service`). */
  defaultServiceName?: string;
}

/** The instrumentation scope of the spans made here. */
export const SCOUT_SPAN_SCOPE = { name: 'sluice/scout-apm' } as const;

/** Name of the synthetic root span of a request that has no single Controller/Job root. */
export const SYNTHETIC_ROOT_NAME = 'Request';

/** Nested tag values deeper than this become JSON text (bounded recursion on hostile input). */
const MAX_ATTR_DEPTH = 8;

const UUID = /^(?:[A-Za-z][A-Za-z0-9_]*[-_:])?([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Scout's truthy tag values (as the aggregation reads `error`). */
export const truthyTag = (v: unknown): boolean => v === true || v === 'true' || v === 'True' || v === 1 || v === '1';

/** The trace id of a Scout request id (see the module comment). */
export function traceIdOf(requestId: string): string {
  const m = UUID.exec(requestId);
  if (m) {
    const hex = (m[1]! + m[2]! + m[3]! + m[4]! + m[5]!).toLowerCase();
    if (hex !== ZERO_TRACE) return hex;
  }
  const h = sha256hex(requestId).slice(0, 32);
  return h === ZERO_TRACE ? '0'.repeat(31) + '1' : h;
}

/** The span id of Scout span `spanId` of request `requestId` (`salt` re-hashes a collision). */
export function spanIdOf(requestId: string, spanId: string, salt = 0): string {
  const h = sha256hex(`${requestId}\u0000${spanId}${salt ? `\u0000${salt}` : ''}`).slice(0, 16);
  return h === ZERO_SPAN ? '0'.repeat(15) + '1' : h;
}

/** ms since the epoch (float) → ns, rounded to the µs, exactly (no float multiply by 1e6). */
export function msToNs(ms: number): bigint {
  if (!Number.isFinite(ms) || ms < 0) return 0n;
  return BigInt(Math.round(ms * 1000)) * 1000n;
}

/** A Scout tag value (parsed JSON) as an attribute value; deep nesting becomes JSON text. */
export function toAttrValue(v: unknown, depth = 0): AttrValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'object': {
      if (Buffer.isBuffer(v)) return v;
      if (depth >= MAX_ATTR_DEPTH) return safeJson(v);
      if (Array.isArray(v)) return v.map((x) => toAttrValue(x, depth + 1));
      const out: { [k: string]: AttrValue } = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toAttrValue(x, depth + 1);
      return out;
    }
    default:
      return String(v);
  }
}

/** Levels of nesting kept in a value turned into JSON text; deeper levels become `"…"`. */
const MAX_JSON_DEPTH = 32;

/**
 * JSON text of a tag value with bounded recursion (a 10 000-deep array from a frame must not
 * overflow the stack): bigints as decimal strings, Buffers as base64, deeper levels as `"…"`.
 */
function safeJson(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(v.toString());
    case 'object': {
      if (Buffer.isBuffer(v)) return JSON.stringify(v.toString('base64'));
      if (depth >= MAX_JSON_DEPTH) return '"…"';
      if (Array.isArray(v)) return `[${v.map((x) => safeJson(x, depth + 1)).join(',')}]`;
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) parts.push(`${JSON.stringify(k)}:${safeJson(x, depth + 1)}`);
      return `{${parts.join(',')}}`;
    }
    default:
      return JSON.stringify(String(v));
  }
}

const isEndpoint = (op: string) => op.startsWith('Controller/') || op.startsWith('Job/');
const kindOf = (op: string, topLevel: boolean): number =>
  op.startsWith('SQL/') || op.startsWith('HTTP/') ? 3 : topLevel && op.startsWith('Controller/') ? 2 : 1;

function tagsToAttrs(tags: Record<string, unknown>, into: Attributes): void {
  for (const [k, v] of Object.entries(tags)) into[k] = toAttrValue(v);
}

/** One trace for one finished request: the root first, then the spans in arrival order. */
export function requestToSpans(r: CompletedRequest, opts: ToSpansOptions = {}): SpanRecord[] {
  const traceId = traceIdOf(r.requestId);
  const resource: Attributes = { 'service.name': r.appName || opts.defaultServiceName || 'unknown_service' };
  if (opts.keyring && r.appKey) resource['scout.app_key_id'] = opts.keyring.add(r.appKey);
  const scope = { ...SCOUT_SPAN_SCOPE };

  // Scout span id → span (the first of duplicates wins: the assembler keys spans by id already).
  const byId = new Map<string, CompletedSpan>();
  for (const s of r.spans) if (!byId.has(s.id)) byId.set(s.id, s);
  const topLevel = r.spans.filter((s) => s.parentId === undefined);
  const rootSpan = topLevel.length === 1 && isEndpoint(topLevel[0]!.operation) ? topLevel[0]! : undefined;

  // Stable, unique 16-hex ids.
  const used = new Set<string>();
  const unique = (scoutId: string) => {
    let salt = 0;
    let id = spanIdOf(r.requestId, scoutId);
    while (used.has(id)) id = spanIdOf(r.requestId, scoutId, ++salt);
    used.add(id);
    return id;
  };
  // The synthetic root's id is derived from a name no Scout span id can have (ids are non-empty).
  const rootId = rootSpan ? undefined : unique('');
  const ids = new Map<CompletedSpan, string>();
  for (const s of byId.values()) ids.set(s, unique(s.id));

  // Parents: the span's parent when it arrived and is reachable from the root, else the root.
  const parentOf = new Map<CompletedSpan, CompletedSpan | undefined>();
  for (const s of byId.values()) {
    if (s === rootSpan) continue;
    const p = s.parentId !== undefined ? byId.get(s.parentId) : undefined;
    parentOf.set(s, p && p !== s ? p : undefined);
  }
  // Break parent cycles (hostile or buggy input): walking up from each span, the span where a
  // walk meets itself again loses its parent and hangs from the root; the rest of the cycle
  // (and what hangs from it) keeps its links.
  const settled = new Set<CompletedSpan>();
  for (const s of byId.values()) {
    const onPath = new Set<CompletedSpan>();
    let cur: CompletedSpan | undefined = s;
    while (cur && cur !== rootSpan && !settled.has(cur)) {
      if (onPath.has(cur)) {
        parentOf.set(cur, undefined);
        break;
      }
      onPath.add(cur);
      cur = parentOf.get(cur);
    }
    for (const x of onPath) settled.add(x);
  }

  const requestError = truthyTag(r.tags.error);
  const out: SpanRecord[] = [];
  const rootOut = (): SpanRecord => {
    const attributes: Attributes = { 'scout.request_id': r.requestId };
    tagsToAttrs(r.tags, attributes);
    if (r.droppedSpans) attributes['scout.dropped_spans'] = r.droppedSpans;
    const rec: SpanRecord = {
      kind: 'span',
      resource,
      scope,
      traceId,
      spanId: rootId!,
      name: SYNTHETIC_ROOT_NAME,
      spanKind: 1,
      startNs: msToNs(r.start),
      endNs: msToNs(Math.max(r.stop, r.start)),
      attributes,
    };
    if (requestError) rec.status = { code: 2 };
    return rec;
  };
  if (!rootSpan) out.push(rootOut());

  for (const s of byId.values()) {
    const isRoot = s === rootSpan;
    const attributes: Attributes = {};
    if (isRoot) {
      tagsToAttrs(r.tags, attributes);
      if (r.droppedSpans) attributes['scout.dropped_spans'] = r.droppedSpans;
    }
    tagsToAttrs(s.tags, attributes);
    attributes['scout.request_id'] = r.requestId;
    attributes['scout.span_id'] = s.id;
    attributes['scout.operation'] = s.operation;
    if (s.autoClosed) attributes['scout.auto_closed'] = true;
    const parent = parentOf.get(s);
    const rec: SpanRecord = {
      kind: 'span',
      resource,
      scope,
      traceId,
      spanId: ids.get(s)!,
      name: s.operation,
      spanKind: kindOf(s.operation, isRoot || (!parent && !rootSpan)),
      startNs: msToNs(s.start),
      endNs: msToNs(Math.max(s.stop, s.start)),
      attributes,
    };
    if (!isRoot) rec.parentSpanId = parent ? ids.get(parent)! : (rootId ?? ids.get(rootSpan!)!);
    if ((isRoot && requestError) || truthyTag(s.tags.error)) rec.status = { code: 2 };
    if (isRoot) out.unshift(rec);
    else out.push(rec);
  }
  return out;
}

/** Span events emitted but not yet acknowledged past which further requests' spans are dropped. */
export const MAX_UNACKED_SPANS = 10_000;

export interface SpanBatcherOptions extends ToSpansOptions {
  /** See {@link MAX_UNACKED_SPANS}. */
  maxUnacked?: number;
  /** Where drops (`spans_backlog_full`, `spans_ignored`) and conversion errors are counted. */
  drop: (reason: string, n: number) => void;
}

export interface SpanBatcher {
  /** The one `trace` stream (`apm:spans`): offsets are a running count of span events. */
  readonly stream: Stream;
  /**
   * The request's trace as one Batch, or undefined when it was dropped (counted): ignored by the
   * app (`ignore_transaction`), or the backlog of unacknowledged span events is full.
   */
  toBatch(r: CompletedRequest): Batch | undefined;
  status(): { emitted: number; acked: number; backlog: number; maxUnacked: number };
}

/** Flattens attributes for `Event.attrs`: nested maps as dotted keys, lists as JSON, nulls left out. */
export function flattenAttrs(a: Attributes, into: Record<string, string | number | boolean> = {}, prefix = '', depth = 0): Record<string, string | number | boolean> {
  for (const [k, v] of Object.entries(a)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v === null) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') into[key] = v;
    else if (typeof v === 'bigint') into[key] = v.toString();
    else if (Buffer.isBuffer(v)) into[key] = v.toString('base64');
    else if (Array.isArray(v)) into[key] = safeJson(v);
    else if (depth < MAX_ATTR_DEPTH) flattenAttrs(v, into, key, depth + 1);
    else into[key] = safeJson(v);
  }
  return into;
}

/** Turns finished requests into `trace` Batches with a bounded backlog (see `intakeSource.ts`). */
export function createSpanBatcher(opts: SpanBatcherOptions): SpanBatcher {
  const max = opts.maxUnacked ?? MAX_UNACKED_SPANS;
  let offset = 0;
  let acked = 0;
  const stream: Stream = {
    id: 'apm:spans',
    kind: 'trace',
    path: 'scout-spans',
    attrs: { parser: 'scout-spans', logfile: 'scout-spans' },
    ack(end: number) {
      if (end > acked) acked = Math.min(end, offset);
    },
  };
  return {
    stream,
    status: () => ({ emitted: offset, acked, backlog: offset - acked, maxUnacked: max }),
    toBatch(r) {
      if (truthyTag(r.tags.ignore_transaction)) {
        opts.drop('spans_ignored', r.spans.length || 1);
        return undefined;
      }
      const records = requestToSpans(r, opts);
      const backlog = offset - acked;
      // One request larger than the whole budget still goes when nothing is pending.
      if (backlog > 0 && backlog + records.length > max) {
        opts.drop('spans_backlog_full', records.length);
        return undefined;
      }
      const keyId = records[0]?.resource?.['scout.app_key_id'];
      let end = offset; // committed only once every event was built
      const events = records.map((rec) => {
        const attrs: Record<string, unknown> = flattenAttrs(rec.attributes);
        attrs.trace_id = rec.traceId;
        attrs.span_id = rec.spanId;
        if (rec.parentSpanId) attrs.parent_span_id = rec.parentSpanId;
        attrs.duration_ms = Number(rec.endNs - rec.startNs) / 1e6;
        attrs.scout_app = r.appName;
        if (typeof keyId === 'string') attrs.scout_key_id = keyId;
        if (rec.status) attrs.status_code = rec.status.code;
        return { message: rec.name, end: ++end, ts: rec.startNs, attrs, record: rec };
      });
      offset = end;
      return { stream, events, end };
    },
  };
}
