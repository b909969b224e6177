/**
 * parseJson: Scalyr's `parse_format: json` (behavior §2.5) as an rxjs operator on batches.
 *
 * Promises, per line event:
 * - The line (decoded as UTF-8 with replacement) is parsed as a JSON object.
 * - The `messageField` value becomes the message (a non-string value is JSON-encoded);
 *   `timestampField` (RFC 3339, any precision, `Z` or an offset) becomes `ts` (bigint ns since
 *   the epoch) and, unless `includeRawTimestamp === false`, the attribute `raw_timestamp`;
 *   every other key becomes an event attribute (objects/arrays JSON-encoded, scalars as is).
 * - A message longer than `maxLineSize` bytes is split into `maxLineSize`-byte fragments
 *   (Buffers) sharing `ts` and attributes; their `end`s are increasing and the last one is the
 *   line's `end`.
 * - Not JSON, not an object, or no message field → the raw line passes unchanged (nothing is
 *   lost; one longer than `maxLineSize` is cut into `maxLineSize` fragments); counted in
 *   `stats.unparsed`.
 * - The lines it gets may be longer than `maxLineSize`: for a json entry the file source cuts
 *   lines at `internal_parse_max_line_size` (the component's `readLineLimit`), as Scalyr does.
 * - `mergePartial` (Scalyr `merge_json_parsed_lines`): see {@link mergingParser}; the only case
 *   where anything is held.
 * Otherwise nothing is held; batch `end`s are unchanged; errors and completion pass through.
 */
