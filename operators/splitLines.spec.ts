import { TestScheduler } from 'rxjs/testing';
import { from, lastValueFrom, map, toArray } from 'rxjs';
import fc from 'fast-check';
import { LineSplitter, splitLines, type FileChunk, type PauseChunk, type SkipChunk } from './splitLines.js';
import type { Batch, Event, Stream } from '../lib/types.js';

const stream: Stream = { id: 's', kind: 'log', path: '/x', attrs: {}, ack() {} };
const b = (s: string) => Buffer.from(s, 'latin1');
const texts = (events: Event[]) => events.map((e) => (e.message as Buffer).toString('latin1'));

function split(chunks: string[], max = 100, start = 0): { events: Event[]; partial?: Event } {
  const s = new LineSplitter(max);
  const events: Event[] = [];
  let off = start;
  for (const c of chunks) {
    s.push(b(c), off, events);
    off += c.length;
  }
  return { events, partial: s.takePartial() };
}

describe('LineSplitter', () => {
  it('splits on \\n, keeps the newline and \\r, and sets end offsets', () => {
    const { events, partial } = split(['ab\r\ncd\nef'], 100, 10);
    expect(texts(events)).toEqual(['ab\r\n', 'cd\n']);
    expect(events.map((e) => e.end)).toEqual([14, 17]);
    expect(partial?.message.toString()).toBe('ef');
    expect(partial?.end).toBe(19);
  });

  it('returns views into the chunk (no copy) for lines inside one chunk', () => {
    const chunk = b('one\ntwo\n');
    const s = new LineSplitter(100);
    const out: Event[] = [];
    s.push(chunk, 0, out);
    expect((out[1].message as Buffer).buffer).toBe(chunk.buffer);
  });

  it('joins a line across chunks', () => {
    expect(texts(split(['ab', 'c', 'd\nx\n']).events)).toEqual(['abcd\n', 'x\n']);
  });

  it('splits long lines into max-sized pieces (Scalyr: "L00001\\n" with max 5 -> "L0000", "1\\n")', () => {
    expect(texts(split(['L00001\nL002\n'], 5).events)).toEqual(['L0000', '1\n', 'L002\n']);
    expect(texts(split(['L00', '001\nL0', '02\n'], 5).events)).toEqual(['L0000', '1\n', 'L002\n']);
    expect(texts(split(['abcdefghijklmn\n'], 5).events)).toEqual(['abcde', 'fghij', 'klmn\n']);
    // A line of exactly max bytes plus its newline: the newline becomes its own event (as Scalyr's readline(max)).
    expect(texts(split(['abcde\n'], 5).events)).toEqual(['abcde', '\n']);
  });

  it('passes binary bytes and NUL through untouched', () => {
    const raw = Buffer.from([0xff, 0x00, 0xfe, 0x0a, 0xc3, 0x28, 0x0a]);
    const s = new LineSplitter(100);
    const out: Event[] = [];
    s.push(raw, 0, out);
    expect(Buffer.concat(out.map((e) => e.message as Buffer))).toEqual(raw);
  });

  it('property: concatenating events (plus the partial) restores the bytes, for any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 30 }), fc.integer({ min: 1, max: 20 }), (data, cuts, max) => {
        const buf = Buffer.from(data.map((x) => (x % 5 === 0 ? 10 : x)));
        const s = new LineSplitter(max);
        const out: Event[] = [];
        let off = 0;
        for (const c of cuts) {
          if (off >= buf.length) break;
          s.push(buf.subarray(off, off + c), off, out);
          off = Math.min(buf.length, off + c);
        }
        if (off < buf.length) s.push(buf.subarray(off), off, out);
        const p = s.takePartial();
        if (p) out.push(p);
        expect(Buffer.concat(out.map((e) => e.message as Buffer))).toEqual(buf);
        let prev = 0;
        for (const e of out) {
          const m = e.message as Buffer;
          expect(e.end).toBe(prev + m.length);
          expect(m.length).toBeLessThanOrEqual(max);
          expect(m.subarray(0, -1).includes(10)).toBe(false);
          prev = e.end;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('splitLines operator', () => {
  const chunkAt = (s: string, start: number): FileChunk => ({ buf: b(s), start });
  const summary = (batch: Batch) => ({ lines: texts(batch.events), end: batch.end });

  it('emits one batch per chunk and holds a partial line until line_completion_wait_time (marbles)', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.run(({ cold, expectObservable }) => {
      const input = cold<FileChunk | SkipChunk>('a 1s b 9s c', {
        a: chunkAt('one\ntw', 0),
        b: chunkAt('o\nthr', 6),
        c: chunkAt('ee\n', 11),
      });
      const out = input.pipe(splitLines(stream, { maxLineSize: 100, lineCompletionWaitMs: 5000 }));
      // a at 0: "one\n" (end 4), "tw" held. b at 1001ms: "two\n" (end 8), "thr" held from 1001ms.
      // The partial "thr" is emitted as is 5 s after it was first seen (6001ms). c ("ee\n") is a separate line.
      expectObservable(out.pipe(map(summary))).toBe(
        'a 1s b 4999ms p 4000ms c',
        {
          a: { lines: ['one\n'], end: 4 },
          b: { lines: ['two\n'], end: 8 },
          p: { lines: ['thr'], end: 11 },
          c: { lines: ['ee\n'], end: 14 },
        },
      );
    });
  });

  it('keeps the timer running while a partial line grows (wait counts from first sight)', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.run(({ cold, expectObservable }) => {
      const input = cold<FileChunk | SkipChunk>('a 2s b 2s c', { a: chunkAt('ab', 0), b: chunkAt('cd', 2), c: chunkAt('ef', 4) });
      const out = input.pipe(splitLines(stream, { maxLineSize: 100, lineCompletionWaitMs: 3000 }));
      const mapped = out.pipe(map(summary));
      // Partial "abcd" first seen at 0 → emitted at 3000ms; "ef" (seen at 4002ms) emitted at 7002ms.
      expectObservable(mapped).toBe('3s p 4001ms q', { p: { lines: ['abcd'], end: 4 }, q: { lines: ['ef'], end: 6 } });
    });
  });

  it('never times out a partial line the reader knows continues (paused for credits, not at EOF)', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.run(({ cold, expectObservable }) => {
      // "lo" continues in the file, but the next read comes 10 s later (back-pressure).
      const input = cold<FileChunk | SkipChunk>('a 10s b', { a: { buf: b('one\nlo'), start: 0, more: true }, b: chunkAt('ng\n', 6) });
      const out = input.pipe(splitLines(stream, { maxLineSize: 100, lineCompletionWaitMs: 1000 }));
      expectObservable(out.pipe(map(summary))).toBe('a 10s b', { a: { lines: ['one\n'], end: 4 }, b: { lines: ['long\n'], end: 9 } });
    });
  });

  it('a pause (the reader waits for credits with bytes unread) stops the wait for a partial line', () => {
    const ts = new TestScheduler((a, e) => expect(a).toEqual(e));
    ts.run(({ cold, expectObservable }) => {
      // "lo" was at the end of the file when read; the writer finished it, but the reader is held
      // back by the read budget for 10 s: the line must not be cut after the 1 s wait.
      const input = cold<FileChunk | SkipChunk | PauseChunk>('a 499ms p 10s b', { a: chunkAt('one\nlo', 0), p: { pause: true }, b: chunkAt('ng\n', 6) });
      const out = input.pipe(splitLines(stream, { maxLineSize: 100, lineCompletionWaitMs: 1000 }));
      expectObservable(out.pipe(map((x) => ({ ...summary(x), more: x.more === true })))).toBe('a 499ms p 10s b', {
        a: { lines: ['one\n'], end: 4, more: false },
        p: { lines: [], end: 4, more: true },
        b: { lines: ['long\n'], end: 9, more: false },
      });
    });
  });

  it('marks a batch `more` when the reader knows more bytes follow its chunk', async () => {
    const out = await lastValueFrom(
      from<(FileChunk | SkipChunk)[]>([{ buf: b('a\nb\n'), start: 0, more: true }, chunkAt('c\n', 4)]).pipe(
        splitLines(stream, { maxLineSize: 100, lineCompletionWaitMs: 5000 }),
        toArray(),
      ),
    );
    expect(out.map((x) => x.more === true)).toEqual([true, false]);
  });

  it('emits the held partial line on completion and handles skipTo', async () => {
    const out = await lastValueFrom(
      from<(FileChunk | SkipChunk)[]>([chunkAt('a\nb', 0), { skipTo: 100 }, chunkAt('c\nd', 100)]).pipe(
        splitLines(stream, { maxLineSize: 100, lineCompletionWaitMs: 5000 }),
        toArray(),
      ),
    );
    expect(out.map(summary)).toEqual([
      { lines: ['a\n'], end: 2 },
      { lines: ['b'], end: 3 },
      { lines: [], end: 100 },
      { lines: ['c\n'], end: 102 },
      { lines: ['d'], end: 103 },
    ]);
  });
});
