/**
 * The options of the OTLP/HTTP receiver (`otlp_receiver`, home `section:otlp_receiver`): the
 * fields of the top-level `otlp_receiver: {...}` object, declared once here (the component lists
 * them, `receiverOptions` reads them with their declared defaults). Light: no OTLP code.
 */
import type { OptionDecl } from '../../lib/component.js';
import { readDeclared } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import { redactComponent } from '../../operators/redact.js';
import { sampleComponent } from '../../operators/sample.js';

const MiB = 1024 * 1024;

/** The logs entry's `redaction_rules` / `sampling_rules` declarations (the same objects). */
function ruleDecl(c: { options?: readonly OptionDecl[] }, name: string): OptionDecl {
  const d = c.options?.find((o) => o.name === name);
  if (!d) throw new Error(`otlp_receiver: the ${name} declaration is missing`);
  return d;
}

export const OTLP_RECEIVER_OPTIONS: OptionDecl[] = [
  own({ name: 'endpoint', type: 'string', default: '127.0.0.1:4318', description: 'Where the OTLP/HTTP listener binds, `host:port` (`:port` or a bare port mean loopback; `[::1]:4318` for IPv6). It takes `POST /v1/logs`, `/v1/metrics` and `/v1/traces`. A host other than loopback is used only when written here (`0.0.0.0:4318` listens on every interface, without authentication).' }),
  own({ name: 'max_request_bytes', type: 'int', default: 4 * MiB, min: 1024, description: 'Largest request body, in bytes, both as received and after `Content-Encoding: gzip`/`deflate` is undone; a larger one is answered 413 without being read further.' }),
  own({ name: 'max_pending_bytes', type: 'int', default: 16 * MiB, min: 1024, description: 'Budget of accepted request bytes (decompressed) the sinks have not acknowledged yet. A request that would pass it is answered 429 with `Retry-After`, and the sender retries later; the budget frees as the sinks deliver. One request is always accepted when nothing is pending.' }),
  own({ name: 'retry_after_secs', type: 'int', default: 1, min: 0, description: 'The `Retry-After` seconds of a 429/503 answer.' }),
  own({ name: 'max_attribute_depth', type: 'int', default: 16, min: 1, max: 1000, description: 'Deepest nesting of maps and arrays accepted in an attribute value or log body; a deeper one makes the request a 400 whose message names where.' }),
  own({ name: 'attributes', type: 'stringMap', default: {}, env: false, description: 'Fields attached to every event the receiver emits (logs, metrics and spans), as a logs entry\'s `attributes`.' }),
  own({ name: 'max_connections', type: 'int', default: 256, min: 1, description: 'Most client connections at once; more are refused at accept (counted `connection_limit`).' }),
  own({ name: 'header_timeout_secs', type: 'float', default: 10, min: 0.05, description: 'Seconds a client has to send a request\'s headers (from the connection or the previous request); a slower one is answered 408 and closed (counted `timeout`).' }),
  own({ name: 'request_timeout_secs', type: 'float', default: 30, min: 0.05, description: 'Seconds a client has to send a whole request, body included; a slower one is answered 408 and closed (counted `timeout`).' }),
  ruleDecl(sampleComponent, 'sampling_rules'),
  ruleDecl(redactComponent, 'redaction_rules'),
];

export interface ReceiverOptions {
  host: string;
  port: number;
  maxRequestBytes: number;
  maxPendingBytes: number;
  retryAfterSecs: number;
  maxDepth: number;
  attributes: Record<string, string>;
  maxConnections: number;
  headerTimeoutMs: number;
  requestTimeoutMs: number;
}

/** Parses `host:port`, `:port`, `port`, `[v6]:port` or `http://host:port` (host defaults to loopback). */
export function parseEndpoint(value: unknown): { host: string; port: number } {
  if (typeof value !== 'string') throw new Error(`otlp_receiver.endpoint: expected "HOST:PORT", got ${JSON.stringify(value)}`);
  const s = value.trim().replace(/^https?:\/\//, '').replace(/\/$/, '');
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s/]*)):)?(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`otlp_receiver.endpoint: expected "HOST:PORT" (e.g. "127.0.0.1:4318"), got ${JSON.stringify(value)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function int(v: unknown, name: string): number {
  const d = OTLP_RECEIVER_OPTIONS.find((o) => o.name === name)!;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n === 'number' && Number.isFinite(n) && n >= (d.min ?? -Infinity) && n <= (d.max ?? Infinity)) return n;
  throw new Error(`otlp_receiver.${name}: expected a number${d.min !== undefined ? ` of at least ${d.min}` : ''}${d.max !== undefined ? ` and at most ${d.max}` : ''}, got ${JSON.stringify(v)}`);
}

/** The receiver's options from the `otlp_receiver` object; throws a clear error on a bad value. */
export function receiverOptions(own: Readonly<Record<string, unknown>> | undefined): ReceiverOptions {
  const c = readDeclared(OTLP_RECEIVER_OPTIONS, own);
  const attributes: Record<string, string> = {};
  const a = c.attributes;
  if (a !== undefined && (a === null || typeof a !== 'object' || Array.isArray(a))) throw new Error('otlp_receiver.attributes: expected an object of strings');
  for (const [k, v] of Object.entries((a ?? {}) as Record<string, unknown>)) attributes[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return {
    ...parseEndpoint(c.endpoint),
    maxRequestBytes: int(c.max_request_bytes, 'max_request_bytes'),
    maxPendingBytes: int(c.max_pending_bytes, 'max_pending_bytes'),
    retryAfterSecs: Math.round(int(c.retry_after_secs, 'retry_after_secs')),
    maxDepth: int(c.max_attribute_depth, 'max_attribute_depth'),
    attributes,
    maxConnections: int(c.max_connections, 'max_connections'),
    headerTimeoutMs: int(c.header_timeout_secs, 'header_timeout_secs') * 1000,
    requestTimeoutMs: int(c.request_timeout_secs, 'request_timeout_secs') * 1000,
  };
}
