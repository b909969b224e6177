/**
 * The intake's options: the fields of the `apm` section it reads (`SPAN_INTAKE_OPTIONS`, sluice
 * options), read only by their declared names, with the defaults of the declarations.
 */
import type { ApmConfig } from '../../lib/config/types.js';
import type { OptionDecl } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import { readDeclared } from '../../lib/component.js';

/** Version reported to `CoreAgentVersion` (strict semver: Node's client parses it). */
export const DEFAULT_CORE_AGENT_VERSION = '1.5.1';

const MiB = 1024 * 1024;

/** The `apm` fields the span intake reads. */
export const SPAN_INTAKE_OPTIONS: OptionDecl[] = [
  own({ name: 'socket_path', type: 'string', defaultText: '`<agent_data_path>/core-agent.sock`', description: 'Unix socket the language agents connect to. A relative path resolves against the main config file\'s directory.' }),
  own({ name: 'tcp', type: 'string', description: 'Also listen on TCP `host:port` (e.g. `127.0.0.1:6590`).' }),
  own({ name: 'socket_mode', type: 'any', default: '600', defaultText: '`"600"`', description: 'Mode of the socket file: an octal string (`"660"`) or a number (`0o660` = 432). Anything else gives 600.' }),
  own({ name: 'name', type: 'string', description: 'Application name used when a language agent does not send one (in its `Register`).' }),
  own({ name: 'max_frame_bytes', type: 'int', default: 64 * MiB, min: 1024, description: 'Largest message frame accepted from a language agent, in bytes; a larger frame closes that connection with an error (nothing already accepted is lost).' }),
  own({ name: 'request_timeout_secs', type: 'float', default: 300, min: 0, description: 'Seconds an unfinished request is kept before it is closed and reported.' }),
  own({ name: 'frame_timeout_secs', type: 'float', default: 30, min: 0.001, description: 'A connection holding part of a frame with no new bytes for this many seconds is closed (counted `frame_timeout`).' }),
  own({ name: 'max_connections', type: 'int', default: 4096, min: 1, description: 'Most client connections at once; more are refused (counted `connection_limit`).' }),
  own({ name: 'max_live_requests', type: 'int', default: 20000, min: 1, description: 'Most unfinished requests kept at once; at this many, the oldest unfinished request is evicted (counted), so a client that never finishes its requests cannot starve the others.' }),
  own({ name: 'max_spans_per_request', type: 'int', default: 1500, min: 1, description: 'Most spans kept for one request; further spans of it are refused (counted) and its trace is tagged `scout.reached_span_cap`.' }),
  own({ name: 'max_live_spans', type: 'int', default: 1000000, min: 1, description: 'Most spans of unfinished requests kept at once, over all requests; at this many, the oldest unfinished request is evicted (counted).' }),
  own({ name: 'export_spans', type: 'bool', default: false, description: 'Also emit each finished request as a trace (one span per Scout span, stream kind `trace`), for sinks that export spans such as OTLP.' }),
  own({ name: 'core_agent_version', type: 'string', default: DEFAULT_CORE_AGENT_VERSION, description: 'The version the intake reports to `CoreAgentVersion` (language agents check it).' }),
];

export interface IntakeOptions {
  socketPath?: string;
  tcp?: { host: string; port: number };
  socketMode: number;
  maxFrameBytes: number;
  requestTimeoutMs: number;
  maxConnections: number;
  maxLiveRequests: number;
  maxSpansPerRequest: number;
  maxLiveSpans: number;
  /** A connection holding part of a frame with no new bytes for this long is closed. */
  frameTimeoutMs: number;
  version: string;
  /** App name for a client that registers without one (`apm.name`). */
  appName: string;
  /** Also emit each finished request as a `trace` batch (`apm.export_spans`). */
  exportSpans: boolean;
}

/** A number at least `min`, else the option's declared default. */
function num(v: unknown, name: string, min: number): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= min) return v;
  return Number(SPAN_INTAKE_OPTIONS.find((o) => o.name === name)!.default);
}

/** Parses `host:port`, `:port`, `port` or `tcp://host:port` (host defaults to loopback). */
export function parseTcp(value: string): { host: string; port: number } {
  const s = value.replace(/^tcp:\/\//, '');
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new Error(`apm.tcp: expected HOST:PORT, got ${JSON.stringify(value)}`);
  return { host: m[1] || '127.0.0.1', port };
}

/** Accepts a number (0o660) or an octal string ("660", "0660"). */
export function parseMode(v: unknown): number {
  if (typeof v === 'number' && v >= 0 && v <= 0o777) return v;
  if (typeof v === 'string' && /^0?[0-7]{3}$/.test(v)) return parseInt(v, 8);
  return 0o600;
}

export function intakeOptions(cfg: Readonly<Partial<ApmConfig>>): IntakeOptions {
  const c = readDeclared(SPAN_INTAKE_OPTIONS, cfg);
  const o: IntakeOptions = {
    socketMode: parseMode(c.socket_mode),
    maxFrameBytes: num(c.max_frame_bytes, 'max_frame_bytes', 1),
    requestTimeoutMs: num(c.request_timeout_secs, 'request_timeout_secs', 0.001) * 1000,
    maxConnections: num(c.max_connections, 'max_connections', 1),
    maxLiveRequests: num(c.max_live_requests, 'max_live_requests', 1),
    maxSpansPerRequest: num(c.max_spans_per_request, 'max_spans_per_request', 1),
    maxLiveSpans: num(c.max_live_spans, 'max_live_spans', 1),
    frameTimeoutMs: num(c.frame_timeout_secs, 'frame_timeout_secs', 0.001) * 1000,
    version: typeof c.core_agent_version === 'string' ? c.core_agent_version : DEFAULT_CORE_AGENT_VERSION,
    appName: typeof c.name === 'string' ? c.name : '',
    exportSpans: c.export_spans === true,
  };
  if (typeof c.socket_path === 'string' && c.socket_path) o.socketPath = c.socket_path;
  if (typeof c.tcp === 'string' && c.tcp) o.tcp = parseTcp(c.tcp);
  return o;
}
