/** The lenient JSON dialect: Scalyr's syntax vectors plus positions and edge cases. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLenientJson, locationOf } from '../lib/config/lenientJson.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr/config.json'), 'utf8'));
const syntaxCases = vectors.cases.filter((c: { kind: string }) => c.kind === 'config_json_syntax');

describe('lenient JSON: Scalyr vectors (config_json_syntax)', () => {
  test.each(syntaxCases.map((c: { name: string }) => [c.name, c]))('%s', (_name, c: any) => {
    const r = parseLenientJson(c.input.text);
    if (c.expected.ok) {
      expect(r).toEqual({ ok: true, value: c.expected.value });
    } else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.scalyrMessage).toBe(c.expected.error);
    }
  });
});

describe('lenient JSON: dialect details', () => {
  const ok = (text: string) => {
    const r = parseLenientJson(text);
    if (!r.ok) throw new Error(r.error.scalyrMessage);
    return r.value;
  };
  const err = (text: string | Buffer) => {
    const r = parseLenientJson(text, { file: '/x/agent.json' });
    if (r.ok) throw new Error('expected an error');
    return r.error;
  };

  test('string concatenation across lines', () => {
    expect(ok('{ a: "x" +\n  "y" + "z" }')).toEqual({ a: 'xyz' });
  });
  test('big integers are kept exactly', () => {
    expect(ok('[12345678901234567890, -9007199254740993, 5]')).toEqual([12345678901234567890n, -9007199254740993n, 5]);
  });
  test('floats and exponents', () => {
    expect(ok('[1.5, -2e3, 1E2, 0.25]')).toEqual([1.5, -2000, 100, 0.25]);
  });
  test('missing comma on the same line is an error with position', () => {
    const e = err('[1, 2 3]');
    expect(e.message).toMatch(/missing a comma/);
    expect([e.line, e.column]).toEqual([1, 7]);
  });
  test('comment then line break allows a missing comma', () => {
    expect(ok('{ a: 1 // one\n b: 2 }')).toEqual({ a: 1, b: 2 });
  });
  test('CRLF line endings count as one line', () => {
    const e = err('{\r\n a: 1\r\n b: @ }');
    expect([e.line, e.column]).toEqual([3, 5]);
  });
  test('unterminated comment', () => {
    const e = err('{ a: 1 /* open');
    expect(e.message).toBe('Unterminated comment');
    expect([e.line, e.column]).toEqual([1, 8]);
  });
  test('single quotes are rejected', () => {
    expect(err("{ a: 'x' }").message).toMatch(/double quotes/);
  });
  test('raw line break in a normal string', () => {
    const e = err('{ a: "x\ny" }');
    expect(e.message).toBe('string literal not terminated before end of line');
    expect([e.line, e.column]).toEqual([1, 8]);
  });
  test('unknown escape', () => {
    const e = err('{ a: "\\q" }');
    expect(e.message).toBe('Unexpected backslash escape [q]');
    expect([e.line, e.column]).toEqual([1, 7]);
  });
  test('leading plus is not a number', () => {
    expect(err('[+1]').message).toBe("Unexpected character '+'");
  });
  test('truncated input', () => {
    expect(err('{ logs: [ { path: "/a"').message).toMatch(/end of object|terminating|not terminated/);
    expect(err('').message).toBe('Empty input');
    expect(err('  // only a comment\n').message).toBe('Empty input');
  });
  test('invalid UTF-8 is an error at the bad byte', () => {
    const e = err(Buffer.concat([Buffer.from('{\n a: "x'), Buffer.from([0xff]), Buffer.from('" }')]));
    expect(e.message).toMatch(/Invalid UTF-8/);
    expect([e.line, e.column]).toEqual([2, 7]);
  });
  test('valid UTF-8 bytes decode', () => {
    expect(parseLenientJson(Buffer.from('{ a: "é😀" }'))).toEqual({ ok: true, value: { a: 'é😀' } });
  });
  test('locations of keys and values', () => {
    const r = parseLenientJson('{\n  logs: [\n    { path: "/a" }\n  ]\n}', { file: 'f.json' });
    if (!r.ok) throw new Error('parse');
    const root = r.value as any;
    expect(locationOf(root, 'logs', 'key')).toEqual({ file: 'f.json', line: 2, column: 3 });
    expect(locationOf(root.logs, 0)).toEqual({ file: 'f.json', line: 3, column: 5 });
    expect(locationOf(root.logs[0], 'path')).toEqual({ file: 'f.json', line: 3, column: 13 });
  });
  test('__proto__ key does not pollute', () => {
    const v = ok('{ "__proto__": { x: 1 } }') as any;
    expect(({} as any).x).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__']);
  });
});
