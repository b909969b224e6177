import { NEVER, Subject, VirtualAction, VirtualTimeScheduler, concat, from, lastValueFrom, map, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import fc from 'fast-check';
import { parseCri } from './parseCri.js';
import { createCounters } from '../lib/counters.js';
import type { Batch, Event, Stream } from '../lib/types.js';

const stream: Stream = { id: 's', kind: 'log', path: '/s.log', attrs: {}, ack: () => undefined };
function lines(ls: string[], start = 0): Event[] {
  let off = start;
  return ls.map((l) => {
    const message = Buffer.from(l);
    off += message.length;
    return { message, end: off };
  });
}
const batch = (events: Event[]): Batch => ({ stream, events, end: events[events.length - 1].end });
const T = '2016-10-06T00:17:09.669794202Z';
const TS = 1475713029669794202n;
const opts = { maxLineSize: 1000, completionWaitMs: 5000 };
const simple = (b: Batch) => ({ m: b.events.map((e) => String(e.message)), end: b.end });

describe('parseCri', () => {
  test('a batch marked more (the rest is in the file) goes on marked more', async () => {
    const ev = lines([`${T} stdout F one\n`, `${T} stdout F two\n`]);
    const out = await lastValueFrom(from([{ ...batch(ev.slice(0, 1)), more: true }, batch(ev.slice(1))]).pipe(parseCri(opts), toArray()));
    expect(out.map((b) => b.more)).toEqual([true, undefined]);
  });

  test('F line: content with newline, ts, stream and raw_timestamp attrs', async () => {
    const ev = lines([`${T} stdout F hello world\n`]);
    const [out] = await lastValueFrom(from([batch(ev)]).pipe(parseCri(opts), toArray()));
    expect(out.events).toEqual([{ message: 'hello world\n', end: ev[0].end, ts: TS, attrs: { stream: 'stdout', raw_timestamp: T } }]);
  });

  test('P pieces join per stream until F; later lines wait behind held pieces', async () => {
    const ev = lines([`${T} stdout P part1 \n`, `${T} stderr F err\n`, `${T} stdout P part2 \n`, `${T} stdout F:x end\n`]);
    const input = new Subject<Batch>();
    const got: Batch[] = [];
    const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
    input.pipe(parseCri({ ...opts, scheduler })).subscribe((b) => got.push(b));
    input.next(batch(ev.slice(0, 3)));
    input.next(batch(ev.slice(3)));
    // stderr's line waits behind stdout's held piece (no event may pass held bytes).
    expect(got.map(simple)).toEqual([{ m: ['err\n', 'part1 part2 end\n'], end: ev[3].end }]);
    expect(got[0].events[1].attrs).toEqual({ stream: 'stdout', raw_timestamp: T });
    expect(scheduler.actions.filter((a) => !a.closed).length).toBe(0);
  });

  test('joined length reaching maxLineSize is emitted at once', async () => {
    const ev = lines([`${T} stdout P aaaa\n`, `${T} stdout P bbbb\n`, `${T} stdout F c\n`]);
    const out = await lastValueFrom(from([batch(ev)]).pipe(parseCri({ ...opts, maxLineSize: 8 }), toArray()));
    expect(out.flatMap((b) => b.events.map((e) => String(e.message)))).toEqual(['aaaabbbb', 'c\n']);
  });

  test('unparsable lines are dropped and counted; bytes consumed', async () => {
    const counters = createCounters();
    const ev = lines(['garbage\n', `${T} stdout X bad-tag\n`, `${T} stdout F ok\n`]);
    const [out] = await lastValueFrom(from([batch(ev)]).pipe(parseCri({ ...opts, counters }), toArray()));
    expect(out.events.map((e) => e.message)).toEqual(['ok\n']);
    expect(out.end).toBe(ev[2].end);
    expect(counters.dropped.parse_error).toBe(2);
  });

  test('complete flushes held pieces', async () => {
    const ev = lines([`${T} stdout P half`]);
    const out = await lastValueFrom(from([batch(ev)]).pipe(parseCri(opts), toArray()));
    expect(out.map(simple)).toEqual([{ m: ['half'], end: ev[0].end }]);
  });

  test('held pieces flush after completionWaitMs × 60 (marbles)', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ cold, expectObservable }) => {
      const ev = lines([`${T} stdout P half\n`]);
      const src = concat(cold('a', { a: batch(ev) }), NEVER);
      expectObservable(src.pipe(parseCri({ ...opts, completionWaitMs: 1000 }), map(simple))).toBe('60000ms a', {
        a: { m: ['half'], end: ev[0].end },
      });
    });
  });

  test('rxjs checklist: empty, error passthrough clears timers, unsubscribe clears timers', async () => {
    expect(await lastValueFrom(from([] as Batch[]).pipe(parseCri(opts), toArray()))).toEqual([]);
    await expect(lastValueFrom(throwError(() => new Error('e')).pipe(parseCri(opts)))).rejects.toThrow('e');
    const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
    for (const end of ['error', 'unsubscribe'] as const) {
      const input = new Subject<Batch>();
      const seen: Batch[] = [];
      const sub = input.pipe(parseCri({ ...opts, scheduler })).subscribe({ next: (b) => seen.push(b), error: () => undefined });
      input.next(batch(lines([`${T} stdout P x\n`])));
      expect(scheduler.actions.filter((a) => !a.closed).length).toBe(1);
      if (end === 'error') input.error(new Error('x'));
      else sub.unsubscribe();
      expect(scheduler.actions.filter((a) => !a.closed).length).toBe(0);
      scheduler.flush();
      expect(seen).toEqual([]);
    }
  });
});

describe('parseCri property', () => {
  test('random interleaved P/F lines and batch cuts: ordered ends, nothing passes held bytes, batching-independent', () => {
    const lineArb = fc.tuple(fc.constantFrom('stdout', 'stderr'), fc.constantFrom('P', 'F', 'F:x', 'X'), fc.stringMatching(/^[a-z ]{0,5}$/)).map(([st, tag, c]) => `${T} ${st} ${tag} ${c}\n`);
    const run = (all: Event[], cuts: number[]) => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
      const input = new Subject<Batch>();
      const out: Batch[] = [];
      input.pipe(parseCri({ maxLineSize: 12, completionWaitMs: 1000, scheduler })).subscribe((b) => out.push(b));
      let prev = 0;
      for (const c of [...cuts, all.length]) {
        const part = all.slice(prev, c);
        if (part.length) input.next({ stream, events: part, end: part[part.length - 1].end });
        prev = c;
      }
      input.complete();
      return out;
    };
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(25)), (ls, rawCuts) => {
        const all = lines(ls);
        const cuts = [...new Set(rawCuts.filter((c) => c > 0 && c < all.length))].sort((a, b) => a - b);
        const one = run(all, []);
        const many = run(all, cuts);
        let lastEnd = -1;
        let lastEv = -1;
        for (const b of many) {
          expect(b.end).toBeGreaterThanOrEqual(lastEnd);
          for (const e of b.events) {
            expect(e.end).toBeGreaterThan(lastEv);
            expect(e.end).toBeLessThanOrEqual(b.end);
            lastEv = e.end;
          }
          lastEnd = b.end;
        }
        expect(lastEnd).toBe(all[all.length - 1].end);
        const flat = (bs: Batch[]) => bs.flatMap((b) => b.events.map((e) => [String(e.message), e.end, (e.attrs as any).stream]));
        expect(flat(many)).toEqual(flat(one));
      }),
      { numRuns: 300 },
    );
  });
});
