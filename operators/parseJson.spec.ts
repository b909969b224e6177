import { Subject, from, lastValueFrom, map, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { parseJson, parseRfc3339Nanos } from './parseJson.js';
import { createCounters } from '../lib/counters.js';
import type { Batch, Stream } from '../lib/types.js';

const stream: Stream = { id: 's', kind: 'log', path: '/s.log', attrs: {}, ack: () => undefined };
function batch(ls: string[]): Batch {
  let off = 0;
  const events = ls.map((l) => {
    const message = Buffer.from(l);
    off += message.length;
    return { message, end: off };
  });
  return { stream, events, end: off };
}
const opts = { messageField: 'log', timestampField: 'time', maxLineSize: 1000 };
const run = async (o: Parameters<typeof parseJson>[0], ls: string[]) => (await lastValueFrom(from([batch(ls)]).pipe(parseJson(o), toArray())))[0];

describe('parseRfc3339Nanos', () => {
  test.each([
    ['1970-01-01T00:00:00Z', 0n],
    ['1970-01-01T00:00:01.5Z', 1_500_000_000n],
    ['2016-10-06T00:17:09.669794202Z', 1475713029669794202n],
    ['2016-10-06T02:17:09.669794202+02:00', 1475713029669794202n],
    ['2016-10-05T23:17:09.1234567891-01:00', 1475713029123456789n],
  ])('%s', (s, ns) => expect(parseRfc3339Nanos(s)).toBe(ns));
  test.each(['', 'yesterday', '2016-13-01T00:00:00Z', '2016-02-30T00:00:00Z', '2016-10-06 00:17'])('rejects %j', (s) => expect(parseRfc3339Nanos(s)).toBeUndefined());
});

describe('parseJson', () => {
  test('a batch marked more (the rest is in the file) goes on marked more', async () => {
    const out = await lastValueFrom(from([{ ...batch(['{"log":"a"}\n']), more: true }, batch(['{"log":"b"}\n'])]).pipe(parseJson(opts), toArray()));
    expect(out.map((b) => b.more)).toEqual([true, undefined]);
  });

  test('message, timestamp, raw_timestamp and other fields', async () => {
    const counters = createCounters();
    const out = await run({ ...opts, counters }, ['{"log":"hello\\n","stream":"stdout","time":"2016-10-06T00:17:09.669794202Z","n":3,"o":{"a":1}}\n']);
    expect(out.events).toEqual([
      { message: 'hello\n', end: 100, ts: 1475713029669794202n, attrs: { stream: 'stdout', raw_timestamp: '2016-10-06T00:17:09.669794202Z', n: 3, o: '{"a":1}' } },
    ].map((e) => ({ ...e, end: out.end })));
    expect(counters.receivedEvents).toBe(1);
    expect(counters.sentEvents).toBe(1);
  });

  test('includeRawTimestamp: false', async () => {
    const out = await run({ ...opts, includeRawTimestamp: false }, ['{"log":"x","time":"1970-01-01T00:00:01Z"}\n']);
    expect(out.events[0]).toEqual({ message: 'x', end: out.end, ts: 1_000_000_000n });
  });

  test('unparsable line, non-object, missing message field: raw line kept', async () => {
    const stats = { unparsed: 0 };
    const ls = ['not json\n', '[1,2]\n', '{"msg":"x"}\n'];
    const b = batch(ls);
    const [out] = await lastValueFrom(from([b]).pipe(parseJson({ ...opts, stats }), toArray()));
    expect(out.events).toEqual(b.events);
    expect(stats.unparsed).toBe(3);
  });

  test('long message split into maxLineSize fragments sharing ts and attrs', async () => {
    const out = await run({ ...opts, maxLineSize: 4 }, ['{"log":"abcdefghij","k":"v","time":"1970-01-01T00:00:00Z"}\n']);
    expect(out.events.map((e) => e.message.toString())).toEqual(['abcd', 'efgh', 'ij']);
    expect(out.events.map((e) => e.end)).toEqual([out.end - 2, out.end - 1, out.end]);
    expect(out.events.every((e) => e.ts === 0n && (e.attrs as any).k === 'v')).toBe(true);
  });

  test('non-string message value is JSON-encoded', async () => {
    const out = await run(opts, ['{"log":{"a":1}}\n']);
    expect(out.events[0].message).toBe('{"a":1}');
  });

  test('rxjs checklist: empty, error passthrough, unsubscribe', async () => {
    expect(await lastValueFrom(from([] as Batch[]).pipe(parseJson(opts), toArray()))).toEqual([]);
    await expect(lastValueFrom(throwError(() => new Error('e')).pipe(parseJson(opts)))).rejects.toThrow('e');
    const input = new Subject<Batch>();
    input.pipe(parseJson(opts)).subscribe().unsubscribe();
    expect(input.observed).toBe(false);
  });
});

describe('parseJson with mergePartial (merge_json_parsed_lines)', () => {
  const line = (log: string, extra: Record<string, unknown> = {}) => JSON.stringify({ log, ...extra }) + '\n';
  /** Batches of lines with contiguous offsets, starting at `start`. */
  function batchAt(ls: string[], start: number, more = false): Batch {
    let off = start;
    const events = ls.map((l) => {
      const message = Buffer.from(l);
      off += message.length;
      return { message, end: off };
    });
    return more ? { stream, events, end: off, more: true } : { stream, events, end: off };
  }
  const mopts = { ...opts, mergePartial: true, mergeWaitMs: 50 };
  const msgs = (b: Batch) => b.events.map((e) => String(e.message));

  test('pieces without a newline are joined up to the one with it; the batch end waits before the join', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable }) => {
      const b1 = batchAt([line('zero\n'), line('part one '), line('part two ')], 0);
      const joinStart = Buffer.byteLength(line('zero\n'));
      const b2 = batchAt([line('end\n', { k: 'v' }), line('after\n')], b1.end);
      const counters = createCounters();
      const out$ = cold('a 9ms b|', { a: b1, b: b2 }).pipe(parseJson({ ...mopts, counters, scheduler }), map((b) => ({ m: msgs(b), end: b.end })));
      expectObservable(out$).toBe('a 9ms b|', {
        a: { m: ['zero\n'], end: joinStart },
        b: { m: ['part one part two end\n', 'after\n'], end: b2.end },
      });
      scheduler.flush();
      expect(counters).toMatchObject({ receivedEvents: 5, sentEvents: 3 });
    });
  });

  test('a join whose last piece does not come is sent after the wait; a batch marked more starts no wait', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable }) => {
      const b1 = batchAt([line('a ')], 0, true);
      const b2 = batchAt([line('b ')], b1.end);
      const out$ = cold('a 99ms b 99ms |', { a: b1, b: b2 }).pipe(parseJson({ ...mopts, scheduler }), map((b) => ({ m: msgs(b), end: b.end })));
      // At 0: an empty batch marked more (the join waits, no timer). At 100: b joins, nothing new
      // to acknowledge, the wait starts. At 150: the join is sent.
      expectObservable(out$).toBe('a 149ms c 49ms |', {
        a: { m: [], end: 0 },
        c: { m: ['a b '], end: b2.end },
      });
    });
  });

  test('a line that is not JSON ends the join; off, each line is its own event', async () => {
    const ls = [line('x '), 'plain\n', line('y\n')];
    const on = (await lastValueFrom(from([batch(ls)]).pipe(parseJson(mopts), toArray()))).flatMap(msgs);
    expect(on).toEqual(['x ', 'plain\n', 'y\n']);
    const off = (await lastValueFrom(from([batch([line('x '), line('y\n')])]).pipe(parseJson(opts), toArray()))).flatMap(msgs);
    expect(off).toEqual(['x ', 'y\n']);
  });

  test('a join is sent once it holds mergeMaxBytes, and on complete', async () => {
    const out = (await lastValueFrom(from([batch([line('aaaa'), line('bbbb'), line('cc')])]).pipe(parseJson({ ...mopts, maxLineSize: 8, mergeMaxBytes: 8 }), toArray()))).flatMap(msgs);
    expect(out).toEqual(['aaaabbbb', 'cc']);
  });
});
