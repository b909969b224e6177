import { compilePythonRegex, notAnAtom, parsePythonReplacement, pythonSub, translatePythonRegex } from './regex.js';

const search = (p: string, s: string, f = ''): boolean => compilePythonRegex(p, f).test(s);

describe('compilePythonRegex', () => {
  test('named groups and named back-references', () => {
    const re = compilePythonRegex('(?P<word>ab)-(?P=word)');
    expect(re.exec('xx ab-ab')?.groups?.word).toBe('ab');
    expect(re.test('ab-ac')).toBe(false);
  });

  test('$ matches at the end or just before a final newline only', () => {
    expect(search('ERROR$', 'ERROR\n')).toBe(true);
    expect(search('ERROR$', 'ERROR')).toBe(true);
    expect(search('ERROR$', 'ERROR\nmore\n')).toBe(false);
    expect(search('ERROR$', 'ERROR\r\n')).toBe(false);
    expect(search('\\\\$', 'a line\\\n')).toBe(true);
    expect(search('^$', '\n')).toBe(true);
  });

  test('a plain literal is compiled as regex code (first character as a class), matching the same strings', () => {
    expect(notAnAtom(' DEBUG ', '')).toBe('[ ]DEBUG ');
    expect(notAnAtom('password=', 'g')).toBe('[p]assword=');
    for (const [src, flags] of [['a.b', ''], ['x', ''], ['DEBUG', 'i'], ['DEBUG', 'y'], ['\\d+', ''], ['a]b', ''], ['a/b', ''], ['\ud83d\ude00ok', 'u']]) {
      expect(notAnAtom(src, flags)).toBe(src);
    }
    const lines = [' DEBUG x', 'DEBUG ', 'x  DEBUG  y', ' debug ', '\t DEBUG\t', ''];
    for (const l of lines) expect(compilePythonRegex(' DEBUG ').test(l)).toBe(/ DEBUG /.test(l));
    expect(pythonSub('secret', 'X', 'a secret, secrets').text).toBe('a X, Xs');
  });

  test('^\\s matches an empty line with its newline', () => {
    expect(search('^\\s', '\n')).toBe(true);
  });

  test('\\A and \\Z anchor at the input ends', () => {
    expect(search('\\Afoo', 'foo bar')).toBe(true);
    expect(search('\\Afoo', 'x\nfoo')).toBe(false);
    expect(search('bar\\Z', 'foo bar')).toBe(true);
    expect(search('bar\\Z', 'foo bar\n')).toBe(false);
  });

  test('. does not match \\n but matches \\r; (?s) makes it match \\n', () => {
    expect(search('a.b', 'a\nb')).toBe(false);
    expect(search('a.b', 'a\rb')).toBe(true);
    expect(search('(?s)a.b', 'a\nb')).toBe(true);
    expect(search('a.b', 'a\nb', 's')).toBe(true);
    expect(search('(?s:a.)b', 'a\nb')).toBe(true);
  });

  test('(?m) follows Python line semantics (only \\n ends a line)', () => {
    expect(search('(?m)^two$', 'one\ntwo\nthree')).toBe(true);
    expect(search('(?m)^two$', 'one\rtwo\rthree')).toBe(false);
    expect(search('^two$', 'one\ntwo\nthree')).toBe(false);
  });

  test('(?i) and (?x) leading flags', () => {
    expect(search('(?i)error', 'an ERROR')).toBe(true);
    expect(compilePythonRegex('(?i)x').flags).toContain('i');
    expect(search('(?x) a b  # comment\n c', 'abc')).toBe(true);
    expect(search('(?x)[ ]', 'a b')).toBe(true);
  });

  test('escapes: \\a, \\x, \\u, octal, \\0, numbered back-references', () => {
    expect(search('\\x41\\u0042', 'AB')).toBe(true);
    expect(search('\\a', '\x07')).toBe(true);
    expect(search('\\101', 'A')).toBe(true);
    expect(search('\\0', '\0')).toBe(true);
    expect(search('(a)(b)\\2\\1', 'abba')).toBe(true);
    expect(search('\\U0001F600', '😀')).toBe(true);
  });

  test('character classes: leading ] is literal, [ inside, escapes', () => {
    expect(search('[]a]', ']')).toBe(true);
    expect(search('[^]a]', ']')).toBe(false);
    expect(search('[[]', '[')).toBe(true);
    expect(search('[\\s]+at', '    at x')).toBe(true);
    expect(search('[$.]', '$')).toBe(true);
  });

  test('{,n} means {0,n}; a lone { is literal', () => {
    expect(compilePythonRegex('a{,2}b').source).toBe('a{0,2}b');
    expect(search('x{', 'x{')).toBe(true);
    expect(search('a{2}', 'aa')).toBe(true);
  });

  test('\\w \\d \\s \\b are Unicode like Python 3 (ASCII under (?a))', () => {
    expect(compilePythonRegex('user=(\\w+)').exec('user=José ok')?.[1]).toBe('José');
    expect(compilePythonRegex('(?a)user=(\\w+)').exec('user=José ok')?.[1]).toBe('Jos');
    expect(search('^\\d$', '٣')).toBe(true);
    expect(search('(?a)^\\d$', '٣')).toBe(false);
    expect(search('\\s', '\x1c')).toBe(true);
    expect(search('\\s', '\ufeff')).toBe(false);
    expect(search('\\bé', 'café')).toBe(false);
    expect(search('\\bé', 'x é')).toBe(true);
    expect(search('\\B', '')).toBe(false);
    expect(search('\\B', ' ')).toBe(true);
  });

  test('negated escapes inside classes', () => {
    const letters = compilePythonRegex('^[^\\W\\d_]+$');
    expect(letters.test('Zoë')).toBe(true);
    expect(letters.test('Zoë1')).toBe(false);
    expect(compilePythonRegex('[\\W_]+').exec('ab-_ cd')?.[0]).toBe('-_ ');
    expect(search('[^\\S\\n]', 'a\tb')).toBe(true);
    expect(search('[^\\S\\n]', 'a\nb')).toBe(false);
  });

  test('astral characters and punctuation escapes', () => {
    expect(search('^.$', '😀')).toBe(true);
    expect(search('[😀]', 'x😀')).toBe(true);
    expect(search('\\#\\-\\ \\é', '#- é')).toBe(true);
    expect(search('a{,}b', 'aaab')).toBe(true);
    expect(search('a{}', 'a{}')).toBe(true);
  });

  test('a repeated lookaround is allowed (as in Python)', () => {
    expect(compilePythonRegex('(?=a)*b').exec('ab')?.index).toBe(1);
    expect(search('x(?!y)?z', 'xz')).toBe(true);
  });

  test('comments are dropped, lookarounds kept', () => {
    expect(search('a(?#note)b', 'ab')).toBe(true);
    expect(search('(?<=a)b', 'ab')).toBe(true);
    expect(search('(?<!a)b', 'ab')).toBe(false);
  });

  test.each([
    ['(', /unterminated subpattern|missing \)/],
    ['a)', /unbalanced parenthesis/],
    ['[abc', /unterminated character set/],
    ['\\q', /bad escape \\q/],
    ['abc\\', /bad escape \(end of pattern\)/],
    ['(?P<n>a)(?P=m)', /unknown group name/],
    ['(a)\\2', /invalid group reference 2/],
    ['a++', /possessive/],
    ['(?>a)', /atomic/],
    ['(?(1)a|b)', /conditional/],
    ['a(?i)b', /global flags not at the start/],
    ['(?i:a)b', /scoped/],
    ['*a', /Nothing to repeat/],
    ['(?<n>a)', /Python names groups/],
    ['[\\w-z]', /bad character range/],
    ['[z-a]', /bad character range/],
    ['\\N{DIGIT ONE}', /not supported/],
  ])('rejects %s with a clear message', (pattern, msg) => {
    expect(() => compilePythonRegex(pattern)).toThrow(msg);
    expect(() => compilePythonRegex(pattern)).toThrow(/invalid regular expression/);
  });

  test('rejects unknown flags', () => {
    expect(() => compilePythonRegex('a', 'q')).toThrow(/unsupported flag/);
  });

  test('caches: same object without g, fresh lastIndex with g', () => {
    expect(compilePythonRegex('cache-me')).toBe(compilePythonRegex('cache-me'));
    const g1 = compilePythonRegex('x', 'g');
    const g2 = compilePythonRegex('x', 'g');
    expect(g1).not.toBe(g2);
    expect(g1.source).toBe(g2.source);
  });

  test('translation reports groups', () => {
    const t = translatePythonRegex('(a)(?P<b>c)(?:d)');
    expect(t.groupCount).toBe(2);
    expect(t.groupNames).toEqual({ b: 2 });
  });
});

