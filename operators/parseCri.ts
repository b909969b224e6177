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
 *   (emitted at once, without newline; anything longer is cut into `maxLineSize` fragments), or until `completionWaitMs × 60` after the first piece
 *   (Scalyr waits `line_completion_wait_time × 60`; timer on `scheduler`); a timed-out join is
 *   emitted as it is.
 * - Batch invariant: while pieces are held, the emitted batch `end` stops before the first held
 *   line (an event of the other stream may then have an `end` beyond the batch `end`: it is
 *   delivered and, at worst, sent again after a restart).
 * - Unparsable lines are dropped and counted (`counters.dropped.parse_error`); their bytes stay
 *   consumed. On complete held pieces are flushed; on error they are dropped (unacknowledged);
 *   unsubscribing cancels the timers.
 */
import { Observable, asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Batch, ComponentCounters, Event, Stream } from '../lib/types.js';
import { countDrop } from '../lib/counters.js';
import { fragmentMessage, parseRfc3339Nanos } from './parseJson.js';

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

      const heldFloor = (): number => {
        let floor = Infinity;
        for (const j of joins.values()) if (j.start < floor) floor = j.start;
        return floor;
      };

      const send = (events: Event[], end: number): void => {
        if (!stream) return;
        const e = Math.max(emittedEnd, Math.min(end, heldFloor()));
        if (events.length === 0 && e <= emittedEnd) return;
        if (counters) {
          counters.sentEvents += events.length;
          for (const ev of events) counters.sentBytes += typeof ev.message === 'string' ? Buffer.byteLength(ev.message) : ev.message.length;
        }
        emittedEnd = e;
        subscriber.next({ stream, events, end: e });
      };

      const makeEvent = (message: string, end: number, streamName: string, ts: bigint | undefined, rawTs: string): Event => {
        const attrs: Record<string, unknown> = { stream: streamName };
        if (includeRaw) attrs.raw_timestamp = rawTs;
        const e: Event = { message, end, attrs };
        if (ts !== undefined) e.ts = ts;
        return e;
      };

      const finish = (name: string, j: Join, tail: string, end: number, newline: boolean, out: Event[]): void => {
        if (j.timer) j.timer.unsubscribe();
        joins.delete(name);
        j.pieces.push(tail);
        const message = j.pieces.join('') + (newline ? '\n' : '');
        if (Buffer.byteLength(message) <= max) out.push(makeEvent(message, end, name, j.ts, j.rawTs));
        else {
          const attrs = makeEvent('', end, name, j.ts, j.rawTs).attrs;
          for (const f of fragmentMessage(message, max, end, j.ts, attrs)) out.push(f);
        }
      };

      const flushAll = (): void => {
        const out: Event[] = [];
        for (const [name, j] of [...joins.entries()].sort((a, b) => a[1].lastEnd - b[1].lastEnd)) finish(name, j, '', j.lastEnd, false, out);
        send(out, lastEnd);
      };

      const onLine = (ev: Event, out: Event[]): void => {
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
        const lineStart = ev.end - (typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length);
        let j = joins.get(name);
        if (tag[0] === 'F') {
          if (j) finish(name, j, content, ev.end, true, out);
          else out.push(makeEvent(content + '\n', ev.end, name, parseRfc3339Nanos(rawTs), rawTs));
          return;
        }
        if (!j) {
          j = { pieces: [], bytes: 0, start: lineStart, lastEnd: ev.end, ts: parseRfc3339Nanos(rawTs), rawTs, timer: null };
          joins.set(name, j);
          const held = j;
          j.timer = scheduler.schedule(() => {
            held.timer = null;
            if (joins.get(name) !== held) return;
            const o: Event[] = [];
            finish(name, held, '', held.lastEnd, false, o);
            send(o, lastEnd);
          }, waitMs);
        }
        const bytes = Buffer.byteLength(content);
        j.pieces.push(content);
        j.bytes += bytes;
        j.lastEnd = ev.end;
        if (j.bytes >= max) finish(name, j, '', ev.end, false, out);
      };

      const sub = source.subscribe({
        next(batch) {
          try {
            if (stream && batch.stream !== stream) {
              flushAll();
              lastEnd = -1;
              emittedEnd = -1;
            }
            stream = batch.stream;
            if (emittedEnd < 0 && batch.events.length > 0) {
              // First batch of the stream: nothing before its first line needs acknowledging.
              const first = batch.events[0];
              emittedEnd = first.end - (typeof first.message === 'string' ? Buffer.byteLength(first.message) : first.message.length);
            }
            const out: Event[] = [];
            for (const ev of batch.events) {
              if (counters) {
                counters.receivedEvents++;
                counters.receivedBytes += typeof ev.message === 'string' ? Buffer.byteLength(ev.message) : ev.message.length;
              }
              onLine(ev, out);
            }
            lastEnd = Math.max(lastEnd, batch.end);
            send(out, batch.end);
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
