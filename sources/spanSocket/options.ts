/**
 * The intake's effective options, read from {@link ApmConfig} (sluice option names, all optional
 * beyond the typed ones) with bounded defaults.
 */
import type { ApmConfig } from '../../lib/config/types.js';
import { DEFAULT_CORE_AGENT_VERSION } from './replies.js';

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
}

const num = (v: unknown, d: number, min = 0): number => (typeof v === 'number' && Number.isFinite(v) && v >= min ? v : d);

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

export function intakeOptions(cfg: ApmConfig): IntakeOptions {
  const o: IntakeOptions = {
    socketMode: parseMode(cfg.socket_mode),
    maxFrameBytes: num(cfg.max_frame_bytes, 64 * 1024 * 1024, 1),
    requestTimeoutMs: num(cfg.request_timeout_secs, 120, 0.001) * 1000,
    maxConnections: num(cfg.max_connections, 4096, 1),
    maxLiveRequests: num(cfg.max_live_requests, 20_000, 1),
    maxSpansPerRequest: num(cfg.max_spans_per_request, 1500, 1),
    maxLiveSpans: num(cfg.max_live_spans, 1_000_000, 1),
    frameTimeoutMs: num(cfg.frame_timeout_secs, 30, 0.001) * 1000,
    version: typeof cfg.core_agent_version === 'string' ? cfg.core_agent_version : DEFAULT_CORE_AGENT_VERSION,
  };
  if (cfg.socket_path) o.socketPath = cfg.socket_path;
  if (cfg.tcp) o.tcp = parseTcp(cfg.tcp);
  return o;
}
