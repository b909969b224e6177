/**
 * From a decoded OTLP export request to sluice's records (lib/telemetry.ts), checking it on the
 * way. One walker serves both encodings:
 *
 * - `proto`: the message protobufjs decoded with the OpenTelemetry definitions (types are sure;
 *   absent fields read as `null`/defaults; 64-bit integers are `Long`s, bytes `Uint8Array`s);
 * - `json`: the parsed OTLP/JSON body (lowerCamelCase names, snake_case accepted as well; ids as
 *   hex; 64-bit integers as decimal strings or numbers; enums as integers, names accepted;
 *   `bytesValue` as base64). Every type is checked here.
 *
 * A wrong type or an AnyValue nested deeper than the limit makes the whole request bad
 * ({@link BadRequest}, whose message names the field: `resourceLogs[0].scopeLogs[1].logRecords[3].body: nesting deeper than 16`).
 * An item that is well formed but unusable (a span with an invalid trace id, a data point
 * without a value) is rejected alone and counted for the partial-success answer.
 */
import type { AttrValue, Attributes, LogRecord, MetricRecord, RecordOrigin, SpanRecord, SpanStatusCode } from '../../lib/telemetry.js';

export type Signal = 'logs' | 'metrics' | 'traces';
export type Encoding = 'proto' | 'json';

/** The request is malformed; `message` names where. Answered 400. */
export class BadRequest extends Error {}

export interface LogItem {
  record: LogRecord;
  /** A string body (the event message); other bodies are in `record.body`. */
  text?: string;
  /** timeUnixNano, else observedTimeUnixNano (0 = unknown). */
  timeNs?: bigint;
}

export interface MetricItem {
  record: MetricRecord;
  timeNs?: bigint;
}

export interface Converted<T> {
  items: T[];
  /** Items rejected alone (partial success). */
  rejected: number;
  /** The first rejection's reason, with its path. */
  rejectMessage?: string;
  /** Items skipped on purpose (not an error), by reason (counted as drops). */
  skipped: Record<string, number>;
}

interface Ctx {
  json: boolean;
  maxDepth: number;
  rejected: number;
  rejectMessage?: string;
  skipped: Record<string, number>;
}

type Obj = Record<string, unknown>;

const snakeCache = new Map<string, string>();
function snake(camel: string): string {
  let s = snakeCache.get(camel);
  if (s === undefined) {
    s = camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
    snakeCache.set(camel, s);
  }
  return s;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

function bad(path: string, what: string, v: unknown): never {
  throw new BadRequest(`${path}: expected ${what}, got ${describe(v)}`);
}

/** A field by its lowerCamelCase name (or its snake_case name in JSON); null reads as absent. */
function get(o: Obj, k: string, c: Ctx): unknown {
  let v = o[k];
  if (v === undefined && c.json) {
    const s = snake(k);
    if (s !== k) v = o[s];
  }
  return v === null ? undefined : v;
}

function arr(o: Obj, k: string, path: string, c: Ctx): unknown[] {
  const v = get(o, k, c);
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad(`${path}.${k}`, 'an array', v);
  return v;
}

function obj(o: Obj, k: string, path: string, c: Ctx): Obj | undefined {
  const v = get(o, k, c);
  if (v === undefined) return undefined;
  if (!isObj(v)) bad(`${path}.${k}`, 'an object', v);
  return v;
}

function item(v: unknown, path: string): Obj {
  if (!isObj(v)) bad(path, 'an object', v);
  return v;
}

function str(o: Obj, k: string, path: string, c: Ctx): string | undefined {
  const v = get(o, k, c);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') bad(`${path}.${k}`, 'a string', v);
  return v;
}

function bool(o: Obj, k: string, path: string, c: Ctx): boolean | undefined {
  const v = get(o, k, c);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') bad(`${path}.${k}`, 'a boolean', v);
  return v;
}

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
  toString(): string;
}
function isLong(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && typeof (v as LongLike).low === 'number' && typeof (v as LongLike).high === 'number';
}

/** A 64-bit integer as a bigint (Long, safe integer number, or decimal string). */
function int64(o: Obj, k: string, path: string, c: Ctx, signed: boolean): bigint | undefined {
  const v = get(o, k, c);
  if (v === undefined) return undefined;
  if (isLong(v)) return BigInt(v.toString());
  if (typeof v === 'number' && Number.isInteger(v) && (signed || v >= 0)) return BigInt(v);
  if (typeof v === 'string' && (signed ? /^-?\d{1,20}$/ : /^\d{1,20}$/).test(v)) {
    const b = BigInt(v);
    if (signed ? b >= -(2n ** 63n) && b < 2n ** 63n : b < 2n ** 64n) return b;
  }
  return bad(`${path}.${k}`, signed ? 'a 64-bit integer (a number or a decimal string)' : 'an unsigned 64-bit integer (a number or a decimal string)', v);
}

