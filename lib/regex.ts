/**
 * Regular expressions as users of Scalyr's agent write them (Python 3 `re` syntax on `str`),
 * compiled to JavaScript RegExps (always with the `u` flag) that behave like Python's
 * `re.search` on the same text.
 *
 * Promises:
 * - `(?P<n>…)` → `(?<n>…)`, `(?P=n)` → `\k<n>`, `(?#…)` comments dropped;
 * - `$` (unescaped, outside a class) → `(?=\n?$)`: end of input or just before a final `\n`
 *   (Python semantics, so lines can be tested WITH their trailing newline); under `(?m)` it is
 *   "before any `\n` or at the end", and `^` "at the start or after a `\n`" (Python only knows
 *   `\n` as a line end, unlike JavaScript's `m` flag, which is therefore never used);
 * - `.` never matches `\n` but does match `\r` (Python), unless `(?s)`; it matches one code point;
 * - `\w \W \d \D \s \S \b \B` have Python's Unicode meaning (`\w` = letters, numbers and `_`;
 *   `\d` = decimal digits; `\s` = Python's whitespace set, including `\x1c-\x1f` and `\x85`),
 *   or the ASCII meaning under `(?a)`; inside classes too (`[^\W\d]` works);
 * - `\A` → start of input, `\Z` → end of input, `\a` `\x..` `\u....` `\U........` `\0`/octal
 *   escapes, `{,n}` → `{0,n}`; back-references `\1`..`\99` checked against the groups so far;
 *   a leading `]` in a class is literal (`[]a]`);
 * - leading global inline flags `(?aimsux)`; scoped `(?s:…)`, `(?m:…)`, `(?x:…)`, `(?a:…)` (and
 *   `-` forms); `(?x)` verbose whitespace/comments are stripped;
 * - anything Python rejects or JavaScript cannot express (unknown letter escapes, bad ranges,
 *   conditionals, atomic groups, possessive quantifiers, scoped `i`, `\N{…}`, `(?L)`) throws an
 *   `Error` whose message names the pattern and the problem.
 * Known residual differences: Unicode tables follow Node's ICU version (newer than Python's);
 * case-insensitive matching uses JavaScript's simple case folding, also under `(?a)`; a `\B`
 * search can report a position inside a surrogate pair (astral characters such as emoji).
 *
 * Also here (same dialect): Python replacement templates (`\1`, `\g<name>`, `\n`…) for `re.sub`.
 */

/** The result of translating one Python pattern. */
export interface TranslatedRegex {
  /** JavaScript source for `new RegExp`. */
  source: string;
  /** JavaScript flags (always `u`; never `m` or `s`: those are translated into the source). */
  flags: string;
  /** Number of capturing groups (Python and JavaScript number them the same way). */
  groupCount: number;
  /** Named groups → group number. */
  groupNames: Record<string, number>;
}

interface FlagFrame {
  dotall: boolean;
  multiline: boolean;
  verbose: boolean;
  ascii: boolean;
}

const translationCache = new Map<string, TranslatedRegex>();
const regexCache = new Map<string, RegExp>();
const CACHE_LIMIT = 2000;

function fail(pattern: string, reason: string, pos?: number): never {
  const where = pos === undefined ? '' : ` at position ${pos}`;
  throw new Error(`invalid regular expression ${JSON.stringify(pattern)}: ${reason}${where}`);
}

const HEX = /^[0-9a-fA-F]+$/;
const OCT = '01234567';
const DIGITS = '0123456789';

/** A code point as a `u`-mode escape (valid inside and outside classes). */
function cp(code: number): string {
  if (code <= 0xff) return '\\x' + code.toString(16).padStart(2, '0');
  if (code <= 0xffff) return '\\u' + code.toString(16).padStart(4, '0');
  return `\\u{${code.toString(16)}}`;
}

