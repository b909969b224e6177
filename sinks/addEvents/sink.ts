/**
 * The Scalyr `addEvents` upload sink (scalyr-agent-behavior.md §4; design: docs/design/delivery.md).
 *
 * Promises:
 * - At-least-once: a stream is acked (`stream.ack(end)`, in order, never before the server said
 *   `success` or `discardBuffer`) only up to the last event whose request succeeded; empty batches
 *   are acked as soon as everything before them is. Retries resend the very same request (same
 *   `si`/`sn`), so duplicates are limited to requests whose answer was lost.
 * - Nothing accepted is thrown away on errors: 429, 5xx, `error/server/*`, timeouts, resets,
 *   refused connections, unparsable/empty/oversized answers and client errors (bad key…) all keep
 *   the data and retry with capped exponential backoff + jitter. `requestTooLarge` shrinks the
 *   allowed size by `request_too_large_adjustment` (half; not below `min_allowed_request_size`)
 *   and rebuilds. Only `discardBuffer` drops,
 *   counted under `dropped.discardBuffer`.
 * - Bounded: the FIFO holds only what sources were allowed to read (their credits return on
 *   ack), at most `max_in_flight` requests are outstanding, and answers are size-capped.
 * - A request goes out when full or `linger_ms` after its oldest event arrived (at once while
 *   flushing or stopping; the sink's first request after `first_linger_ms`, default `linger_ms`). Compression (zlib `deflate`) runs on libuv's threadpool.
 * - Pipelined: while a request is in flight the next two are built and compressed (building
 *   one overlaps compressing the other), and each goes out as soon as the answer before it
 *   arrives; requests are still sent in order (with the default
 *   `max_in_flight: 1`, a retried request is never overtaken, so per-file order holds).
 * - The API key never appears in logs, status or errors (it is redacted from server messages).
 */
