/**
 * Builds one `addEvents` request from the sink's FIFO of batches.
 *
 * Promises:
 * - Events are taken in FIFO order from a position (batch, event, byte offset inside a split
 *   event) until the request is full, the limit position is reached or the queue ends; the
 *   returned `to` is where the next request starts. Per-stream order is the queue order.
 * - The `logs`/`threads` entry of a stream is added with its first event in the request; if it
 *   does not fit, that event is taken out again and the request ends there (Scalyr's rule).
 * - An event too large for an empty request is split into pieces that fit, sent in order in
 *   successive requests; nothing is truncated or dropped. Pieces carry exact byte offsets as
 *   `sn` when the message is the unmodified byte range it came from; otherwise only the last
 *   piece carries `si`/`sn` (so the server never de-duplicates a piece by mistake).
 * - Sequence fields: `si` = `stream.seqId`, `sn` = `event.end`.
 */
import type { Batch, Event, Stream } from '../../lib/types.js';
import { RequestEncoder, type EncodeEvent } from './encode.js';

/** A place in the queue: batch sequence number, event index, byte offset in that event's message. */
export interface Pos {
  b: number;
  e: number;
  o: number;
}

export function posEq(a: Pos, b: Pos): boolean {
  return a.b === b.b && a.e === b.e && a.o === b.o;
}

export function posBefore(a: Pos, b: Pos): boolean {
  return a.b !== b.b ? a.b < b.b : a.e !== b.e ? a.e < b.e : a.o < b.o;
}

/** Read access to the sink's queue. */
export interface QueueView {
  /** The batch with sequence number `seq`, if still queued. */
  batch(seq: number): Batch | undefined;
}

/** Moves `p` past finished batches (and empty ones) to the next event to send. */
export function normalize(q: QueueView, p: Pos): Pos {
  let { b, e, o } = p;
  for (;;) {
    const batch = q.batch(b);
    if (!batch || e < batch.events.length) return { b, e, o };
    b++;
    e = 0;
    o = 0;
  }
}

const threadIds = new WeakMap<Stream, string>();
let threadCounter = 0;

/** The process-wide `log_<n>` id of a stream. */
export function threadIdOf(stream: Stream): string {
  let id = threadIds.get(stream);
  if (!id) {
    id = `log_${++threadCounter}`;
    threadIds.set(stream, id);
  }
  return id;
}

/**
 * Monotonic event time for events without their own timestamp: nanoseconds since the epoch, the
 * wall clock in ms plus a 6-digit counter that keeps successive values distinct (the same values
 * as `max(now_ms × 10⁶, last + 1)`, without a BigInt per event). `tick(ms)` advances it and leaves
 * the time in `CLOCK` (ms, sub); `nowNsText` gives it as decimal text.
 */
const CLOCK = { ms: 0, sub: 0 };
function tick(ms: number): void {
  if (ms > CLOCK.ms) {
    CLOCK.ms = ms;
    CLOCK.sub = 0;
  } else if (++CLOCK.sub > 999_999) {
    CLOCK.ms++;
    CLOCK.sub = 0;
  }
}

export function nowNsText(ms = Date.now()): string {
  tick(ms);
  return String(CLOCK.ms) + pad6(CLOCK.sub);
}

/** `n` (0 ≤ n < 10⁶) as six digits. */
function pad6(n: number): string {
  return n >= 100_000 ? String(n) : n >= 10_000 ? '0' + n : n >= 1_000 ? '00' + n : n >= 100 ? '000' + n : n >= 10 ? '0000' + n : '00000' + n;
}

export interface BuiltRequest {
  body: Buffer;
  to: Pos;
  /** Events whose last byte is in this request. */
  events: number;
  /** Message bytes carried. */
  messageBytes: number;
  /** Streams that contributed. */
  streams: number;
}

const EMPTY = Buffer.alloc(0);

const NO_PARTS: { lineAttrs?: Record<string, unknown>; sampleRate?: number } = Object.freeze({});

function eventParts(ev: Event): { lineAttrs?: Record<string, unknown>; sampleRate?: number } {
  if (!ev.attrs) return NO_PARTS;
  let sampleRate: number | undefined;
  let lineAttrs: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(ev.attrs)) {
    if (k === 'sample_rate' && typeof v === 'number') sampleRate = v;
    else (lineAttrs ??= {})[k] = v;
  }
  return { lineAttrs, sampleRate };
}

/**
 * Builds a request starting at `from` (normalised), stopping at `limit` when given; into
 * `scratch` when given (the body is then a view of it).
 */
