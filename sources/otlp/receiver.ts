/**
 * The OTLP/HTTP receiver's implementation (`otlp_receiver`, declared in `./component.ts`, which
 * imports this module only when the receiver starts). See DESIGN.md.
 *
 * One request: route and method → content type and encoding → body read up to
 * `max_request_bytes` (413 past it, never more buffered) → gunzip/inflate capped at the same
 * limit → budget check (429 + Retry-After) → decode (the OpenTelemetry protobuf definitions, or
 * JSON) → convert (400 naming the bad field; partial success for rejected items) → one Batch on
 * `batches$` → 200. The accepted (decompressed) bytes stay charged to `max_pending_bytes` until
 * the sinks ack them (`Stream.ack(end)`, where `end` is the running byte count of the stream).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { Subject } from 'rxjs';
import type { ComponentContext } from '../../lib/component.js';
import type { Batch, ComponentCounters, Event, Stream } from '../../lib/types.js';
import { countDrop, countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';
import { BadRequest, convertLogs, convertMetrics, convertTraces, type Encoding, type Signal } from './convert.js';
import { logEvent, metricEvent, spanEvent } from './events.js';
import { receiverOptions, type ReceiverOptions } from './options.js';
import { loadWire, type Wire } from './wire.js';
import type { OtlpReceiverSource } from './types.js';

const PATHS: Record<string, Signal> = { '/v1/logs': 'logs', '/v1/metrics': 'metrics', '/v1/traces': 'traces' };
const KINDS: Record<Signal, string> = { logs: 'log', metrics: 'metric', traces: 'trace' };
const PARSERS: Record<Signal, string> = { logs: 'otlp', metrics: 'agent-metrics', traces: 'otlp-traces' };

/** How long the rest of a refused request's body is read (and discarded) before the connection is closed. */
const LINGER_MS = 2000;

/** gRPC codes for google.rpc.Status, per HTTP answer. */
const GRPC: Record<number, number> = { 400: 3, 404: 12, 405: 12, 408: 4, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14 };

interface SignalState {
  stream: Stream;
  /** Bytes accepted so far (the end of the last batch). */
  accepted: number;
  /** Highest end the sinks acknowledged. */
  acked: number;
}

/** What a refused request is counted under (counters.dropped). */
type Refusal = 'not_found' | 'method_not_allowed' | 'unsupported_media_type' | 'unsupported_encoding' | 'request_too_large' | 'invalid_compression' | 'invalid_body' | 'over_budget' | 'unavailable' | 'timeout' | 'aborted' | 'internal_error';

class Refused extends Error {
  constructor(
    readonly status: number,
    readonly reason: Refusal,
    message: string,
  ) {
    super(message);
  }
}

function mediaType(v: string | undefined): Encoding | undefined {
  const t = (v ?? '').split(';')[0]!.trim().toLowerCase();
  if (t === 'application/x-protobuf' || t === 'application/protobuf') return 'proto';
  if (t === 'application/json') return 'json';
  return undefined;
}

type Coding = 'identity' | 'gzip' | 'deflate';
function coding(v: string | undefined): Coding | undefined {
  const t = (v ?? '').trim().toLowerCase();
  if (t === '' || t === 'identity') return 'identity';
  if (t === 'gzip' || t === 'x-gzip') return 'gzip';
  if (t === 'deflate') return 'deflate';
  return undefined;
}

function inflateAsync(fn: typeof zlib.gunzip, buf: Buffer, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => fn(buf, { maxOutputLength: max }, (err, out) => (err ? reject(err) : resolve(out))));
}