/** A time in ns; 0 and absent both mean unknown. */
function timeNs(o: Obj, k: string, path: string, c: Ctx): bigint | undefined {
  const t = int64(o, k, path, c, false);
  return t === undefined || t === 0n ? undefined : t;
}

function toNumber(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

function dbl(o: Obj, k: string, path: string, c: Ctx): number | undefined {
  const v = get(o, k, c);
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && c.json) {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    if (v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  }
  return bad(`${path}.${k}`, 'a number', v);
}

const ENUMS: Record<string, Record<string, number>> = {
  kind: { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 },
  code: { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 },
  aggregationTemporality: { AGGREGATION_TEMPORALITY_UNSPECIFIED: 0, AGGREGATION_TEMPORALITY_DELTA: 1, AGGREGATION_TEMPORALITY_CUMULATIVE: 2 },
  severityNumber: Object.fromEntries(
    ['UNSPECIFIED', 'TRACE', 'TRACE2', 'TRACE3', 'TRACE4', 'DEBUG', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'INFO', 'INFO2', 'INFO3', 'INFO4', 'WARN', 'WARN2', 'WARN3', 'WARN4', 'ERROR', 'ERROR2', 'ERROR3', 'ERROR4', 'FATAL', 'FATAL2', 'FATAL3', 'FATAL4'].map((n, i) => [`SEVERITY_NUMBER_${n}`, i]),
  ),
};

/** A 32-bit integer or enum (an integer; in JSON also a decimal string or the enum value's name). */
function int32(o: Obj, k: string, path: string, c: Ctx): number | undefined {
  const v = get(o, k, c);
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (c.json && typeof v === 'string') {
    if (/^-?\d{1,10}$/.test(v)) return Number(v);
    const e = ENUMS[k]?.[v];
    if (e !== undefined) return e;
  }
  return bad(`${path}.${k}`, ENUMS[k] ? 'an enum value (an integer)' : 'an integer', v);
}

/**
 * A trace (16 bytes) or span (8 bytes) id as lowercase hex: `undefined` when absent or empty,
 * `null` when present but invalid (wrong length, all zero, not hex).
 */
function id(o: Obj, k: string, path: string, c: Ctx, bytes: number): string | undefined | null {
  const v = get(o, k, c);
  if (v === undefined) return undefined;
  let hex: string;
  if (v instanceof Uint8Array) {
    if (v.length === 0) return undefined;
    if (v.length !== bytes) return null;
    hex = Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
  } else if (typeof v === 'string' && c.json) {
    if (v === '') return undefined;
    if (v.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(v)) return null;
    hex = v.toLowerCase();
  } else return bad(`${path}.${k}`, c.json ? 'a hex string' : 'bytes', v);
  return /^0+$/.test(hex) ? null : hex;
}

function reject(c: Ctx, path: string, why: string, n = 1): void {
  c.rejected += n;
  c.rejectMessage ??= `${path}: ${why}`;
}

function skip(c: Ctx, reason: string, n = 1): void {
  c.skipped[reason] = (c.skipped[reason] ?? 0) + n;
}

function setKey(o: Record<string, AttrValue>, k: string, v: AttrValue): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * An AnyValue. `top` is the path reported when nesting is too deep (the attribute's value or the
 * body, not the innermost level); `depth` counts the arrays and maps around this value.
 */
function anyValue(v: unknown, path: string, top: string, depth: number, c: Ctx): AttrValue {
  const o = item(v, path);
  const s = str(o, 'stringValue', path, c);
  if (s !== undefined) return s;
  const b = bool(o, 'boolValue', path, c);
  if (b !== undefined) return b;
  const i = int64(o, 'intValue', path, c, true);
  if (i !== undefined) return toNumber(i);
  const d = dbl(o, 'doubleValue', path, c);
  if (d !== undefined) return d;
  const a = obj(o, 'arrayValue', path, c);
  if (a !== undefined) {
    if (depth + 1 > c.maxDepth) throw new BadRequest(`${top}: nesting deeper than ${c.maxDepth}`);
    return arr(a, 'values', `${path}.arrayValue`, c).map((x, j) => anyValue(x, `${path}.arrayValue.values[${j}]`, top, depth + 1, c));
  }
  const m = obj(o, 'kvlistValue', path, c);
  if (m !== undefined) {
    if (depth + 1 > c.maxDepth) throw new BadRequest(`${top}: nesting deeper than ${c.maxDepth}`);
    return keyValues(arr(m, 'values', `${path}.kvlistValue`, c), `${path}.kvlistValue.values`, c, depth + 1, top);
  }
  const raw = get(o, 'bytesValue', c);
  if (raw !== undefined) {
    if (raw instanceof Uint8Array) return Buffer.from(raw); // a copy: the request buffer is not kept
    if (c.json && typeof raw === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(raw)) return Buffer.from(raw, 'base64');
    bad(`${path}.bytesValue`, 'base64 bytes', raw);
  }
  return null; // an empty AnyValue
}

/** A list of KeyValue. `top`: see anyValue (each value reports its own path when not given). */
function keyValues(list: unknown[], path: string, c: Ctx, depth = 0, top?: string): Attributes {
  const out: Attributes = {};
  for (let i = 0; i < list.length; i++) {
    const p = `${path}[${i}]`;
    const kv = item(list[i], p);
    const key = str(kv, 'key', p, c) ?? '';
    const v = get(kv, 'value', c);
    setKey(out, key, v === undefined ? null : anyValue(v, `${p}.value`, top ?? `${p}.value`, depth, c));
  }
  return out;
}

function attributes(o: Obj, path: string, c: Ctx): Attributes {
  return keyValues(arr(o, 'attributes', path, c), `${path}.attributes`, c);
}

function origin(scopeHolder: Obj, scopePath: string, c: Ctx, resource: Attributes | undefined): RecordOrigin {
  const out: RecordOrigin = {};
  if (resource) out.resource = resource;
  const sc = obj(scopeHolder, 'scope', scopePath, c);
  if (sc) {
    const p = `${scopePath}.scope`;
    const name = str(sc, 'name', p, c) ?? '';
    const version = str(sc, 'version', p, c);
    const attrs = attributes(sc, p, c);
    out.scope = { name };
    if (version) out.scope.version = version;
    if (Object.keys(attrs).length) out.scope.attributes = attrs;
  }
  return out;
}

function resourceOf(rs: Obj, path: string, c: Ctx): Attributes | undefined {
  const r = obj(rs, 'resource', path, c);
  return r ? attributes(r, `${path}.resource`, c) : undefined;
}

function ctxOf(enc: Encoding, maxDepth: number): Ctx {
  return { json: enc === 'json', maxDepth, rejected: 0, skipped: {} };
}

function done<T>(items: T[], c: Ctx): Converted<T> {
  return { items, rejected: c.rejected, rejectMessage: c.rejectMessage, skipped: c.skipped };
}

/** `ExportLogsServiceRequest` → log items. Throws {@link BadRequest}. */
export function convertLogs(req: unknown, enc: Encoding, maxDepth: number): Converted<LogItem> {
  const c = ctxOf(enc, maxDepth);
  const out: LogItem[] = [];
  const root = item(req, 'body');
  arr(root, 'resourceLogs', 'body', c).forEach((rlv, i) => {
    const rp = `resourceLogs[${i}]`;
    const rl = item(rlv, rp);
    const resource = resourceOf(rl, rp, c);
    arr(rl, 'scopeLogs', rp, c).forEach((slv, j) => {
      const sp = `${rp}.scopeLogs[${j}]`;
      const sl = item(slv, sp);
      const org = origin(sl, sp, c, resource);
      arr(sl, 'logRecords', sp, c).forEach((lrv, k) => {
        const p = `${sp}.logRecords[${k}]`;
        const lr = item(lrv, p);
        const rec: LogRecord = { kind: 'log', ...org };
        const t = timeNs(lr, 'timeUnixNano', p, c);
        const observed = timeNs(lr, 'observedTimeUnixNano', p, c);
        const sevN = int32(lr, 'severityNumber', p, c);
        const sevT = str(lr, 'severityText', p, c);
        const bodyV = get(lr, 'body', c);
        const body = bodyV === undefined ? undefined : anyValue(bodyV, `${p}.body`, `${p}.body`, 0, c);
        const attrs = attributes(lr, p, c);
        const traceId = id(lr, 'traceId', p, c, 16);
        const spanId = id(lr, 'spanId', p, c, 8);
        if (traceId === null) return reject(c, `${p}.traceId`, 'invalid trace id (expected 16 bytes, not all zero)');
        if (spanId === null) return reject(c, `${p}.spanId`, 'invalid span id (expected 8 bytes, not all zero)');
        if (sevN) rec.severityNumber = sevN;
        if (sevT) rec.severityText = sevT;
        if (Object.keys(attrs).length) rec.attributes = attrs;
        if (traceId) rec.traceId = traceId;
        if (spanId) rec.spanId = spanId;
        if (observed !== undefined) rec.observedNs = observed;
        const it: LogItem = { record: rec, timeNs: t ?? observed };
        if (typeof body === 'string') it.text = body;
        else if (body !== undefined && body !== null) rec.body = body;
        out.push(it);
      });
    });
  });
  return done(out, c);
}

function flatFields(a: Attributes): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(a)) {
    const f = flatValue(v);
    if (f !== undefined) out[k] = f;
  }
  return out;
}

