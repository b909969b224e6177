/**
 * Scalyr's lenient JSON dialect (the format of `agent.json` and `agent.d/*.json`), parsed with
 * source positions.
 *
 * Promises:
 * - Accepts exactly the dialect of Scalyr's `json_lib/parser.py`: `//` and `/* *\/` comments,
 *   unquoted keys `[A-Za-z_][A-Za-z0-9_]*`, commas left out only before a line break, trailing
 *   commas, `"a" + "b"` concatenation, `"""` triple-quoted strings, the escapes
 *   `\t \n \r \b \f \" \\ \/ \uXXXX`, integers of any size (kept exactly: a `bigint` when
 *   beyond 2^53), duplicate keys (the last one wins), nothing but whitespace/comments after the
 *   root value.
 * - Never throws: {@link parseLenientJson} returns `{ ok: false, error }` with the line and column
 *   (1-based) of the offending character, and a Scalyr-compatible message
 *   (`... (line N, byte position P)`) in `error.scalyrMessage`.
 * - Input given as bytes must be valid UTF-8 (a BOM is skipped); otherwise the error points at the
 *   first invalid byte.
 * - Every object and array produced is registered in a location table: {@link locationOf}
 *   gives the position of the container itself, of each child value and of each key.
 */

/** A position in a config file (1-based line and column; column counts UTF-16 code units). */
export interface SourceLocation {
  file?: string;
  line: number;
  column: number;
}

/** Locations known for one parsed object or array. */
export interface ContainerLocations {
  /** The opening `{` or `[`. */
  self: SourceLocation;
  /** Where each child value starts, by key (objects) or index (arrays). */
  values: Map<string | number, SourceLocation>;
  /** Where each key was written (objects only; the last occurrence when duplicated). */
  keys: Map<string, SourceLocation>;
}

const table = new WeakMap<object, ContainerLocations>();

/** The locations of a container produced by the parser (or registered with {@link setLocation}). */
export function containerLocations(container: object): ContainerLocations | undefined {
  return table.get(container);
}

/**
 * The location of `container[key]` (its value, or with `which = 'key'` its key), or of the
 * container itself when `key` is omitted. Undefined for values that did not come from a file.
 */
export function locationOf(container: unknown, key?: string | number, which: 'value' | 'key' = 'value'): SourceLocation | undefined {
  if (container === null || typeof container !== 'object') return undefined;
  const locs = table.get(container);
  if (!locs) return undefined;
  if (key === undefined) return locs.self;
  if (which === 'key' && typeof key === 'string') return locs.keys.get(key) ?? locs.values.get(key);
  return locs.values.get(key) ?? (typeof key === 'string' ? locs.keys.get(key) : undefined) ?? undefined;
}

/** Records a location for `container[key]` (used when containers are merged or rebuilt). */
export function setLocation(container: object, key: string | number | undefined, loc: SourceLocation | undefined, keyLoc?: SourceLocation): void {
  if (!loc && !keyLoc) return;
  let locs = table.get(container);
  if (!locs) {
    locs = { self: loc ?? keyLoc!, values: new Map(), keys: new Map() };
    table.set(container, locs);
  }
  if (key === undefined) {
    if (loc) locs.self = loc;
    return;
  }
  if (loc) locs.values.set(key, loc);
  if (keyLoc && typeof key === 'string') locs.keys.set(key, keyLoc);
}

/** A parse failure. */
export interface LenientJsonError {
  /** What is wrong, without position (e.g. `string literal not terminated`). */
  message: string;
  file?: string;
  /** 1-based line of the offending character. */
  line: number;
  /** 1-based column of the offending character. */
  column: number;
  /** The message as Scalyr's agent words it: `<message> (line N, byte position P)`. */
  scalyrMessage: string;
}

export type LenientJsonValue = null | boolean | number | bigint | string | LenientJsonValue[] | { [key: string]: LenientJsonValue };

export type LenientJsonResult = { ok: true; value: LenientJsonValue } | { ok: false; error: LenientJsonError };

/** Options of {@link parseLenientJson}. */
export interface LenientJsonOptions {
  /** Recorded in every location and error. */
  file?: string;
}

class ParseFailure extends Error {
  constructor(
    message: string,
    readonly offset: number,
    /** The position Scalyr reports (usually the last consumed character). */
    readonly scalyrOffset: number,
  ) {
    super(message);
  }
}