/** A literal code point: plain for ASCII letters/digits, escaped otherwise. */
function lit(code: number): string {
  if ((code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) return String.fromCharCode(code);
  return cp(code);
}

// Class contents (inside `[...]`) for Python's character categories.
const UNI_WORD = '\\p{L}\\p{N}_';
const ASCII_WORD = 'A-Za-z0-9_';
const UNI_SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const ASCII_SPACE = '\\t-\\r\\x20';

/** One item of a character class. */
type ClassItem =
  | { kind: 'char'; code: number }
  | { kind: 'set'; text: string } // positive class contents, e.g. `\p{Nd}`
  | { kind: 'negset'; cls: string }; // a complement that is only expressible as its own class

/**
 * Translates a Python `re` pattern to JavaScript. `flags` may hold JavaScript flags `g i y d`
 * and the Python-meaning flags `m` (MULTILINE) and `s` (DOTALL). Throws a clear Error on
 * patterns Python would reject or JavaScript cannot express. Results are cached.
 */
export function translatePythonRegex(pattern: string, flags = ''): TranslatedRegex {
  const key = flags + '\u0000' + pattern;
  const cached = translationCache.get(key);
  if (cached) return cached;
  const result = translate(pattern, flags);
  if (translationCache.size >= CACHE_LIMIT) translationCache.clear();
  translationCache.set(key, result);
  return result;
}

function translate(pattern: string, flags: string): TranslatedRegex {
  if (typeof pattern !== 'string') fail(String(pattern), 'pattern must be a string');
  let jsFlags = '';
  let ignoreCase = false;
  const frame: FlagFrame = { dotall: false, multiline: false, verbose: false, ascii: false };
  for (const f of flags) {
    if (f === 'i') ignoreCase = true;
    else if (f === 's') frame.dotall = true;
    else if (f === 'm') frame.multiline = true;
    else if (f === 'g' || f === 'y' || f === 'd') {
      if (!jsFlags.includes(f)) jsFlags += f;
    } else fail(pattern, `unsupported flag '${f}' (allowed: g i m s y d)`);
  }

  let i = 0;
  const n = pattern.length;
  // Leading global inline flags: (?i) (?s)(?m) (?imsx) …
  for (;;) {
    const m = /^\(\?([a-zA-Z]+)\)/.exec(pattern.slice(i));
    if (!m) break;
    for (const f of m[1]) {
      if (f === 'i') ignoreCase = true;
      else if (f === 's') frame.dotall = true;
      else if (f === 'm') frame.multiline = true;
      else if (f === 'x') frame.verbose = true;
      else if (f === 'a') frame.ascii = true;
      else if (f === 'u') {
        /* Unicode is the default for str patterns */
      } else if (f === 'L') fail(pattern, 'the (?L) locale flag is not supported', i);
      else fail(pattern, `unknown flag '${f}'`, i);
    }
    i += m[0].length;
  }
  if (ignoreCase) jsFlags += 'i';
  jsFlags += 'u';

  let out = '';
  let groupCount = 0;
  const groupNames: Record<string, number> = {};
  const stack: FlagFrame[] = [];
  let cur: FlagFrame = { ...frame };
  // Whether the last emitted item was a quantifier (to detect possessive `++` `*+` `?+` `}+`).
  let afterQuantifier = false;
  // Output position of each open group, or -1; and of a lookaround that just closed (else -1):
  // Python lets a lookaround be repeated, JavaScript (u mode) only a group around it.
  const starts: number[] = [];
  let closedLookaround = -1;

  const word = (): string => (cur.ascii ? ASCII_WORD : UNI_WORD);
  const space = (): string => (cur.ascii ? ASCII_SPACE : UNI_SPACE);
  const digit = (): string => (cur.ascii ? '0-9' : '\\p{Nd}');
  const boundary = (negated: boolean): string => {
    // Python's \B never matches in an empty string.
    if (cur.ascii && !ignoreCase) return negated ? '(?:(?<=[^])|(?=[^]))\\B' : '\\b';
    const w = `[${word()}]`;
    return negated ? `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w})(?:(?<=[^])|(?=[^])))` : `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`;
  };

  const readHex = (start: number, len: number, what: string): number => {
    const h = pattern.slice(start, start + len);
    if (h.length !== len || !HEX.test(h)) fail(pattern, `incomplete escape ${what}`, start - 2);
    return parseInt(h, 16);
  };

  /** Escapes meaning one code point (both contexts); undefined when `c` is not one of them. */
  const charEscape = (at: number, inClass: boolean): [number, number] | undefined => {
    const c = pattern[at + 1];
    switch (c) {
      case 'n':
        return [10, at + 2];
      case 't':
        return [9, at + 2];
      case 'r':
        return [13, at + 2];
      case 'f':
        return [12, at + 2];
      case 'v':
        return [11, at + 2];
      case 'a':
        return [7, at + 2];
      case 'x':
        return [readHex(at + 2, 2, '\\x'), at + 4];
      case 'u':
        return [readHex(at + 2, 4, '\\u'), at + 6];
      case 'U': {
        const code = readHex(at + 2, 8, '\\U');
        if (code > 0x10ffff) fail(pattern, 'bad escape \\U (code point out of range)', at);
        return [code, at + 10];
      }
      case 'N':
        return fail(pattern, 'named character escapes \\N{...} are not supported', at);
      case 'b':
        return inClass ? [8, at + 2] : undefined;
      default:
        break;
    }
    if (c === '0' || (inClass && OCT.includes(c))) {
      let j = at + 1;
      let digits = '';
      while (j < n && digits.length < 3 && OCT.includes(pattern[j])) digits += pattern[j++];
      const v = parseInt(digits, 8);
      if (v > 0o377) fail(pattern, `octal escape value \\${digits} outside of range 0-0o377`, at);
      return [v, j];
    }
    if (DIGITS.includes(c)) {
      if (inClass) fail(pattern, `bad escape \\${c}`, at);
      return undefined; // back-reference or octal: handled by the caller
    }
    if (/[A-Za-z]/.test(c)) return undefined;
    // Any other character escapes itself.
    return [c.codePointAt(0)!, at + 1 + (c.codePointAt(0)! > 0xffff ? 2 : 1)];
  };

  /** Reads one class atom at `j`. */
  const classAtom = (j: number): [ClassItem, number] => {
    const c = pattern[j];
    if (c !== '\\') {
      const code = pattern.codePointAt(j)!;
      return [{ kind: 'char', code }, j + (code > 0xffff ? 2 : 1)];
    }
    if (j + 1 >= n) fail(pattern, 'bad escape (end of pattern)', j);
    const e = pattern[j + 1];
    switch (e) {
      case 'w':
        return [{ kind: 'set', text: word() }, j + 2];
      case 'W':
        return [{ kind: 'negset', cls: `[^${word()}]` }, j + 2];
      case 'd':
        return [{ kind: 'set', text: digit() }, j + 2];
      case 'D':
        return [cur.ascii ? { kind: 'negset', cls: '[^0-9]' } : { kind: 'set', text: '\\P{Nd}' }, j + 2];
      case 's':
        return [{ kind: 'set', text: space() }, j + 2];
      case 'S':
        return [{ kind: 'negset', cls: `[^${space()}]` }, j + 2];
      default:
        break;
    }
    const ch = charEscape(j, true);
    if (!ch) fail(pattern, `bad escape \\${e}`, j);
    return [{ kind: 'char', code: ch[0] }, ch[1]];
  };

  /** Translates the class starting at pattern[start] === '['. */
  const charClass = (start: number): [string, number] => {
    let j = start + 1;
    let negate = false;
    if (pattern[j] === '^') {
      negate = true;
      j++;
    }
    const items: (ClassItem | { kind: 'range'; lo: number; hi: number })[] = [];
    let first = true;
    for (;;) {
      if (j >= n) fail(pattern, 'unterminated character set', start);
      if (pattern[j] === ']' && !first) {
        j++;
        break;
      }
      first = false;
      const atomStart = j;
      const [item, k] = classAtom(j);
      j = k;
      if (pattern[j] === '-' && j + 1 < n && pattern[j + 1] !== ']') {
        const [hiItem, k2] = classAtom(j + 1);
        if (item.kind !== 'char' || hiItem.kind !== 'char') fail(pattern, `bad character range ${pattern.slice(atomStart, k2)}`, atomStart);
        if (hiItem.code < item.code) fail(pattern, `bad character range ${pattern.slice(atomStart, k2)}`, atomStart);
        items.push({ kind: 'range', lo: item.code, hi: hiItem.code });
        j = k2;
        continue;
      }
      items.push(item);
    }
    let pos = '';
    const negs: string[] = [];
    for (const it of items) {
      if (it.kind === 'char') pos += lit(it.code);
      else if (it.kind === 'range') pos += `${lit(it.lo)}-${lit(it.hi)}`;
      else if (it.kind === 'set') pos += it.text;
      else negs.push(it.cls);
    }
    if (negs.length === 0) return [`[${negate ? '^' : ''}${pos}]`, j];
    if (!negate) return [`(?:${[pos ? `[${pos}]` : '', ...negs].filter(Boolean).join('|')})`, j];
    return [`(?:${pos ? `(?![${pos}])` : ''}${negs.map((c) => `(?!${c})`).join('')}[^])`, j];
  };

  /** Translates an escape outside a class at pattern[at] === '\\'. Returns [emitted, newIndex]. */
  const escape = (at: number): [string, number] => {
    if (at + 1 >= n) fail(pattern, 'bad escape (end of pattern)', at);
    const c = pattern[at + 1];
    switch (c) {
      case 'A':
        return ['^', at + 2];
      case 'Z':
        return ['$', at + 2];
      case 'b':
        return [boundary(false), at + 2];
      case 'B':
        return [boundary(true), at + 2];
      case 'w':
        return [`[${word()}]`, at + 2];
      case 'W':
        return [`[^${word()}]`, at + 2];
      case 'd':
        return [cur.ascii ? '[0-9]' : '\\p{Nd}', at + 2];
      case 'D':
        return [cur.ascii ? '[^0-9]' : '\\P{Nd}', at + 2];
      case 's':
        return [`[${space()}]`, at + 2];
      case 'S':
        return [`[^${space()}]`, at + 2];
      default:
        break;
    }
    const ch = charEscape(at, false);
    if (ch) return [lit(ch[0]), ch[1]];
    if (DIGITS.includes(c)) {
      // Python: two digits max for a group; three octal digits make an octal escape.
      let j = at + 2;
      let digits = c;
      if (j < n && DIGITS.includes(pattern[j])) {
        if (OCT.includes(c) && OCT.includes(pattern[j]) && j + 1 < n && OCT.includes(pattern[j + 1])) {
          const oct = c + pattern[j] + pattern[j + 1];
          const v = parseInt(oct, 8);
          if (v > 0o377) fail(pattern, `octal escape value \\${oct} outside of range 0-0o377`, at);
          return [lit(v), j + 2];
        }
        digits += pattern[j++];
      }
      const ref = parseInt(digits, 10);
      if (ref > groupCount) fail(pattern, `invalid group reference ${ref}`, at);
      return [`(?:\\${ref})`, j];
    }
    return fail(pattern, `bad escape \\${c}`, at);
  };

  while (i < n) {
    const ch = pattern[i];
    if (cur.verbose) {
      if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v') {
        i++;
        continue;
      }
      if (ch === '#') {
        while (i < n && pattern[i] !== '\n') i++;
        continue;
      }
    }
    if (afterQuantifier && ch === '+') fail(pattern, 'possessive quantifiers are not supported', i);
    afterQuantifier = false;
    const lookaround = closedLookaround;
    closedLookaround = -1;
    if (lookaround >= 0 && (ch === '*' || ch === '+' || ch === '?' || (ch === '{' && /^\{\d*,?\d*\}/.test(pattern.slice(i))))) {
      out = out.slice(0, lookaround) + '(?:' + out.slice(lookaround) + ')';
    }
    switch (ch) {
      case '\\': {
        const [s, j] = escape(i);
        out += s;
        i = j;
        break;
      }
      case '[': {
        const [s, j] = charClass(i);
        out += s;
        i = j;
        break;
      }
      case '(': {
        const rest = pattern.slice(i, i + 4);
        if (pattern[i + 1] !== '?') {
          groupCount++;
          starts.push(-1);
          stack.push(cur);
          cur = { ...cur };
          out += '(';
          i++;
          break;
        }
        if (rest.startsWith('(?P<')) {
          const end = pattern.indexOf('>', i + 4);
          const name = end < 0 ? '' : pattern.slice(i + 4, end);
          if (end < 0) fail(pattern, 'missing >, unterminated name', i);
          if (!/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name)) fail(pattern, `bad character in group name ${JSON.stringify(name)}`, i);
          if (name in groupNames) fail(pattern, `redefinition of group name ${JSON.stringify(name)}`, i);
          groupCount++;
          groupNames[name] = groupCount;
          starts.push(-1);
          stack.push(cur);
          cur = { ...cur };
          out += `(?<${name}>`;
          i = end + 1;
          break;
        }
        if (rest.startsWith('(?P=')) {
          const end = pattern.indexOf(')', i + 4);
          if (end < 0) fail(pattern, 'missing ), unterminated name', i);
          const name = pattern.slice(i + 4, end);
          if (!(name in groupNames)) fail(pattern, `unknown group name ${JSON.stringify(name)}`, i);
          out += `\\k<${name}>`;
          i = end + 1;
          break;
        }
        if (rest.startsWith('(?P')) fail(pattern, 'unknown extension ?P' + (pattern[i + 3] ?? ''), i);
        if (rest.startsWith('(?#')) {
          const end = pattern.indexOf(')', i + 3);
          if (end < 0) fail(pattern, 'missing ), unterminated comment', i);
          i = end + 1;
          break;
        }
        if (rest.startsWith('(?:') || rest.startsWith('(?=') || rest.startsWith('(?!') || rest.startsWith('(?<=') || rest.startsWith('(?<!')) {
          const len = rest.startsWith('(?<') ? 4 : 3;
          starts.push(rest.startsWith('(?:') ? -1 : out.length);
          stack.push(cur);
          cur = { ...cur };
          out += pattern.slice(i, i + len);
          i += len;
          break;
        }
        if (rest.startsWith('(?(')) fail(pattern, 'conditional groups (?(id)yes|no) are not supported', i);
        if (rest.startsWith('(?>')) fail(pattern, 'atomic groups (?>...) are not supported', i);
        if (rest.startsWith('(?<')) fail(pattern, 'unknown extension ?< (Python names groups with (?P<name>...))', i);
        const m = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(pattern.slice(i));
        if (!m) fail(pattern, `unknown extension ?${pattern[i + 2] ?? ''}`, i);
        if (m[3] === ')') fail(pattern, 'global flags not at the start of the expression', i);
        const next: FlagFrame = { ...cur };
        const apply = (letters: string, on: boolean): void => {
          for (const f of letters) {
            if (f === 's') next.dotall = on;
            else if (f === 'm') next.multiline = on;
            else if (f === 'x') next.verbose = on;
            else if (f === 'a' && on) next.ascii = true;
            else if (f === 'u' && on) next.ascii = false;
            else if (f === 'i') {
              if (on !== ignoreCase) fail(pattern, `scoped (?${on ? '' : '-'}i:...) is not supported; put (?i) at the start of the pattern`, i);
            } else fail(pattern, `bad inline flag '${f}'`, i);
          }
        };
        apply(m[1], true);
        if (m[2] !== undefined) apply(m[2], false);
        starts.push(-1);
        stack.push(cur);
        cur = next;
        out += '(?:';
        i += m[0].length;
        break;
      }
      case ')': {
        const prev = stack.pop();
        if (!prev) fail(pattern, 'unbalanced parenthesis', i);
        cur = prev;
        closedLookaround = starts.pop()!;
        out += ')';
        i++;
        break;
      }
      case '.':
        out += cur.dotall ? '[^]' : '[^\\n]';
        i++;
        break;
      case '^':
        out += cur.multiline ? '(?:^|(?<=\\n))' : '^';
        i++;
        break;
      case '$':
        out += cur.multiline ? '(?=\\n|$)' : '(?=\\n?$)';
        i++;
        break;
      case '*':
      case '+':
      case '?':
        out += ch;
        i++;
        if (pattern[i] === '?') {
          out += '?';
          i++;
        }
        afterQuantifier = true;
        break;
      case '{': {
        const m = /^\{(\d*)(,?)(\d*)\}/.exec(pattern.slice(i));
        if (m && (m[1] !== '' || m[2] !== '')) {
          out += `{${m[1] === '' ? '0' : m[1]}${m[2]}${m[3]}}`;
          i += m[0].length;
          if (pattern[i] === '?') {
            out += '?';
            i++;
          }
          afterQuantifier = true;
          break;
        }
        out += '\\{';
        i++;
        break;
      }
      case '|':
        out += '|';
        i++;
        break;
      default: {
        // A literal character (a surrogate pair counts as one).
        const code = pattern.codePointAt(i)!;
        out += lit(code);
        i += code > 0xffff ? 2 : 1;
      }
    }
  }
  if (stack.length > 0) fail(pattern, 'missing ), unterminated subpattern');
  try {
    new RegExp(out, jsFlags);
  } catch (err) {
    fail(pattern, (err as Error).message.replace(/^Invalid regular expression: /, '').replace(/^\/.*\/[a-z]*: /, ''));
  }
  return { source: out, flags: jsFlags, groupCount, groupNames };
}

