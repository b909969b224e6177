import { Subject, from, lastValueFrom, throwError, toArray } from 'rxjs';
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