import os from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Batch, ComponentCounters, Logger, Sink, Stream } from '../../lib/types.js';
import type { SinkBudgetView } from '../../lib/pipeline/routeBudgets.js';
import { countDrop, countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';
import { AckQueue, type Queued } from '../ackQueue.js';
import { RequestLane, type RequestState } from '../requestLane.js';
import { newSessionId } from './encode.js';
import { buildRequest, normalize, posBefore, type Pos } from './request.js';
import { classifyStatus, mapResponseStatus, responseMessage, type Outcome } from './retry.js';
import { Transport, TransportError } from './transport.js';

const deflateAsync = promisify(zlib.deflate);
const inflateAsync = promisify(zlib.inflate);

/**
 * Requests built ahead of the one on the wire: two, so that the main thread builds request n+2
 * while libuv's pool deflates n+1 (building and deflating a full request take about as long).
 */
const PREPARE_AHEAD = 2;

/** An idle sink frees its body buffers after this long. */
const POOL_IDLE_MS = 10_000;

/**
 * Compresses a body at the configured level. Output chunks of 256 KiB (zlib's default 16 KiB costs
 * a JS callback each). `memLevel: 9` (zlib's default is 8) doubles the hash table to 256 KiB per
 * stream: on addEvents bodies it deflates about 9 % faster at the same level, for a ratio 0.5 %
 * lower (`node dist/bench/deflate.js --real`, docs/PERFORMANCE.md, pass 5).
 */
function compress(body: Buffer, level: number): Promise<Buffer> {
  return deflateAsync(body, { level, memLevel: 9, chunkSize: Math.min(256 * 1024, Math.max(16 * 1024, body.length >>> 2)) });
}

/** Options (Scalyr's option names; extra agent options are ignored). */
export interface AddEventsSinkConfig {
  api_key: string;
  scalyr_server?: string;
  server_attributes?: Record<string, string>;
  compression_type?: 'deflate' | 'none' | string;
  compression_level?: number;
  max_allowed_request_size?: number;
  min_allowed_request_size?: number;
  /** Factor applied to a request's size after a `requestTooLarge` answer (default 0.5). */
  request_too_large_adjustment?: number;
  /** Seconds. */
  request_deadline?: number;
  ca_cert_path?: string;
  verify_server_certificate?: boolean;
  allow_http?: boolean;
  https_proxy?: string;
  http_proxy?: string;
  /** Environment for HTTPS_PROXY/HTTP_PROXY/NO_PROXY (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** sluice version for the User-Agent. */
  version?: string;
  max_in_flight?: number;
  /** Drop a failing request's events after this many seconds without success (0 = never). */
  max_no_success_secs?: number;
  retry_base_ms?: number;
  retry_max_ms?: number;
  linger_ms?: number;
  /**
   * The linger of the sink's first request (default `linger_ms`). The agent's sink passes 0: the
   * first upload after start goes out with what was read by then (the user sees the agent work,
   * and a bad key or server at once); later requests linger as usual.
   */
  first_linger_ms?: number;
  max_response_bytes?: number;
  [extra: string]: unknown;
}

/**
 * The agent's read budget (`max_pending_bytes`, lib/pipeline/credits.ts): bytes read but not yet
 * acknowledged. Given one, the sink keeps a request to a third of it (with the default one in
 * flight), so the request on the wire and those built ahead fit in the budget together, and it
 * sends what it has, without waiting for `linger_ms`, while reading waits for the budget (no more
 * data can come until an answer frees some).
 */
export type ReadBudget = SinkBudgetView;

/** The sink plus the live session-info update. */
export interface AddEventsSink extends Sink {
  /** Replaces `sessionInfo` (server attributes); used from the next request built. */
  setServerAttributes(attrs: Record<string, string>): void;
  takePending(): Batch[];
}

interface Req {
  from: Pos;
  /** Set once built; for a split-off remainder it is the limit to build up to. */
  to?: Pos;
  body?: Buffer;
  /** The pooled buffer `body` was written into (given back when the request is done). */
  scratch?: Buffer;
  /** The compressed body, made ahead while the previous request was in flight (pipelining). */
  payload?: Buffer;
  /**
   * With compression, the bytes of the last attempt, kept for a retry instead of the raw body:
   * the raw body's buffer goes back to the pool as soon as it is compressed.
   */
  sent?: Buffer;
  /** Length of the raw body (it may be gone). */
  rawSize?: number;
  events: number;
  messageBytes: number;
  /** `preparing`: being built and compressed ahead; sent (in order) once ready. */
  state: RequestState;
  attempts: number;
}

const MIN_REQUEST_SIZE = 102400;

function num(v: unknown, dflt: number): number {
  const n = typeof v === 'string' ? Number(v) : (v as number);
  return typeof n === 'number' && Number.isFinite(n) ? n : dflt;
}

/** Creates the sink. Throws (naming the option) only for an unusable `scalyr_server` or proxy URL. */
export function createAddEventsSink(config: AddEventsSinkConfig, ctx: { logger: Logger; id?: string; readBudget?: ReadBudget }): AddEventsSink {
  return new AddEventsSinkImpl(config, ctx.logger, ctx.id ?? 'addEvents', ctx.readBudget);
}

class AddEventsSinkImpl implements AddEventsSink {
  readonly counters: ComponentCounters = createCounters();
  private readonly apiKey: string;
  private readonly session = newSessionId();
  private sessionInfo: Record<string, string>;
  private readonly transport: Transport;
  private readonly deflate: boolean;
  private readonly level: number;
  private readonly maxSize: number;
  private readonly minSize: number;
  private readonly tooLargeFactor: number;
  private allowedSize: number;
  private readonly maxInFlight: number;
  private readonly lingerMs: number;
  private readonly firstLingerMs: number;
  /** A request was made (the first one lingers only `firstLingerMs`). */
  private madeRequest = false;
  /** `max_no_success_secs` in ms (0 = never drop: back-pressure holds reading instead). */
  private readonly maxNoSuccessMs: number;
  private readonly offBudgetWait?: () => void;
  private readonly createdAt = Date.now();
  /** Requests being built and compressed ahead (see prepareAhead). */
  private preparing = 0;
  private readonly headers: Record<string, string>;

  /** Reusable request-body buffers: building a body allocates nothing (see takeScratch). */
  private readonly pool: Buffer[] = [];
  private poolTimer?: NodeJS.Timeout;
  /** The batches written and not yet acknowledged, and their acks. */
  private readonly queue: AckQueue<Queued>;
  private cursor: Pos = { b: 0, e: 0, o: 0 };
  /** The requests, in order: at most `maxInFlight` out, retried with backoff. */
  private readonly lane: RequestLane<Req>;

  private accepting = true;
  private closed = false;
  private warnedStopped = false;

  private readonly st = {
    lastStatus: undefined as string | undefined,
    lastMessage: undefined as string | undefined,
    lastAttemptTime: undefined as number | undefined,
    lastRequestSize: 0,
    lastCompressedSize: 0,
    lastClientError: undefined as string | undefined,
  };

  constructor(
    config: AddEventsSinkConfig,
    private readonly logger: Logger,
    readonly id: string,
    private readonly readBudget?: ReadBudget,
  ) {
    this.apiKey = String(config.api_key ?? '');
    this.queue = new AckQueue({ name: 'addEvents', id, counters: this.counters, logger, redact: (s) => this.redact(s) });
    this.sessionInfo = this.withHost(config.server_attributes ?? {});
    const ctype = String(config.compression_type ?? 'deflate');
    if (ctype !== 'deflate' && ctype !== 'none') {
      logger.warn(`addEvents: compression_type ${JSON.stringify(ctype)} is not supported by sluice; using deflate`, { sink: id });
    }
    this.deflate = ctype !== 'none';
    const lvl = Math.trunc(num(config.compression_level, 6));
    this.level = lvl >= 1 && lvl <= 9 ? lvl : 6;
    this.maxInFlight = Math.max(1, Math.min(8, Math.trunc(num(config.max_in_flight, 1))));
    const configuredMax = Math.max(1024, Math.trunc(num(config.max_allowed_request_size, 5_900_000)));
    this.minSize = Math.min(configuredMax, Math.max(1024, Math.trunc(num(config.min_allowed_request_size, MIN_REQUEST_SIZE))));
    const factor = num(config.request_too_large_adjustment, 0.5);
    this.tooLargeFactor = factor > 0 && factor < 1 ? factor : 0.5;
    const budget = readBudget?.total ?? 0;
    const pipelined = budget > 0 ? Math.floor(budget / (PREPARE_AHEAD + this.maxInFlight)) : Infinity;
    this.maxSize = Math.min(configuredMax, Math.max(this.minSize, pipelined));
    this.allowedSize = this.maxSize;
    this.lingerMs = Math.max(0, num(config.linger_ms, 500));
    this.firstLingerMs = Math.min(this.lingerMs, Math.max(0, num(config.first_linger_ms, this.lingerMs)));
    this.maxNoSuccessMs = Math.max(0, num(config.max_no_success_secs, 0)) * 1000;
    this.lane = new RequestLane<Req>(
      {
        maxInFlight: this.maxInFlight,
        retryBaseMs: Math.max(1, num(config.retry_base_ms, 1000)),
        retryMaxMs: Math.max(1, num(config.retry_max_ms, 30_000)),
        // A server's Retry-After is honoured up to the backoff cap, never shortening the backoff.
        retryAfter: 'lengthens',
      },
      { next: (now) => this.nextRequest(now), send: (r) => this.send(r), wake: () => this.pump(), internalError: (err) => this.internalError(err) },
    );
    this.offBudgetWait = readBudget?.onWait(() => this.pump());
    this.transport = new Transport({
      scalyrServer: String(config.scalyr_server ?? 'https://agent.scalyr.com'),
      allowHttp: config.allow_http === true,
      verifyServerCertificate: config.verify_server_certificate !== false,
      caCertPath: config.ca_cert_path || undefined,
      httpsProxy: config.https_proxy || undefined,
      httpProxy: config.http_proxy || undefined,
      env: config.env ?? process.env,
      requestDeadlineMs: Math.max(0.01, num(config.request_deadline, 60)) * 1000,
      maxSockets: this.maxInFlight,
      maxResponseBytes: Math.max(1024, num(config.max_response_bytes, 1024 * 1024)),
    });
    if (this.transport.caError) logger.error(`addEvents: ${this.transport.caError}; verifying against the system CAs only`, { sink: id });
    if (config.verify_server_certificate === false) logger.warn('addEvents: verify_server_certificate is false: the server certificate is NOT checked', { sink: id });
    if (this.apiKey === '') logger.error('addEvents: api_key is empty; uploads will be refused until it is set', { sink: id });
    const version = String(config.version ?? '0.0.0');
    this.headers = {
      'User-Agent': `sluice/${version} (${os.platform()}; node-${process.versions.node})`,
      Accept: 'application/json',
      ...(this.deflate ? { 'Content-Encoding': 'deflate' } : {}),
    };
    logger.info(`addEvents: uploading to ${this.transport.url} (session ${this.session})${this.transport.proxyShown ? ` via proxy ${this.transport.proxyShown}` : ''}`, { sink: id });
  }

  private withHost(attrs: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(attrs ?? {})) out[k] = String(v);
    if (!out.serverHost) out.serverHost = os.hostname();
    return out;
  }

  /** Hides the API key in any text shown to people. */
  private redact(s: string): string {
    return this.apiKey.length >= 4 ? s.split(this.apiKey).join('<api_key>') : s;
  }

  setServerAttributes(attrs: Record<string, string>): void {
    this.sessionInfo = this.withHost(attrs);
  }

  write(batch: Batch): void {
    try {
      if (!this.accepting) {
        countDrop(this.counters, 'sink_stopped', batch.events.length);
        if (!this.warnedStopped) {
          this.warnedStopped = true;
          this.logger.warn('addEvents: batch written after stop; not uploaded (it stays unacknowledged)', { sink: this.id });
        }
        return;
      }
      let bytes = 0;
      let bad = 0;
      for (const ev of batch.events) {
        if (!ev || (typeof ev.message !== 'string' && !Buffer.isBuffer(ev.message)) || typeof ev.end !== 'number') bad++;
        else bytes += messageBytes(ev.message);
      }
      if (bad > 0) {
        // Malformed events cannot be encoded: count them and keep the rest (the batch end still acks).
        countDrop(this.counters, 'invalid_event', bad);
        batch = { ...batch, events: batch.events.filter((ev) => ev && (typeof ev.message === 'string' || Buffer.isBuffer(ev.message)) && typeof ev.end === 'number') };
        this.logger.warn(`addEvents: ${bad} malformed events from ${batch.stream?.id} dropped`, { sink: this.id });
      }
      this.counters.receivedEvents += batch.events.length;
      this.counters.receivedBytes += bytes;
      this.queue.push({ batch, bytes, arrived: Date.now() });
      this.pump();
    } catch (err) {
      countError(this.counters, err);
    }
  }

  flush(deadlineMs?: number): Promise<void> {
    if (this.queue.length === 0 || this.closed) return Promise.resolve();
    const done = this.queue.flushed(deadlineMs); // everything written so far
    this.pump();
    return done;
  }

  stop(deadlineMs = 5000): Promise<void> {
    this.accepting = false;
    return this.queue.stopOnce(() => this.flush(deadlineMs), () => this.shutdown());
  }

  takePending(): Batch[] {
    this.accepting = false;
    const out = this.queue.takeFrom(this.lane.requests.length > 0 ? this.lane.requests[0].from : this.cursor);
    this.shutdown();
    return out;
  }

  discard(superseded: (stream: Stream) => boolean): number {
    // Batches from the cursor on are in no request yet (a request's bytes are copied when built).
    const from = this.cursor.e === 0 && this.cursor.o === 0 ? this.cursor.b : this.cursor.b + 1;
    let events = 0;
    const entries = this.queue.entries;
    for (let i = Math.max(0, from - this.queue.baseSeq); i < entries.length; i++) {
      const en = entries[i];
      if (en.batch.events.length === 0 || !superseded(en.batch.stream)) continue;
      // Kept as an empty batch: its place in the queue (sequence numbers) stays as it was.
      events += this.queue.hollow(en);
    }
    if (events > 0) countDrop(this.counters, 'superseded_by_reload', events);
    return events;
  }

  private shutdown(): void {
    this.accepting = false;
    this.closed = true;
    this.offBudgetWait?.();
    this.lane.close();
    this.pool.length = 0;
    if (this.poolTimer) clearTimeout(this.poolTimer);
    this.poolTimer = undefined;
    this.transport.close();
    this.queue.finishFlushes();
  }

  status(): Record<string, unknown> {
    const now = Date.now();
    const failures = this.lane.backoff.count;
    let health = 'good';
    if (this.closed) health = 'stopped';
    else if (this.st.lastClientError && failures > 0) health = 'error';
    else if (failures > 0) health = 'backoff';
    return {
      type: 'addEvents',
      server: this.transport.url,
      session: this.session,
      proxy: this.transport.proxyShown,
      health,
      lastResponseStatus: this.st.lastStatus,
      lastResponseMessage: this.st.lastMessage,
      lastSuccessTime: this.lane.st.lastSuccessTime,
      lastAttemptTime: this.st.lastAttemptTime,
      lastRequestSize: this.st.lastRequestSize,
      lastRequestCompressedSize: this.st.lastCompressedSize,
      requests: this.lane.st.requests,
      requestsFailed: this.lane.st.failed,
      retries: this.lane.st.failed,
      consecutiveFailures: failures,
      nextAttemptInMs: this.lane.gateUntil > now ? this.lane.gateUntil - now : 0,
      bytesSent: this.lane.st.wireBytes,
      rawBytesSent: this.lane.st.rawBytes,
      eventsSent: this.counters.sentEvents,
      bytesPending: this.queue.pendingBytes,
      batchesPending: this.queue.length,
      inFlight: this.lane.inFlight,
      allowedRequestSize: this.allowedSize,
      caError: this.transport.caError,
    };
  }

  // ------------------------------------------------------------------------------------------

  /** Sends what can be sent now (the lane arms its timer for the linger or the backoff gate otherwise), then builds ahead. */
  private pump(): void {
    if (this.closed) return;
    if (this.lane.pump() !== 'gate') this.prepareAhead();
  }

  /**
   * A new request from the cursor when there is something to send: a full request's worth, or
   * the oldest event has waited `linger_ms` (at once while flushing or stopping). Otherwise arms
   * the linger timer and returns undefined.
   */
  private nextRequest(now: number): Req | undefined {
    // Batches before baseSeq are acked: the cursor can never point before them.
    if (this.cursor.b < this.queue.baseSeq) this.cursor = { b: this.queue.baseSeq, e: 0, o: 0 };
    this.cursor = normalize(this.queue, this.cursor);
    const head = this.queue.at(this.cursor.b);
    if (!head) {
      this.settle();
      return undefined;
    }
    // Reading waits for budget: lingering cannot bring more data, only delay the answer that frees it.
    const urgent = this.queue.flushing || !this.accepting || this.readBudget?.exhausted === true;
    if (!urgent && this.unsentBytes() < this.allowedSize) {
      const waited = now - head.arrived;
      const linger = this.madeRequest ? this.lingerMs : this.firstLingerMs;
      if (waited < linger) {
        this.lane.arm(linger - waited);
        return undefined;
      }
    }
    this.madeRequest = true;
    const r: Req = { from: this.cursor, events: 0, messageBytes: 0, state: 'queued', attempts: 0 };
    this.lane.requests.push(r);
    return r;
  }

  /**
   * Pipelining (Scalyr's agent does it too): while the allowed requests are in flight, the next
   * PREPARE_AHEAD are built and compressed, so each can go out the moment the previous answer
   * arrives.
   * Requests are still sent one after another, in order, so per-file order at the server holds
   * even when a request is retried.
   */
  private prepareAhead(): void {
    const lane = this.lane;
    while (!this.closed && Date.now() >= lane.gateUntil) {
      if (lane.requests.some((x) => x.state === 'queued' && !x.body && !x.payload && !x.sent)) return; // a split-off remainder goes first, as it is
      let ahead = this.preparing;
      for (const x of lane.requests) if (x.state === 'queued' && x.payload) ahead++;
      if (ahead >= PREPARE_AHEAD) return;
      if (lane.requests.some((x) => x.state === 'queued' && !x.payload)) return; // a retry waits as it is
      const r = this.nextRequest(Date.now());
      if (!r) return;
      r.state = 'preparing';
      this.preparing++;
      // Built now (synchronously: the cursor moves), compressed on the pool in the background.
      let built = false;
      try {
        built = this.build(r, Math.floor(Date.now() / 1000));
      } catch (err) {
        r.body = undefined;
        this.internalError(err);
      }
      if (!built) {
        if (r.state === 'preparing') r.state = 'queued';
        this.preparing--;
        return;
      }
      void (async () => {
        try {
          const body = r.body!;
          r.payload = this.deflate ? await compress(body, this.level) : body;
          if (this.deflate) this.dropRaw(r);
        } catch (err) {
          r.body = undefined;
          r.payload = undefined;
          this.internalError(err);
        } finally {
          if (r.state === 'preparing') r.state = 'queued';
          this.preparing--;
          this.pump();
        }
      })();
    }
  }

  private internalError(err: unknown): void {
    countError(this.counters, new Error(this.redact(errorMessage(err))));
    this.logger.error(`addEvents: internal error: ${this.redact(errorMessage(err))}`, { sink: this.id });
  }

  /**
   * Bytes queued but not yet in a built request (approximate: a partly acked head batch counts
   * whole). O(requests), not O(batches), so a write of many small batches stays cheap.
   */
  private unsentBytes(): number {
    let inRequests = 0;
    for (const r of this.lane.requests) inRequests += r.messageBytes;
    return Math.max(0, this.queue.pendingBytes - inRequests);
  }

  /**
   * Builds `r`'s body from the queue. Returns false when there was nothing to carry (only
   * finished or empty batches in range): the request is then done without being sent.
   */
  private build(r: Req, clientTime: number): boolean {
    const fresh = r.to === undefined;
    // A pooled full-size buffer only when there is a lot to send (a backlog); a trickle of small
    // requests builds in a small buffer of its own and never makes the sink hold the big ones.
    const scratch = r.scratch ?? (this.unsentBytes() >= this.allowedSize / 4 ? this.takeScratch() : undefined);
    r.scratch = undefined;
    const built = buildRequest(
      this.queue,
      r.from,
      r.to ?? null,
      this.allowedSize,
      { token: this.apiKey, session: this.session, threads: [], sessionInfo: this.sessionInfo },
      clientTime,
      scratch,
    );
    if (scratch && built.body.buffer === scratch.buffer) r.scratch = scratch;
    else if (scratch) this.giveScratch(scratch); // the body outgrew it (a forced piece): it lives elsewhere
    if (!fresh && r.to && posBefore(built.to, normalize(this.queue, r.to))) {
      // The rebuilt request holds less than before: the rest becomes the next request.
      const idx = this.lane.requests.indexOf(r);
      this.lane.requests.splice(idx + 1, 0, { from: built.to, to: r.to, events: 0, messageBytes: 0, state: 'queued', attempts: 0 });
    }
    r.to = built.to;
    if (fresh) this.cursor = built.to;
    if (built.events === 0 && built.messageBytes === 0) {
      this.release(r);
      this.lane.finish(r);
      this.settle();
      queueMicrotask(() => this.pump());
      return false;
    }
    r.body = built.body;
    r.events = built.events;
    r.messageBytes = built.messageBytes;
    return true;
  }

  /** One attempt of `r`, started by the lane (which marked it sending and counts it in flight). */
  private async send(r: Req): Promise<void> {
    let status: string;
    let message: string | undefined;
    let rawSize = 0;
    let wireSize = 0;
    let retryAfterMs: number | undefined;
    try {
      const clientTime = Math.floor(Date.now() / 1000);
      if (!r.body && !r.payload && !r.sent) {
        if (!this.build(r, clientTime)) return;
      } else if (!r.payload) {
        // A retry: the same events with a fresh client_time (from the bytes sent last time when
        // the raw body was given back), compressed again.
        const raw = r.body ?? (await inflateAsync(r.sent!));
        r.sent = undefined;
        r.body = refreshClientTime(raw, clientTime);
      }
      if (r.body) r.rawSize = r.body.length;
      rawSize = r.rawSize ?? 0;
      const payload = r.payload ?? (this.deflate ? await compress(r.body!, this.level) : r.body!);
      r.payload = undefined;
      if (this.deflate) {
        r.sent = payload;
        this.dropRaw(r);
      }
      if (this.closed) return;
      r.attempts++;
      this.lane.st.requests++;
      this.st.lastAttemptTime = Date.now();
      this.st.lastRequestSize = rawSize;
      this.st.lastCompressedSize = payload.length;
      wireSize = payload.length;
      const answer = await this.transport.post(payload, this.headers);
      if (this.closed) return;
      status = mapResponseStatus(answer.statusCode, answer.body);
      message = responseMessage(answer.body);
      if (status === 'parseResponseFailed' || status === 'emptyResponse') message = `HTTP ${answer.statusCode} ${answer.contentType ?? ''}`.trim();
      retryAfterMs = answer.retryAfterMs;
    } catch (err) {
      if (this.closed) return;
      status = err instanceof TransportError ? err.status : 'requestFailed';
      message = errorMessage(err);
    } finally {
      this.lane.attemptEnded();
    }
    this.st.lastStatus = status;
    this.st.lastMessage = message === undefined ? undefined : this.redact(message);
    this.handle(r, classifyStatus(status), status, rawSize, wireSize, retryAfterMs);
    this.pump();
  }

  private handle(r: Req, outcome: Outcome, status: string, rawSize: number, wireSize: number, retryAfterMs?: number): void {
    const lane = this.lane;
    let dropReason = 'discardBuffer';
    if (outcome !== 'success' && outcome !== 'discard' && this.maxNoSuccessMs > 0) {
      // Scalyr's give-up rule, only when asked for: after max_no_success_secs without a success
      // the failing request's events are dropped (counted) instead of retried.
      const since = lane.st.lastSuccessTime ?? this.createdAt;
      if (Date.now() - since > this.maxNoSuccessMs) {
        outcome = 'discard';
        dropReason = 'no_success_timeout';
      }
    }
    if (outcome === 'success' || outcome === 'discard') {
      if (lane.backoff.count > 0 || lane.logged) {
        this.logger.info(`addEvents: upload recovered after ${lane.backoff.count} failed attempts`, { sink: this.id });
      }
      lane.backoff.reset();
      lane.logged = undefined;
      this.st.lastClientError = undefined;
      this.allowedSize = this.maxSize;
      this.release(r);
      if (outcome === 'success') {
        lane.delivered(wireSize, rawSize);
        this.counters.sentEvents += r.events;
        this.counters.sentBytes += r.messageBytes;
      } else {
        countDrop(this.counters, dropReason, r.events);
        if (dropReason === 'discardBuffer') this.logger.warn(`addEvents: server answered ${status}; ${r.events} events dropped as asked`, { sink: this.id, status });
        else this.logger.warn(`addEvents: no successful upload for over ${this.maxNoSuccessMs / 1000} s (last answer ${status}); ${r.events} events dropped (max_no_success_secs)`, { sink: this.id, status });
      }
      lane.finish(r);
      this.settle();
      return;
    }
    countError(this.counters, new Error(`addEvents ${status}${this.st.lastMessage ? `: ${this.st.lastMessage}` : ''}`));
    // Queued again; a server's Retry-After is honoured up to the backoff cap.
    const delay = lane.retry(r, retryAfterMs);
    let what = 'will retry';
    if (outcome === 'tooLarge') {
      this.allowedSize = Math.max(this.minSize, Math.floor(rawSize * this.tooLargeFactor));
      r.body = undefined;
      r.sent = undefined;
      what = `rebuilding with at most ${this.allowedSize} bytes`;
    }
    const text = `addEvents: upload failed: ${status}${this.st.lastMessage ? ` (${this.st.lastMessage})` : ''}; ${what} in ${delay} ms; data is kept`;
    if (outcome === 'clientError') {
      this.st.lastClientError = status;
      if (lane.logged !== status) this.logger.error(`${text}. Check api_key and the configuration.`, { sink: this.id, status });
      else this.logger.debug(text, { sink: this.id, status });
    } else if (lane.logged !== status) this.logger.warn(text, { sink: this.id, status });
    else this.logger.debug(text, { sink: this.id, status });
    lane.logged = status;
  }

  /** Acks everything before the first unfinished request (or the cursor when none). */
  private settle(): void {
    if (this.closed) return;
    const lane = this.lane;
    if (lane.requests.length === 0) this.cursor = normalize(this.queue, this.cursor);
    this.queue.settle(lane.requests.length > 0 ? lane.requests[0].from : this.cursor);
    if (lane.requests.length === 0 && this.queue.length === 0 && this.pool.length > 0 && !this.poolTimer) {
      // Idle for a while: give the buffers' memory back (a short pause keeps them).
      this.poolTimer = setTimeout(() => {
        this.poolTimer = undefined;
        if (this.lane.requests.length === 0) this.pool.length = 0;
      }, POOL_IDLE_MS);
      this.poolTimer.unref();
    }
  }

  /**
   * A buffer to build a body in: from the pool, else a new one of the size limit (+ slack for
   * a forced piece). Its pages are touched only as far as bodies are written, so a small request
   * costs little even in a new buffer.
   */
  private takeScratch(): Buffer {
    return this.pool.pop() ?? Buffer.allocUnsafeSlow(this.maxSize + 65536);
  }

  private giveScratch(b: Buffer): void {
    if (!this.closed && this.pool.length < PREPARE_AHEAD + this.maxInFlight) this.pool.push(b);
  }

  /** The request no longer needs its body (done, or nothing to carry): its buffer goes back. */
  private release(r: Req): void {
    r.body = undefined;
    r.payload = undefined;
    r.sent = undefined;
    if (r.scratch) this.giveScratch(r.scratch);
    r.scratch = undefined;
  }

  /** The compressed bytes are all a send or a retry needs: the raw body's buffer goes back now. */
  private dropRaw(r: Req): void {
    if (!r.body) return;
    r.rawSize = r.body.length;
    r.body = undefined;
    if (r.scratch) this.giveScratch(r.scratch);
    r.scratch = undefined;
  }
}

/** The same body with a new `client_time` (it is the last field): in place when the length is the same. */
function refreshClientTime(body: Buffer, clientTime: number): Buffer {
  const idx = body.lastIndexOf('client_time: ');
  if (idx < 0) return body;
  const tail = Buffer.from(`client_time: ${clientTime} }`);
  if (idx + tail.length === body.length) {
    tail.copy(body, idx);
    return body;
  }
  return Buffer.concat([body.subarray(0, idx), tail]);
}
