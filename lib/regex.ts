/**
 * Regular expressions as users of Scalyr's agent write them (Python `re` syntax), compiled to
 * JavaScript RegExps that behave like Python's `re.search` on the same text.
 *
 * Promises:
 * - `(?P<n>…)` → `(?<n>…)`, `(?P=n)` → `\k<n>`, `(?#…)` comments dropped;
 * - `$` (unescaped, outside a class) → `(?=\n?$)`: end of input or just before a final `\n`
 *   (Python semantics, so lines can be tested WITH their trailing newline); under `(?m)` it is
 *   "before any `\n` or at the end", and `^` "at the start or after a `\n`" (Python only knows
 *   `\n` as a line end, unlike JavaScript's `m` flag, which is therefore never used);
 * - `.` never matches `\n` but does match `\r` (Python), unless `(?s)`;
 * - `\A` → start of input, `\Z` → end of input, `\a` `\x..` `\u....` `\U........` `\0`/octal
 *   escapes, `{,n}` → `{0,n}`; back-references `\1`..`\99` checked against the groups so far;
 * - leading global inline flags `(?aimsux)`; scoped `(?s:…)`, `(?m:…)`, `(?x:…)` (and `-` forms);
 *   `(?x)` verbose whitespace/comments are stripped;
 * - anything Python rejects or JavaScript cannot express (unknown letter escapes, conditionals,
 *   atomic groups, possessive quantifiers, scoped `i`, `\N{…}`, `(?L)`) throws an `Error` whose
 *   message names the pattern and the problem.
 * `\d \w \s \b` keep JavaScript's meaning (ASCII digits/word characters, as with Python's `re.ASCII`).
 *
 * Also here (same dialect): Python replacement templates (`\1`, `\g<name>`, `\n`…) for `re.sub`.
 */

