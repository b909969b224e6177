/**
 * groupLines: Scalyr's `lineGroupers` (behavior §3.1) as an rxjs operator on the batches of one
 * stream. Input events are lines (a raw `Buffer` or a `string`, each including its trailing
 * `\n`; a line without one was forced out by the reader: the tail of a partial line after the
 * completion wait, or a `max_line_size` chunk of a long line).
 *
 * Promises:
 * - The first grouper (config order) whose `start` pattern matches a complete line opens a
 *   group; no match → the line passes alone. Patterns are Python `re.search` on the line decoded
 *   as UTF-8 with replacement, INCLUDING its trailing newline (each line is decoded once, only
 *   when groupers exist).
 * - `continueThrough`: lines are added while they match; the first line that does not is not
 *   included. If the line right after the start does not match, the grouper declines: the start
 *   line is offered to the following groupers, else passes alone.
 * - `continuePast`: lines are added while they match, plus the first one that does not
 *   (so the line after a start is always taken).
 * - `haltBefore`: lines are added until one matches; that one is not included (a group of only
 *   the start line is allowed).
 * - `haltWith`: lines are added until one matches; that one is included and ends the group.
 * - A line without a trailing newline never starts a group and is never tested: it ends an open
 *   group (which is emitted first) and then passes alone.
 * - A group never exceeds `maxLineSize` bytes: when the next line would reach the limit, only
 *   the bytes that fit are appended (whether or not the line continues the group, as Scalyr
 *   does) and the group is emitted; the rest of that line is processed as a new line.
 * - The message of a group is the concatenation of the RAW bytes (one copy per
 *   multi-line group); a line that passes alone is the very same event object (zero copy). A
 *   group's `end` is its last line's `end`; `ts`/`attrs` come from its first line.
 * - A group still open at the end of a batch is held: the emitted batch's `end` stops before its
 *   first byte. It is completed by the next batches, or emitted as it is `completionWaitMs`
 *   after the batch that first left it open (timer on `scheduler`; extending a held group does
 *   not restart the wait). A batch marked `more` (the reader paused with bytes still unread)
 *   starts no wait and cancels one: the continuation is in the file. On complete the held group
 *   is flushed; on error it is dropped (not acknowledged, so it is read again); unsubscribing
 *   cancels the timer.
 * - No groupers → the operator is the identity.
 *
 * Checked against a re-typed copy of Scalyr's `line_matcher.py` on thousands of random inputs:
 * identical output, except where the Python code has bugs that sluice deliberately does not
 * reproduce: (1) a line that exactly fills the size limit while continuing a group is appended
 * twice; (2) when a `continuePast`/`haltWith` group has already ended and the NEXT line does not
 * fit in the remaining size, a cut piece of that next line is glued onto the finished group;
 * (3) older versions drop the line after a one-line `haltBefore` group. Other differences come
 * from the streaming design: a group is never closed by "end of file" (only by a line, the
 * timer or completion), and a line the reader already split at `maxLineSize` keeps the reader's
 * cut points (Python re-reads the rest of a cut line from the cut).
 */
