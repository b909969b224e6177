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
 * Nothing is held; batch `end`s are unchanged; errors and completion pass through.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { Batch, ComponentCounters, Event } from '../lib/types.js';
import { defineComponent } from '../lib/component.js';
import { scalyrOption as s } from '../lib/config/schema.js';
import { MAX_LINE_SIZE } from '../lib/config/sharedOptions.js';
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

/** The json parser operator (see the file header). */
export function parseJson(opts: ParseJsonOptions): MonoTypeOperatorFunction<Batch> {
  const { messageField, timestampField, counters, stats } = opts;
  const includeRaw = opts.includeRawTimestamp !== false;
  const max = opts.maxLineSize;
  if (!(max >= 1)) throw new Error(`parseJson: maxLineSize must be >= 1 (got ${max})`);

  const parseOne = (ev: Event, out: Event[]): void => {
    const raw = ev.message;
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      obj = undefined;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || !Object.prototype.hasOwnProperty.call(obj, messageField)) {
      if (stats) stats.unparsed++;
      // The reader hands json entries lines up to `internal_parse_max_line_size`; what goes on
      // unparsed is still cut to `maxLineSize`, as Scalyr does.
      if ((typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length) <= max) out.push(ev);
      else for (const f of fragmentMessage(raw, max, ev.end, ev.ts, ev.attrs)) out.push(f);
      return;
    }
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
    if (Buffer.byteLength(message) <= max) {
      const e: Event = { message, end: ev.end };
      if (ts !== undefined) e.ts = ts;
      if (attrs !== undefined) e.attrs = attrs;
      out.push(e);
    } else {
      for (const f of fragmentMessage(message, max, ev.end, ts, attrs)) out.push(f);
    }
  };

  return (source) =>
    new Observable<Batch>((subscriber) =>
      source.subscribe({
        next(batch) {
          const out: Event[] = [];
          try {
            for (const ev of batch.events) {
              if (counters) {
                counters.receivedEvents++;
                counters.receivedBytes += typeof ev.message === 'string' ? Buffer.byteLength(ev.message) : ev.message.length;
              }
              parseOne(ev, out);
            }
          } catch (err) {
            subscriber.error(err);
            return;
          }
          if (counters) {
            counters.sentEvents += out.length;
            for (const e of out) counters.sentBytes += typeof e.message === 'string' ? Buffer.byteLength(e.message) : e.message.length;
          }
          subscriber.next({ stream: batch.stream, events: out, end: batch.end });
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      }),
    );
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
      counters: ctx.counters,
    }),
});
