import fc from 'fast-check';
import { Subject, VirtualAction, VirtualTimeScheduler, from, lastValueFrom, map, throwError, toArray, concat, NEVER } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { groupLines } from './groupLines.js';
import { createCounters } from '../lib/counters.js';
import type { Batch, Event, Stream } from '../lib/types.js';
import type { LineGrouperConfig } from '../lib/config/types.js';

const stream: Stream = { id: 's', kind: 'log', path: '/s.log', attrs: {}, ack: () => undefined };
const text = (m: Buffer | string) => (typeof m === 'string' ? m : m.toString('utf8'));

/** Lines → consecutive events starting at `start`. */
function lines(ls: (string | Buffer)[], start = 0): Event[] {
  let off = start;
  return ls.map((l) => {
    const message = typeof l === 'string' ? Buffer.from(l) : l;
    off += message.length;
    return { message, end: off };
  });
}
function batch(events: Event[], end?: number): Batch {
  return { stream, events, end: end ?? (events.length ? events[events.length - 1].end : 0) };
}
const simple = (b: Batch) => ({ m: b.events.map((e) => text(e.message)), end: b.end });

const java: LineGrouperConfig[] = [{ start: '^[^\\s]', continueThrough: '^[\\s]+at' }];
const opts = { maxLineSize: 1000, completionWaitMs: 5000 };

