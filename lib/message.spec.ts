/**
 * lib/message.ts: a line is decoded once along an entry's chain, a replaced message is never
 * read through a stale text, and events leaving the chain carry no text.
 */
import { of, type MonoTypeOperatorFunction, pipe } from 'rxjs';
import { eventText, keepText, keptMessage } from './message.js';
import { groupLines } from '../operators/groupLines.js';
import { sample } from '../operators/sample.js';
import { redact } from '../operators/redact.js';
import type { Batch, Event, Stream } from './types.js';

const stream: Stream = { id: 's', kind: 'log', path: '/x.log', attrs: {}, ack: () => undefined };

function run(op: MonoTypeOperatorFunction<Batch>, events: Event[]): Event[] {
  let out: Event[] = [];
  of({ stream, events, end: events.length ? events[events.length - 1].end : 0 })
    .pipe(op)
    .subscribe((b) => (out = out.concat(b.events)));
  return out;
}

/** Counts Buffer decodes by wrapping `toString` on the very Buffers of the events. */
function counting(lines: string[]): { events: Event[]; decodes: () => number } {
  let n = 0;
  let off = 0;
  const events = lines.map((l) => {
    const b = Buffer.from(l);
    const orig = b.toString.bind(b);
    b.toString = ((...a: Parameters<Buffer['toString']>) => {
      n++;
      return orig(...a);
    }) as Buffer['toString'];
    off += b.length;
    return { message: b, end: off };
  });
  return { events, decodes: () => n };
}

describe('eventText', () => {
  it('returns the text an operator left on the event without decoding again', () => {
    const { events, decodes } = counting(['hello\n']);
    const t = eventText(events[0]);
    keepText(events[0], t);
    expect(eventText(events[0])).toBe('hello\n');
    expect(decodes()).toBe(1);
  });

  it('never returns a stale text when the message was replaced, in place or on a copy', () => {
    const ev: Event = { message: Buffer.from('old\n'), end: 4 };
    keepText(ev, eventText(ev));
    expect(eventText(ev)).toBe('old\n');
    const copy = { ...ev, message: Buffer.from('new\n') };
    expect(eventText(copy)).toBe('new\n');
    ev.message = Buffer.from('other\n');
    expect(eventText(ev)).toBe('other\n');
    const asString = { ...ev, message: 'a string\n' };
    expect(eventText(asString)).toBe('a string\n');
  });

  it('decodes invalid UTF-8 with replacement characters, and such a line leaves as text', () => {
    const ev: Event = { message: Buffer.from([0x61, 0xff, 0x0a]), end: 3 };
    const t = eventText(ev);
    expect(t).toBe('a\ufffd\n');
    expect(keptMessage(ev.message, t)).toBe('a\ufffd\n');
  });
});

describe('one decode per line through groupLines → sample → redact', () => {
  it('each single line is decoded once for all three operators, and leaves the chain without its text', () => {
    const { events, decodes } = counting(['INFO one\n', 'INFO password=x\n', 'DEBUG three\n', 'INFO four\n']);
    const chain = pipe(
      groupLines([{ start: '^\\s', continueThrough: '^\\s' }], { maxLineSize: 49900, completionWaitMs: 1000, keepText: true }),
      sample([{ match_expression: 'DEBUG', sampling_rate: 0 }], { keepText: true }),
      redact([{ match_expression: 'password=[^ \\n]*', replacement: 'password=***' }]),
    );
    const out = run(chain, events);
    const decoded = decodes(); // before the checks below decode for themselves
    expect(out.map((e) => (typeof e.message === 'string' ? e.message : e.message.toString('latin1')))).toEqual([
      'INFO one\n',
      'INFO password=***\n',
      'INFO four\n',
    ]);
    expect(decoded).toBe(4);
    // Without keepText (the default) every operator decodes for itself.
    const plain = counting(['INFO one\n', 'INFO two\n']);
    run(pipe(groupLines([{ start: '^\\s', continueThrough: '^\\s' }], { maxLineSize: 49900, completionWaitMs: 1000 }), sample([{ match_expression: 'DEBUG', sampling_rate: 0 }])), plain.events);
    expect(plain.decodes()).toBe(4);
    expect(out.every((e) => e.text === undefined && e.textOf === undefined)).toBe(true);
    // Unchanged lines are still the Buffers read (held once).
    expect(Buffer.isBuffer(out[0].message)).toBe(true);
    expect(out[0].message).toBe(events[0].message);
  });
});