import { Observable, asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { Batch, ComponentCounters, Event, Stream } from '../lib/types.js';
import { defineComponent } from '../lib/component.js';
import { scalyrOption as s } from '../lib/config/schema.js';
import { LINE_COMPLETION_WAIT_TIME, MAX_LINE_SIZE } from '../lib/config/sharedOptions.js';
import { INCLUDE_RAW_TIMESTAMP_FIELD, INTERNAL_PARSE_MAX_LINE_SIZE, MERGE_JSON_PARSED_LINES, internalParseLineLimit } from './parseOptions.js';

export interface ParseJsonOptions {
  /** Field holding the message (Scalyr `json_message_field`, default `log`). */
  messageField: string;
  /** Field holding the RFC 3339 timestamp (Scalyr `json_timestamp_field`, default `time`). */
  timestampField: string;
  /** Keep the timestamp text as attribute `raw_timestamp` (Scalyr `include_raw_timestamp_field`, default true). */
  includeRawTimestamp?: boolean;
  /** Largest message fragment in bytes (`max_line_size`). */
  maxLineSize: number;
  counters?: ComponentCounters;
  stats?: { unparsed: number };
  /** Join messages that do not end with a newline with the following lines' (Scalyr `merge_json_parsed_lines`). */
  mergePartial?: boolean;
  /** Milliseconds a join waits for its last piece (Scalyr: `line_completion_wait_time` × 60). */
  mergeWaitMs?: number;
  /** A join holding this many bytes is sent as it is (`internal_parse_max_line_size`). */
  mergeMaxBytes?: number;
  /** Scheduler for the join timer (tests pass a TestScheduler). */
  scheduler?: SchedulerLike;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

/**
 * Parses an RFC 3339 timestamp to nanoseconds since the epoch (bigint), keeping every digit of
 * the fraction up to 9. Returns undefined for anything else (including impossible dates).
 */
export function parseRfc3339Nanos(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(ms);
  if (check.getUTCDate() !== d || check.getUTCMonth() !== mo - 1) return undefined;
  let offsetMin = 0;
  if (!m[8]) {
    offsetMin = Number(m[10]) * 60 + Number(m[11]);
    if (m[9] === '-') offsetMin = -offsetMin;
  }
  const frac = (m[7] ?? '').slice(0, 9).padEnd(9, '0');
  return (BigInt(ms) - BigInt(offsetMin) * 60000n) * 1000000n + BigInt(frac);
}

/** Splits `text` into events of at most `max` bytes; ends increase and the last is `end`. */
export function fragmentMessage(text: string | Buffer, max: number, end: number, ts: bigint | undefined, attrs: Record<string, unknown> | undefined): Event[] {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  const n = Math.ceil(buf.length / max);
  const out: Event[] = [];
  for (let k = 0; k < n; k++) {
    const e: Event = { message: buf.subarray(k * max, Math.min(buf.length, (k + 1) * max)), end: end - (n - 1 - k) };
    if (ts !== undefined) e.ts = ts;
    if (attrs !== undefined) e.attrs = attrs;
    out.push(e);
  }
  return out;
}

function attrValue(v: unknown): unknown {
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : v;
}

/** What a line parsed to: the message and the fields that go with it. */
interface Parsed {
  message: string;
  ts?: bigint;
  attrs?: Record<string, unknown>;
}

const bytesOf = (m: Buffer | string): number => (typeof m === 'string' ? Buffer.byteLength(m) : m.length);

/** The json parser operator (see the file header). */
export function parseJson(opts: ParseJsonOptions): MonoTypeOperatorFunction<Batch> {
  const { messageField, timestampField, counters, stats } = opts;
  const includeRaw = opts.includeRawTimestamp !== false;
  const max = opts.maxLineSize;
  if (!(max >= 1)) throw new Error(`parseJson: maxLineSize must be >= 1 (got ${max})`);

  /** The parsed line, or undefined when it is not a JSON object with the message field. */
  const parseLine = (ev: Event): Parsed | undefined => {
    const raw = ev.message;
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || !Object.prototype.hasOwnProperty.call(obj, messageField)) return undefined;
    const record = obj as Record<string, unknown>;
    const mv = record[messageField];
    const message = typeof mv === 'string' ? mv : JSON.stringify(mv);
    let attrs: Record<string, unknown> | undefined = ev.attrs ? { ...ev.attrs } : undefined;
    let ts: bigint | undefined;
    for (const key of Object.keys(record)) {
      if (key === messageField) continue;
      const v = record[key];
      if (key === timestampField) {
        if (typeof v === 'string') {
          ts = parseRfc3339Nanos(v);
          if (includeRaw) (attrs ??= {}).raw_timestamp = v;
        } else (attrs ??= {})[key] = attrValue(v);
        continue;
      }
      (attrs ??= {})[key] = attrValue(v);
    }
    if (ts === undefined && ev.ts !== undefined) ts = ev.ts;
    const p: Parsed = { message };
    if (ts !== undefined) p.ts = ts;
    if (attrs !== undefined) p.attrs = attrs;
    return p;
  };

  const emitParsed = (p: Parsed, end: number, out: Event[]): void => {
    if (Buffer.byteLength(p.message) <= max) {
      const e: Event = { message: p.message, end };
      if (p.ts !== undefined) e.ts = p.ts;
      if (p.attrs !== undefined) e.attrs = p.attrs;
      out.push(e);
    } else {
      for (const f of fragmentMessage(p.message, max, end, p.ts, p.attrs)) out.push(f);
    }
  };

  // The reader hands json entries lines up to `internal_parse_max_line_size`; what goes on
  // unparsed is still cut to `maxLineSize`, as Scalyr does.
  const emitRaw = (ev: Event, out: Event[]): void => {
    if (stats) stats.unparsed++;
    if (bytesOf(ev.message) <= max) out.push(ev);
    else for (const f of fragmentMessage(ev.message, max, ev.end, ev.ts, ev.attrs)) out.push(f);
  };

  const countIn = (ev: Event): number => {
    const bytes = bytesOf(ev.message);
    if (counters) {
      counters.receivedEvents++;
      counters.receivedBytes += bytes;
    }
    return bytes;
  };
  const countOut = (out: Event[]): void => {
    if (!counters) return;
    counters.sentEvents += out.length;
    for (const e of out) counters.sentBytes += bytesOf(e.message);
  };

  if (opts.mergePartial) return mergingParser(opts, { parseLine, emitParsed, emitRaw, countIn, countOut });

  return (source) =>
    new Observable<Batch>((subscriber) =>
      source.subscribe({
        next(batch) {
          const out: Event[] = [];
          try {
            for (const ev of batch.events) {
              countIn(ev);
              const p = parseLine(ev);
              if (p) emitParsed(p, ev.end, out);
              else emitRaw(ev, out);
            }
          } catch (err) {
            subscriber.error(err);
            return;
          }
          countOut(out);
          // `more` passes on: a later stage waiting for a continuation must not time out while the rest is in the file.
          subscriber.next(batch.more ? { stream: batch.stream, events: out, end: batch.end, more: true } : { stream: batch.stream, events: out, end: batch.end });
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
}

interface ParserSteps {
  parseLine(ev: Event): Parsed | undefined;
  emitParsed(p: Parsed, end: number, out: Event[]): void;
  emitRaw(ev: Event, out: Event[]): void;
  countIn(ev: Event): number;
  countOut(out: Event[]): void;
}

/** A message being joined (`merge_json_parsed_lines`). */
interface Merge {
  pieces: string[];
  bytes: number;
  /** Offset of the first byte of its first line. */
  start: number;
  lastEnd: number;
  ts?: bigint;
  attrs?: Record<string, unknown>;
  timer: Subscription | null;
}

/**
 * `merge_json_parsed_lines` (Scalyr): a parsed message that does not end with a newline (Docker
 * splits long lines at 16 KB) is joined with the messages of the following lines until one ends
 * with a newline; the event keeps the first line's time and fields and the last line's `end`.
 * The batch `end` stops before the first byte of a message still being joined. A line that is
 * not JSON (or has no message field) ends the join, which is sent as it is, and then passes on
 * as usual. A join is also sent as it is once it holds `mergeMaxBytes`, or `mergeWaitMs` after
 * a batch first left it waiting at the end of the file (Scalyr waits `line_completion_wait_time`
 * × 60; a batch marked `more` starts no wait: the rest is in the file). On complete a join is
 * sent; on error it is dropped (unacknowledged, so it is read again); unsubscribing cancels the
 * timer.
 */
function mergingParser(opts: ParseJsonOptions, steps: ParserSteps): MonoTypeOperatorFunction<Batch> {
  const { parseLine, emitParsed, emitRaw, countIn, countOut } = steps;
  const waitMs = Math.max(0, opts.mergeWaitMs ?? 0);
  const cap = Math.max(opts.maxLineSize, opts.mergeMaxBytes ?? Infinity);
  const scheduler = opts.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<Batch>((subscriber) => {
      let merge: Merge | undefined;
      let stream: Stream | null = null;
      let cursor: number | undefined;
      let emittedEnd = -1;
      let lastEnd = -1;

      const cancel = () => {
        merge?.timer?.unsubscribe();
        if (merge) merge.timer = null;
      };
      const finish = (out: Event[]) => {
        if (!merge) return;
        cancel();
        const m = merge;
        merge = undefined;
        const p: Parsed = { message: m.pieces.join('') };
        if (m.ts !== undefined) p.ts = m.ts;
        if (m.attrs !== undefined) p.attrs = m.attrs;
        emitParsed(p, m.lastEnd, out);
      };
      const send = (events: Event[], end: number, more?: boolean) => {
        if (!stream) return;
        const e = Math.max(emittedEnd, end);
        if (events.length === 0 && e <= emittedEnd && !more) return;
        emittedEnd = e;
        countOut(events);
        subscriber.next(more ? { stream, events, end: e, more: true } : { stream, events, end: e });
      };
      const flush = () => {
        const out: Event[] = [];
        finish(out);
        send(out, lastEnd);
      };

      const sub = source.subscribe({
        next(batch) {
          try {
            if (stream && batch.stream !== stream) {
              flush();
              cursor = undefined;
              emittedEnd = -1;
              lastEnd = -1;
            }
            stream = batch.stream;
            const out: Event[] = [];
            for (const ev of batch.events) {
              const bytes = countIn(ev);
              const start = cursor ?? ev.end - bytes;
              if (emittedEnd < 0) emittedEnd = start;
              cursor = ev.end;
              const p = parseLine(ev);
              if (merge && p) {
                merge.pieces.push(p.message);
                merge.bytes += Buffer.byteLength(p.message);
                merge.lastEnd = ev.end;
                if (p.message.endsWith('\n') || merge.bytes >= cap) finish(out);
                continue;
              }
              finish(out); // a line that is not JSON ends the join
              if (!p) emitRaw(ev, out);
              else if (p.message.endsWith('\n')) emitParsed(p, ev.end, out);
              else {
                merge = { pieces: [p.message], bytes: Buffer.byteLength(p.message), start, lastEnd: ev.end, timer: null };
                if (p.ts !== undefined) merge.ts = p.ts;
                if (p.attrs !== undefined) merge.attrs = p.attrs;
                if (merge.bytes >= cap) finish(out);
              }
            }
            if (cursor === undefined || batch.end > cursor) cursor = batch.end;
            lastEnd = Math.max(lastEnd, batch.end);
            if (merge) {
              if (batch.more) cancel();
              else if (!merge.timer) {
                const held = merge;
                held.timer = scheduler.schedule(() => {
                  held.timer = null;
                  if (merge !== held) return;
                  flush();
                }, waitMs);
              }
            }
            send(out, merge ? Math.min(batch.end, merge.start) : batch.end, batch.more);
          } catch (err) {
            cancel();
            merge = undefined;
            subscriber.error(err);
          }
        },
        error(err) {
          cancel();
          merge = undefined;
          subscriber.error(err);
        },
        complete() {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        cancel();
        sub.unsubscribe();
      };
    });
}

/** `parse_format: json` (or `parse_lines_as_json: true`). */
export const jsonParser = defineComponent({
  kind: 'parser',
  type: 'json',
  countsItself: true,
  doc: 'Each line is a JSON object (Docker\'s json-file format, for one): the message comes from `json_message_field`, the event time from `json_timestamp_field`, the other fields become event attributes. A line that is not JSON is sent as it is (counted as unparsed).',
  options: [
    s({ name: 'json_message_field', type: 'string', default: 'log', description: 'With `parse_format: json`, the field holding the message.' }),
    s({ name: 'json_timestamp_field', type: 'string', default: 'time', description: 'With `parse_format: json`, the field holding the event time.' }),
    MAX_LINE_SIZE,
    LINE_COMPLETION_WAIT_TIME,
    INTERNAL_PARSE_MAX_LINE_SIZE,
    INCLUDE_RAW_TIMESTAMP_FIELD,
    MERGE_JSON_PARSED_LINES,
  ],
  example: { parse_format: 'json' },
  readLineLimit: (_c, agent) => internalParseLineLimit(agent),
  create: (c, ctx) =>
    parseJson({
      messageField: String(c.json_message_field),
      timestampField: String(c.json_timestamp_field),
      includeRawTimestamp: ctx.agent.include_raw_timestamp_field !== false,
      maxLineSize: Number(ctx.agent.max_line_size),
      mergePartial: ctx.agent.merge_json_parsed_lines === true,
      mergeWaitMs: Number(ctx.agent.line_completion_wait_time) * 60 * 1000,
      mergeMaxBytes: internalParseLineLimit(ctx.agent),
      counters: ctx.counters,
      scheduler: ctx.services?.scheduler as SchedulerLike | undefined,
    }),
});
