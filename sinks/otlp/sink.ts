/**
 * The OTLP/HTTP exporter sink (design: sinks/otlp/DESIGN.md).
 *
 * One FIFO of batches, three lanes (logs, metrics, traces), each sending its signal's events in
 * FIFO order to its own URL, one request at a time. A request is a range of the FIFO; a stream
 * is acknowledged up to a position once every lane has delivered (or dropped, counted) all of
 * its events before that position.
 */
import os from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Batch, ComponentCounters, Event, Logger, Sink, Stream } from '../../lib/types.js';
import type { SinkBudgetView } from '../../lib/pipeline/routeBudgets.js';
import { countDrop, countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';
import { AckQueue, type Queued } from '../ackQueue.js';
import { RequestLane, type RequestState } from '../requestLane.js';
import { Transport, TransportError, redactUrl, resolveEndpointUrl, type HttpAnswer } from '../addEvents/transport.js';
import { Assembler, EncodeContext, estimateBytes, nsOfMs, streamOverhead, toOtlpJson, u64, validHexId, type U64 } from './encode.js';
import { errorBodyMessage, loadProto, readPartialSuccess, type OtlpProto, type Signal } from './proto.js';

const gzipAsync = promisify(zlib.gzip);

/** The sink's options, as the component reads them (declared in options.ts). */
export interface OtlpSinkConfig {
  endpoint?: string;
  logs_endpoint?: string;
  metrics_endpoint?: string;
  traces_endpoint?: string;
  protocol?: 'http/protobuf' | 'http/json' | string;
  headers?: Record<string, string>;
  compression?: 'gzip' | 'none' | string;
  /** Seconds. */
  timeout?: number;
  ca_cert_path?: string;
  verify_server_certificate?: boolean;
  proxy?: string;
  https_proxy?: string;
  http_proxy?: string;
  resource_attributes?: Record<string, unknown>;
  max_batch_events?: number;
  max_request_bytes?: number;
  linger_ms?: number;
  retry_base_ms?: number;
  retry_max_ms?: number;
  max_response_bytes?: number;
  server_attributes?: Record<string, string>;
  /** Environment for HTTPS_PROXY/HTTP_PROXY/NO_PROXY (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** sluice version (User-Agent, scope version). */
  version?: string;
}

/** The read budget (lib/pipeline/credits.ts), as the addEvents sink takes it. */
export type ReadBudget = SinkBudgetView;

export interface OtlpSink extends Sink {
  /** Replaces the `server_attributes` part of the resource, from the next request built. */
  setServerAttributes(attrs: Record<string, string>): void;
  /** Live options (`server_attributes`). */
  reconfigure(values: Record<string, unknown>): void;
  takePending(): Batch[];
  discard(superseded: (stream: Stream) => boolean): number;
}

/** Signal codes: 0 none (not exported, or dropped at write). */
const LOGS = 1;
const METRICS = 2;
const TRACES = 3;
const SIGNALS: Signal[] = ['logs', 'logs', 'metrics', 'traces'];
/** A batch whose events are of several signals: see `Entry.sigs`. */
const MIXED = -1;
const EXPORTED_KINDS = new Set(['log', 'metric', 'trace']);
const RETRYABLE = new Set([429, 502, 503, 504]);
/** Records encoded at a time (see `build`). */
const CHUNK = 64;

interface Pos {
  /** Entry sequence number. */
  b: number;
  /** Event index in it. */
  e: number;
}
const posBefore = (x: Pos, y: Pos) => x.b < y.b || (x.b === y.b && x.e < y.e);

interface Entry extends Queued {
  received: U64;
  /** The signal of every event, or MIXED (then `sigs`). */
  sig: number;
  sigs?: Uint8Array;
  overhead: number;
}

interface Req {
  from: Pos;
  to: Pos;
  events: number;
  /** Message bytes of its events (counters). */
  bytes: number;
  /** The body as sent (compressed when compressing): built once, resent as is. */
  payload?: Buffer;
  rawSize: number;
  state: RequestState;
  attempts: number;
}

type LaneState = 'idle' | 'sending' | 'retrying' | 'failing';

/** One signal's export: its URL, its cursor in the FIFO, its request lane (one request at a time). */
interface SignalLane {
  code: number;
  signal: Signal;
  url: string;
  shownUrl: string;
  transport: Transport;
  lane: RequestLane<Req>;
  cursor: Pos;
  state: LaneState;
  allowedBytes: number;
  loggedPartial?: string;
  st: { events: number; lastHttpStatus?: number; lastError?: string; rejected: number; partial: number; tooLarge: number };
}

function num(v: unknown, dflt: number): number {
  const n = typeof v === 'string' ? Number(v) : (v as number);
  return typeof n === 'number' && Number.isFinite(n) ? n : dflt;
}

/** `base` + `/v1/<signal>` as the OTLP exporter spec builds it from OTEL_EXPORTER_OTLP_ENDPOINT. */
export function signalUrl(base: string, signal: Signal): string {
  const u = resolveEndpointUrl(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/v1/${signal}`;
  return u.toString();
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const RESERVED_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'host', 'transfer-encoding', 'connection']);

/** Creates the sink. Throws an Error naming the option for an unusable URL, proxy or header. */
export function createOtlpSink(config: OtlpSinkConfig, ctx: { logger: Logger; id?: string; readBudget?: ReadBudget }): OtlpSink {
  return new OtlpSinkImpl(config, ctx.logger, ctx.id ?? 'otlp', ctx.readBudget);
}

class OtlpSinkImpl implements OtlpSink {
  readonly counters: ComponentCounters = createCounters();
  private readonly lanes: SignalLane[];
  private readonly json: boolean;
  private readonly gzip: boolean;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly lingerMs: number;
  private readonly encodeCtx: EncodeContext;
  private readonly resourceAttributes: Record<string, unknown>;
  private readonly offBudgetWait?: () => void;
  private proto?: OtlpProto;
  private protoError?: string;

  /** The batches written and not yet acknowledged, and their acks. */
  private readonly queue: AckQueue<Entry>;
  private accepting = true;
  private closed = false;
  private warned = new Set<string>();

  constructor(
    config: OtlpSinkConfig,
    private readonly logger: Logger,
    readonly id: string,
    private readonly readBudget?: ReadBudget,
  ) {
    this.queue = new AckQueue({ name: 'otlp', id, counters: this.counters, logger, redact: (s) => this.redact(s) });
    const version = String(config.version ?? '0.0.0');
    this.json = config.protocol === 'http/json';
    if (config.protocol !== undefined && config.protocol !== 'http/protobuf' && config.protocol !== 'http/json') {
      throw new Error(`${id}.protocol: ${JSON.stringify(config.protocol)} is not supported (use "http/protobuf" or "http/json")`);
    }
    if (config.compression !== undefined && config.compression !== 'gzip' && config.compression !== 'none') {
      throw new Error(`${id}.compression: ${JSON.stringify(config.compression)} is not supported (use "gzip" or "none")`);
    }
    this.gzip = config.compression !== 'none';
    const user: Record<string, string> = {};
    this.secrets = [];
    for (const [k, v] of Object.entries(config.headers ?? {})) {
      if (!HEADER_NAME.test(k)) throw new Error(`${id}.headers: ${JSON.stringify(k)} is not a valid HTTP header name`);
      if (RESERVED_HEADERS.has(k.toLowerCase())) throw new Error(`${id}.headers: ${k} is set by the sink and cannot be configured`);
      const value = String(v);
      if (/[\r\n\0]/.test(value)) throw new Error(`${id}.headers.${k}: the value holds a line break or NUL`);
      user[k] = value;
      if (value.length >= 4) this.secrets.push(value);
      for (const part of value.split(/\s+/)) if (part.length >= 8) this.secrets.push(part);
    }
    this.headers = {
      ...user,
      'User-Agent': `sluice/${version} (${os.platform()}; node-${process.versions.node})`,
      'Content-Type': this.json ? 'application/json' : 'application/x-protobuf',
      ...(this.gzip ? { 'Content-Encoding': 'gzip' } : {}),
    };
    this.maxEvents = Math.max(1, Math.trunc(num(config.max_batch_events, 5000)));
    const budget = readBudget?.total ?? 0;
    const configured = Math.max(1024, Math.trunc(num(config.max_request_bytes, 4 * 1024 * 1024)));
    this.maxBytes = budget > 0 ? Math.max(1024, Math.min(configured, Math.floor(budget / 3))) : configured;
    this.lingerMs = Math.max(0, num(config.linger_ms, 500));
    this.encodeCtx = new EncodeContext(version, Date.now());
    this.resourceAttributes = isObj(config.resource_attributes) ? config.resource_attributes : {};
    this.encodeCtx.setResource(withHost(config.server_attributes ?? {}), this.resourceAttributes);
    const base = String(config.endpoint ?? 'http://localhost:4318');
    const proxy = config.proxy || undefined;
    const timeoutMs = Math.max(0.01, num(config.timeout, 10)) * 1000;
    const retryBase = Math.max(1, num(config.retry_base_ms, 1000));
    const retryMax = Math.max(1, num(config.retry_max_ms, 30_000));
    const own = { logs: config.logs_endpoint, metrics: config.metrics_endpoint, traces: config.traces_endpoint };
    this.lanes = ([LOGS, METRICS, TRACES] as const).map((code) => {
      const signal = SIGNALS[code];
      let url: string;
      const option = own[signal] ? `${signal}_endpoint` : 'endpoint';
      try {
        url = own[signal] ? resolveEndpointUrl(String(own[signal])).toString() : signalUrl(base, signal);
      } catch (err) {
        throw new Error(`${id}.${option}: ${errorMessage(err)}`);
      }
      let transport: Transport;
      try {
        transport = new Transport({
          scalyrServer: '',
          allowHttp: true,
          endpoint: url,
          verifyServerCertificate: config.verify_server_certificate !== false,
          caCertPath: config.ca_cert_path || undefined,
          httpsProxy: proxy ?? (config.https_proxy || undefined),
          httpProxy: proxy ?? (config.http_proxy || undefined),
          env: config.env ?? process.env,
          requestDeadlineMs: timeoutMs,
          maxSockets: 1,
          maxResponseBytes: Math.max(1024, num(config.max_response_bytes, 65536)),
        });
      } catch (err) {
        throw new Error(`${id}.${proxy ? 'proxy' : option}: ${errorMessage(err)}`);
      }
      const l: SignalLane = {
        code,
        signal,
        url,
        shownUrl: redactUrl(url),
        transport,
        // A server's Retry-After (capped at retry_max_ms) is the delay when given.
        lane: new RequestLane<Req>(
          { maxInFlight: 1, retryBaseMs: retryBase, retryMaxMs: retryMax, retryAfter: 'replaces' },
          { next: (now) => this.nextRequest(l, now), send: (r) => this.send(l, r), wake: () => this.pump(l), internalError: (err) => this.internalError(err) },
        ),
        cursor: { b: 0, e: 0 },
        state: 'idle',
        allowedBytes: this.maxBytes,
        st: { events: 0, rejected: 0, partial: 0, tooLarge: 0 },
      };
      return l;
    });
    const caError = this.lanes[0].transport.caError;
    if (caError) logger.error(`otlp: ${caError}; verifying against the system CAs only`, { sink: id });
    if (config.verify_server_certificate === false) logger.warn('otlp: verify_server_certificate is false: the server certificate is NOT checked', { sink: id });
    this.offBudgetWait = readBudget?.onWait(() => this.pumpAll());
    const proxyShown = this.lanes[0].transport.proxyShown;
    logger.info(`otlp: exporting ${this.json ? 'OTLP/JSON' : 'OTLP/protobuf'}${this.gzip ? ' (gzip)' : ''} to ${this.lanes.map((l) => l.shownUrl).join(', ')}${proxyShown ? ` via proxy ${proxyShown}` : ''}`, { sink: id });
  }

  // --- Sink contract -----------------------------------------------------------------------

  setServerAttributes(attrs: Record<string, string>): void {
    this.encodeCtx.setResource(withHost(attrs ?? {}), this.resourceAttributes);
  }

  reconfigure(values: Record<string, unknown>): void {
    if (values && isObj(values.server_attributes)) this.setServerAttributes(values.server_attributes as Record<string, string>);
  }

  write(batch: Batch): void {
    try {
      if (!this.accepting) {
        countDrop(this.counters, 'sink_stopped', batch?.events?.length ?? 0);
        this.warnOnce('stopped', 'otlp: batch written after stop; not exported (it stays unacknowledged)');
        return;
      }
      if (!batch || !batch.stream || !Array.isArray(batch.events)) {
        countError(this.counters, new Error('otlp: write() got something that is not a batch'));
        return;
      }
      const events = batch.events;
      const exported = EXPORTED_KINDS.has(batch.stream.kind);
      let bytes = 0;
      let sig = events.length > 0 ? -2 : 0;
      let sigs: Uint8Array | undefined;
      let invalid = 0;
      let bad = 0;
      for (let i = 0; i < events.length; i++) {
        const ev = events[i];
        let s: number;
        if (!ev || (typeof ev.message !== 'string' && !Buffer.isBuffer(ev.message)) || typeof ev.end !== 'number') {
          bad++;
          s = 0;
        } else {
          bytes += messageBytes(ev.message);
          s = exported ? signalOf(ev) : 0;
          if (s < 0) {
            invalid++;
            s = 0;
          }
        }
        if (sig === -2) sig = s;
        else if (sig !== MIXED && s !== sig) {
          sigs = new Uint8Array(events.length).fill(sig, 0, i);
          sig = MIXED;
        }
        if (sigs) sigs[i] = s;
      }
      if (sig === -2) sig = 0;
      this.counters.receivedEvents += events.length;
      this.counters.receivedBytes += bytes;
      if (bad > 0) {
        countDrop(this.counters, 'invalid_event', bad);
        this.warnOnce('invalid_event', `otlp: ${bad} malformed events from ${batch.stream.id} dropped (no message or end offset)`);
      }
      if (invalid > 0) {
        countDrop(this.counters, 'invalid_record', invalid);
        this.warnOnce('invalid_record', `otlp: ${invalid} events from ${batch.stream.id} dropped: their record is not a valid metric or span (name, value, 32/16-digit hex ids, times)`);
      }
      if (!exported && events.length > 0) countDrop(this.counters, 'kind_not_exported', events.length - bad);
      this.queue.push({ batch, bytes, arrived: Date.now(), received: u64(nsOfMs(Date.now())), sig, sigs, overhead: streamOverhead(batch.stream) });
      this.pumpAll();
    } catch (err) {
      countError(this.counters, err);
    }
  }

  flush(deadlineMs?: number): Promise<void> {
    if (this.queue.length === 0 || this.closed) return Promise.resolve();
    const done = this.queue.flushed(deadlineMs);
    this.settle();
    this.pumpAll();
    return done;
  }

  stop(deadlineMs = 5000): Promise<void> {
    this.accepting = false;
    return this.queue.stopOnce(() => this.flush(deadlineMs), () => this.shutdown());
  }

  takePending(): Batch[] {
    this.accepting = false;
    const out = this.queue.takeFrom(this.settledPos());
    this.shutdown();
    return out;
  }

  discard(superseded: (stream: Stream) => boolean): number {
    let events = 0;
    const entries = this.queue.entries;
    for (let i = 0; i < entries.length; i++) {
      const en = entries[i];
      if (en.batch.events.length === 0 || !superseded(en.batch.stream) || !this.inNoRequest(en, this.queue.baseSeq + i)) continue;
      // Kept as an empty batch: its place in the queue stays as it was.
      events += this.queue.hollow(en);
      en.sig = 0;
      en.sigs = undefined;
    }
    if (events > 0) {
      countDrop(this.counters, 'superseded_by_reload', events);
      this.settle();
    }
    return events;
  }

  status(): Record<string, unknown> {
    const now = Date.now();
    const worst = this.closed ? 'stopped' : this.lanes.reduce<LaneState>((w, l) => (rank(l.state) > rank(w) ? l.state : w), 'idle');
    const failing = this.lanes.filter((l) => l.lane.backoff.count > 0);
    const nextRetry = failing.length > 0 ? Math.min(...failing.map((l) => l.lane.gateUntil)) : 0;
    const last = [...this.lanes].sort((a, b) => (b.lane.st.lastSuccessTime ?? 0) - (a.lane.st.lastSuccessTime ?? 0))[0];
    const withStatus = this.lanes.filter((l) => l.st.lastHttpStatus !== undefined || l.st.lastError !== undefined);
    return {
      type: 'otlp',
      endpoints: Object.fromEntries(this.lanes.map((l) => [l.signal, l.shownUrl])),
      protocol: this.json ? 'http/json' : 'http/protobuf',
      compression: this.gzip ? 'gzip' : 'none',
      proxy: this.lanes[0].transport.proxyShown,
      state: worst,
      lastHttpStatus: withStatus.length > 0 ? withStatus.map((l) => l.st.lastHttpStatus).find((s) => s !== undefined) : undefined,
      lastError: this.lanes.map((l) => l.st.lastError).find((e) => e !== undefined),
      consecutiveFailures: Math.max(0, ...this.lanes.map((l) => l.lane.backoff.count)),
      nextRetryTime: nextRetry > now ? nextRetry : undefined,
      lastSuccessTime: last?.lane.st.lastSuccessTime,
      batchesPending: this.queue.length,
      eventsPending: this.queue.entries.reduce((n, en) => n + en.batch.events.length, 0),
      bytesPending: this.queue.pendingBytes,
      requests: this.lanes.reduce((n, l) => n + l.lane.st.requests, 0),
      wireBytes: this.lanes.reduce((n, l) => n + l.lane.st.wireBytes, 0),
      caError: this.lanes[0].transport.caError,
      protoError: this.protoError,
      signals: Object.fromEntries(
        this.lanes.map((l) => [
          l.signal,
          {
            url: l.shownUrl,
            state: this.closed ? 'stopped' : l.state,
            requests: l.lane.st.requests,
            failedRequests: l.lane.st.failed,
            events: l.st.events,
            wireBytes: l.lane.st.wireBytes,
            rawBytes: l.lane.st.rawBytes,
            rejected: l.st.rejected,
            partialSuccessRejected: l.st.partial,
            tooLarge: l.st.tooLarge,
            lastHttpStatus: l.st.lastHttpStatus,
            lastError: l.st.lastError,
            consecutiveFailures: l.lane.backoff.count,
            nextRetryInMs: l.lane.gateUntil > now ? l.lane.gateUntil - now : 0,
            queuedRequests: l.lane.requests.length,
            allowedRequestBytes: l.allowedBytes,
          },
        ]),
      ),
    };
  }

  // --- lanes ---------------------------------------------------------------------------------

  private pumpAll(): void {
    if (this.closed) return;
    for (const l of this.lanes) this.pump(l);
  }

  /** Sends the lane's next request when it may (its lane arms the timer for the linger or the retry gate otherwise). */
  private pump(l: SignalLane): void {
    if (this.closed) return;
    if (l.lane.pump() === 'empty' && l.lane.requests.length === 0 && l.lane.backoff.count === 0) l.state = 'idle';
  }

  /** Does entry `en` hold an event of lane `code` at or after index `e`? Returns its index or -1. */
  private firstOf(en: Entry, code: number, e: number): number {
    if (en.sig === code) return e < en.batch.events.length ? e : -1;
    if (en.sig !== MIXED || !en.sigs) return -1;
    for (let i = e; i < en.sigs.length; i++) if (en.sigs[i] === code) return i;
    return -1;
  }

  /** Moves the lane's cursor to its first event not in a request (or the end of the queue). */
  private normalize(l: SignalLane): void {
    let c = l.cursor;
    if (c.b < this.queue.baseSeq) c = { b: this.queue.baseSeq, e: 0 };
    for (;;) {
      const en = this.queue.at(c.b);
      if (!en) break;
      const i = this.firstOf(en, l.code, c.e);
      if (i >= 0) {
        c = { b: c.b, e: i };
        break;
      }
      c = { b: c.b + 1, e: 0 };
    }
    l.cursor = c;
  }

  /**
   * The next request of the lane from its cursor: a full one's worth (events or estimated
   * bytes), or what there is once the oldest waited `linger_ms` (at once while flushing,
   * stopping, or while reading waits for budget).
   */
  private nextRequest(l: SignalLane, now: number): Req | undefined {
    this.normalize(l);
    const from = l.cursor;
    let events = 0;
    let est = 0;
    let bytes = 0;
    let firstArrived = 0;
    let to = from;
    let full = false;
    scan: for (let b = from.b; b < this.queue.nextSeq; b++) {
      const en = this.queue.at(b)!;
      let e = b === from.b ? from.e : 0;
      for (;;) {
        const i = this.firstOf(en, l.code, e);
        if (i < 0) break;
        if (events > 0 && (events >= this.maxEvents || est >= l.allowedBytes)) {
          full = true;
          to = { b, e: i };
          break scan;
        }
        const ev = en.batch.events[i];
        if (events === 0) firstArrived = en.arrived;
        events++;
        est += estimateBytes(ev, en.overhead);
        bytes += messageBytes(ev.message);
        e = i + 1;
      }
      to = { b: b + 1, e: 0 };
    }
    if (events === 0) {
      this.settle();
      return undefined;
    }
    if (!full && events >= this.maxEvents) full = true;
    if (!full && est >= l.allowedBytes) full = true;
    const urgent = this.queue.flushing || !this.accepting || this.readBudget?.exhausted === true;
    if (!full && !urgent) {
      const waited = now - firstArrived;
      if (waited < this.lingerMs) {
        l.lane.arm(this.lingerMs - waited);
        return undefined;
      }
    }
    const r: Req = { from, to, events, bytes, rawSize: 0, state: 'queued', attempts: 0 };
    l.lane.requests.push(r);
    l.cursor = to;
    return r;
  }

  /** Builds the request body: the export request object, encoded, compressed. */
  private async build(l: SignalLane, r: Req): Promise<void> {
    if (!this.proto) {
      try {
        this.proto = await loadProto();
        this.protoError = undefined;
      } catch (err) {
        this.protoError = `cannot load the OTLP protobuf definitions: ${errorMessage(err)}`;
        throw new Error(this.protoError);
      }
    }
    // Protobuf logs and spans are encoded CHUNK records at a time and the pieces concatenated:
    // concatenating encoded messages of one type is merging them (their repeated `resource*`
    // fields append), so the request is one valid Export*ServiceRequest whose records come in
    // several Resource* entries of the same resource. protobufjs's writer keeps an object per
    // field until `finish()`; a whole 4 MiB request's worth outlives many young-generation
    // collections (the agent runs with a 1 MiB semi-space) and costs 4× the CPU. Metrics are
    // encoded whole so that points of one metric share one Metric.
    const chunked = !this.json && l.code !== METRICS;
    const type = this.proto.request[l.signal];
    const parts: Buffer[] = [];
    let asm = new Assembler(this.encodeCtx);
    let inChunk = 0;
    const request = (a: Assembler) => (l.code === LOGS ? a.logsRequest() : l.code === METRICS ? a.metricsRequest() : a.tracesRequest());
    for (let b = r.from.b; b <= r.to.b && b < this.queue.nextSeq; b++) {
      const en = this.queue.at(b);
      if (!en) continue;
      const start = b === r.from.b ? r.from.e : 0;
      const stop = b === r.to.b ? r.to.e : en.batch.events.length;
      const evs = en.batch.events;
      const stream = en.batch.stream;
      for (let i = start; i < stop; i++) {
        if ((en.sig === MIXED ? en.sigs![i] : en.sig) !== l.code) continue;
        const ev = evs[i];
        if (l.code === LOGS) asm.addLog(ev, stream, en.received);
        else if (l.code === METRICS) asm.addMetric(ev, stream, en.received);
        else asm.addSpan(ev);
        if (chunked && ++inChunk === CHUNK) {
          parts.push(toBuffer(type.encode(request(asm)).finish()));
          asm = new Assembler(this.encodeCtx);
          inChunk = 0;
        }
      }
    }
    let raw: Buffer;
    if (this.json) raw = Buffer.from(toOtlpJson(request(asm)));
    else {
      if (!asm.empty || parts.length === 0) parts.push(toBuffer(type.encode(request(asm)).finish()));
      raw = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    }
    r.rawSize = raw.length;
    r.payload = this.gzip ? await gzipAsync(raw, { chunkSize: Math.min(256 * 1024, Math.max(16 * 1024, raw.length >>> 2)) }) : raw;
  }

  /** One attempt of `r`, started by the lane (which marked it sending and counts it in flight). */
  private async send(l: SignalLane, r: Req): Promise<void> {
    if (l.lane.backoff.count === 0) l.state = 'sending';
    let answer: HttpAnswer | undefined;
    let failure: string | undefined;
    try {
      if (!r.payload) await this.build(l, r);
      if (this.closed) return;
      r.attempts++;
      l.lane.st.requests++;
      answer = await l.transport.post(r.payload!, this.headers);
    } catch (err) {
      if (this.closed) return;
      failure = this.redact(err instanceof TransportError ? `${err.message}` : errorMessage(err));
    } finally {
      l.lane.attemptEnded();
    }
    if (this.closed) return;
    try {
      this.handle(l, r, answer, failure);
    } catch (err) {
      this.internalError(err);
    }
    this.pump(l);
  }

  private handle(l: SignalLane, r: Req, answer: HttpAnswer | undefined, failure: string | undefined): void {
    const code = answer?.statusCode;
    l.st.lastHttpStatus = code ?? l.st.lastHttpStatus;
    if (answer && code !== undefined && code >= 200 && code < 300) {
      l.lane.delivered(r.payload!.length, r.rawSize);
      let rejected = 0;
      try {
        const ps = readPartialSuccess(this.proto!, l.signal, answer.rawBody, answer.contentType);
        rejected = Math.min(ps.rejected, r.events);
        if (rejected > 0 || ps.errorMessage) {
          const text = `otlp: ${l.shownUrl} accepted the request partially: ${rejected} of ${r.events} rejected${ps.errorMessage ? ` (${this.redact(ps.errorMessage)})` : ''}; not retried`;
          if (l.loggedPartial !== ps.errorMessage) this.logger.warn(text, { sink: this.id });
          else this.logger.debug(text, { sink: this.id });
          l.loggedPartial = ps.errorMessage;
        }
      } catch (err) {
        this.logger.debug(`otlp: unreadable success answer from ${l.shownUrl}: ${errorMessage(err)}`, { sink: this.id });
      }
      if (rejected > 0) {
        countDrop(this.counters, 'otlp_partial_success', rejected);
        l.st.partial += rejected;
      }
      this.succeeded(l, r, r.events - rejected);
      return;
    }
    if (code === 400) {
      const msg = errorBodyMessage(this.proto, answer!.rawBody, answer!.contentType);
      countDrop(this.counters, 'otlp_rejected', r.events);
      l.st.rejected += r.events;
      l.st.lastError = `HTTP 400${msg ? `: ${this.redact(msg)}` : ''}`;
      const key = `400 ${msg ?? ''}`;
      const text = `otlp: ${l.shownUrl} refused ${r.events} ${l.signal} records as bad data (HTTP 400${msg ? `: ${this.redact(msg)}` : ''}); dropped`;
      if (l.lane.logged !== key) this.logger.error(text, { sink: this.id });
      else this.logger.debug(text, { sink: this.id });
      l.lane.logged = key;
      this.succeeded(l, r, 0, true);
      return;
    }
    if (code === 413) {
      l.st.tooLarge++;
      if (r.events <= 1) {
        countDrop(this.counters, 'too_large', r.events);
        l.st.lastError = 'HTTP 413: a single record is larger than the server accepts';
        this.logger.warn(`otlp: ${l.shownUrl} refused a single ${l.signal} record as too large (HTTP 413, ${r.rawSize} bytes); dropped`, { sink: this.id });
        this.succeeded(l, r, 0, true);
        return;
      }
      this.split(l, r);
      l.allowedBytes = Math.max(1024, Math.floor(r.rawSize / 2));
      this.logger.debug(`otlp: ${l.shownUrl} answered 413 for ${r.events} records (${r.rawSize} bytes); split in halves`, { sink: this.id });
      return;
    }
    // Everything else keeps the data and retries with backoff.
    const msg = answer ? errorBodyMessage(this.proto, answer.rawBody, answer.contentType) : undefined;
    const what = answer ? `HTTP ${code}${msg ? `: ${this.redact(msg)}` : ''}` : (failure ?? 'request failed');
    l.st.lastError = what;
    countError(this.counters, new Error(`otlp ${l.signal}: ${what}`));
    const retryable = !answer || RETRYABLE.has(code!);
    const delay = l.lane.retry(r, answer?.retryAfterMs);
    l.state = retryable ? 'retrying' : 'failing';
    const key = answer ? `HTTP ${code}` : `network`;
    const text = `otlp: exporting ${l.signal} to ${l.shownUrl} failed: ${what}; retrying in ${delay} ms; data is kept`;
    if (l.lane.logged !== key) {
      if (retryable) this.logger.warn(text, { sink: this.id });
      else this.logger.error(`${text}. Check the endpoint, headers and credentials.`, { sink: this.id });
    } else this.logger.debug(text, { sink: this.id });
    l.lane.logged = key;
  }

  /** A request that is finished (delivered, or its events dropped and counted). */
  private succeeded(l: SignalLane, r: Req, delivered: number, dropped = false): void {
    const lane = l.lane;
    if (lane.backoff.count > 0 && lane.logged && !dropped) {
      this.logger.info(`otlp: exporting ${l.signal} to ${l.shownUrl} recovered after ${lane.backoff.count} failed attempts`, { sink: this.id });
    }
    lane.backoff.reset();
    if (!dropped) {
      lane.logged = undefined;
      l.st.lastError = undefined;
      l.allowedBytes = Math.min(this.maxBytes, l.allowedBytes * 2);
    }
    l.state = 'sending';
    r.payload = undefined;
    l.st.events += delivered;
    this.counters.sentEvents += delivered;
    if (r.events > 0) this.counters.sentBytes += Math.round((r.bytes * delivered) / r.events);
    lane.finish(r);
    this.settle();
  }

  /** Replaces `r` by its two halves (by event count), queued in its place. */
  private split(l: SignalLane, r: Req): void {
    const half = Math.floor(r.events / 2);
    let n = 0;
    let bytes = 0;
    let mid: Pos | undefined;
    for (let b = r.from.b; b <= r.to.b && !mid; b++) {
      const en = this.queue.at(b);
      if (!en) continue;
      let e = b === r.from.b ? r.from.e : 0;
      for (;;) {
        const i = this.firstOf(en, l.code, e);
        if (i < 0 || (b === r.to.b && i >= r.to.e)) break;
        if (n === half) {
          mid = { b, e: i };
          break;
        }
        n++;
        bytes += messageBytes(en.batch.events[i].message);
        e = i + 1;
      }
    }
    if (!mid) mid = r.to;
    const a: Req = { from: r.from, to: mid, events: half, bytes, rawSize: 0, state: 'queued', attempts: 0 };
    const c: Req = { from: mid, to: r.to, events: r.events - half, bytes: r.bytes - bytes, rawSize: 0, state: 'queued', attempts: 0 };
    const idx = l.lane.requests.indexOf(r);
    l.lane.requests.splice(idx, 1, a, c);
  }

  /** The first position not yet delivered by every lane. */
  private settledPos(): Pos {
    let min: Pos | undefined;
    for (const l of this.lanes) {
      let p: Pos;
      if (l.lane.requests.length > 0) p = l.lane.requests[0].from;
      else {
        this.normalize(l);
        p = l.cursor;
      }
      if (!min || posBefore(p, min)) min = p;
    }
    return min!;
  }

  /** Acks everything before the settled position. */
  private settle(): void {
    if (this.closed) return;
    this.queue.settle(this.settledPos());
  }

  /** True when no lane has taken any event of `en` (sequence number `seq`) into a request (a lane's cursor passes its events only by taking them). */
  private inNoRequest(en: Entry, seq: number): boolean {
    for (const l of this.lanes) {
      const first = this.firstOf(en, l.code, 0);
      if (first >= 0 && posBefore({ b: seq, e: first }, l.cursor)) return false;
    }
    return true;
  }

  private shutdown(): void {
    this.accepting = false;
    this.closed = true;
    this.offBudgetWait?.();
    for (const l of this.lanes) {
      l.lane.close();
      l.transport.close();
    }
    this.queue.finishFlushes();
  }

  /** Hides configured header values (API keys) in any text shown to people. */
  private redact(s: string): string {
    let out = s;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join('<redacted>');
    return out;
  }

  private warnOnce(key: string, text: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(text, { sink: this.id });
  }

  private internalError(err: unknown): void {
    countError(this.counters, new Error(this.redact(errorMessage(err))));
    this.logger.error(`otlp: internal error: ${this.redact(errorMessage(err))}`, { sink: this.id });
  }
}

function rank(s: LaneState): number {
  return s === 'failing' ? 3 : s === 'retrying' ? 2 : s === 'sending' ? 1 : 0;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withHost(attrs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) out[k] = String(v);
  if (!out.serverHost) out.serverHost = os.hostname();
  return out;
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** The lane an event goes to; -1 for a record that cannot be exported (counted `invalid_record`). */
function signalOf(ev: Event): number {
  const r = ev.record;
  if (!r) return LOGS;
  if (r.kind === 'metric') {
    const ok = typeof r.name === 'string' && r.name !== '' && (typeof r.value === 'number' || typeof r.value === 'string' || typeof r.value === 'boolean');
    return ok ? METRICS : -1;
  }
  if (r.kind === 'span') {
    const ok = validHexId(r.traceId, 32) && validHexId(r.spanId, 16) && typeof r.startNs === 'bigint' && typeof r.endNs === 'bigint' && typeof r.name === 'string';
    return ok ? TRACES : -1;
  }
  return LOGS;
}