/** Finds the first invalid UTF-8 sequence; returns its byte offset or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= n) return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * Parses config text (a string, or bytes that must be UTF-8) in Scalyr's lenient JSON dialect.
 * Never throws.
 */
export function parseLenientJson(input: string | Uint8Array, opts: LenientJsonOptions = {}): LenientJsonResult {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    const bad = firstInvalidUtf8(input);
    if (bad >= 0) {
      const before = Buffer.from(input.subarray(0, bad)).toString('utf8');
      const { line, column } = lineColumn(before, before.length);
      return {
        ok: false,
        error: {
          message: `Invalid UTF-8 (byte 0x${input[bad].toString(16).padStart(2, '0')})`,
          file: opts.file,
          line,
          column,
          scalyrMessage: `Invalid UTF-8 (line ${line}, byte position ${bad})`,
        },
      };
    }
    text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = ' ' + text.slice(1); // BOM: keep columns, drop the mark
  const parser = new Parser(text, opts.file);
  try {
    const value = parser.parseDocument();
    return { ok: true, value };
  } catch (e) {
    if (e instanceof ParseFailure) {
      const { line, column } = lineColumn(text, e.offset);
      const scalyr = lineColumn(text, e.scalyrOffset);
      const bytePos = Buffer.byteLength(text.slice(0, e.scalyrOffset), 'utf8');
      return {
        ok: false,
        error: {
          message: e.message,
          file: opts.file,
          line,
          column,
          scalyrMessage: `${e.message} (line ${scalyr.line}, byte position ${bytePos})`,
        },
      };
    }
    // A bug in the parser must still not escape as an exception.
    return { ok: false, error: { message: `internal parser error: ${String(e)}`, file: opts.file, line: 1, column: 1, scalyrMessage: String(e) } };
  }
}

/** 1-based line/column of a character offset; `\r\n`, `\n` and a lone `\r` each end a line. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
    } else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10 && i + 1 < end) i++;
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const isIdentStart = (c: string) => c === '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isIdentPart = (c: string) => isIdentStart(c) || (c >= '0' && c <= '9');

/** Deepest nesting of objects/arrays accepted (keeps the recursive parser off the stack limit). */
const MAX_DEPTH = 1000;

class Parser {
  private pos = 0;
  private depth = 0;
  private readonly lineStarts: number[] = [0];