describe('Python replacement templates', () => {
  test('\\1, \\g<name>, \\g<1>, escapes', () => {
    expect(pythonSub('secret(.*)=.*', 'secret\\1=fake', 'foo secretoption=czerwin').text).toBe('foo secretoption=fake');
    expect(pythonSub('(?P<k>a)', '[\\g<k>]\\n', 'abc').text).toBe('[a]\nbc');
    expect(pythonSub('(a)', '<\\g<1>>', 'bab').text).toBe('b<a>b');
    expect(pythonSub('a', '$1', 'a').text).toBe('$1');
  });
  test('unmatched groups become empty, counts substitutions', () => {
    expect(pythonSub('(x)?b', '[\\1]', 'ab bb')).toEqual({ text: 'a[] [][]', count: 3 });
  });
  test('non-letter escapes stay literal, letter escapes are errors', () => {
    expect(parsePythonReplacement('\\.', 0)).toEqual(['\\.']);
    expect(() => parsePythonReplacement('\\q', 0)).toThrow(/bad escape/);
    expect(() => parsePythonReplacement('\\2', 1)).toThrow(/invalid group reference/);
    expect(() => parsePythonReplacement('\\g<zz>', 1)).toThrow(/unknown group name/);
  });
});

/**
 * Differential check against CPython's `re` (skipped when `python3` is not installed): random
 * patterns built from Python syntax pieces, random subjects; `re.search` spans must match ours.
 */