/**
 * The same pattern, written so that V8 compiles it to regex code. V8 runs a pattern that is one
 * plain literal (an "atom", such as the sampling rule ` DEBUG `) as a substring search in C++
 * that sets up its tables on every call: on log lines of about 130 characters that took about
 * 85 ns per test against about 21 ns for the compiled form. Writing the literal's first
 * character as a one-character class (`[ ]DEBUG `) matches exactly the same strings and is not
 * an atom. Case-insensitive, sticky and `v`-mode patterns and surrogates are left as they are.
 */
export function notAnAtom(source: string, flags: string): string {
  if (source.length < 2 || /[iyv]/.test(flags) || /[\\^$.|?*+()[\]{}\/]/.test(source)) return source;
  const c = source.charCodeAt(0);
  if (c >= 0xd800 && c <= 0xdfff) return source;
  return '[' + source[0] + ']' + source.slice(1);
}

/**
 * Compiles a Python `re` pattern (see the file header) to a JavaScript RegExp. Throws an Error
 * with a clear message for invalid or untranslatable patterns. Compiled patterns are cached:
 * without `g`/`y` the same RegExp object is returned (stateless for `test`/`exec`/`search`);
 * with `g` or `y` a fresh copy (its own `lastIndex`) sharing the cached translation.
 */
