/**
 * Events → OTLP export request objects (the shapes of the OpenTelemetry protobuf definitions, as
 * protobufjs's generated `encode` reads them: lowerCamelCase fields, nested messages as plain
 * objects, `bytes` as Buffers, 64-bit integers as `{low, high}`). One object serves both wire
 * formats: `encode(obj).finish()` for `http/protobuf`, {@link toOtlpJson} for `http/json`.
 *
 * Hot path (logs read from files): per event one LogRecord object with a fixed shape, a string
 * body and the stream's attribute list shared by every event of the stream (cached per stream);
 * no closures per event.
 */
import type { Event, Stream } from '../../lib/types.js';
import type { AttrValue, Attributes, LogRecord, MetricRecord, RecordOrigin, SpanRecord } from '../../lib/telemetry.js';

// ---------------------------------------------------------------------------------------------
// 64-bit integers

/** An unsigned 64-bit integer as protobufjs's writer takes it (`fixed64` times). */
export class U64 {
  constructor(
    readonly low: number,
    readonly high: number,
  ) {}
  toBigInt(): bigint {
    return (BigInt(this.high >>> 0) << 32n) | BigInt(this.low >>> 0);
  }
}
/** A signed 64-bit integer (`int64`/`sfixed64`: AnyValue.intValue, NumberDataPoint.asInt). */
export class I64 extends U64 {
  override toBigInt(): bigint {
    return BigInt.asIntN(64, super.toBigInt());
  }
}

const MASK32 = 0xffffffffn;

/** ns since the epoch (or any unsigned 64-bit value) for a fixed64 field. */
export function u64(v: bigint): U64 {
  const u = BigInt.asUintN(64, v);
  return new U64(Number(u & MASK32), Number(u >> 32n));
}

/** A signed integer for an int64 field. */
export function i64(v: bigint | number): I64 {
  if (typeof v === 'number') {
    if (v >= 0 && v <= 0xffffffff) return new I64(v, 0);
    v = BigInt(v);
  }
  const u = BigInt.asUintN(64, v);
  return new I64(Number(u & MASK32), Number(u >> 32n));
}

/** ns since the epoch for a time in ms. */
export function nsOfMs(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * 1_000_000n;
}

// ---------------------------------------------------------------------------------------------
// Attributes

export interface AnyValueObj {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: I64;
  doubleValue?: number;
  arrayValue?: { values: AnyValueObj[] };
  kvlistValue?: { values: KeyValueObj[] };
  bytesValue?: Buffer;
}
export interface KeyValueObj {
  key: string;
  value: AnyValueObj;
}

/** Nesting deeper than this is cut (the value becomes its JSON text) so a cyclic or hostile value cannot recurse without end. */
const MAX_DEPTH = 16;

/** A JS value as an OTLP AnyValue (bigint → intValue, integers → intValue, other numbers → doubleValue). */
export function anyValue(v: unknown, depth = 0): AnyValueObj {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      return Number.isSafeInteger(v) ? { intValue: i64(v) } : { doubleValue: v };
    case 'bigint':
      return { intValue: i64(v) };
    case 'undefined':
      return {};
    case 'object': {
      if (v === null) return {};
      if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { bytesValue: Buffer.from(v.buffer, v.byteOffset, v.byteLength) };
      if (depth >= MAX_DEPTH) return { stringValue: safeJson(v) };
      if (Array.isArray(v)) {
        const values: AnyValueObj[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) values[i] = anyValue(v[i], depth + 1);
        return { arrayValue: { values } };
      }
      if (v instanceof Date) return { stringValue: v.toISOString() };
      return { kvlistValue: { values: keyValues(v as Record<string, unknown>, depth + 1) } };
    }
    default:
      return { stringValue: String(v) };
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** An object's entries as KeyValues (undefined values left out). */
export function keyValues(o: Record<string, unknown> | undefined, depth = 0): KeyValueObj[] {
  const out: KeyValueObj[] = [];
  if (!o) return out;
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    const v = o[k];
    if (v === undefined) continue;
    out.push({ key: k, value: anyValue(v, depth) });
  }
  return out;
}

/** Scalyr attribute names that have a semantic-convention name in OTLP. */
export function otlpKey(k: string): string {
  return k === 'logfile' ? 'log.file.path' : k;
}