import { spawnSync } from 'node:child_process';
const python = spawnSync('python3', ['-c', 'import re'], { encoding: 'utf8' });
const describePy = python.status === 0 ? describe : describe.skip;
describePy('against CPython re.search', () => {
  test('1500 random patterns × 6 subjects', () => {
    const script = String.raw`
import random, json, re, warnings
warnings.simplefilter('ignore')
random.seed(20261123)
atoms = ['a','b','.','\\d','\\D','\\w','\\W','\\s','\\S','[ab]','[^a]','[]a]','[^\\W\\d]','[\\W_]','[\\s\\d]','[^\\S\\n]','[a-c\\d]','[\\x41-\\x5a]','[-a]','[a-]','[.^$|]','(a|b)','(?:ab)','(?P<n>a)','(?P=n)','$','^','\\A','\\Z','\\n','\\\\','x*','b+?','a??','a{1,2}','a{,2}','a{,}','a{}','{','}',']','(?=a)','(?!b)','(?<=a)','(?<!\\s)','\\b','\\B','\\r','\\#','\\-','\\ ','\\u00e9','é','\\101','\\0','(?s:.)','(?m:^)','(?a:\\w)','(?x: a )','|','[\\b]','#','/','😀','[😀a]','.{2}']
flags = ['', '(?i)', '(?s)', '(?m)', '(?x)', '(?ms)', '(?a)', '(?u)']
chars = ['a','b','A','B','\n','\r',' ','1','x','\\','é','É','_','-','\u0663','\x1c','\x85','\ufeff','\t','#','{','}','.',']']
cases=[]
for _ in range(1500):
    p = random.choice(flags) + ''.join(random.choice(atoms) for _ in range(random.randint(1,5)))
    try:
        r = re.compile(p)
    except Exception as e:
        cases.append({'p':p,'err':str(e)}); continue
    subs=[]
    for _ in range(6):
        s=''.join(random.choice(chars) for _ in range(random.randint(0,8)))
        m=r.search(s)
        subs.append([s, None if m is None else [len(s[:m.start()].encode('utf-16-le'))//2, len(s[:m.end()].encode('utf-16-le'))//2]])
    cases.append({'p':p,'subs':subs})
print(json.dumps(cases))
`;
    const res = spawnSync('python3', ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(res.status).toBe(0);
    const cases = JSON.parse(res.stdout) as { p: string; err?: string; subs?: [string, [number, number] | null][] }[];
    const mismatches: string[] = [];
    for (const c of cases) {
      let re: RegExp | undefined;
      try {
        re = compilePythonRegex(c.p);
      } catch (e) {
        if (!c.err) mismatches.push(`${JSON.stringify(c.p)}: rejected (${(e as Error).message}) but Python accepts`);
        continue;
      }
      if (c.err) {
        mismatches.push(`${JSON.stringify(c.p)}: accepted but Python rejects (${c.err})`);
        continue;
      }
      for (const [s, span] of c.subs!) {
        const m = re.exec(s);
        const got = m ? [m.index, m.index + m[0].length] : null;
        if (JSON.stringify(got) !== JSON.stringify(span)) mismatches.push(`${JSON.stringify(c.p)} on ${JSON.stringify(s)}: python ${JSON.stringify(span)}, ours ${JSON.stringify(got)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