/** The result of translating one Python pattern. */
export interface TranslatedRegex {
  /** JavaScript source for `new RegExp`. */
  source: string;
  /** JavaScript flags (never `m`, never `s`: those are translated into the source). */
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

function hexEscape(code: number): string {
  if (code <= 0xff) return '\\x' + code.toString(16).padStart(2, '0');
  if (code <= 0xffff) return '\\u' + code.toString(16).padStart(4, '0');
  const hi = 0xd800 + ((code - 0x10000) >> 10);
  const lo = 0xdc00 + ((code - 0x10000) & 0x3ff);
  return `(?:\\u${hi.toString(16)}\\u${lo.toString(16)})`;
}

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
  const frame: FlagFrame = { dotall: false, multiline: false, verbose: false };
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
      else if (f === 'a' || f === 'u') {
        /* ASCII / Unicode: \d \w keep JavaScript's ASCII meaning */
      } else if (f === 'L') fail(pattern, 'the (?L) locale flag is not supported', i);
      else fail(pattern, `unknown flag '${f}'`, i);
    }
    i += m[0].length;
  }
  if (ignoreCase) jsFlags += 'i';

  let out = '';
  let groupCount = 0;
  const groupNames: Record<string, number> = {};
  const stack: FlagFrame[] = [];
  let cur: FlagFrame = { ...frame };
  // Whether the last emitted item was a quantifier (to detect possessive `++` `*+` `?+` `}+`).
  let afterQuantifier = false;
  // Whether the last item can be quantified (for `{` handling we rely on JavaScript's own check).

  const readHex = (start: number, len: number, what: string): number => {
    const h = pattern.slice(start, start + len);
    if (h.length !== len || !HEX.test(h)) fail(pattern, `incomplete escape ${what}`, start - 2);
    return parseInt(h, 16);
  };

  /** Translates an escape at pattern[i] === '\\'. Returns [emitted, newIndex]. */
  const escape = (at: number, inClass: boolean): [string, number] => {
    if (at + 1 >= n) fail(pattern, 'bad escape (end of pattern)', at);
    const c = pattern[at + 1];
    switch (c) {
      case 'A':
        if (inClass) fail(pattern, 'bad escape \\A in a character class', at);
        return ['^', at + 2];
      case 'Z':
        if (inClass) fail(pattern, 'bad escape \\Z in a character class', at);
        return ['$', at + 2];
      case 'b':
      case 'd':
      case 'D':
      case 's':
      case 'S':
      case 'w':
      case 'W':
      case 'n':
      case 't':
      case 'r':
      case 'f':
      case 'v':
        return ['\\' + c, at + 2];
      case 'B':
        if (inClass) fail(pattern, 'bad escape \\B in a character class', at);
        return ['\\B', at + 2];
      case 'a':
        return ['\\x07', at + 2];
      case 'x':
        return [hexEscape(readHex(at + 2, 2, '\\x')), at + 4];
      case 'u':
        return [hexEscape(readHex(at + 2, 4, '\\u')), at + 6];
      case 'U': {
        const code = readHex(at + 2, 8, '\\U');
        if (code > 0x10ffff) fail(pattern, 'bad escape \\U (code point out of range)', at);
        if (inClass && code > 0xffff) fail(pattern, 'characters outside the BMP are not supported inside a character class', at);
        return [hexEscape(code), at + 10];
      }
      case 'N':
        return fail(pattern, 'named character escapes \\N{...} are not supported', at);
      default:
        break;
    }
    if (DIGITS.includes(c)) {
      if (inClass) {
        // Inside a class digits are octal escapes only.
        if (!OCT.includes(c)) fail(pattern, `bad escape \\${c}`, at);
        let j = at + 1;
        let digits = '';
        while (j < n && digits.length < 3 && OCT.includes(pattern[j])) digits += pattern[j++];
        const v = parseInt(digits, 8);
        if (v > 0o377) fail(pattern, `octal escape value \\${digits} outside of range 0-0o377`, at);
        return [hexEscape(v), j];
      }
      if (c === '0') {
        let j = at + 2;
        let digits = '0';
        while (j < n && digits.length < 3 && OCT.includes(pattern[j])) digits += pattern[j++];
        return [hexEscape(parseInt(digits, 8)), j];
      }
      let j = at + 2;
      let digits = c;
      if (j < n && DIGITS.includes(pattern[j])) {
        if (OCT.includes(c) && OCT.includes(pattern[j]) && j + 1 < n && OCT.includes(pattern[j + 1])) {
          const oct = c + pattern[j] + pattern[j + 1];
          const v = parseInt(oct, 8);
          if (v > 0o377) fail(pattern, `octal escape value \\${oct} outside of range 0-0o377`, at);
          return [hexEscape(v), j + 2];
        }
        digits += pattern[j++];
      }
      const ref = parseInt(digits, 10);
      if (ref > groupCount) fail(pattern, `invalid group reference ${ref}`, at);
      return [`(?:\\${ref})`, j];
    }
    if (/[A-Za-z]/.test(c)) fail(pattern, `bad escape \\${c}`, at);
    // Any other character escapes itself.
    if (c === '\n') return ['\\n', at + 2];
    return ['\\' + c, at + 2];
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
    switch (ch) {
      case '\\': {
        const [s, j] = escape(i, false);
        out += s;
        i = j;
        break;
      }
      case '[': {
        let s = '[';
        let j = i + 1;
        if (pattern[j] === '^') {
          s += '^';
          j++;
        }
        if (pattern[j] === ']') {
          s += '\\]';
          j++;
        }
        let closed = false;
        while (j < n) {
          const c = pattern[j];
          if (c === ']') {
            closed = true;
            j++;
            break;
          }
          if (c === '\\') {
            const [e, k] = escape(j, true);
            s += e;
            j = k;
            continue;
          }
          if (c === '[') s += '\\[';
          else s += c;
          j++;
        }
        if (!closed) fail(pattern, 'unterminated character set', i);
        out += s + ']';
        i = j;
        break;
      }
      case '(': {
        const rest = pattern.slice(i, i + 4);
        if (pattern[i + 1] !== '?') {
          groupCount++;
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
            else if (f === 'i') {
              if (on !== ignoreCase) fail(pattern, `scoped (?${on ? '' : '-'}i:...) is not supported; put (?i) at the start of the pattern`, i);
            } else if ((f === 'a' || f === 'u') && on) {
              /* no-op */
            } else fail(pattern, `bad inline flag '${f}'`, i);
          }
        };
        apply(m[1], true);
        if (m[2] !== undefined) apply(m[2], false);
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
        out += ')';
        i++;
        break;
      }
      case '.':
        out += cur.dotall ? '[\\s\\S]' : '[^\\n]';
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
        out += ch;
        i++;
        if (pattern[i] === '?') {
          out += '?';
          i++;
        }
        afterQuantifier = true;
        break;
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
        if (m && (m[1] !== '' || m[3] !== '' || m[2] === '')) {
          if (m[1] === '' && m[2] === '') {
            out += '\\{';
            i++;
            break;
          }
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
      case '}':
        out += '\\}';
        i++;
        break;
      case ']':
        out += '\\]';
        i++;
        break;
      case '/':
        out += '\\/';
        i++;
        break;
      case '\n':
        out += '\\n';
        i++;
        break;
      default:
        out += ch;
        i++;
    }
  }
  if (stack.length > 0) fail(pattern, 'missing ), unterminated subpattern');
  try {
    new RegExp(out, jsFlags);
  } catch (err) {
    fail(pattern, (err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
  return { source: out, flags: jsFlags, groupCount, groupNames };
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
    re = new RegExp(t.source, t.flags);
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