/** `b` over `a`: a's entries whose key b does not have, then b's. */
export function mergeKvs(a: KeyValueObj[], b: KeyValueObj[]): KeyValueObj[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: KeyValueObj[] = [];
  outer: for (const x of a) {
    for (const y of b) if (y.key === x.key) continue outer;
    out.push(x);
  }
  for (const y of b) out.push(y);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Severity

const SEVERITY: Record<string, number> = {
  trace: 1, finest: 1, verbose: 1,
  debug: 5, fine: 5, finer: 5, dbg: 5,
  info: 9, information: 9, informational: 9, notice: 10,
  warn: 13, warning: 13,
  error: 17, err: 17, severe: 17,
  fatal: 21, critical: 21, crit: 21, panic: 21, alert: 22, emerg: 23, emergency: 23,
};
/** pino/bunyan numeric levels. */
const NUMERIC_SEVERITY: Record<number, number> = { 10: 1, 20: 5, 30: 9, 40: 13, 50: 17, 60: 21 };

/** OTLP SeverityNumber for a level name (case-insensitive, common aliases) or a pino level; 0 when unknown. */
export function severityNumberOf(level: unknown): number {
  if (typeof level === 'number') return NUMERIC_SEVERITY[level] ?? 0;
  if (typeof level !== 'string' || level.length > 16) return 0;
  const n = SEVERITY[level.toLowerCase()];
  if (n !== undefined) return n;
  const s = level.trim().toLowerCase();
  if (/^\d+$/.test(s)) return NUMERIC_SEVERITY[Number(s)] ?? 0;
  return SEVERITY[s] ?? 0;
}

function levelAttr(attrs: Record<string, unknown> | undefined): unknown {
  if (!attrs) return undefined;
  const v = attrs.level ?? attrs.severity ?? attrs.loglevel;
  return v;
}

// ---------------------------------------------------------------------------------------------
// Ids

const HEX_RE = /^[0-9a-fA-F]*$/;

/** True when `s` is `digits` hex digits and not all zero (OTLP: an all-zero id is invalid). */
export function validHexId(s: unknown, digits: number): boolean {
  return typeof s === 'string' && s.length === digits && HEX_RE.test(s) && !/^0+$/.test(s);
}

function idBytes(hex: string | undefined, digits: number): Buffer | null {
  if (!hex || !validHexId(hex, digits)) return null;
  return Buffer.from(hex, 'hex');
}

// ---------------------------------------------------------------------------------------------
// Message objects (fixed shapes; absent fields are null, which encode skips)

export interface LogRecordObj {
  timeUnixNano: U64;
  observedTimeUnixNano: U64;
  severityNumber: number | null;
  severityText: string | null;
  body: AnyValueObj;
  attributes: KeyValueObj[];
  traceId: Buffer | null;
  spanId: Buffer | null;
}

interface ScopeObj {
  name: string;
  version?: string;
  attributes?: KeyValueObj[];
}

/** One resource + scope group of a request. */
interface Group<T> {
  resource: { attributes: KeyValueObj[] };
  scope: ScopeObj;
  items: T[];
}

/** Where one request is being assembled (all three signals share the grouping). */
export class Assembler {
  private readonly groups = new Map<string, Group<unknown>>();
  private readonly metricIndex = new Map<string, Map<string, MetricObj>>();
  private timeCache?: { ns: bigint; obj: U64 };

  constructor(private readonly ctx: EncodeContext) {}

  private group<T>(origin: RecordOrigin | undefined): Group<T> {
    if (!origin || (!origin.resource && !origin.scope)) {
      let g = this.groups.get('');
      if (!g) this.groups.set('', (g = { resource: { attributes: this.ctx.resource() }, scope: this.ctx.scope, items: [] }));
      return g as Group<T>;
    }
    const key = this.ctx.originKey(origin);
    let g = this.groups.get(key);
    if (!g) {
      const resource = origin.resource ? { attributes: this.ctx.resourceWith(origin.resource) } : { attributes: this.ctx.resource() };
      const scope: ScopeObj = origin.scope ? { name: origin.scope.name, version: origin.scope.version ?? '', attributes: keyValues(origin.scope.attributes) } : this.ctx.scope;
      this.groups.set(key, (g = { resource, scope, items: [] }));
    }
    return g as Group<T>;
  }

  private time(ns: bigint): U64 {
    const c = this.timeCache;
    if (c && c.ns === ns) return c.obj;
    const obj = u64(ns);
    this.timeCache = { ns, obj };
    return obj;
  }

  /** Adds one event as a LogRecord. `received` is the batch's receive time (ns). */
  addLog(ev: Event, stream: Stream, received: U64): void {
    const rec = ev.record && ev.record.kind === 'log' ? (ev.record as LogRecord) : undefined;
    const streamKvs = this.ctx.streamAttrs(stream);
    let attributes = streamKvs;
    if (ev.attrs) attributes = mergeKvs(streamKvs, this.ctx.eventAttrs(ev.attrs));
    let body: AnyValueObj;
    if (rec && rec.body !== undefined && rec.body !== null && typeof rec.body !== 'string') body = anyValue(rec.body);
    else body = { stringValue: bodyText(ev.message) };
    const o: LogRecordObj = {
      timeUnixNano: ev.ts !== undefined ? this.time(ev.ts) : received,
      observedTimeUnixNano: received,
      severityNumber: null,
      severityText: null,
      body,
      attributes,
      traceId: null,
      spanId: null,
    };
    if (rec) {
      if (rec.attributes) o.attributes = mergeKvs(o.attributes, keyValues(rec.attributes));
      if (rec.severityNumber) o.severityNumber = rec.severityNumber;
      if (rec.severityText) o.severityText = rec.severityText;
      o.traceId = idBytes(rec.traceId, 32);
      o.spanId = idBytes(rec.spanId, 16);
      if (rec.observedNs !== undefined) o.observedTimeUnixNano = u64(rec.observedNs);
    }
    if (o.severityNumber === null) {
      const level = levelAttr(ev.attrs) ?? levelAttr(stream.attrs);
      if (level !== undefined) {
        const n = severityNumberOf(level);
        if (n > 0) {
          o.severityNumber = n;
          o.severityText = String(level);
        }
      }
    }
    this.group<LogRecordObj>(rec).items.push(o);
  }

  /** Adds one metric sample as a NumberDataPoint of its Metric (same name, kind and unit share one). */
  addMetric(ev: Event, stream: Stream, received: U64): void {
    const rec = ev.record as MetricRecord;
    const g = this.group<MetricObj>(rec);
    let index = this.metricIndex.get(groupKeyOf(g));
    if (!index) this.metricIndex.set(groupKeyOf(g), (index = new Map()));
    const mono = rec.monotonic === true;
    const mkey = `${rec.name}\u0000${mono ? 's' : 'g'}\u0000${rec.unit ?? ''}`;
    let m = index.get(mkey);
    if (!m) {
      m = { name: rec.name, description: rec.description ?? '', unit: rec.unit ?? '', gauge: null, sum: null };
      if (mono) m.sum = { dataPoints: [], aggregationTemporality: 2, isMonotonic: true };
      else m.gauge = { dataPoints: [] };
      index.set(mkey, m);
      g.items.push(m);
    } else if (!m.description && rec.description) m.description = rec.description;
    const attributes = this.ctx.metricStreamAttrs(stream).slice();
    if (rec.fields) for (const k in rec.fields) attributes.push({ key: k, value: anyValue(rec.fields[k]) });
    if (rec.monitor) attributes.push({ key: 'monitor', value: { stringValue: rec.monitor } });
    const p: NumberDataPointObj = { attributes, startTimeUnixNano: null, timeUnixNano: ev.ts !== undefined ? this.time(ev.ts) : received };
    const v = rec.value;
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) p.asInt = i64(v);
      else p.asDouble = v;
    } else {
      p.asInt = i64(1);
      attributes.push({ key: 'value', value: anyValue(v) });
    }
    if (mono) p.startTimeUnixNano = rec.startNs !== undefined ? u64(rec.startNs) : this.ctx.startTime;
    (m.sum ?? m.gauge)!.dataPoints.push(p);
  }

  /** Adds one span. */
  addSpan(ev: Event): void {
    const r = ev.record as SpanRecord;
    const s: SpanObj = {
      traceId: Buffer.from(r.traceId, 'hex'),
      spanId: Buffer.from(r.spanId, 'hex'),
      traceState: r.traceState ?? '',
      parentSpanId: idBytes(r.parentSpanId, 16),
      name: r.name,
      kind: r.spanKind ?? 1,
      startTimeUnixNano: u64(r.startNs),
      endTimeUnixNano: u64(r.endNs),
      attributes: keyValues(r.attributes),
      events: r.events ? r.events.map((e) => ({ timeUnixNano: u64(e.timeNs), name: e.name, attributes: keyValues(e.attributes) })) : [],
      links: r.links ? r.links.filter((l) => validHexId(l.traceId, 32) && validHexId(l.spanId, 16)).map((l) => ({ traceId: Buffer.from(l.traceId, 'hex'), spanId: Buffer.from(l.spanId, 'hex'), attributes: keyValues(l.attributes) })) : [],
      status: r.status ? { code: r.status.code, message: r.status.message ?? '' } : null,
    };
    this.group<SpanObj>(r).items.push(s);
  }

  get empty(): boolean {
    return this.groups.size === 0;
  }

  /** The ExportLogsServiceRequest object. */
  logsRequest(): Record<string, unknown> {
    const resourceLogs = this.byResource((scope, items) => ({ scope, logRecords: items }), 'scopeLogs');
    return { resourceLogs };
  }

  metricsRequest(): Record<string, unknown> {
    return { resourceMetrics: this.byResource((scope, items) => ({ scope, metrics: items }), 'scopeMetrics') };
  }

  tracesRequest(): Record<string, unknown> {
    return { resourceSpans: this.byResource((scope, items) => ({ scope, spans: items }), 'scopeSpans') };
  }

  /** Groups of the same resource become one Resource* with several scopes. */
  private byResource(scoped: (scope: ScopeObj, items: unknown[]) => unknown, field: string): unknown[] {
    const out: Record<string, unknown>[] = [];
    const byRes = new Map<unknown, Record<string, unknown>>();
    for (const g of this.groups.values()) {
      let r = byRes.get(g.resource);
      if (!r) {
        r = { resource: g.resource, [field]: [] };
        byRes.set(g.resource, r);
        out.push(r);
      }
      (r[field] as unknown[]).push(scoped(g.scope, g.items));
    }
    return out;
  }
}

