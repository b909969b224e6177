/**
 * Example parser plugin: `key=value` lines (logfmt-like) → event attributes.
 *
 * Load it with `plugins: ["./examples/parsers/keyvalue.mjs"]`, then use `parse_format: "keyvalue"`
 * on a log entry. A parser is an operator on Batches selected by `parse_format`. Values may be
 * double-quoted (`msg="a b"`, with `\"` escapes). The message is kept as is; a line without any
 * pair is passed through unchanged and counted in `counters.unparsed` (nothing is dropped).
 * Option `prefix`: put the parsed keys under this prefix (`kv_level`…).
 */
import { map } from 'rxjs';

const PAIR = /([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)/g;

export function parseKeyValues(text) {
  const out = {};
  let found = false;
  for (const m of text.matchAll(PAIR)) {
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    out[m[1]] = v;
    found = true;
  }
  return found ? out : undefined;
}

export function keyvalue(config = {}) {
  const prefix = typeof config.prefix === 'string' ? config.prefix : '';
  const counters = { parsed: 0, unparsed: 0 };
  const op = map((batch) => ({
    ...batch,
    events: batch.events.map((e) => {
      const text = typeof e.message === 'string' ? e.message : e.message.toString('utf8');
      const kv = parseKeyValues(text);
      if (!kv) {
        counters.unparsed++;
        return e;
      }
      counters.parsed++;
      const attrs = { ...(e.attrs ?? {}) };
      for (const [k, v] of Object.entries(kv)) attrs[prefix + k] = v;
      return { ...e, attrs };
    }),
  }));
  op.counters = counters;
  return op;
}

/** Named-table form: the loader registers every entry of `parsers` under its key. */
export const parsers = { keyvalue };