export function compilePythonRegex(pattern: string, flags = ''): RegExp {
  const key = flags + '\u0000' + pattern;
  let re = regexCache.get(key);
  if (!re) {
    const t = translatePythonRegex(pattern, flags);
    re = new RegExp(notAnAtom(t.source, t.flags), t.flags);
    if (regexCache.size >= CACHE_LIMIT) regexCache.clear();
    regexCache.set(key, re);
  }
  return re.global || re.sticky ? new RegExp(re) : re;
}

/** One piece of a parsed replacement template: literal text or a group number. */
export type ReplacementPart = string | number;

/**
 * Parses a Python `re.sub` replacement template: `\1`..`\99`, `\g<name>`, `\g<1>`, `\0`/octal,
 * escapes `\a \b \f \n \r \t \v \\`; other `\` + non-letter stays as both characters; `\` +
 * other ASCII letter is an error (as in Python). Group references are checked against the
 * pattern's groups. Returns the parts in order (adjacent literals merged).
 */
export function parsePythonReplacement(template: string, groupCount: number, groupNames: Record<string, number> = {}): ReplacementPart[] {
  const parts: ReplacementPart[] = [];
  let lit = '';
  const bad = (reason: string): never => {
    throw new Error(`invalid replacement ${JSON.stringify(template)}: ${reason}`);
  };
  const group = (idx: number): void => {
    if (idx > groupCount) bad(`invalid group reference ${idx}`);
    if (lit) parts.push(lit);
    lit = '';
    parts.push(idx);
  };
  const ESC: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
  const n = template.length;
  let i = 0;
  while (i < n) {
    const ch = template[i];
    if (ch !== '\\') {
      lit += ch;
      i++;
      continue;
    }
    if (i + 1 >= n) bad('bad escape (end of pattern)');
    const c = template[i + 1];
    if (c === 'g') {
      if (template[i + 2] !== '<') bad('missing <');
      const end = template.indexOf('>', i + 3);
      if (end < 0) bad('missing >, unterminated name');
      const name = template.slice(i + 3, end);
      if (name === '') bad('missing group name');
      if (/^\d+$/.test(name)) group(parseInt(name, 10));
      else if (/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name)) {
        if (!(name in groupNames)) bad(`unknown group name ${JSON.stringify(name)}`);
        group(groupNames[name]);
      } else bad(`bad character in group name ${JSON.stringify(name)}`);
      i = end + 1;
    } else if (c === '0') {
      let j = i + 2;
      let digits = '0';
      while (j < n && digits.length < 3 && OCT.includes(template[j])) digits += template[j++];
      lit += String.fromCharCode(parseInt(digits, 8) & 0xff);
      i = j;
    } else if (DIGITS.includes(c)) {
      let j = i + 2;
      let digits = c;
      if (j < n && DIGITS.includes(template[j])) {
        digits += template[j++];
        if (OCT.includes(c) && OCT.includes(digits[1]) && j < n && OCT.includes(template[j])) {
          digits += template[j++];
          const v = parseInt(digits, 8);
          if (v > 0o377) bad(`octal escape value \\${digits} outside of range 0-0o377`);
          lit += String.fromCharCode(v);
          i = j;
          continue;
        }
      }
      group(parseInt(digits, 10));
      i = j;
    } else if (c in ESC) {
      lit += ESC[c];
      i += 2;
    } else if (/[A-Za-z]/.test(c)) {
      bad(`bad escape \\${c}`);
    } else {
      lit += '\\' + c;
      i += 2;
    }
  }
  if (lit) parts.push(lit);
  return parts;
}

/** Expands parsed replacement parts for one match (unmatched groups become empty). */
export function expandReplacement(parts: readonly ReplacementPart[], match: RegExpExecArray | RegExpMatchArray): string {
  if (parts.length === 1 && typeof parts[0] === 'string') return parts[0];
  let s = '';
  for (const p of parts) s += typeof p === 'string' ? p : (match[p] ?? '');
  return s;
}

/**
 * Python `re.sub(pattern, template, text)` (all non-overlapping matches). Returns the new text
 * and the number of substitutions. Throws on an invalid pattern or template.
 */
export function pythonSub(pattern: string, template: string, text: string): { text: string; count: number } {
  const t = translatePythonRegex(pattern);
  const parts = parsePythonReplacement(template, t.groupCount, t.groupNames);
  const re = compilePythonRegex(pattern, 'g');
  let count = 0;
  const result = text.replace(re, (...args: unknown[]) => {
    count++;
    const groups: (string | undefined)[] = [];
    for (let k = 0; k <= t.groupCount; k++) groups.push(args[k] as string | undefined);
    return expandReplacement(parts, groups as unknown as RegExpMatchArray);
  });
  return { text: result, count };
}
