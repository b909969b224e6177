import { Subject, from, lastValueFrom, throwError, toArray } from 'rxjs';
import { sample, seededRandom, createSamplingStats } from './sample.js';
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
const run = (op: ReturnType<typeof sample>, batches: Batch[]) => lastValueFrom(from(batches).pipe(op, toArray()));

describe('sample', () => {
  test('no rules: identity', () => {
    const src = from([batch(['a\n'])]);
    expect(sample([])(src)).toBe(src);
  });

  test('first matching rule decides; 0 drops, 1 keeps without draw, unmatched kept without attr', async () => {
    let calls = 0;
    const random = () => (calls++, 0.99);
    const counters = createCounters();
    const stats = createSamplingStats();
    const [out] = await run(
      sample(
        [
          { match_expression: 'ERROR', sampling_rate: 1 },
          { match_expression: 'INFO', sampling_rate: 0 },
        ],
        { random, counters, stats },
      ),
      [batch(['INFO a\n', 'ERROR INFO\n', 'other\n'])],
    );
    expect(calls).toBe(0);
    expect(out.events.map((e) => String(e.message))).toEqual(['ERROR INFO\n', 'other\n']);
    expect(out.events.map((e) => e.attrs)).toEqual([undefined, undefined]);
    expect(out.end).toBe(Buffer.byteLength('INFO a\nERROR INFO\nother\n'));
    expect(counters.dropped.sampling).toBe(1);
    expect(stats).toEqual({ droppedLines: 1, droppedBytes: 7 });
    expect(counters.receivedEvents).toBe(3);
    expect(counters.sentEvents).toBe(2);
  });

  test('fractional rate draws once; kept events carry sample_rate and keep other attrs', async () => {
    const draws = [0.1, 0.9];
    const [out] = await run(sample([{ match_expression: 'x', sampling_rate: 0.5 }], { random: () => draws.shift()! }), [
      { stream, events: [{ message: 'x1\n', end: 3, attrs: { a: 1 } }, { message: 'x2\n', end: 6 }], end: 6 },
    ]);
    expect(out.events).toEqual([{ message: 'x1\n', end: 3, attrs: { a: 1, sample_rate: 0.5 } }]);
    expect(draws).toEqual([]);
  });

  test('kept valid UTF-8 stays the very Buffer read (held once); only invalid bytes become a string', async () => {
    const b = batch(['ok é\n', Buffer.from([0x61, 0xff, 0x0a])]);
    const [out] = await run(sample([{ match_expression: 'zz', sampling_rate: 0 }]), [b]);
    expect(out.events[0].message).toBe(b.events[0].message);
    expect(out.events[1].message).toBe('a\ufffd\n');
  });

  test('all dropped: an empty batch still carries the end', async () => {
    const out = await run(sample([{ match_expression: '', sampling_rate: 0 }]), [batch(['a\n', 'b\n'])]);
    expect(out).toEqual([{ stream, events: [], end: 4 }]);
  });

  test('messages are decoded with replacement (Scalyr re-encodes lines of logs with rules)', async () => {
    const [out] = await run(sample([{ match_expression: 'zz', sampling_rate: 0 }]), [batch([Buffer.from([0x61, 0xff, 0x0a])])]);
    expect(out.events[0].message).toBe('a\ufffd\n');
  });

  test('seededRandom is deterministic and in [0,1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
  });

  test('invalid rules throw clear errors', () => {
    expect(() => sample([{ match_expression: '(', sampling_rate: 1 }])).toThrow(/sampling_rules\[0\]\.match_expression: invalid regular expression/);
    expect(() => sample([{ match_expression: 'a', sampling_rate: 2 }])).toThrow(/sampling_rules\[0\]\.sampling_rate/);
  });

  test('rxjs checklist: empty, error passthrough, unsubscribe', async () => {
    const op = sample([{ match_expression: 'a', sampling_rate: 1 }]);
    expect(await run(op, [])).toEqual([]);
    await expect(lastValueFrom(throwError(() => new Error('e')).pipe(op))).rejects.toThrow('e');
    const input = new Subject<Batch>();
    const seen: Batch[] = [];
    const sub = input.pipe(op).subscribe((b) => seen.push(b));
    sub.unsubscribe();
    input.next(batch(['a\n']));
    expect(seen).toEqual([]);
    expect(input.observed).toBe(false);
  });
});
