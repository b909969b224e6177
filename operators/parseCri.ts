/**
 * parseCri: Scalyr's `parse_format: cri` (behavior §2.5) — Kubernetes CRI log lines
 * `<rfc3339> <stdout|stderr> <P|F>[:tags] <content>` — as an rxjs operator on batches.
 *
 * Promises:
 * - An `F` line ends a message: its content (without the file line's newline) is appended to
 *   the `P` pieces buffered for the same stream (`stdout`/`stderr` separately) and the message
 *   is emitted with a trailing `\n` (like every line sluice reads), `ts` from the first piece
 *   (bigint ns), attributes `stream` and, unless `includeRawTimestamp === false`, `raw_timestamp`.
 * - `P` pieces are buffered until the `F`, until the joined content reaches `maxLineSize` bytes
 *   (emitted at once, without newline; anything longer is cut into `maxLineSize` fragments),
 *   or until `completionWaitMs × 60` after the first piece (Scalyr waits
 *   `line_completion_wait_time × 60`; timer on `scheduler`); a timed-out join is emitted as is.
 * - Batch invariant: events go out in `end` order, and only once every byte before their `end`
 *   is in an event already emitted or going out with them; so a complete line of one stream
 *   waits while the other stream has pieces held before it (usually milliseconds). The batch
 *   `end` stops before the first byte still held; no event's `end` passes its batch's `end`.
 * - Its input lines may be longer than `maxLineSize`: for a cri entry the file source cuts lines
 *   at `internal_parse_max_line_size` (the component's `readLineLimit`), as Scalyr does; what it
 *   emits is cut to `maxLineSize`.
 * - Unparsable lines are dropped and counted (`counters.dropped.parse_error`); their bytes stay
 *   consumed. On complete held pieces are flushed; on error they are dropped (unacknowledged);
 *   unsubscribing cancels the timers.
 */
import { Observable, asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Batch, ComponentCounters, Event, Stream } from '../lib/types.js';
import { countDrop } from '../lib/counters.js';
import { fragmentMessage, parseRfc3339Nanos } from './parseJson.js';
import { defineComponent } from '../lib/component.js';
import { LINE_COMPLETION_WAIT_TIME, MAX_LINE_SIZE } from '../lib/config/sharedOptions.js';
import { INCLUDE_RAW_TIMESTAMP_FIELD, INTERNAL_PARSE_MAX_LINE_SIZE, internalParseLineLimit } from './parseOptions.js';

export interface ParseCriOptions {
  /** Largest joined message in bytes (`max_line_size`). */
  maxLineSize: number;
  /** `line_completion_wait_time` in ms; partial (`P`) pieces wait 60 times this. */
  completionWaitMs: number;
  includeRawTimestamp?: boolean;
  counters?: ComponentCounters;
  scheduler?: SchedulerLike;
}

/** `<time> <stream> <tag>[:more] <content>`; content may be empty. */
const CRI = /^(\S+) (\S+) ([^ \r\n]+)(?: ([^]*?))?\n?$/;

interface Join {
  pieces: string[];
  bytes: number;
  start: number;
  lastEnd: number;
  ts?: bigint;
  rawTs: string;
  timer: Subscription | null;
}