/** An attribute value as a string, number or boolean (nested values as JSON, bytes as base64). */
export function flatValue(v: AttrValue): string | number | boolean | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return jsonOf(v);
}

/** JSON of an AnyValue (bigints as strings, bytes as base64). */
export function jsonOf(v: AttrValue): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, k: string, x: unknown) {
    const raw = this[k];
    if (Buffer.isBuffer(raw)) return raw.toString('base64');
    if (typeof x === 'bigint') return x.toString();
    if (typeof x === 'number' && !Number.isFinite(x)) return String(x);
    return x;
  });
}

const NO_RECORDED_VALUE = 1;

/** `ExportMetricsServiceRequest` → one item per data point (histograms: `.count` and `.sum`). */
export function convertMetrics(req: unknown, enc: Encoding, maxDepth: number): Converted<MetricItem> {
  const c = ctxOf(enc, maxDepth);
  const out: MetricItem[] = [];
  const root = item(req, 'body');
  arr(root, 'resourceMetrics', 'body', c).forEach((rmv, i) => {
    const rp = `resourceMetrics[${i}]`;
    const rm = item(rmv, rp);
    const resource = resourceOf(rm, rp, c);
    arr(rm, 'scopeMetrics', rp, c).forEach((smv, j) => {
      const sp = `${rp}.scopeMetrics[${j}]`;
      const sm = item(smv, sp);
      const org = origin(sm, sp, c, resource);
      arr(sm, 'metrics', sp, c).forEach((mv, k) => {
        const mp = `${sp}.metrics[${k}]`;
        const m = item(mv, mp);
        const name = str(m, 'name', mp, c) ?? '';
        const unit = str(m, 'unit', mp, c);
        const description = str(m, 'description', mp, c);
        const base = (): MetricRecord => {
          const r: MetricRecord = { kind: 'metric', name, value: 0, ...org };
          if (unit) r.unit = unit;
          if (description) r.description = description;
          return r;
        };
        const kinds = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const;
        const kind = kinds.find((x) => get(m, x, c) !== undefined);
        if (!kind) return skip(c, 'metric_without_data');
        const data = obj(m, kind, mp, c)!;
        const dp = `${mp}.${kind}`;
        const points = arr(data, 'dataPoints', dp, c);
        if (name === '') return reject(c, `${mp}.name`, 'a metric needs a name', points.length || 1);
        const temporality = kind === 'summary' ? 2 : (int32(data, 'aggregationTemporality', dp, c) ?? 0);
        const cumulative = temporality === 2;
        const monotonicSum = kind === 'sum' && bool(data, 'isMonotonic', dp, c) === true && cumulative;
        points.forEach((pv, n) => {
          const pp = `${dp}.dataPoints[${n}]`;
          const p = item(pv, pp);
          const fields = flatFields(attributes(p, pp, c));
          const t = timeNs(p, 'timeUnixNano', pp, c);
          const start = timeNs(p, 'startTimeUnixNano', pp, c);
          const flags = int32(p, 'flags', pp, c) ?? 0;
          const push = (suffix: string, value: number, monotonic: boolean) => {
            const r = base();
            if (suffix) r.name = `${name}${suffix}`;
            r.value = value;
            if (Object.keys(fields).length) r.fields = fields;
            if (monotonic) r.monotonic = true;
            if (start !== undefined) r.startNs = start;
            out.push({ record: r, timeNs: t });
          };
          if (flags & NO_RECORDED_VALUE) return skip(c, 'no_recorded_value');
          if (kind === 'gauge' || kind === 'sum') {
            const asInt = int64(p, 'asInt', pp, c, true);
            const value = asInt !== undefined ? Number(asInt) : dbl(p, 'asDouble', pp, c);
            if (value === undefined) return reject(c, pp, 'a data point needs asDouble or asInt');
            if (!Number.isFinite(value)) return reject(c, pp, `value ${value} is not a finite number`);
            return push('', value, monotonicSum);
          }
          const count = int64(p, 'count', pp, c, false) ?? 0n;
          const sum = dbl(p, 'sum', pp, c);
          push('.count', Number(count), cumulative);
          if (sum !== undefined) {
            if (Number.isFinite(sum)) push('.sum', sum, false);
            else reject(c, `${pp}.sum`, `value ${sum} is not a finite number`);
          }
        });
      });
    });
  });
  return done(out, c);
}