/** Builds the receiver from the `otlp_receiver` object (`own`). */
export function buildOtlpReceiver(
  own: Readonly<Record<string, unknown>>,
  ctx: Pick<ComponentContext, 'logger'> & Partial<Pick<ComponentContext, 'counters'>>,
  hooks: { observed?: () => boolean } = {},
): OtlpReceiverSource {
  const opts: ReceiverOptions = receiverOptions(own);
  const log = ctx.logger;
  const counters: ComponentCounters = ctx.counters ?? createCounters();
  const batches = new Subject<Batch>();
  /** Someone takes the batches (the wrapper in component.ts forwards its own subscribers' presence). */
  const observed = () => (hooks.observed ? hooks.observed() : batches.observed);
  const requests: Record<string, Record<string, number>> = { logs: {}, metrics: {}, traces: {}, other: {} };
  const bytes = { wire: 0, decoded: 0, discarded: 0 };
  let lastError: { time: number; status: number; message: string } | undefined;
  let wire: Wire | undefined;
  let server: http.Server | undefined;
  let address: { host: string; port: number } | undefined;
  let stopped = false;
  /** Bytes of requests being read or decoded now (wire or decompressed, the larger). */
  let inflight = 0;
  const sockets = new Set<Socket>();

  const seq = randomUUID();
  const signals = {} as Record<Signal, SignalState>;
  for (const s of ['logs', 'metrics', 'traces'] as Signal[]) {
    const st: SignalState = {
      accepted: 0,
      acked: 0,
      stream: {
        id: `otlp:${s}`,
        kind: KINDS[s],
        path: `otlp:${s}`,
        attrs: { parser: PARSERS[s], logfile: `otlp:${s}`, ...opts.attributes },
        seqId: `${seq}-${s}`,
        ack(end: number) {
          if (end > st.acked) st.acked = Math.min(end, st.accepted);
        },
      },
    };
    signals[s] = st;
  }
  const pending = () => signals.logs.accepted - signals.logs.acked + (signals.metrics.accepted - signals.metrics.acked) + (signals.traces.accepted - signals.traces.acked);
  /** Room left in the budget for a request holding `mine` in-flight bytes (unbounded when it is alone). */
  const room = (mine: number) => {
    const others = pending() + inflight - mine;
    return others <= 0 ? Infinity : opts.maxPendingBytes - others - mine;
  };

  const count = (signal: Signal | undefined, outcome: string) => {
    const r = requests[signal ?? 'other']!;
    r[outcome] = (r[outcome] ?? 0) + 1;
  };

  const send = (res: http.ServerResponse, status: number, enc: Encoding, body: Buffer, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': enc === 'json' ? 'application/json' : 'application/x-protobuf', 'Content-Length': String(body.length), ...headers });
    res.end(body);
  };

  /**
   * After a refusal, the rest of an unread body is read and thrown away (nothing is kept) for a
   * bounded time and number of bytes, so the client sees the answer instead of a reset; past
   * either bound the connection is closed.
   */
  const linger = (req: http.IncomingMessage) => {
    const socket = req.socket;
    const start = socket.bytesRead;
    const until = Date.now() + LINGER_MS;
    req.resume();
    const t = setInterval(() => {
      const n = socket.bytesRead - start;
      if (req.complete || socket.destroyed || n > opts.maxRequestBytes || Date.now() > until) {
        clearInterval(t);
        bytes.discarded += n;
        if (!req.complete) socket.destroy();
      }
    }, 20);
    t.unref();
  };

  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, signal: Signal | undefined, enc: Encoding, r: Refused) => {
    if (res.headersSent) return; // answered already (a timeout answered it while the body was read)
    if (!req.complete && !req.destroyed) linger(req);
    countDrop(counters, r.reason);
    count(signal, String(r.status));
    lastError = { time: Date.now(), status: r.status, message: r.message };
    log.debug('OTLP request refused', { status: r.status, reason: r.reason, message: r.message });
    const headers: Record<string, string> = {};
    if (r.status === 429 || r.status === 503) headers['Retry-After'] = String(opts.retryAfterSecs);
    if (r.status === 405) headers.Allow = 'POST';
    if (r.status === 408) headers.Connection = 'close';
    const body = wire ? wire.status(enc, GRPC[r.status] ?? 2, r.message) : Buffer.from(JSON.stringify({ code: GRPC[r.status] ?? 2, message: r.message }));
    send(res, r.status, wire ? enc : 'json', body, headers);
  };

  /** Reads the body up to the limit; tracks its bytes as in flight. */
  const readBody = (req: http.IncomingMessage, held: { n: number }) =>
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let settled = false;
      const finish = (err?: Refused) => {
        if (settled) return;
        settled = true;
        req.off('data', onData);
        if (err) {
          req.pause();
          reject(err);
        } else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      };
      const onData = (chunk: Buffer) => {
        total += chunk.length;
        bytes.wire += chunk.length;
        if (total > opts.maxRequestBytes) return finish(new Refused(413, 'request_too_large', `body: more than max_request_bytes (${opts.maxRequestBytes}) bytes`));
        if (total > room(held.n) + held.n) return finish(new Refused(429, 'over_budget', `the receiver's budget of unacknowledged bytes (max_pending_bytes ${opts.maxPendingBytes}) is spent; retry later`));
        inflight += chunk.length;
        held.n += chunk.length;
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.on('end', () => finish());
      req.on('error', () => finish(new Refused(400, 'aborted', 'the request was aborted')));
      req.on('close', () => finish(new Refused(400, 'aborted', 'the connection closed before the body was complete')));
    });

  const decompress = async (body: Buffer, enc: Coding, held: { n: number }): Promise<Buffer> => {
    if (enc === 'identity') return body;
    const budgetCap = room(held.n);
    const cap = Math.min(opts.maxRequestBytes, budgetCap);
    let out: Buffer;
    try {
      if (enc === 'gzip') out = await inflateAsync(zlib.gunzip, body, cap);
      else {
        try {
          out = await inflateAsync(zlib.inflate, body, cap);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err;
          out = await inflateAsync(zlib.inflateRaw, body, cap); // "deflate" sent without the zlib wrapper
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        if (cap < opts.maxRequestBytes) throw new Refused(429, 'over_budget', `the receiver's budget of unacknowledged bytes (max_pending_bytes ${opts.maxPendingBytes}) is spent; retry later`);
        throw new Refused(413, 'request_too_large', `body: more than max_request_bytes (${opts.maxRequestBytes}) bytes once decompressed (${enc})`);
      }
      throw new Refused(400, 'invalid_compression', `body: invalid ${enc} data (${errorMessage(err)})`);
    }
    if (out.length > held.n) {
      inflight += out.length - held.n;
      held.n = out.length;
    }
    return out;
  };

  /** Decoded request → events (throws BadRequest). */
  const toEvents = (signal: Signal, enc: Encoding, msg: unknown): { events: Event[]; rejected: number; message?: string } => {
    const conv = signal === 'logs' ? convertLogs(msg, enc, opts.maxDepth) : signal === 'metrics' ? convertMetrics(msg, enc, opts.maxDepth) : convertTraces(msg, enc, opts.maxDepth);
    for (const [reason, n] of Object.entries(conv.skipped)) countDrop(counters, reason, n);
    const now = BigInt(Date.now()) * 1_000_000n;
    let events: Event[];
    if (signal === 'logs') events = (conv.items as Parameters<typeof logEvent>[0][]).map((it) => logEvent(it, now));
    else if (signal === 'metrics') events = (conv.items as Parameters<typeof metricEvent>[0][]).map((it) => metricEvent(it, now));
    else events = (conv.items as Parameters<typeof spanEvent>[0][]).map((it) => spanEvent(it));
    counters.receivedEvents += events.length + conv.rejected;
    if (conv.rejected) countDrop(counters, 'rejected_item', conv.rejected);
    return { events, rejected: conv.rejected, message: conv.rejected ? `${conv.rejected} rejected; first: ${conv.rejectMessage}` : undefined };
  };

  const emit = (signal: Signal, events: Event[], size: number) => {
    const st = signals[signal];
    const base = st.accepted;
    const n = events.length;
    for (let i = 0; i < n; i++) events[i]!.end = base + Math.max(1, Math.floor((size * (i + 1)) / n));
    st.accepted = base + size;
    counters.sentEvents += n;
    for (const e of events) counters.sentBytes += messageBytes(e.message);
    batches.next({ stream: st.stream, events, end: st.accepted });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    const signal = PATHS[url.split('?')[0]!];
    let enc: Encoding = mediaType(req.headers['content-type']) ?? 'json';
    const held = { n: 0 };
    try {
      if (!signal) throw new Refused(404, 'not_found', `no OTLP endpoint at ${url.slice(0, 100)}; use POST /v1/logs, /v1/metrics or /v1/traces`);
      if (req.method !== 'POST') throw new Refused(405, 'method_not_allowed', `${String(req.method).slice(0, 20)} is not allowed on ${url.split('?')[0]}; use POST`);
      const media = mediaType(req.headers['content-type']);
      if (!media) throw new Refused(415, 'unsupported_media_type', `Content-Type ${JSON.stringify(String(req.headers['content-type'] ?? '').slice(0, 100))} is not supported; use application/x-protobuf or application/json`);
      enc = media;
      const cod = coding(req.headers['content-encoding']);
      if (!cod) throw new Refused(415, 'unsupported_encoding', `Content-Encoding ${JSON.stringify(String(req.headers['content-encoding']).slice(0, 100))} is not supported; use gzip, deflate or identity`);
      if (stopped || !observed()) throw new Refused(503, 'unavailable', 'the receiver is not taking data now; retry later');
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > opts.maxRequestBytes) throw new Refused(413, 'request_too_large', `body: Content-Length ${declared} is over max_request_bytes (${opts.maxRequestBytes})`);
      if (declared > room(0)) throw new Refused(429, 'over_budget', `the receiver's budget of unacknowledged bytes (max_pending_bytes ${opts.maxPendingBytes}) is spent; retry later`);
      const raw = await readBody(req, held);
      const body = await decompress(raw, cod, held);
      if (body.length > room(held.n) + held.n) throw new Refused(429, 'over_budget', `the receiver's budget of unacknowledged bytes (max_pending_bytes ${opts.maxPendingBytes}) is spent; retry later`);
      wire ??= await loadWire();
      if (stopped || !observed()) throw new Refused(503, 'unavailable', 'the receiver is not taking data now; retry later');
      bytes.decoded += body.length;
      counters.receivedBytes += body.length;
      let out: ReturnType<typeof toEvents>;
      try {
        out = toEvents(signal, enc, wire.decode(signal, enc, body));
      } catch (err) {
        if (err instanceof BadRequest) throw new Refused(400, 'invalid_body', err.message);
        if (err instanceof RangeError && /call stack/i.test(err.message)) throw new Refused(400, 'invalid_body', 'body: nesting too deep to decode');
        throw err;
      }
      if (out.events.length) emit(signal, out.events, body.length);
      count(signal, out.rejected ? '200_partial' : '200');
      send(res, 200, enc, wire.success(signal, enc, out.rejected, out.message));
    } catch (err) {
      if (err instanceof Refused) return refuse(req, res, signal, enc, err);
      countError(counters, err);
      log.error('OTLP request failed', { error: errorMessage(err) });
      refuse(req, res, signal, enc, new Refused(500, 'internal_error', 'internal error'));
    } finally {
      inflight -= held.n;
    }
  };

  const onClientError = (err: NodeJS.ErrnoException, socket: Socket) => {
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT';
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return void socket.destroy();
    countDrop(counters, timeout ? 'timeout' : 'bad_http');
    count(undefined, timeout ? '408' : '400');
    lastError = { time: Date.now(), status: timeout ? 408 : 400, message: timeout ? 'the client was too slow sending its request' : `malformed HTTP: ${err.code ?? err.message}` };
    const res = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
    if (res && !res.headersSent) {
      // The request reached the handler, which is still reading its body: answer through it.
      res.writeHead(timeout ? 408 : 400, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify({ code: timeout ? 4 : 3, message: lastError.message }));
    } else if (socket.writable && !res) {
      const body = JSON.stringify({ code: timeout ? 4 : 3, message: lastError.message });
      socket.end(`HTTP/1.1 ${timeout ? '408 Request Timeout' : '400 Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    setTimeout(() => socket.destroy(), 200).unref();
  };

  let listening: Promise<void> | undefined;
  const listen = () =>
    (listening ??= (async () => {
      wire = await loadWire();
      if (stopped) return;
      const checkEvery = Math.max(20, Math.min(1000, opts.headerTimeoutMs / 4, opts.requestTimeoutMs / 4));
      const srv = http.createServer(
        {
          headersTimeout: opts.headerTimeoutMs,
          requestTimeout: Math.max(opts.requestTimeoutMs, opts.headerTimeoutMs),
          connectionsCheckingInterval: checkEvery,
          keepAliveTimeout: 5000,
          maxHeaderSize: 16 * 1024,
        },
        (req, res) => void handle(req, res),
      );
      srv.maxConnections = opts.maxConnections;
      srv.on('drop', () => countDrop(counters, 'connection_limit'));
      srv.on('clientError', onClientError);
      srv.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        const onErr = (e: NodeJS.ErrnoException) => {
          const why = e.code === 'EADDRINUSE' ? 'the address is in use (another OTLP receiver or a Collector?)' : e.code === 'EADDRNOTAVAIL' ? 'the address is not on this host' : e.code === 'EACCES' ? 'permission denied' : errorMessage(e);
          const wrapped = new Error(`otlp_receiver: cannot listen on ${opts.host}:${opts.port}: ${why}`) as Error & { code?: string };
          wrapped.code = e.code;
          reject(wrapped);
        };
        srv.once('error', onErr);
        srv.listen(opts.port, opts.host, () => {
          srv.off('error', onErr);
          srv.on('error', (e) => countError(counters, e));
          resolve();
        });
      });
      server = srv;
      const a = srv.address() as AddressInfo;
      address = { host: a.address, port: a.port };
      log.info('OTLP/HTTP receiver listening', { endpoint: `${a.address}:${a.port}` });
      if (stopped) await closeServer(0);
    })());

  const closeServer = async (deadlineMs: number) => {
    const srv = server;
    if (!srv) return;
    server = undefined;
    const closed = new Promise<void>((r) => srv.close(() => r()));
    srv.closeIdleConnections();
    const until = Date.now() + Math.max(0, deadlineMs);
    while (sockets.size > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
      srv.closeIdleConnections();
    }
    srv.closeAllConnections();
    for (const s of sockets) s.destroy();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 100).unref())]);
  };

  let stopping: Promise<void> | undefined;
  const stop = (deadlineMs = 5000) =>
    (stopping ??= (async () => {
      stopped = true;
      if (listening) await Promise.race([listening.catch(() => undefined), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
      await closeServer(Math.min(deadlineMs, 2000));
      batches.complete();
    })().catch((err) => {
      countError(counters, err);
      log.error('OTLP receiver stop failed', { error: errorMessage(err) });
    }));

  return {
    batches$: batches.asObservable(),
    counters,
    ready: listen,
    stop,
    address: () => address,
    status: () => ({
      listening: address ? `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}` : null,
      requests,
      bytes: { ...bytes },
      pending: { bytes: pending(), inflight, budget: opts.maxPendingBytes, byStream: Object.fromEntries(Object.values(signals).map((s) => [s.stream.id, s.accepted - s.acked])) },
      connections: sockets.size,
      lastError,
    }),
  };
}