/** The CRI parser operator (see the file header). */
export function parseCri(opts: ParseCriOptions): MonoTypeOperatorFunction<Batch> {
  const max = opts.maxLineSize;
  if (!(max >= 1)) throw new Error(`parseCri: maxLineSize must be >= 1 (got ${max})`);
  const waitMs = Math.max(0, opts.completionWaitMs) * 60;
  const includeRaw = opts.includeRawTimestamp !== false;
  const { counters } = opts;
  const scheduler = opts.scheduler ?? asyncScheduler;

  return (source) =>
    new Observable<Batch>((subscriber) => {
      const joins = new Map<string, Join>();
      let stream: Stream | null = null;
      let lastEnd = -1;
      let emittedEnd = -1;
      let cursor: number | undefined; // offset after the last line consumed

      // Completed events not yet emitted, with the offset of their first byte.
      let ready: { ev: Event; start: number }[] = [];

      const heldFloor = (): number => {
        let floor = Infinity;
        for (const j of joins.values()) if (j.start < floor) floor = j.start;
        return floor;
      };

      /**
       * Emits, in `end` order, every completed event whose bytes are all before anything still
       * held (open joins, and completed events waiting behind them); the batch `end` stops at
       * the first byte still held.
       */
      const release = (end: number, more?: boolean): void => {
        if (!stream) return;
        const floor = heldFloor();
        if (ready.length > 1) ready.sort((a, b) => a.ev.end - b.ev.end);
        const suffixMin: number[] = new Array(ready.length + 1);
        suffixMin[ready.length] = floor;
        for (let k = ready.length - 1; k >= 0; k--) suffixMin[k] = Math.min(ready[k].start, suffixMin[k + 1]);
        // The longest prefix (in end order) whose last end is before every byte still held.
        let k = ready.length;
        while (k > 0 && ready[k - 1].ev.end > suffixMin[k]) k--;
        const events = ready.slice(0, k).map((r) => r.ev);
        ready = ready.slice(k);
        const e = Math.max(emittedEnd, Math.min(end, suffixMin[k]));
        if (events.length === 0 && e <= emittedEnd) return;
        if (counters) {
          counters.sentEvents += events.length;
          for (const ev of events) counters.sentBytes += typeof ev.message === 'string' ? Buffer.byteLength(ev.message) : ev.message.length;
        }
        emittedEnd = e;
        // `more` passes on: a later stage waiting for a continuation must not time out while the rest is in the file.
        subscriber.next(more ? { stream, events, end: e, more: true } : { stream, events, end: e });
      };

      const makeEvent = (message: string, end: number, streamName: string, ts: bigint | undefined, rawTs: string): Event => {
        const attrs: Record<string, unknown> = { stream: streamName };
        if (includeRaw) attrs.raw_timestamp = rawTs;
        const e: Event = { message, end, attrs };
        if (ts !== undefined) e.ts = ts;
        return e;
      };

      /** A complete message: one event, or `max`-byte fragments of a longer one. */
      const complete = (message: string, end: number, name: string, ts: bigint | undefined, rawTs: string, start: number): void => {
        if (Buffer.byteLength(message) <= max) ready.push({ ev: makeEvent(message, end, name, ts, rawTs), start });
        else {
          const attrs = makeEvent('', end, name, ts, rawTs).attrs;
          for (const f of fragmentMessage(message, max, end, ts, attrs)) ready.push({ ev: f, start });
        }
      };

      const finish = (name: string, j: Join, tail: string, end: number, newline: boolean): void => {
        if (j.timer) j.timer.unsubscribe();
        joins.delete(name);
        j.pieces.push(tail);
        complete(j.pieces.join('') + (newline ? '\n' : ''), end, name, j.ts, j.rawTs, j.start);
      };

      const flushAll = (): void => {
        for (const [name, j] of [...joins.entries()]) finish(name, j, '', j.lastEnd, false);
        release(lastEnd);
      };

      const onLine = (ev: Event, lineStart: number): void => {
        const raw = ev.message;
        const text = typeof raw === 'string' ? raw : raw.toString('utf8');
        const m = CRI.exec(text);
        const tag = m ? m[3] : '';
        if (!m || (tag[0] !== 'P' && tag[0] !== 'F') || (tag.length > 1 && tag[1] !== ':')) {
          if (counters) countDrop(counters, 'parse_error');
          return;
        }
        const [, rawTs, name] = m;
        const content = m[4] ?? '';
        let j = joins.get(name);
        if (tag[0] === 'F') {
          if (j) finish(name, j, content, ev.end, true);
          else complete(content + '\n', ev.end, name, parseRfc3339Nanos(rawTs), rawTs, lineStart);
          return;
        }
        if (!j) {
          j = { pieces: [], bytes: 0, start: lineStart, lastEnd: ev.end, ts: parseRfc3339Nanos(rawTs), rawTs, timer: null };
          joins.set(name, j);
          const held = j;
          j.timer = scheduler.schedule(() => {
            held.timer = null;
            if (joins.get(name) !== held) return;
            finish(name, held, '', held.lastEnd, false);
            release(lastEnd);
          }, waitMs);
        }
        const bytes = Buffer.byteLength(content);
        j.pieces.push(content);
        j.bytes += bytes;
        j.lastEnd = ev.end;
        if (j.bytes >= max) finish(name, j, '', ev.end, false);
      };

      const sub = source.subscribe({
        next(batch) {
          try {
            if (stream && batch.stream !== stream) {
              flushAll();
              lastEnd = -1;
              emittedEnd = -1;
              cursor = undefined;
            }
            stream = batch.stream;
            for (const ev of batch.events) {
              const bytes = typeof ev.message === 'string' ? Buffer.byteLength(ev.message) : ev.message.length;
              if (counters) {
                counters.receivedEvents++;
                counters.receivedBytes += bytes;
              }
              // The line's first byte: the previous line's end (its own size as a fallback).
              const start = cursor ?? ev.end - bytes;
              if (emittedEnd < 0) emittedEnd = start; // nothing before the stream's first line is ours
              onLine(ev, start);
              cursor = ev.end;
            }
            if (cursor === undefined || batch.end > cursor) cursor = batch.end;
            lastEnd = Math.max(lastEnd, batch.end);
            release(batch.end, batch.more);
          } catch (err) {
            for (const j of joins.values()) j.timer?.unsubscribe();
            joins.clear();
            subscriber.error(err);
          }
        },
        error(err) {
          for (const j of joins.values()) j.timer?.unsubscribe();
          joins.clear();
          subscriber.error(err);
        },
        complete() {
          flushAll();
          subscriber.complete();
        },
      });

      return () => {
        for (const j of joins.values()) j.timer?.unsubscribe();
        joins.clear();
        sub.unsubscribe();
      };
    });
}

/** `parse_format: cri` (container runtime log lines, e.g. /var/log/containers/*.log). */
export const criParser = defineComponent({
  kind: 'parser',
  type: 'cri',
  countsItself: true,
  doc: 'Container runtime (CRI) log lines: `<time> <stream> <P|F> <text>`; partial lines (`P`) are joined until their final piece (`F`) or `line_completion_wait_time`.',
  options: [MAX_LINE_SIZE, LINE_COMPLETION_WAIT_TIME, INTERNAL_PARSE_MAX_LINE_SIZE, INCLUDE_RAW_TIMESTAMP_FIELD],
  example: { parse_format: 'cri' },
  readLineLimit: (_c, agent) => internalParseLineLimit(agent),
  create: (_c, ctx) =>
    parseCri({
      maxLineSize: Number(ctx.agent.max_line_size),
      completionWaitMs: Number(ctx.agent.line_completion_wait_time) * 1000,
      includeRawTimestamp: ctx.agent.include_raw_timestamp_field !== false,
      counters: ctx.counters,
      scheduler: ctx.services?.scheduler as SchedulerLike | undefined,
    }),
});
