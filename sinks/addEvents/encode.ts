/**
 * The exact `addEvents` request body of Scalyr's agent (scalyr-agent-behavior.md §4.2).
 *
 * Promises:
 * - The body is byte-for-byte what Scalyr's `AddEventsRequest` writes: the base body as compact
 *   JSON with its closing brace removed, then `, events: [`, the events (unquoted keys, the message
 *   as a length-prefixed string `` `s `` + 4-byte big-endian length + raw bytes), then
 *   `], logs: [...], threads: [...], client_time: <secs> }`.
 * - Messages given as Buffers are copied straight into the body; they are never decoded.
 * - Bytes are assembled in one Buffer (the caller's reusable scratch buffer, or a growing one),
 *   never by string concatenation of messages.
 * - Size accounting counts the postfix (logs/threads arrays and a 10-digit `client_time`), so a
 *   finished body never exceeds `maxSize`. `addEvent`/`addLog` refuse (return false) rather than
 *   overflow, and leave the body unchanged when they refuse.
 * - Sequence fields follow Scalyr's `EventSequencer`: the first event of a sequence id in a
 *   request carries `si` + `sn`, later ones `sd` (delta); `si` or `sn` alone adds nothing.
 */
import { createHash, randomUUID } from 'node:crypto';

/** One event as the encoder sees it. */
export interface EncodeEvent {
  /** Thread/log id (`log_<n>`); absent for bare events (tests). */
  threadId?: string;
  /** The stream's (file's) attributes. */
  baseAttrs?: Record<string, unknown>;
  /** The event's own attributes (json/cri fields…); only those differing from `baseAttrs` are sent. */
  lineAttrs?: Record<string, unknown>;
  message: Buffer | string;
  /**
   * Nanoseconds since the epoch. When undefined, the time is `tsMs` × 10⁶ + `tsSub` ns (the
   * request builder's clock for events without their own time: written as digits, no string).
   */
  ts: bigint | number | string | undefined;
  /** Milliseconds since the epoch (with `tsSub`), used when `ts` is undefined. */
  tsMs?: number;
  /** Nanoseconds after `tsMs` (0 ≤ tsSub < 10⁶), used when `ts` is undefined. */
  tsSub?: number;
  si?: string;
  sn?: number;
  /** Sent as `sample_rate` inside attrs when set. */
  sampleRate?: number;
}

/** A saved state of an encoder (see {@link RequestEncoder.position}). */
export interface EncoderPosition {
  pos: number;
  events: number;
  logs: number;
  logsLen: number;
  threadsLen: number;
}

const CLIENT_TIME_RESERVE = 10;
const POSTFIX_FIXED = '], logs: '.length + ', threads: '.length + ', client_time: '.length + ' }'.length;

/** JSON text of a value; bigints become strings so encoding never throws. */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
  } catch (err) {
    // Circular or otherwise unserializable attributes: say so instead of failing the request.
    return JSON.stringify({ unserializable_attrs: String((err as Error).message) });
  }
}

