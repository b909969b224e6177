/**
 * A safe decoder for the subset of Python's pickle format that Graphite senders use for the
 * pickle protocol: a list of `(path, (timestamp, value))` tuples, pickled with protocol 0–4
 * opcodes for lists, tuples, strings, ints, floats, None/bools and the memo.
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
        else if (/^[+-]?\d+$/.test(s)) stack.push(Number(s));
        else throw new PickleError(`bad INT ${JSON.stringify(s)}`);
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
