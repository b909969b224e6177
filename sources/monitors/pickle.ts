/**
 * A safe decoder for the subset of Python's pickle format that Graphite senders use for the
 * pickle protocol: a list of `(path, (timestamp, value))` tuples, pickled with protocol 0–5
 * opcodes for lists, tuples, strings (Python 2 `str`, Python 3 `str` and `bytes` opcodes),
 * ints, longs, floats, None/bools and the memo. Protocol 0 is the text form (`V`/`S` strings,
 * `I`/`L`/`F` numbers, `p`/`g` memo), which Python 2 senders and `pickle.dumps(x, 0)` write;
 * carbon's own relays write protocol 2.
 *
 * It builds plain JS values only (arrays for lists and tuples, strings, numbers, bigints for
 * big longs, null, booleans). Any other opcode (GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ,
 * PERSID, dicts, sets…) is refused with a `PickleError`: no object is ever constructed and no
 * code is ever run. Nesting depth and the number of items are bounded by the input's length.
 */
export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

export type PickleValue = string | number | bigint | boolean | null | PickleValue[];

const MARK = Symbol('mark');
type Item = PickleValue | typeof MARK;

/** Decodes one pickle (up to and including its STOP opcode); throws `PickleError` on anything else. */
export function decodePickle(buf: Buffer): PickleValue {
  let pos = 0;
  const stack: Item[] = [];
  const memo = new Map<number, PickleValue>();

  const need = (n: number): void => {
    if (pos + n > buf.length) throw new PickleError(`truncated pickle (needed ${n} more byte(s) at offset ${pos})`);
  };
  const u8 = (): number => {
    need(1);
    return buf[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = buf.readUInt16LE(pos);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = buf.readUInt32LE(pos);
    pos += 4;
    return v;
  };
  const bytes = (n: number): Buffer => {
    need(n);
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined) throw new PickleError(`stack underflow at offset ${pos - 1}`);
    if (v === MARK) throw new PickleError(`unexpected MARK at offset ${pos - 1}`);
    return v;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new PickleError(`no MARK on the stack at offset ${pos - 1}`);
    const items = stack.splice(i) as PickleValue[];
    items.shift();
    return items;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new PickleError(`nothing to memoize at offset ${pos - 1}`);
    return v;
  };
  const list = (): PickleValue[] => {
    const l = stack[stack.length - 1];
    if (!Array.isArray(l)) throw new PickleError(`APPEND onto a non-list at offset ${pos - 1}`);
    return l;
  };
  const get = (i: number): PickleValue => {
    if (!memo.has(i)) throw new PickleError(`memo ${i} not defined`);
    return memo.get(i)!;
  };
  const longLE = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const textLine = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError('truncated pickle (no newline after a text opcode)');
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };

  // Protocol 0 strings: `S'…'` (Python 2 repr, quoted, backslash escapes) and `V…` (raw-unicode-escape).
  const reprString = (line: string): string => {
    const q = line[0];
    if ((q !== "'" && q !== '"') || line.length < 2 || line[line.length - 1] !== q) throw new PickleError(`bad STRING ${JSON.stringify(line.slice(0, 40))}`);
    const body = line.slice(1, -1);
    let out = '';
    for (let i = 0; i < body.length; i++) {
      const ch = body[i];
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const e = body[++i];
      if (e === undefined) throw new PickleError('bad STRING escape at its end');
      const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };
      if (e in simple) out += simple[e];
      else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
        out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (/[0-7]/.test(e)) {
        const m = /^[0-7]{1,3}/.exec(body.slice(i))![0];
        out += String.fromCharCode(parseInt(m, 8) & 0xff);
        i += m.length - 1;
      } else out += '\\' + e;
    }
    return out;
  };
  const rawUnicodeEscape = (line: string): string =>
    line.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, u4: string | undefined, u8: string | undefined) => {
      const cp = parseInt(u4 ?? u8!, 16);
      if (cp > 0x10ffff) throw new PickleError(`bad code point \\U${u8}`);
      return String.fromCodePoint(cp);
    });
  const decimal = (s: string, what: string): number | bigint => {
    if (!/^[+-]?\d+$/.test(s)) throw new PickleError(`bad ${what} ${JSON.stringify(s.slice(0, 40))}`);
    const v = BigInt(s);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const memoIndex = (s: string): number => {
    if (!/^\d{1,9}$/.test(s)) throw new PickleError(`bad memo index ${JSON.stringify(s.slice(0, 40))}`);
    return Number(s);
  };
  const u64 = (): number => {
    need(8);
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    if (v > BigInt(buf.length)) throw new PickleError(`truncated pickle (a length of ${v} at offset ${pos - 8})`);
    return Number(v);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError('unsupported pickle protocol');
        break;
      case 0x95: // FRAME (8-byte length; the frame's contents follow inline)
        bytes(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new PickleError(`STOP with ${stack.length} item(s) on the stack`);
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x6c: // LIST
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        list().push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        list().push(...items);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(bytes(u32()).toString('utf8'));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(bytes(u8()).toString('utf8'));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(bytes(u32()).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(bytes(u8()).toString('latin1'));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: {
        // BININT
        need(4);
        stack.push(buf.readInt32LE(pos));
        pos += 4;
        break;
      }
      case 0x8a: // LONG1
        stack.push(longLE(bytes(u8())));
        break;
      case 0x47: {
        // BINFLOAT
        need(8);
        stack.push(buf.readDoubleBE(pos));
        pos += 8;
        break;
      }
      case 0x49: {
        // INT (protocol 0): a decimal line, "01"/"00" for True/False
        const s = textLine().trim();
        if (s === '01' || s === '00') stack.push(s === '01');
        else stack.push(decimal(s, 'INT'));
        break;
      }
      case 0x4c: {
        // LONG (protocol 0): a decimal line with a trailing L (Python 2), e.g. "12345678901234567890L"
        const s = textLine().trim();
        stack.push(decimal(s.endsWith('L') ? s.slice(0, -1) : s, 'LONG'));
        break;
      }
      case 0x53: // STRING (protocol 0): a quoted Python 2 repr
        stack.push(reprString(textLine().trim()));
        break;
      case 0x56: // UNICODE (protocol 0): raw-unicode-escape text
        stack.push(rawUnicodeEscape(textLine()));
        break;
      case 0x70: // PUT (protocol 0): a decimal memo index
        memo.set(memoIndex(textLine().trim()), top());
        break;
      case 0x67: // GET (protocol 0)
        stack.push(get(memoIndex(textLine().trim())));
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x8d: // BINUNICODE8
        stack.push(bytes(u64()).toString('utf8'));
        break;
      case 0x42: // BINBYTES (Python 3 bytes: a metric name sent as bytes, decoded as Scalyr's six.ensure_text does)
        stack.push(bytes(u32()).toString('utf8'));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()).toString('utf8'));
        break;
      case 0x8e: // BINBYTES8
        stack.push(bytes(u64()).toString('utf8'));
        break;
      case 0x8b: {
        // LONG4
        need(4);
        const n = buf.readInt32LE(pos);
        pos += 4;
        if (n < 0) throw new PickleError(`negative LONG4 length at offset ${at}`);
        stack.push(longLE(bytes(n)));
        break;
      }
      case 0x46: {
        // FLOAT (protocol 0)
        const s = textLine().trim();
        const n = Number(s);
        if (s === '' || Number.isNaN(n)) throw new PickleError(`bad FLOAT ${JSON.stringify(s)}`);
        stack.push(n);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(get(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(u32()));
        break;
      case 0x30: // POP
        pop();
        break;
      default:
        throw new PickleError(`refused pickle opcode 0x${op.toString(16).padStart(2, '0')} (${JSON.stringify(String.fromCharCode(op))}) at offset ${at}: only lists, tuples, strings and numbers are accepted`);
    }
  }
}
