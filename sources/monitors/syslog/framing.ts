/**
 * TCP syslog framing for `syslog_monitor`: one framer per connection turns the received bytes
 * into messages, detecting the framing of each message as rsyslog and Scalyr do (RFC 6587):
 *
 * - a message that starts with a digit is octet-counted: `<length> <message>` (`length` decimal,
 *   at most 10 digits, then one space);
 * - any other message ends at the delimiter (`tcp_message_delimiter`, `\n` by default; a `\r`
 *   before it goes with the trailing whitespace).
 *
 * Each message is trimmed of leading and trailing whitespace (Scalyr's `.strip()`), and empty
 * messages are skipped. The framer never holds more than `maxMessage` bytes of one message:
 *
 * - a delimited message longer than that is cut into pieces of `maxMessage` bytes, each its own
 *   message (Scalyr flushes its buffer when it is full and goes on; nothing is lost), counted as
 *   `oversized_split`;
 * - an octet-counted frame longer than that is cut the same way, the framer keeping count of the
 *   frame's remaining bytes so the next frame is found where it starts;
 * - a bad octet count (a digit run longer than 10 digits, or followed by something other than a
 *   space) is counted as `bad_octet_count` and the message is read as a delimited one instead
 *   (rsyslog falls back the same way), so garbage never stops the connection.
 *
 * `octetCounting: false` (Scalyr's `tcp_request_parser: "raw"`) reads every message as delimited.
 */

export type FramingEvent = 'oversized_split' | 'bad_octet_count';

export interface FramerOptions {
  /** Longest message kept whole, in bytes. */
  maxMessage: number;
  /** The message delimiter (non-empty). */
  delimiter: Buffer;
  /** Detect octet-counted frames (default true). */
  octetCounting?: boolean;
}

export interface FramerOutput {
  messages: Buffer[];
  /** What the framer had to do to bad or oversized input, by kind. */
  events: Partial<Record<FramingEvent, number>>;
}

const SPACE = 0x20;
const MAX_DIGITS = 10;

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c || b === 0x00;
}

/** The message without leading and trailing whitespace (Python's `bytes.strip()`, plus NUL). */
export function trimMessage(b: Buffer): Buffer {
  let s = 0;
  let e = b.length;
  while (s < e && isSpace(b[s])) s++;
  while (e > s && isSpace(b[e - 1])) e--;
  return b.subarray(s, e);
}