describe('groupLines', () => {
  test('no groupers: identity', () => {
    const src = from([batch(lines(['a\n']))]);
    expect(groupLines([], opts)(src)).toBe(src);
  });

  test('lines that pass alone are the same objects (zero copy), batch reused', async () => {
    const b = batch(lines(['   x\n', '   y\n']));
    const [out] = await lastValueFrom(from([b]).pipe(groupLines(java, opts), toArray()));
    expect(out).toBe(b);
    expect(out.events[0]).toBe(b.events[0]);
  });

  test('a group is the concatenation of raw bytes (invalid UTF-8 kept)', async () => {
    const bad = Buffer.from([0xff, 0xfe, 0x41, 0x0a]); // invalid UTF-8 then "A\n"
    const cont = Buffer.concat([Buffer.from('  at '), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]);
    const ev = lines([bad, cont, 'next\n']);
    const out = await lastValueFrom(from([batch(ev)]).pipe(groupLines(java, opts), toArray()));
    const events = out.flatMap((b) => b.events);
    expect(Buffer.isBuffer(events[0].message)).toBe(true);
    expect(events[0].message).toEqual(Buffer.concat([bad, cont]));
    expect(events[0].end).toBe(bad.length + cont.length);
    expect(text(events[1].message)).toBe('next\n');
  });

  test('patterns see the line with its newline: ^\\s continues on an empty line', async () => {
    const out = await lastValueFrom(from([batch(lines(['E\n', '\n', ' x\n', 'n\n']))]).pipe(groupLines([{ start: '^E', continueThrough: '^\\s' }], opts), toArray()));
    expect(out.flatMap((b) => b.events.map((e) => text(e.message)))).toEqual(['E\n\n x\n', 'n\n']);
  });

  test('held group: batch end stops before it; complete flushes it', async () => {
    const ev = lines(['one\n', 'Exc\n', '  at a\n']);
    const out = await lastValueFrom(from([batch(ev)]).pipe(groupLines(java, opts), map(simple), toArray()));
    expect(out).toEqual([
      { m: ['one\n'], end: 4 },
      { m: ['Exc\n  at a\n'], end: ev[2].end },
    ]);
  });

  test('declined start line is offered to the next grouper', async () => {
    const groupers: LineGrouperConfig[] = [
      { start: '^S', continueThrough: '^\\s' },
      { start: '^S', haltWith: 'END' },
    ];
    const out = await lastValueFrom(from([batch(lines(['S1\n', 'mid\n', 'END\n', 'x\n']))]).pipe(groupLines(groupers, opts), toArray()));
    expect(out.flatMap((b) => b.events.map((e) => text(e.message)))).toEqual(['S1\nmid\nEND\n', 'x\n']);
  });

  test('a line without newline ends the group and passes alone', async () => {
    const out = await lastValueFrom(from([batch(lines(['Exc\n', '  at a\n', '  at b-partial']))]).pipe(groupLines(java, opts), toArray()));
    expect(out.flatMap((b) => b.events.map((e) => text(e.message)))).toEqual(['Exc\n  at a\n', '  at b-partial']);
  });

  test('size cap: the group is cut at maxLineSize, the rest becomes a new line', async () => {
    const ev = lines(['Exc\n', '  at aaaa\n', '  at bbbb\n']);
    const out = await lastValueFrom(from([batch(ev)]).pipe(groupLines(java, { ...opts, maxLineSize: 16 }), toArray()));
    const events = out.flatMap((b) => b.events);
    expect(events.map((e) => text(e.message))).toEqual(['Exc\n  at aaaa\n  ', 'at bbbb\n']);
    expect(events.map((e) => e.end)).toEqual([16, 24]);
  });

  test('a new stream flushes what the old one held', async () => {
    const other: Stream = { ...stream, id: 'other' };
    const out = await lastValueFrom(
      from([batch(lines(['Exc\n'])), { stream: other, events: lines(['x\n']), end: 2 }]).pipe(groupLines(java, opts), toArray()),
    );
    expect(out.map((b) => [b.stream.id, b.events.map((e) => text(e.message)), b.end])).toEqual([
      ['s', ['Exc\n'], 4],
      ['other', ['x\n'], 2],
    ]);
  });

  test('counters', async () => {
    const counters = createCounters();
    await lastValueFrom(from([batch(lines(['Exc\n', '  at a\n', 'x\n']))]).pipe(groupLines(java, { ...opts, counters }), toArray()));
    expect(counters.receivedEvents).toBe(3);
    expect(counters.sentEvents).toBe(2);
    expect(counters.receivedBytes).toBe(counters.sentBytes);
  });

  test('invalid grouper config throws a clear error', () => {
    expect(() => groupLines([{ start: '(' } as LineGrouperConfig], opts)).toThrow(/lineGroupers\[0\]/);
    expect(() => groupLines([{ start: '(', haltWith: 'x' }], opts)).toThrow(/lineGroupers\[0\]: invalid regular expression/);
  });

  describe('timer (marbles)', () => {
    const ts = () => new TestScheduler((a, b) => expect(a).toEqual(b));

    test('incomplete group is flushed completionWaitMs after it was first held', () => {
      ts().run(({ cold, expectObservable }) => {
        const b1 = batch(lines(['x\n', 'Exc\n']));
        const b2 = batch(lines(['  at a\n'], 6)); // extends, still open: the wait is not restarted
        const src = cold('a 1999ms b', { a: b1, b: b2 }).pipe(
          (s) => concat(s, NEVER),
        );
        expectObservable(src.pipe(groupLines(java, { ...opts, completionWaitMs: 5000 }), map(simple))).toBe('a 4999ms c', {
          a: { m: ['x\n'], end: 2 },
          c: { m: ['Exc\n  at a\n'], end: 13 },
        });
      });
    });

    test('no wait while the reader says more bytes follow (reading paused for credits)', () => {
      ts().run(({ cold, expectObservable }) => {
        const b1 = { ...batch(lines(['x\n', 'Exc\n'])), more: true };
        const b2 = { ...batch(lines(['  at a\n'], 6)), more: true }; // still more to read
        const b3 = batch(lines(['  at b\n', 'y\n'], 13)); // at the end of the file
        const src = concat(cold('a 9999ms b 9999ms c', { a: b1, b: b2, c: b3 }), NEVER);
        // Paused 10 s twice (> the 5 s wait): the group stays whole; 'y' then waits 5 s at EOF.
        expectObservable(src.pipe(groupLines(java, opts), map(simple))).toBe('a 19999ms c 4999ms d', {
          a: { m: ['x\n'], end: 2 },
          c: { m: ['Exc\n  at a\n  at b\n'], end: 20 },
          d: { m: ['y\n'], end: 22 },
        });
      });
    });

    test('a continuation before the wait completes the group; no timer flush', () => {
      ts().run(({ cold, expectObservable }) => {
        const b1 = batch(lines(['Exc\n']));
        const b2 = batch(lines(['  at a\n', 'next\n'], 4));
        const src = concat(cold('a 999ms b', { a: b1, b: b2 }), NEVER);
        // 'next' starts a new held group at 1000ms, flushed 5 s later.
        expectObservable(src.pipe(groupLines(java, opts), map(simple))).toBe('- 999ms b 4999ms c', {
          b: { m: ['Exc\n  at a\n'], end: 11 },
          c: { m: ['next\n'], end: 16 },
        });
      });
    });

    test('early unsubscribe cancels the timer', () => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
      const input = new Subject<Batch>();
      const seen: Batch[] = [];
      const sub = input.pipe(groupLines(java, { ...opts, scheduler })).subscribe((b) => seen.push(b));
      input.next(batch(lines(['Exc\n'])));
      expect(scheduler.actions.length).toBe(1);
      sub.unsubscribe();
      expect(scheduler.actions.filter((a) => !a.closed).length).toBe(0);
      scheduler.flush();
      expect(seen).toEqual([]);
    });

    test('error passes through, drops the held group and clears the timer', () => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
      const input = new Subject<Batch>();
      const seen: Batch[] = [];
      let error: unknown;
      input.pipe(groupLines(java, { ...opts, scheduler })).subscribe({ next: (b) => seen.push(b), error: (e) => (error = e) });
      input.next(batch(lines(['Exc\n'])));
      input.error(new Error('boom'));
      expect((error as Error).message).toBe('boom');
      scheduler.flush();
      expect(seen).toEqual([]);
      expect(scheduler.actions.filter((a) => !a.closed).length).toBe(0);
    });

    test('empty input completes with nothing', async () => {
      expect(await lastValueFrom(from([] as Batch[]).pipe(groupLines(java, opts), toArray()))).toEqual([]);
    });

    test('error from the source with nothing held', async () => {
      await expect(lastValueFrom(throwError(() => new Error('src')).pipe(groupLines(java, opts)))).rejects.toThrow('src');
    });
  });

  describe('property: batching does not change the result and ends never pass held bytes', () => {
    const groupersArb = fc.constantFrom<LineGrouperConfig[]>(
      java,
      [{ start: '^B', continuePast: '\\\\$' }],
      [{ start: '^B', haltBefore: '^B' }],
      [{ start: '^B', haltWith: '^E' }],
      [
        { start: '^B', continueThrough: '^\\s' },
        { start: '^[AB]', haltWith: 'E$' },
        { start: 'x', continuePast: '^\\s' },
      ],
    );
    const lineArb = fc
      .tuple(fc.constantFrom('B', 'E', ' ', 'A', 'x', '\\', 'é', '\u00ff'), fc.stringMatching(/^[ABEx \\]{0,6}$/), fc.constantFrom('\n', '\n', '\n', '\\\n', ''))
      .map(([a, b, c]) => a + b + c);

    const runAll = (groupers: LineGrouperConfig[], all: Event[], cuts: number[], max: number) => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
      const input = new Subject<Batch>();
      const out: Batch[] = [];
      let emitted = 0; // bytes emitted in events so far
      const violations: string[] = [];
      input.pipe(groupLines(groupers, { maxLineSize: max, completionWaitMs: 1000, scheduler })).subscribe((b) => {
        for (const e of b.events) {
          emitted += e.message.length;
          if (e.end !== emitted) violations.push(`event end ${e.end} != emitted bytes ${emitted}`);
        }
        if (b.end > emitted) violations.push(`batch end ${b.end} passes emitted bytes ${emitted}`);
        out.push(b);
      });
      let prev = 0;
      for (const cut of [...cuts, all.length]) {
        const evs = all.slice(prev, cut);
        prev = cut;
        input.next({ stream, events: evs, end: evs.length ? evs[evs.length - 1].end : prev === 0 ? 0 : all[prev - 1].end });
      }
      input.complete();
      const bin = (m: Buffer | string) => (typeof m === 'string' ? Buffer.from(m) : m).toString('latin1');
      return { events: out.flatMap((b) => b.events.map((e) => [bin(e.message), e.end])), violations, lastEnd: out[out.length - 1]?.end };
    };

    test('random lines, random batch cuts', () => {
      fc.assert(
        fc.property(groupersArb, fc.array(lineArb, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(25)), fc.integer({ min: 4, max: 40 }), (groupers, ls, rawCuts, max) => {
          // The reader never gives a line without newline except as the last or as a max-size chunk.
          const all = lines(ls.map((l, i) => (l.endsWith('\n') || i === ls.length - 1 ? l : l + '\n')));
          const cuts = [...new Set(rawCuts.filter((c) => c <= all.length))].sort((a, b) => a - b);
          const one = runAll(groupers, all, [], max);
          const many = runAll(groupers, all, cuts, max);
          expect(many.violations).toEqual([]);
          expect(one.violations).toEqual([]);
          expect(many.events).toEqual(one.events);
          const total = all[all.length - 1].end;
          expect(many.lastEnd).toBe(total);
          expect(Buffer.concat(many.events.map(([m]) => Buffer.from(m as string, 'latin1')))).toEqual(Buffer.concat(all.map((e) => e.message as Buffer)));
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('groupLines after a parser (messages no longer raw bytes)', () => {
  test('held group start is the previous line end, not derived from the message size', async () => {
    const input = new Subject<Batch>();
    const got: Batch[] = [];
    input.pipe(groupLines(java, opts)).subscribe((b) => got.push(b));
    // Parsed json lines: short messages, long raw lines (ends 100, 200).
    input.next({ stream, events: [{ message: 'one\n', end: 100 }, { message: 'Exc\n', end: 200 }], end: 200 });
    expect(got.map((b) => b.end)).toEqual([100]);
    input.next({ stream, events: [{ message: '  at x\n', end: 300 }, { message: ' plain\n', end: 400 }], end: 400 });
    expect(got.map((b) => [b.events.map((e) => text(e.message)), b.end])).toEqual([
      [['one\n'], 100],
      [['Exc\n  at x\n', ' plain\n'], 400],
    ]);
  });

  test('a group held from the very first line emits no end at all', () => {
    const input = new Subject<Batch>();
    const got: Batch[] = [];
    input.pipe(groupLines(java, opts)).subscribe((b) => got.push(b));
    input.next({ stream, events: [{ message: 'Exc\n', end: 500 }], end: 500 });
    expect(got).toEqual([]);
    input.complete();
    expect(got.map((b) => b.end)).toEqual([500]);
  });
});