const groupKeys = new WeakMap<object, string>();
let groupSeq = 0;
function groupKeyOf(g: object): string {
  let k = groupKeys.get(g);
  if (k === undefined) groupKeys.set(g, (k = String(groupSeq++)));
  return k;
}

export interface NumberDataPointObj {
  attributes: KeyValueObj[];
  startTimeUnixNano: U64 | null;
  timeUnixNano: U64;
  asInt?: I64;
  asDouble?: number;
}
export interface MetricObj {
  name: string;
  description: string;
  unit: string;
  gauge: { dataPoints: NumberDataPointObj[] } | null;
  sum: { dataPoints: NumberDataPointObj[]; aggregationTemporality: number; isMonotonic: boolean } | null;
}
export interface SpanObj {
  traceId: Buffer;
  spanId: Buffer;
  traceState: string;
  parentSpanId: Buffer | null;
  name: string;
  kind: number;
  startTimeUnixNano: U64;
  endTimeUnixNano: U64;
  attributes: KeyValueObj[];
  events: { timeUnixNano: U64; name: string; attributes: KeyValueObj[] }[];
  links: { traceId: Buffer; spanId: Buffer; attributes: KeyValueObj[] }[];
  status: { code: number; message: string } | null;
}

/** The message as a string body: UTF-8, one trailing newline removed. */
export function bodyText(m: Buffer | string): string {
  if (typeof m === 'string') return m.length > 0 && m.charCodeAt(m.length - 1) === 10 ? m.slice(0, -1) : m;
  const n = m.length > 0 && m[m.length - 1] === 10 ? m.length - 1 : m.length;
  return m.toString('utf8', 0, n);
}