/** `ExportTraceServiceRequest` → one SpanRecord per span. */
export function convertTraces(req: unknown, enc: Encoding, maxDepth: number): Converted<SpanRecord> {
  const c = ctxOf(enc, maxDepth);
  const out: SpanRecord[] = [];
  const root = item(req, 'body');
  arr(root, 'resourceSpans', 'body', c).forEach((rsv, i) => {
    const rp = `resourceSpans[${i}]`;
    const rs = item(rsv, rp);
    const resource = resourceOf(rs, rp, c);
    arr(rs, 'scopeSpans', rp, c).forEach((ssv, j) => {
      const sp = `${rp}.scopeSpans[${j}]`;
      const ss = item(ssv, sp);
      const org = origin(ss, sp, c, resource);
      arr(ss, 'spans', sp, c).forEach((sv, k) => {
        const p = `${sp}.spans[${k}]`;
        const s = item(sv, p);
        const traceId = id(s, 'traceId', p, c, 16);
        const spanId = id(s, 'spanId', p, c, 8);
        const parent = id(s, 'parentSpanId', p, c, 8);
        const name = str(s, 'name', p, c) ?? '';
        const spanKind = int32(s, 'kind', p, c);
        const startNs = int64(s, 'startTimeUnixNano', p, c, false) ?? 0n;
        const endNs = int64(s, 'endTimeUnixNano', p, c, false) ?? 0n;
        const attrs = attributes(s, p, c);
        const traceState = str(s, 'traceState', p, c);
        const st = obj(s, 'status', p, c);
        const events = arr(s, 'events', p, c).map((ev, n) => {
          const ep = `${p}.events[${n}]`;
          const e = item(ev, ep);
          const a = attributes(e, ep, c);
          const r: NonNullable<SpanRecord['events']>[number] = { name: str(e, 'name', ep, c) ?? '', timeNs: int64(e, 'timeUnixNano', ep, c, false) ?? 0n };
          if (Object.keys(a).length) r.attributes = a;
          return r;
        });
        const links: NonNullable<SpanRecord['links']> = [];
        arr(s, 'links', p, c).forEach((lv, n) => {
          const lp = `${p}.links[${n}]`;
          const l = item(lv, lp);
          const lt = id(l, 'traceId', lp, c, 16);
          const ls = id(l, 'spanId', lp, c, 8);
          const a = attributes(l, lp, c);
          if (!lt || !ls) return skip(c, 'invalid_link_id');
          links.push(Object.keys(a).length ? { traceId: lt, spanId: ls, attributes: a } : { traceId: lt, spanId: ls });
        });
        if (!traceId) return reject(c, `${p}.traceId`, 'invalid trace id (expected 16 bytes, not all zero)');
        if (!spanId) return reject(c, `${p}.spanId`, 'invalid span id (expected 8 bytes, not all zero)');
        if (parent === null) return reject(c, `${p}.parentSpanId`, 'invalid parent span id (expected 8 bytes, not all zero, or empty for a root span)');
        const rec: SpanRecord = { kind: 'span', traceId, spanId, name, startNs, endNs, attributes: attrs, ...org };
        if (parent) rec.parentSpanId = parent;
        if (spanKind !== undefined) rec.spanKind = spanKind;
        if (st) {
          const code = int32(st, 'code', `${p}.status`, c) ?? 0;
          const message = str(st, 'message', `${p}.status`, c);
          rec.status = { code: (code === 1 || code === 2 ? code : 0) as SpanStatusCode };
          if (message) rec.status.message = message;
        }
        if (events.length) rec.events = events;
        if (links.length) rec.links = links;
        if (traceState) rec.traceState = traceState;
        out.push(rec);
      });
    });
  });
  return done(out, c);
}