/** A byte buffer that grows by doubling up to what is needed (starting from a given one, if any). */
class ByteWriter {
  buf: Buffer;
  pos = 0;
  constructor(initial: number | Buffer) {
    this.buf = typeof initial === 'number' ? Buffer.allocUnsafe(Math.max(256, initial)) : initial;
  }
  ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  /** Writes text as UTF-8. */
  text(s: string): void {
    this.ensure(Buffer.byteLength(s));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

/** Serialized per-event pieces, measured before anything is written. */
interface PreparedEvent {
  base: Buffer; // `{thread:..., attrs:{...,message:` (the LPS marker and length follow)
  messageLen: number;
  tail: string; // [,sample_rate:x] } fields }
}

/**
 * Builds one request body. Not reusable after {@link finish}. The body it returns is a view of
 * the scratch buffer when one was given: the caller owns that buffer until it is done with it.
 */
export class RequestEncoder {
  private readonly w: ByteWriter;
  private events = 0;
  private readonly logs: string[] = [];
  private readonly threads: string[] = [];
  private logsLen = 2;
  private threadsLen = 2;
  private seqId: string | undefined;
  private seqNum = 0;
  /** Serialized event heads of plain lines, per thread id, checked by attrs object identity. */
  private readonly baseCache = new Map<string, { attrs: Record<string, unknown> | undefined; buf: Buffer }>();
  private lastBaseKey: string | undefined;
  private lastBaseAttrs: Record<string, unknown> | undefined;
  private lastBase: Buffer | undefined;
  /** The decimal digits of the last clock millisecond written (one request shares one). */
  private msDigitsOf = -1;
  private msDigits = '';

  /**
   * @param baseBody the leading JSON object (`{token, session, threads: [], sessionInfo}`)
   * @param maxSize the request size limit in bytes (null = unlimited)
   * @param scratch a buffer to write the body into (reused across requests by the sink, so a
   *   body costs no allocation); the body grows out of it into a new buffer only if it must
   */
  constructor(
    baseBody: Record<string, unknown>,
    readonly maxSize: number | null,
    scratch?: Buffer,
  ) {
    const head = jsonText(baseBody);
    this.w = new ByteWriter(scratch && scratch.length >= 256 ? scratch : Math.min(maxSize ?? 65536, 65536));
    this.w.text(head.slice(0, -1));
    this.w.text(', events: [');
  }

  /** Bytes the finished body would take now (with a 10-digit client_time). */
  get size(): number {
    return this.w.pos + this.postfixLen();
  }

  /** Events added so far. */
  get eventCount(): number {
    return this.events;
  }

  /** Bytes still free below the limit (Infinity when unlimited). */
  get room(): number {
    return this.maxSize === null ? Infinity : this.maxSize - this.size;
  }

  private postfixLen(): number {
    return POSTFIX_FIXED + this.logsLen + this.threadsLen + CLIENT_TIME_RESERVE;
  }

  /** A state to come back to with {@link setPosition} (undoes later events and logs). */
  position(): EncoderPosition {
    return { pos: this.w.pos, events: this.events, logs: this.logs.length, logsLen: this.logsLen, threadsLen: this.threadsLen };
  }

  /** Reverts to `p`; resets the sequencer like Scalyr's `set_position`. */
  setPosition(p: EncoderPosition): void {
    this.w.pos = p.pos;
    this.events = p.events;
    this.logs.length = p.logs;
    this.threads.length = p.logs;
    this.logsLen = p.logsLen;
    this.threadsLen = p.threadsLen;
    this.seqId = undefined;
    this.seqNum = 0;
  }

  /** Bytes a log+thread entry would add to the postfix now. */
  logCost(id: string, name: string, attrs: Record<string, unknown>): number {
    const sep = this.logs.length > 0 ? 1 : 0;
    return Buffer.byteLength(jsonText({ id, attrs })) + Buffer.byteLength(jsonText({ id, name })) + 2 * sep;
  }

  /**
   * Registers a log (`logs` + `threads` entries). False (and nothing added) if it would not fit,
   * unless `force` (used only for the piece of a split event that must go out).
   */
  addLog(id: string, name: string, attrs: Record<string, unknown>, force = false): boolean {
    const log = jsonText({ id, attrs });
    const thread = jsonText({ id, name });
    const sep = this.logs.length > 0 ? 1 : 0;
    const logBytes = Buffer.byteLength(log) + sep;
    const threadBytes = Buffer.byteLength(thread) + sep;
    if (!force && this.maxSize !== null && this.size + logBytes + threadBytes > this.maxSize) return false;
    this.logs.push(log);
    this.threads.push(thread);
    this.logsLen += logBytes;
    this.threadsLen += threadBytes;
    return true;
  }

  /** Bytes the event would add now (comma included), without adding it. */
  measure(ev: EncodeEvent): number {
    const p = this.prepare(ev);
    return (this.events > 0 ? 1 : 0) + p.base.length + 6 + p.messageLen + Buffer.byteLength(p.tail);
  }

  /** Adds an event. False (and nothing added) if it would pass the size limit, unless `force`. */
  addEvent(ev: EncodeEvent, force = false): boolean {
    // The common event (a plain line that continues its sequence) has the tail `},sd:<n>,ts:"<ns>"}`:
    // it is written byte by byte, without building the tail, the time or the sequence fields as
    // objects or strings first (no allocation per event).
    const si = ev.si;
    const sn = ev.sn;
    const tsText = ev.ts === undefined ? undefined : typeof ev.ts === 'string' ? ev.ts : ev.ts.toString();
    const clock = tsText === undefined;
    const tsMs = clock ? (ev.tsMs ?? 0) : 0;
    const tsSub = clock ? (ev.tsSub ?? 0) : 0;
    const continues = si !== undefined && sn !== undefined && si === this.seqId;
    const sd = continues ? (sn as number) - this.seqNum : 0;
    const fast = ev.sampleRate === undefined && continues && sd >= 0 && Number.isSafeInteger(sd) && (clock ? Number.isSafeInteger(tsMs) && tsMs >= 0 && tsSub >= 0 && tsSub < 1e6 && Number.isInteger(tsSub) : isAscii(tsText as string));
    const tail = fast ? undefined : this.tail(ev, this.sequence(ev), tsText ?? clockText(tsMs, tsSub));
    const tsLen = clock ? (tsMs === this.msDigitsOf ? this.msDigits.length : decimalDigits(tsMs)) + 6 : (tsText as string).length;
    const tailLen = tail === undefined ? SD_TAIL_FIXED + decimalDigits(sd) + tsLen : Buffer.byteLength(tail);
    const base = this.base(ev);
    const message = ev.message;
    const messageLen = typeof message === 'string' ? Buffer.byteLength(message) : message.length;
    const total = (this.events > 0 ? 1 : 0) + base.length + 6 + messageLen + tailLen;
    if (!force && this.maxSize !== null && this.size + total > this.maxSize) return false;
    if (si !== undefined && sn !== undefined) {
      this.seqId = si;
      this.seqNum = sn;
    }
    const w = this.w;
    w.ensure(total);
    const buf = w.buf;
    let pos = w.pos;
    if (this.events > 0) buf[pos++] = 0x2c; // ,
    buf.set(base, pos);
    pos += base.length;
    buf[pos++] = 0x60; // `
    buf[pos++] = 0x73; // s
    buf[pos++] = (messageLen >>> 24) & 0xff; // 4-byte big-endian length
    buf[pos++] = (messageLen >>> 16) & 0xff;
    buf[pos++] = (messageLen >>> 8) & 0xff;
    buf[pos++] = messageLen & 0xff;
    if (typeof message === 'string') pos += buf.write(message, pos, 'utf8');
    else {
      buf.set(message, pos);
      pos += messageLen;
    }
    if (tail !== undefined) pos += buf.write(tail, pos, 'utf8');
    else {
      pos = writeAscii(buf, pos, '},sd:');
      pos = writeDecimal(buf, pos, sd);
      pos = writeAscii(buf, pos, ',ts:"');
      if (clock) {
        if (tsMs !== this.msDigitsOf) {
          this.msDigitsOf = tsMs;
          this.msDigits = String(tsMs);
        }
        pos = writeAscii(buf, pos, this.msDigits);
        pos = writeSixDigits(buf, pos, tsSub);
      } else pos = writeAscii(buf, pos, tsText as string);
      buf[pos++] = 0x22; // "
      buf[pos++] = 0x7d; // }
    }
    w.pos = pos;
    this.events++;
    return true;
  }

  /** The finished body with `client_time` (seconds). The encoder must not be used afterwards. */
  finish(clientTimeSecs: number): Buffer {
    this.w.text(`], logs: [${this.logs.join(',')}], threads: [${this.threads.join(',')}], client_time: ${Math.floor(clientTimeSecs)} }`);
    return this.w.buf.subarray(0, this.w.pos);
  }

  private base(ev: EncodeEvent): Buffer {
    const own = ev.lineAttrs && Object.keys(ev.lineAttrs).length > 0 ? ev.lineAttrs : undefined;
    const cacheKey = own ? undefined : (ev.threadId ?? '');
    // Consecutive events of one stream: the head of the last one, without a map lookup.
    if (cacheKey !== undefined && cacheKey === this.lastBaseKey && ev.baseAttrs === this.lastBaseAttrs && this.lastBase) return this.lastBase;
    if (cacheKey !== undefined) {
      const hit = this.baseCache.get(cacheKey);
      if (hit && hit.attrs === ev.baseAttrs) return this.rememberBase(cacheKey, ev.baseAttrs, hit.buf);
    }
    let attrs: Record<string, unknown> = ev.baseAttrs ?? {};
    if (own) {
      attrs = {};
      const base = ev.baseAttrs ?? {};
      for (const [k, v] of Object.entries(own)) {
        if (!(k in base) || base[k] !== v) attrs[k] = v;
      }
    }
    let s = '{';
    if (ev.threadId !== undefined) {
      const t = jsonText(ev.threadId);
      s += `thread:${t}, log:${t}, `;
    }
    const a = jsonText(attrs);
    s += a === '{}' ? 'attrs:{' : `attrs:${a.slice(0, -1)},`;
    s += 'message:';
    const out = Buffer.from(s, 'utf8');
    if (cacheKey !== undefined) {
      this.baseCache.set(cacheKey, { attrs: ev.baseAttrs, buf: out });
      return this.rememberBase(cacheKey, ev.baseAttrs, out);
    }
    return out;
  }

  private rememberBase(key: string, attrs: Record<string, unknown> | undefined, buf: Buffer): Buffer {
    this.lastBaseKey = key;
    this.lastBaseAttrs = attrs;
    this.lastBase = buf;
    return buf;
  }

  private prepare(ev: EncodeEvent): PreparedEvent {
    const base = this.base(ev);
    const messageLen = typeof ev.message === 'string' ? Buffer.byteLength(ev.message) : ev.message.length;
    const ts = ev.ts === undefined ? clockText(ev.tsMs ?? 0, ev.tsSub ?? 0) : typeof ev.ts === 'string' ? ev.ts : ev.ts.toString();
    return { base, messageLen, tail: this.tail(ev, this.sequence(ev), ts) };
  }

  /** The sequence fields of the event (Scalyr's EventSequencer): both si and sn are needed. */
  private sequence(ev: EncodeEvent): SequenceFields {
    if (ev.si === undefined || ev.sn === undefined) return NO_SEQUENCE;
    return ev.si !== this.seqId ? { si: ev.si, sn: ev.sn } : { sd: ev.sn - this.seqNum };
  }

  /** The text after the message: `[,sample_rate:x]}` and the fields, closing the event. */
  private tail(ev: EncodeEvent, seq: SequenceFields, ts: string): string {
    const { si, sn, sd } = seq;
    if (ev.sampleRate === undefined && si === undefined && sn === undefined && sd !== undefined) return `},sd:${sd},ts:"${ts}"}`;
    let tail = ev.sampleRate !== undefined ? `,sample_rate:${String(ev.sampleRate)}}` : '}';
    tail += `,ts:"${ts}"`;
    if (si !== undefined) tail += `,si:${jsonText(si)}`;
    if (sn !== undefined) tail += `,sn:${sn}`;
    if (sd !== undefined) tail += `,sd:${sd}`;
    return tail + '}';
  }
}

interface SequenceFields {
  si?: string;
  sn?: number;
  sd?: number;
}

const NO_SEQUENCE: SequenceFields = Object.freeze({});

/** Bytes of `},sd:` + `,ts:"` + `"}` around the two numbers of the common tail. */
const SD_TAIL_FIXED = 5 + 5 + 2;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Writes an ASCII string's chars as bytes; returns the position after them. */
function writeAscii(buf: Buffer, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}

/** Decimal digits of a non-negative safe integer. */
function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes a non-negative safe integer in decimal; returns the position after it. */
function writeDecimal(buf: Buffer, pos: number, n: number): number {
  const end = pos + decimalDigits(n);
  for (let i = end - 1; i >= pos; i--) {
    buf[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

/** Writes 0 ≤ n < 10⁶ as six digits (zero-padded); returns the position after them. */
function writeSixDigits(buf: Buffer, pos: number, n: number): number {
  for (let i = pos + 5; i >= pos; i--) {
    buf[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return pos + 6;
}

/** `ms` × 10⁶ + `sub` nanoseconds as decimal text. */
function clockText(ms: number, sub: number): string {
  const s = String(sub);
  return String(ms) + '000000'.slice(s.length) + s;
}

/** URL-safe base64 (with padding) of SHA-1 over random bytes: Scalyr's 28-char session id form. */
export function newSessionId(): string {
  return createHash('sha1').update(randomUUID()).digest('base64url').padEnd(28, '=');
}
