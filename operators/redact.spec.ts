import { Subject, from, lastValueFrom, throwError, toArray } from 'rxjs';
import { createHash } from 'node:crypto';
import { redact, redactText, createRedactionStats } from './redact.js';
import { createCounters } from '../lib/counters.js';
import type { Batch, Stream } from '../lib/types.js';

const stream: Stream = { id: 's', kind: 'log', path: '/s.log', attrs: {}, ack: () => undefined };
function batch(ls: (string | Buffer)[]): Batch {
  let off = 0;
  const events = ls.map((l) => {
    const message = typeof l === 'string' ? Buffer.from(l) : l;
    off += message.length;
    return { message, end: off };
  });
  return { stream, events, end: off };
}
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const rule = (match_expression: string, replacement = '', hash_salt = '') => ({ match_expression, replacement, hash_salt });

describe('redact', () => {
  test('no rules: identity', () => {
    const src = from([batch(['a\n'])]);
    expect(redact([])(src)).toBe(src);
  });

  test('rules apply in order to the previous output; all matches; stats count lines once', async () => {
    const stats = createRedactionStats();
    const counters = createCounters();
    const [out] = await lastValueFrom(
      from([batch(['pw=1 pw=2\n', 'clean\n'])]).pipe(redact([rule('pw=\\d', 'pw=X'), rule('X', 'Y')], { stats, counters }), toArray()),
    );
    expect(out.events.map((e) => String(e.message))).toEqual(['pw=Y pw=Y\n', 'clean\n']);
    expect(stats).toEqual({ redactedLines: 1, rules: [{ lines: 1, matches: 2 }, { lines: 1, matches: 2 }] });
    expect(counters.sentBytes).toBe(Buffer.byteLength('pw=Y pw=Y\nclean\n'));
    expect(out.end).toBe(16);
  });

  test('$ in group text and replacement is literal', () => {
    expect(redactText([rule('(a)', '$1\\1$&')], 'xa').text).toBe('x$1a$&');
    expect(redactText([rule('(\\S+)', '\\H1', 's')], '$&').text).toBe(md5('$&s'));
    expect(redactText([rule('v=(\\S+)', 'v=\\1')], 'v=$&\n').text).toBe('v=$&\n');
  });

  test('hashing: \\H<n> with salt, other groups by \\<n>, unmatched group hashes the empty string', () => {
    expect(redactText([rule('(a)(b)', '\\2-\\H1', 'S')], 'ab').text).toBe(`b-${md5('aS')}`);
    expect(redactText([rule('(a)(x)?', '[\\H2]', 'S')], 'a').text).toBe(`[${md5('S')}]`);
  });

  test('hash path without groups replaces but does not count (as Scalyr)', () => {
    expect(redactText([rule('abc', '\\H1')], 'xabc')).toEqual({ text: 'x\\H1', redacted: false });
  });

  test('empty matches behave like Python re.sub', () => {
    expect(redactText([rule('x*', '-')], 'axb').text).toBe('-a--b-');
  });

  test('invalid rules throw clear errors', () => {
    expect(() => redact([rule('(')])).toThrow(/redaction_rules\[0\]\.match_expression/);
    expect(() => redact([rule('(a)', '\\2')])).toThrow(/redaction_rules\[0\]\.replacement: .*invalid group reference 2/);
  });

  test('an unmatched line of valid UTF-8 stays the very Buffer read; an invalid one becomes a string', async () => {
    const b = batch(['clean ü\n', Buffer.from([0xfe, 0x71, 0x0a])]);
    const [out] = await lastValueFrom(from([b]).pipe(redact([rule('p', 'q')]), toArray()));
    expect(out.events[0].message).toBe(b.events[0].message);
    expect(out.events[1].message).toBe('\ufffdq\n');
  });

  test('invalid UTF-8 is decoded with replacement', async () => {
    const [out] = await lastValueFrom(from([batch([Buffer.from([0xff, 0x70, 0x0a])])]).pipe(redact([rule('p', 'q')]), toArray()));
    expect(out.events[0].message).toBe('\ufffdq\n');
  });

  test('rxjs checklist: empty, error passthrough, unsubscribe', async () => {
    const op = redact([rule('a', 'b')]);
    expect(await lastValueFrom(from([] as Batch[]).pipe(op, toArray()))).toEqual([]);
    await expect(lastValueFrom(throwError(() => new Error('e')).pipe(op))).rejects.toThrow('e');
    const input = new Subject<Batch>();
    const sub = input.pipe(op).subscribe();
    sub.unsubscribe();
    expect(input.observed).toBe(false);
  });
});
