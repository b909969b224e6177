/**
 * Top-level options that more than one component reads. Each reader lists the same value in its
 * declaration (the schema refuses two different declarations of one name).
 */
import { scalyrOption as s, sluiceOption as own } from './schema.js';
import type { OptionDecl } from '../component.js';

export const MAX_LINE_SIZE: OptionDecl = s({
  name: 'max_line_size',
  type: 'int',
  default: 49900,
  min: 1,
  scope: 'global',
  description: 'Longest line in bytes; longer lines are split into several events (nothing is dropped).',
});

export const LINE_COMPLETION_WAIT_TIME: OptionDecl = s({
  name: 'line_completion_wait_time',
  type: 'float',
  default: 5,
  min: 0,
  scope: 'global',
  description: 'Seconds a line without its newline (or a line group waiting for its continuation) waits before it is sent as it is.',
});

export const SERVER_ATTRIBUTES: OptionDecl = s({
  name: 'server_attributes',
  type: 'stringMap',
  default: {},
  repeatable: true,
  env: false,
  scope: 'global',
  live: true,
  defaultText: '`{serverHost: <hostname>}`',
  description: 'Fields sent with every upload (`sessionInfo`). `serverHost` defaults to the host name. Fragments merge key by key. Applied to the next request without a restart.',
});

/** The read budget: the agent sizes its credits by it, the addEvents sink its requests. */
export const MAX_PENDING_BYTES: OptionDecl = own({
  name: 'max_pending_bytes',
  type: 'int',
  scope: 'global', default: 6 * 1024 * 1024, min: 65536, description: 'Byte budget between reading and acknowledgement: sources stop reading while this many bytes are read but not yet delivered. Bounds memory; a request to addEvents is also kept to a third of it, so three fit in the budget together. A larger budget buys some throughput on several cores for memory (docs/PERFORMANCE.md).' });

/**
 * The route of a part: the names of the sinks (top-level `sinks`) it sends to. Read by the log,
 * monitor, APM and OTLP receiver parts; a change restarts only that part.
 */
export const SINKS_ROUTE: OptionDecl = own({
  name: 'sinks',
  type: 'stringArray',
  env: false,
  defaultText: 'every sink',
  description: 'Names of the sinks (top-level `sinks`) this sends to, e.g. `["otel"]`. Default: every sink. Its file offsets (or cursors) are checkpointed only once every sink named here acknowledged them.',
});

/** The top-level `sinks` object: named destinations, each `{type, ...its options}`. */
export const NAMED_SINKS: OptionDecl = own({
  name: 'sinks',
  type: 'any',
  live: true,
  env: false,
  defaultText: 'one sink: `addEvents` with an `api_key`, else `sink`, else the embedded default',
  description: 'Named destinations: `{ name: { type: "addEvents" | "otlp" | "embedded" | a plugin\'s, ...its options } }`. A `logs` entry, monitor, `apm` or `otlp_receiver` picks some with its own `sinks: ["name"]` (default: all). An `addEvents` sink reads the top-level upload options (`api_key`, `scalyr_server`, `compression_type`…) unless its object sets them. Each sink is its own part: changing one restarts only it. Without `sinks`, the agent has one sink, `default`, chosen as before.',
});