// ---------------------------------------------------------------------------------------------
// What every request shares: the sink's resource, the scope, cached stream attributes

/** The sink-wide parts of every request; caches per stream. */
export class EncodeContext {
  private base: KeyValueObj[] = [];
  private readonly streamCache = new WeakMap<Stream, { attrs: Record<string, string>; logs: KeyValueObj[]; metrics: KeyValueObj[] }>();
  private readonly resourceCache = new Map<string, KeyValueObj[]>();
  private readonly originKeys = new WeakMap<object, string>();
  readonly scope: ScopeObj;
  readonly startTime: U64;

  constructor(version: string, startMs: number) {
    this.scope = { name: 'sluice', version };
    this.startTime = u64(nsOfMs(startMs));
  }

  /** server_attributes (`serverHost` as `host.name`) under `resource_attributes`. */
  setResource(serverAttributes: Record<string, unknown>, resourceAttributes: Record<string, unknown>): void {
    const server: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(serverAttributes ?? {})) server[k === 'serverHost' ? 'host.name' : k] = v;
    this.base = mergeKvs(keyValues(server), keyValues(resourceAttributes ?? {}));
    this.resourceCache.clear();
  }

  resource(): KeyValueObj[] {
    return this.base;
  }

  /** A record's resource merged over the sink's. */
  resourceWith(res: Attributes): KeyValueObj[] {
    const key = this.attrsKey(res);
    let kvs = this.resourceCache.get(key);
    if (!kvs) {
      if (this.resourceCache.size > 256) this.resourceCache.clear();
      kvs = mergeKvs(this.base, keyValues(res));
      this.resourceCache.set(key, kvs);
    }
    return kvs;
  }

  private attrsKey(o: object): string {
    let k = this.originKeys.get(o);
    if (k === undefined) {
      k = safeJson(o);
      this.originKeys.set(o, k);
    }
    return k;
  }

  originKey(origin: RecordOrigin): string {
    return `${origin.resource ? this.attrsKey(origin.resource) : ''}\u0000${origin.scope ? this.attrsKey(origin.scope) : ''}`;
  }

  private entry(stream: Stream): { attrs: Record<string, string>; logs: KeyValueObj[]; metrics: KeyValueObj[] } {
    let c = this.streamCache.get(stream);
    if (!c || c.attrs !== stream.attrs) {
      const logs: KeyValueObj[] = [];
      const metrics: KeyValueObj[] = [];
      for (const k in stream.attrs ?? {}) {
        const v = stream.attrs[k];
        if (v === undefined || v === null) continue;
        const kv = { key: otlpKey(k), value: anyValue(v) };
        logs.push(kv);
        if (k !== 'logfile' && k !== 'parser') metrics.push(kv);
      }
      c = { attrs: stream.attrs, logs, metrics };
      this.streamCache.set(stream, c);
    }
    return c;
  }

  /** The stream's attributes for its log records (`logfile` as `log.file.path`). Shared: never mutate. */
  streamAttrs(stream: Stream): KeyValueObj[] {
    return this.entry(stream).logs;
  }

  /** The stream's attributes for metric data points (without Scalyr's `logfile` and `parser`). Shared: copy before adding. */
  metricStreamAttrs(stream: Stream): KeyValueObj[] {
    return this.entry(stream).metrics;
  }

  eventAttrs(attrs: Record<string, unknown>): KeyValueObj[] {
    const out: KeyValueObj[] = [];
    for (const k in attrs) {
      const v = attrs[k];
      if (v === undefined) continue;
      out.push({ key: otlpKey(k), value: anyValue(v) });
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON

const ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);

function jsonReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw === null) return undefined;
  if (raw instanceof U64) return raw.toBigInt().toString();
  if (raw instanceof Uint8Array) {
    const b = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return ID_KEYS.has(key) ? b.toString('hex') : b.toString('base64');
  }
  if (typeof raw === 'number' && !Number.isFinite(raw)) return Number.isNaN(raw) ? 'NaN' : raw > 0 ? 'Infinity' : '-Infinity';
  return value;
}

/**
 * The OTLP/JSON text of a request object: lowerCamelCase fields (as built), trace and span ids
 * as hex, other bytes as base64, 64-bit integers as decimal strings, enums as integers, absent
 * (null) fields left out.
 */
export function toOtlpJson(obj: unknown): string {
  return JSON.stringify(obj, jsonReplacer);
}

/** What a stream offers, for estimating the size of its events in a request. */
export function streamOverhead(stream: Stream): number {
  let n = 0;
  for (const k in stream.attrs ?? {}) n += k.length + String(stream.attrs[k]).length + 8;
  return n;
}

/** A size estimate (bytes before compression) of one event in a request. */
export function estimateBytes(ev: Event, overhead: number): number {
  const m = typeof ev.message === 'string' ? ev.message.length : ev.message.length;
  let n = m + overhead + 32;
  if (ev.attrs) for (const k in ev.attrs) n += k.length + 16 + estimateValue(ev.attrs[k]);
  if (ev.record) n += 64 + (ev.record.kind === 'span' ? 128 + 48 * Object.keys(ev.record.attributes ?? {}).length : 32);
  return n;
}

function estimateValue(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (v && typeof v === 'object') return 64;
  return 8;
}

export type { AttrValue };
