/**
 * Example parser plugin in the component shape: `key=value` lines (logfmt-like) → event
 * attributes.
 *
 * Load it with `plugins: ["./examples/parsers/keyvalue.mjs"]`, then use `parse_format: "keyvalue"`
 * on a log entry. A parser is an operator on Batches selected by `parse_format`. Values may be
 * double-quoted (`msg="a b"`, with `\"` escapes). The message is kept as is; a line without any
 * pair is passed through unchanged and counted in `op.counters.unparsed` (nothing is dropped).
 *
 * It exports `components`: one component value that declares its option (`prefix`), so sluice
 * validates `prefix` in the log entry, documents it, fills its default, and restarts the entry
 * when it changes. The received/sent counters are kept at the parser's boundary by sluice (it
 * does not set `countsItself`).
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
  // Through the component the declared default ('') is filled in; called directly, it may be absent.
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

/**
 * The component value (`defineComponent` from sluice only adds types; a plain object is the same).
 * A parser's own options live in the log entry (`home: 'entry'`, the default for parsers).
 */
export const components = [
  {
    kind: 'parser',
    type: 'keyvalue',
    doc: 'Parses `key=value` pairs (values may be double-quoted) into event attributes; the message is kept.',
    options: [
      {
        name: 'prefix',
        type: 'string',
        origin: 'sluice',
        default: '',
        description: 'Put the parsed keys under this prefix (`kv_level`…).',
      },
    ],
    example: { parse_format: 'keyvalue', prefix: 'kv_' },
    create: keyvalue,
  },
];