  constructor(
    private readonly text: string,
    private readonly file: string | undefined,
  ) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.lineStarts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.lineStarts.push(i + 1);
      }
    }
  }

  private loc(offset: number): SourceLocation {
    // binary search in lineStarts
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    const l: SourceLocation = { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
    if (this.file !== undefined) l.file = this.file;
    return l;
  }

  /** Error at `offset`; Scalyr reports the last consumed character unless told otherwise. */
  private fail(message: string, offset = Math.max(0, this.pos - 1), scalyrOffset = offset): never {
    // Control characters quoted in a message are shown escaped, so a message stays on one line.
    throw new ParseFailure(message.replace(/[\x00-\x1f\x7f]/g, (c) => JSON.stringify(c).slice(1, -1)), offset, scalyrOffset);
  }

  parseDocument(): LenientJsonValue {
    const c = this.peekNonWs();
    if (c === undefined) this.fail('Empty input', this.pos, this.pos);
    const value = this.parseValue();
    const rest = this.peekNonWs();
    if (rest !== undefined) this.fail(`Expecting end of the parsed document but got character '${rest}' instead.`, this.pos, this.pos);
    return value;
  }

  private parseValue(): LenientJsonValue {
    const c = this.peekNonWs();
    const start = this.pos;
    if (c === undefined) this.fail('Unexpected end-of-text', this.pos, this.pos);
    if (c === '{' || c === '[') {
      if (++this.depth > MAX_DEPTH) this.fail(`nesting too deep (more than ${MAX_DEPTH} levels)`, start, start);
      const v = c === '{' ? this.parseObject() : this.parseArray();
      this.depth--;
      return v;
    }
    if (c === '"') {
      if (this.text.startsWith('"""', this.pos)) return this.parseTripleQuoted();
      return this.parseStringWithConcatenation();
    }
    if (c === 't') return this.matchWord('true', true);
    if (c === 'f') return this.matchWord('false', false);
    if (c === 'n') return this.matchWord('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return this.parseNumber();
    if (c === '}') this.fail("'}' can only be used to end an object", start, start);
    if (c === ']') this.fail("']' can only be used to end an array", start, start);
    if (c === "'") this.fail("Unexpected character '''; strings must use double quotes", start, start);
    this.fail(`Unexpected character '${c}'`, start, start);
  }

  private matchWord<T>(word: string, value: T): T {
    const start = this.pos;
    if (!this.text.startsWith(word, this.pos)) this.fail('unknown identifier', start, start);
    this.pos += word.length;
    return value;
  }

  private parseObject(): { [key: string]: LenientJsonValue } {
    const objectStart = this.pos;
    this.pos++; // {
    const result: { [key: string]: LenientJsonValue } = {};
    const locs: ContainerLocations = { self: this.loc(objectStart), values: new Map(), keys: new Map() };
    table.set(result, locs);
    for (;;) {
      const c = this.peekNonWs();
      let key: string;
      const keyStart = this.pos;
      if (c === undefined) this.fail("Need '}' for end of object", objectStart, objectStart);
      if (c === '"') {
        key = this.parseString();
      } else if (isIdentStart(c)) {
        let end = this.pos;
        while (end < this.text.length && isIdentPart(this.text[end])) end++;
        key = this.text.slice(this.pos, end);
        this.pos = end;
        const next = this.text[this.pos];
        if (next === undefined) this.fail("Need '}' for end of object", objectStart, objectStart);
        if (next.charCodeAt(0) > 32 && next !== ':') {
          this.fail(`To use character '${next}' in an attribute name, you must place the attribute name in double-quotes`, this.pos, this.pos - 1);
        }
      } else if (c === '}') {
        this.pos++;
        return result;
      } else {
        this.fail('Expected string literal for object attribute name', this.pos, this.pos);
      }
      const colon = this.peekNonWs();
      if (colon !== ':') this.fail("Expected ':' delimiting object attribute value", this.pos, this.pos);
      this.pos++;
      const vc = this.peekNonWs();
      const valueStart = this.pos;
      if (vc === undefined) this.fail('Unexpected end-of-text', this.pos, this.pos);
      const value = this.parseValue();
      if (key === '__proto__') {
        Object.defineProperty(result, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        delete result[key]; // duplicate keys: the last one wins, in its new position
        result[key] = value;
      }
      locs.keys.set(key, this.loc(keyStart));
      locs.values.set(key, this.loc(valueStart));
      const after = this.peekNonWs();
      if (after === undefined) this.fail("Need '}' for end of object", objectStart, objectStart);
      if (after === '}') continue;
      if (after === ',') {
        this.pos++;
        continue;
      }
      if (this.precedingLineBreak()) continue;
      this.fail(`After object field, expected ',' or '}' but found '${after}'... are you missing a comma?`, this.pos, this.pos);
    }
  }

  private parseArray(): LenientJsonValue[] {
    const arrayStart = this.pos;
    this.pos++; // [
    const result: LenientJsonValue[] = [];
    const locs: ContainerLocations = { self: this.loc(arrayStart), values: new Map(), keys: new Map() };
    table.set(result, locs);
    for (;;) {
      const c = this.peekNonWs();
      if (c === undefined) this.fail("Array has no terminating ']'", arrayStart, arrayStart);
      if (c === ']') {
        this.pos++;
        return result;
      }
      const valueStart = this.pos;
      const value = this.parseValue();
      locs.values.set(result.length, this.loc(valueStart));
      result.push(value);
      const after = this.peekNonWs();
      if (after === undefined) this.fail("Array has no terminating ']'", arrayStart, arrayStart);
      if (after === ']') continue;
      if (after === ',') {
        this.pos++;
        continue;
      }
      if (this.precedingLineBreak()) continue;
      this.fail(`Unexpected character [${after}] in array... are you missing a comma?`, this.pos, this.pos);
    }
  }

  private parseStringWithConcatenation(): string {
    let value = this.parseString();
    while (this.peekNonWs() === '+') {
      this.pos++;
      const c = this.peekNonWs();
      if (c !== '"') this.fail('Expected string literal after + operator', this.pos, this.pos);
      value += this.parseString();
    }
    return value;
  }

  /** A `"..."` literal; the scanner is at the opening quote. */
  private parseString(): string {
    const quote = this.pos;
    let i = this.pos + 1;
    for (;;) {
      if (i >= this.text.length) this.fail('string literal not terminated', quote, quote);
      const c = this.text[i];
      if (c === '"') break;
      if (c === '\\') {
        if (i + 1 >= this.text.length) this.fail('incomplete backslash sequence', i, i);
        i += 2;
        continue;
      }
      if (c === '\n' || c === '\r') this.fail('string literal not terminated before end of line', i, i);
      i++;
    }
    const raw = this.text.slice(quote + 1, i);
    this.pos = i + 1;
    return this.processEscapes(raw, quote + 1);
  }

  private parseTripleQuoted(): string {
    const start = this.pos;
    let i = this.pos + 3;
    for (;;) {
      if (i >= this.text.length) this.fail('string literal not terminated', start, start);
      const c = this.text[i];
      if (c === '"' && this.text.startsWith('"""', i)) break;
      if (c === '\\') {
        if (i + 1 >= this.text.length) this.fail('incomplete backslash sequence', i, i);
        i += 2;
        continue;
      }
      i++;
    }
    const raw = this.text.slice(start + 3, i);
    this.pos = i + 3;
    return this.processEscapes(raw, start + 3);
  }

  private processEscapes(s: string, literalStart: number): string {
    if (!s.includes('\\')) return s;
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c !== '\\') {
        out += c;
        continue;
      }
      if (i + 1 >= s.length) this.fail('No character after escape', literalStart + i, literalStart + i);
      const e = s[++i];
      switch (e) {
        case 't':
          out += '\t';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'u': {
          const hex = s.slice(i + 1, i + 5);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) this.fail(`Invalid \\u escape [\\u${hex}]`, literalStart + i - 1, literalStart + i);
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default:
          this.fail(`Unexpected backslash escape [${e}]`, literalStart + i - 1, literalStart + i);
      }
    }
    return out;
  }

  private parseNumber(): number | bigint {
    const start = this.pos;
    let negative = false;
    let literal = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (!(c === '+' || c === '-' || c === 'e' || c === 'E' || c === '.' || (c >= '0' && c <= '9'))) break;
      if (literal.length >= 100) this.fail('numeric literal too long (limit 100 characters)', this.pos, this.pos);
      this.pos++;
      if (c === '-' && literal.length === 0 && !negative) negative = true;
      else literal += c;
    }
    if (/^[0-9]+$/.test(literal)) {
      const big = BigInt(literal);
      const v = negative ? -big : big;
      if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
      return v;
    }
    if (!/[.eE]/.test(literal)) this.fail(`Could not parse number as long '${literal}'`, start, this.pos - 1);
    if (!/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(literal)) {
      this.fail(`Could not parse number as float '${literal}'`, start, this.pos - 1);
    }
    const n = Number(literal);
    return negative ? -n : n;
  }

  /** Skips whitespace and comments; returns the next meaningful character (not consumed). */
  private peekNonWs(): string | undefined {
    for (;;) {
      if (this.pos >= this.text.length) return undefined;
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.pos++;
        continue;
      }
      if (c === '/') {
        this.skipComment();
        continue;
      }
      return c;
    }
  }

  private skipComment(): void {
    const start = this.pos;
    const next = this.text[this.pos + 1];
    if (next === '/') {
      let i = this.pos + 2;
      while (i < this.text.length && this.text[i] !== '\n' && this.text[i] !== '\r') i++;
      this.pos = i; // the line break itself is whitespace (so comma inference still sees it)
      return;
    }
    if (next === '*') {
      const end = this.text.indexOf('*/', this.pos + 2);
      if (end < 0) this.fail('Unterminated comment', start, start);
      this.pos = end + 2;
      return;
    }
    if (next === undefined) this.fail("Unexpected character '/'", start, start);
    this.fail(`Unexpected character '/${next}'`, start, start + 1);
  }

  /** True if only spaces/tabs separate the current position from a preceding line break. */
  private precedingLineBreak(): boolean {
    for (let i = this.pos - 1; i >= 0; i--) {
      const c = this.text[i];
      if (c === '\n' || c === '\r') return true;
      if (c !== ' ' && c !== '\t') return false;
    }
    return false;
  }
}