export class SyslogFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes still to come of an octet-counted frame whose first part was already emitted. */
  private frameLeft = 0;
  /** The next bytes continue a delimited message already emitted in part (never an octet count). */
  private midMessage = false;
  private readonly max: number;
  private readonly delim: Buffer;
  private readonly octets: boolean;

  constructor(o: FramerOptions) {
    if (!(o.maxMessage >= 1)) throw new Error('maxMessage must be at least 1');
    if (o.delimiter.length === 0) throw new Error('the delimiter must not be empty');
    this.max = Math.floor(o.maxMessage);
    this.delim = o.delimiter;
    this.octets = o.octetCounting !== false;
  }

  /** Bytes held for an unfinished message. */
  get pending(): number {
    return this.buf.length;
  }

  /** Feeds received bytes; returns the messages they complete. */
  push(chunk: Buffer): FramerOutput {
    const out: FramerOutput = { messages: [], events: {} };
    let buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    const emit = (b: Buffer) => {
      const t = trimMessage(b);
      if (t.length > 0) out.messages.push(t);
    };
    const count = (e: FramingEvent) => (out.events[e] = (out.events[e] ?? 0) + 1);

    while (off < buf.length) {
      // The rest of an oversized octet-counted frame: in pieces of at most `max`.
      if (this.frameLeft > 0) {
        const avail = Math.min(this.frameLeft, buf.length - off);
        if (avail < this.frameLeft && avail < this.max) break; // wait for a whole piece
        const n = Math.min(avail, this.max);
        emit(buf.subarray(off, off + n));
        off += n;
        this.frameLeft -= n;
        if (this.frameLeft > 0) count('oversized_split');
        continue;
      }
      if (this.octets && !this.midMessage && isDigit(buf[off])) {
        let i = off;
        while (i < buf.length && i - off < MAX_DIGITS + 1 && isDigit(buf[i])) i++;
        if (i === buf.length && i - off <= MAX_DIGITS) break; // the count is not complete yet
        if (i - off <= MAX_DIGITS && buf[i] === SPACE) {
          const len = Number(buf.toString('latin1', off, i));
          const start = i + 1;
          if (len <= this.max) {
            if (buf.length - start < len) break; // wait for the whole frame (≤ max + 11 bytes)
            emit(buf.subarray(start, start + len));
            off = start + len;
            continue;
          }
          // Longer than the limit: its first piece now (once there), the rest as it comes.
          if (buf.length - start < this.max) break;
          emit(buf.subarray(start, start + this.max));
          count('oversized_split');
          off = start + this.max;
          this.frameLeft = len - this.max;
          continue;
        }
        // Digits not followed by a space (or too many of them): not a frame; read it as a line.
        count('bad_octet_count');
      }
      const end = buf.indexOf(this.delim, off);
      if (end >= 0 && end - off <= this.max) {
        emit(buf.subarray(off, end));
        off = end + this.delim.length;
        this.midMessage = false;
        continue;
      }
      if (buf.length - off >= this.max || end >= 0) {
        // No delimiter within `max` bytes: a piece of `max` bytes now, the message goes on.
        emit(buf.subarray(off, off + this.max));
        count('oversized_split');
        off += this.max;
        this.midMessage = true;
        continue;
      }
      break; // an unfinished message (< max bytes): wait for more
    }
    buf = buf.subarray(off);
    // Keep only what is unfinished, in its own memory (never a view of a large chunk).
    this.buf = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return out;
  }

  /**
   * Ends the unfinished message: what is held is emitted as a message (the connection closed,
   * or no complete message came for `tcp_incomplete_frame_timeout`). An octet-counted frame
   * that was cut short is emitted as it is.
   */
  flush(): FramerOutput {
    const out: FramerOutput = { messages: [], events: {} };
    if (this.buf.length > 0) {
      let b = this.buf;
      if (this.octets && !this.midMessage && this.frameLeft === 0 && isDigit(b[0])) {
        // An incomplete `<len> <msg…>`: write the message part, as rsyslog does for a short frame.
        const sp = b.indexOf(SPACE);
        if (sp > 0 && sp <= MAX_DIGITS && /^\d+$/.test(b.toString('latin1', 0, sp))) b = b.subarray(sp + 1);
      }
      const t = trimMessage(b);
      if (t.length > 0) out.messages.push(Buffer.from(t));
    }
    this.buf = Buffer.alloc(0);
    this.frameLeft = 0;
    this.midMessage = false;
    return out;
  }
}

/**
 * `tcp_message_delimiter` as written in the config, unescaped as Scalyr does
 * (`unicode_escape`): `\n`, `\r`, `\t`, `\0`/`\000` (octal), `\xNN`, `\\`.
 */
export function parseDelimiter(v: string): Buffer {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c !== '\\' || i === v.length - 1) {
      out += c;
      continue;
    }
    const n = v[++i];
    if (n === 'n') out += '\n';
    else if (n === 'r') out += '\r';
    else if (n === 't') out += '\t';
    else if (n === '\\') out += '\\';
    else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(v.slice(i + 1, i + 3))) {
      out += String.fromCharCode(parseInt(v.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(n)) {
      let j = i;
      while (j < v.length && j < i + 3 && /[0-7]/.test(v[j])) j++;
      out += String.fromCharCode(parseInt(v.slice(i, j), 8));
      i = j - 1;
    } else out += '\\' + n;
  }
  return Buffer.from(out, 'latin1');
}