export function buildRequest(
  q: QueueView,
  from: Pos,
  limit: Pos | null,
  maxSize: number,
  baseBody: Record<string, unknown>,
  clientTimeSecs: number,
  scratch?: Buffer,
): BuiltRequest {
  const enc = new RequestEncoder(baseBody, maxSize, scratch);
  const seen = new Set<Stream>();
  // The position as three numbers (no object per event on this hot loop).
  let { b, e, o } = normalize(q, from);
  let batch = q.batch(b);
  let events = 0;
  let messageBytes = 0;
  // Per stream, not per event: the thread id of the last stream seen; one clock read per request
  // (the event times still increase strictly: see nowNsText).
  let lastStream: Stream | undefined;
  let lastAdded: Stream | undefined; // the stream last added to `seen`
  let threadId = '';
  const clockMs = Date.now();
  // One event object for the whole request, refilled per event (the encoder keeps nothing of it);
  // every field always present, so it keeps one shape.
  const base: EncodeEvent = { threadId, baseAttrs: undefined, lineAttrs: undefined, message: EMPTY, ts: undefined, tsMs: 0, tsSub: 0, sampleRate: undefined, si: undefined, sn: undefined };
  for (;;) {
    while (batch && e >= batch.events.length) {
      b++;
      e = 0;
      o = 0;
      batch = q.batch(b);
    }
    if (limit && !(b !== limit.b ? b < limit.b : e !== limit.e ? e < limit.e : o < limit.o)) break;
    if (!batch) break;
    const stream = batch.stream;
    if (stream !== lastStream) {
      lastStream = stream;
      threadId = threadIdOf(stream);
    }
    const ev = batch.events[e];
    const { lineAttrs, sampleRate } = eventParts(ev);
    const whole = o === 0;
    const newStream = stream !== lastAdded && !seen.has(stream);
    const seqId = stream.seqId;
    base.threadId = threadId;
    base.baseAttrs = stream.attrs;
    base.lineAttrs = lineAttrs;
    base.message = ev.message;
    base.sampleRate = sampleRate;
    base.si = seqId;
    base.sn = seqId !== undefined ? ev.end : undefined;
    if (ev.ts !== undefined) base.ts = ev.ts;
    else {
      base.ts = undefined;
      tick(clockMs);
      base.tsMs = CLOCK.ms;
      base.tsSub = CLOCK.sub;
    }
    const logName = newStream ? `Lines for file ${stream.path}` : '';
    // A stream's first event in the request must fit together with its logs/threads entry.
    const fits = !newStream || enc.measure(base) + enc.logCost(threadId, logName, stream.attrs) <= enc.room;
    const mark = newStream ? enc.position() : undefined;
    if (whole && fits && enc.addEvent(base)) {
      if (mark && !enc.addLog(threadId, logName, stream.attrs)) {
        enc.setPosition(mark);
        break;
      }
      seen.add(stream);
      lastAdded = stream;
      events++;
      messageBytes += typeof ev.message === 'string' ? Buffer.byteLength(ev.message) : ev.message.length;
      e++;
      continue;
    }
    // It did not fit (or it is the rest of a split event). Split only into an empty request.
    if (enc.eventCount > 0) break;
    const msg = typeof ev.message === 'string' ? Buffer.from(ev.message, 'utf8') : ev.message;
    const overhead = enc.measure({ ...base, message: Buffer.alloc(0) }) + (newStream ? enc.logCost(threadId, logName, stream.attrs) : 0);
    const room = Math.max(1024, enc.room - overhead - 16);
    const end = Math.min(msg.length, o + room);
    const piece: EncodeEvent = { ...base, message: msg.subarray(o, end) };
    const last = end >= msg.length;
    if (stream.seqId !== undefined && !last) {
      const prevEnd = e > 0 ? batch.events[e - 1].end : 0;
      const exact = typeof ev.message !== 'string' && ev.end - msg.length >= prevEnd;
      if (exact) piece.sn = ev.end - (msg.length - end);
      else {
        delete piece.si;
        delete piece.sn;
      }
    }
    if (!enc.addEvent(piece) && !enc.addEvent(piece, true)) break;
    if (newStream) enc.addLog(threadId, logName, stream.attrs, true);
    seen.add(stream);
    lastAdded = stream;
    messageBytes += end - o;
    if (last) {
      events++;
      e++;
      o = 0;
    } else o = end;
    break;
  }
  return { body: enc.finish(clientTimeSecs), to: normalize(q, { b, e, o }), events, messageBytes, streams: seen.size };
}