import { Observable, asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { LineGrouperConfig } from '../lib/config/types.js';
import type { Batch, ComponentCounters, Event, Stream } from '../lib/types.js';
import { compilePythonRegex } from '../lib/regex.js';
import { joinBuffers } from '../lib/slab.js';
import { messageBytes } from '../lib/counters.js';
import { eventText, keepText, type KeepTextOption } from '../lib/message.js';
import { defineComponent } from '../lib/component.js';
import { scalyrOption as s } from '../lib/config/schema.js';
import { LINE_COMPLETION_WAIT_TIME, MAX_LINE_SIZE } from '../lib/config/sharedOptions.js';

export interface GroupLinesOptions extends KeepTextOption {
  /** Largest group in bytes (Scalyr `max_line_size`). */
  maxLineSize: number;
  /** Milliseconds an open group waits for its continuation (`line_completion_wait_time` × 1000). */
  completionWaitMs: number;
  counters?: ComponentCounters;
  /** Scheduler for the completion timer (tests pass a TestScheduler). */
  scheduler?: SchedulerLike;
}

const CONTINUE_THROUGH = 0;
const CONTINUE_PAST = 1;
const HALT_BEFORE = 2;
const HALT_WITH = 3;

interface Grouper {
  start: RegExp;
  next: RegExp;
  kind: number;
}

/** Compiles the groupers; throws a clear Error naming the grouper for a bad one. */
export function compileGroupers(groupers: readonly LineGrouperConfig[]): Grouper[] {
  return groupers.map((g, i) => {
    const where = `lineGroupers[${i}]`;
    if (!g || typeof g.start !== 'string') throw new Error(`${where}: "start" (a regular expression) is required`);
    let kind: number;
    let pattern: string;
    if (typeof g.continueThrough === 'string') [kind, pattern] = [CONTINUE_THROUGH, g.continueThrough];
    else if (typeof g.continuePast === 'string') [kind, pattern] = [CONTINUE_PAST, g.continuePast];
    else if (typeof g.haltBefore === 'string') [kind, pattern] = [HALT_BEFORE, g.haltBefore];
    else if (typeof g.haltWith === 'string') [kind, pattern] = [HALT_WITH, g.haltWith];
    else throw new Error(`${where}: one of continueThrough, continuePast, haltBefore, haltWith is required`);
    try {
      return { start: compilePythonRegex(g.start), next: compilePythonRegex(pattern), kind };
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
  });
}

/** A line is complete when it ends with `\n` (or `\r`, as Scalyr counts it). */
function isComplete(m: Buffer | string): boolean {
  if (typeof m === 'string') {
    const c = m.charCodeAt(m.length - 1);
    return c === 10 || c === 13;
  }
  const b = m[m.length - 1];
  return b === 10 || b === 13;
}

function withMessage(src: Event, message: Buffer, end: number): Event {
  const e: Event = { message, end };
  if (src.ts !== undefined) e.ts = src.ts;
  if (src.attrs !== undefined) e.attrs = src.attrs;
  return e;
}

/** The line-grouping operator (see the file header). Throws at creation on invalid groupers. */
export function groupLines(groupers: readonly LineGrouperConfig[], opts: GroupLinesOptions): MonoTypeOperatorFunction<Batch> {
  if (!groupers || groupers.length === 0) return (source) => source;
  const compiled = compileGroupers(groupers);
  const max = opts.maxLineSize;
  if (!(max >= 1)) throw new Error(`groupLines: maxLineSize must be >= 1 (got ${max})`);
  const waitMs = Math.max(0, opts.completionWaitMs);
  const counters = opts.counters;
  const scheduler = opts.scheduler ?? asyncScheduler;
  const keep = opts.keepText === true;

  return (source) =>
    new Observable<Batch>((subscriber) => {
      // The open group.
      const held: Event[] = [];
      let heldBytes = 0;
      let heldText = ''; // decoded first line (to offer it to later groupers on a decline)
      // Stream offset of the group's first byte: the end of the line before it (upstream parsers
      // may have changed the message, so it is never derived from the message size); undefined
      // when the group began with the stream's first line.
      let heldStart: number | undefined;
      let cursor: number | undefined; // offset after the last line consumed
      let active = 0; // index of the grouper that opened it
      let timer: Subscription | null = null;
      let stream: Stream | null = null;
      let lastEnd = -1; // latest batch end received
      let emittedEnd = -1; // latest batch end emitted
      let modified = false; // whether the current batch's events differ from the input

      const cancelTimer = (): void => {
        if (timer) {
          timer.unsubscribe();
          timer = null;
        }
      };

      const send = (batch: Batch): void => {
        if (counters) {
          counters.sentEvents += batch.events.length;
          for (const e of batch.events) counters.sentBytes += messageBytes(e.message);
        }
        emittedEnd = batch.end;
        subscriber.next(batch);
      };

      const emitGroup = (out: Event[]): void => {
        cancelTimer();
        if (held.length === 1) {
          if (keep && heldText !== '') keepText(held[0], heldText);
          out.push(held[0]);
        } else {
          const parts: Buffer[] = new Array(held.length);
          for (let k = 0; k < held.length; k++) {
            const m = held[k].message;
            parts[k] = typeof m === 'string' ? Buffer.from(m) : m;
          }
          out.push(withMessage(held[0], joinBuffers(parts, heldBytes), held[held.length - 1].end));
        }
        held.length = 0;
        heldBytes = 0;
        heldText = '';
      };

      /** Offers a line (no group open) to groupers from index `from`; opens a group or passes it. */
      const startOrPass = (line: Event, bytes: number, text: string | undefined, from: number, out: Event[], start: number | undefined): void => {
        if (bytes < max && isComplete(line.message)) {
          const t = text ?? eventText(line);
          for (let k = from; k < compiled.length; k++) {
            if (compiled[k].start.test(t)) {
              held.push(line);
              heldBytes = bytes;
              heldText = t;
              heldStart = start;
              active = k;
              modified = true;
              return;
            }
          }
          if (keep) keepText(line, t);
        }
        out.push(line);
      };

      /** Processes one line against the current state. */
      const feed = (line: Event, bytes: number, text: string | undefined, out: Event[], start: number | undefined): void => {
        if (held.length === 0) {
          startOrPass(line, bytes, text, 0, out, start);
          return;
        }
        const remaining = max - heldBytes;
        if (bytes >= remaining) {
          // The group reaches the size limit: take what fits, the rest is a new line.
          const buf = typeof line.message === 'string' ? Buffer.from(line.message) : line.message;
          const headEnd = line.end - (bytes - remaining);
          held.push(withMessage(line, buf.subarray(0, remaining), headEnd));
          heldBytes += remaining;
          emitGroup(out);
          if (bytes > remaining) feed(withMessage(line, buf.subarray(remaining), line.end), bytes - remaining, undefined, out, headEnd);
          return;
        }
        if (!isComplete(line.message)) {
          emitGroup(out);
          out.push(line);
          return;
        }
        const t = text ?? eventText(line);
        const g = compiled[active];
        const matches = g.next.test(t);
        switch (g.kind) {
          case CONTINUE_THROUGH:
            if (matches) {
              held.push(line);
              heldBytes += bytes;
            } else if (held.length === 1) {
              // Decline: offer the start line to the following groupers, then this line.
              const first = held[0];
              const firstText = heldText;
              const firstStart = heldStart;
              held.length = 0;
              heldBytes = 0;
              heldText = '';
              startOrPass(first, messageBytes(first.message), firstText, active + 1, out, firstStart);
              feed(line, bytes, t, out, first.end);
            } else {
              emitGroup(out);
              startOrPass(line, bytes, t, 0, out, start);
            }
            return;
          case CONTINUE_PAST:
            held.push(line);
            heldBytes += bytes;
            if (!matches) emitGroup(out);
            return;
          case HALT_BEFORE:
            if (!matches) {
              held.push(line);
              heldBytes += bytes;
            } else {
              emitGroup(out);
              startOrPass(line, bytes, t, 0, out, start);
            }
            return;
          default: // HALT_WITH
            held.push(line);
            heldBytes += bytes;
            if (matches) emitGroup(out);
        }
      };

      const flushHeld = (): void => {
        if (held.length === 0 || !stream) return;
        const out: Event[] = [];
        emitGroup(out);
        send({ stream, events: out, end: Math.max(lastEnd, out[out.length - 1].end) });
      };

      const sub = source.subscribe({
        next(batch) {
          try {
            if (stream && batch.stream !== stream) {
              // A new stream (file incarnation): what the old one held goes out first.
              flushHeld();
              lastEnd = -1;
              emittedEnd = -1;
              cursor = undefined;
            }
            stream = batch.stream;
            const events = batch.events;
            const heldBefore = held.length > 0;
            modified = heldBefore;
            const out: Event[] = [];
            for (let k = 0; k < events.length; k++) {
              const ev = events[k];
              const bytes = messageBytes(ev.message);
              if (counters) {
                counters.receivedEvents++;
                counters.receivedBytes += bytes;
              }
              feed(ev, bytes, undefined, out, cursor);
              cursor = ev.end;
            }
            if (cursor === undefined || batch.end > cursor) cursor = batch.end;
            lastEnd = Math.max(lastEnd, batch.end);
            if (held.length > 0) {
              // More bytes already wait in the file (reading paused for credits or a page): the
              // continuation is coming, so the wait starts only once a batch ends at the file's end.
              if (batch.more) cancelTimer();
              else if (!timer) timer = scheduler.schedule(flushHeld, waitMs);
              // Nothing known before a group that began with the stream's first line: nothing to ack.
              const floor = heldStart ?? (out.length > 0 ? out[out.length - 1].end : undefined);
              if (floor === undefined) return;
              const end = Math.min(floor, batch.end);
              if (out.length > 0 || end > emittedEnd) send({ stream: batch.stream, events: out, end: Math.max(end, emittedEnd) });
              return;
            }
            if (!modified && out.length === events.length) send(batch);
            else send({ stream: batch.stream, events: out, end: batch.end });
          } catch (err) {
            cancelTimer();
            subscriber.error(err);
          }
        },
        error(err) {
          cancelTimer();
          subscriber.error(err);
        },
        complete() {
          flushHeld();
          subscriber.complete();
        },
      });

      return () => {
        cancelTimer();
        sub.unsubscribe();
      };
    });
}

/** `{start, continueThrough|continuePast|haltBefore|haltWith}`. */
export const LINE_GROUPER_FIELDS = [
  s({ name: 'start', type: 'regex', required: true, description: 'A line matching this regular expression starts a group (the first grouper whose `start` matches wins).' }),
  s({ name: 'continueThrough', type: 'regex', description: 'Every following line matching this pattern joins the group.' }),
  s({ name: 'continuePast', type: 'regex', description: 'Every following line matching this pattern joins the group, plus the one line after them.' }),
  s({ name: 'haltBefore', type: 'regex', description: 'Following lines join the group until one matches this pattern; that line starts afresh.' }),
  s({ name: 'haltWith', type: 'regex', description: 'Following lines join the group up to and including the first line matching this pattern.' }),
];

/** The line grouper stage of a `logs[]` entry (present when it has `lineGroupers`). */
export const groupLinesComponent = defineComponent({
  kind: 'operator',
  type: 'groupLines',
  home: 'entry',
  countsItself: true,
  doc: 'Joins consecutive lines (stack traces, continued lines) into one event by the entry\'s `lineGroupers`; a group is sent when it ends, when it reaches `max_line_size`, or `line_completion_wait_time` after its last line.',
  options: [
    s({ name: 'lineGroupers', type: 'array', default: [], fields: LINE_GROUPER_FIELDS, description: 'Rules that join consecutive lines (stack traces, continued lines) into one event. Each needs `start` and exactly one of `continueThrough`, `continuePast`, `haltBefore`, `haltWith`.' }),
    MAX_LINE_SIZE,
    LINE_COMPLETION_WAIT_TIME,
  ],
  example: { lineGroupers: [{ start: '^\\S', continueThrough: '^\\s' }] },
  create: (c, ctx) =>
    groupLines(c.lineGroupers as LineGrouperConfig[], {
      maxLineSize: Number(ctx.agent.max_line_size),
      completionWaitMs: Number(ctx.agent.line_completion_wait_time) * 1000,
      counters: ctx.counters,
      keepText: ctx.services?.keepText === true,
      scheduler: ctx.services?.scheduler as SchedulerLike | undefined,
    }),
});
