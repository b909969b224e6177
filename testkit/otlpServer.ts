/**
 * A local OTLP/HTTP receiver for tests and benches: HTTP or HTTPS on 127.0.0.1:0, records every
 * request (path, headers, raw and gunzipped body) and answers through a scriptable fault queue
 * (status, body, headers, hang, delay; a function for answers that depend on the request). The
 * default answer is 200 with an empty protobuf body (an export response without partial success).
 *
 * Decoding is the test's business: {@link otlpProto} gives the official definitions
 * (`@opentelemetry/otlp-transformer`'s protobufjs build), loaded here, not through the sink.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import zlib from 'node:zlib';
import otlpRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';

/** `opentelemetry.proto` of the official definitions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const otlpProto: any = (otlpRoot as any).opentelemetry.proto;

export interface OtlpRecorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  /** The body after undoing Content-Encoding: gzip. */
  body: Buffer;
  at: number;
}

export interface OtlpFault {
  status?: number;
  body?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Never answer (the socket stays open until the server closes). */
  hang?: boolean;
  delayMs?: number;
  /** Destroy the socket without answering. */
  reset?: boolean;
}

export interface OtlpServer {
  url: string;
  port: number;
  requests: OtlpRecorded[];
  /** Answers for the next requests, in order (default: 200, empty protobuf). */
  faults: OtlpFault[];
  /** When set, answers every request the fault queue does not. */
  answer?: (req: OtlpRecorded) => OtlpFault;
  close(): Promise<void>;
}

export async function startOtlpServer(tls?: { certPem: string; keyPem: string }): Promise<OtlpServer> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state: OtlpServer = { url: '', port: 0, requests: [], faults: [], close: async () => {} };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body = raw;
      if (req.headers['content-encoding'] === 'gzip') {
        try {
          body = zlib.gunzipSync(raw);
        } catch {
          body = Buffer.from('<<gunzip failed>>');
        }
      }
      const rec: OtlpRecorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, body, at: Date.now() };
      state.requests.push(rec);
      const f = state.faults.shift() ?? state.answer?.(rec) ?? {};
      const answer = () => {
        if (f.reset) {
          req.socket.destroy();
          return;
        }
        if (f.hang) return;
        res.statusCode = f.status ?? 200;
        res.setHeader('Content-Type', f.contentType ?? 'application/x-protobuf');
        for (const [k, v] of Object.entries(f.headers ?? {})) res.setHeader(k, v);
        res.end(f.body ?? Buffer.alloc(0));
      };
      if (f.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, f.delayMs);
        timers.add(t);
      } else answer();
    });
  };
  const server = tls ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler) : http.createServer(handler);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  state.port = addr.port;
  state.url = `${tls ? 'https' : 'http'}://127.0.0.1:${addr.port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** Decodes a recorded protobuf request of `signal` to a plain object (ids as Buffers, 64-bit integers as decimal strings). */
export function decodeOtlp(signal: 'logs' | 'metrics' | 'traces', body: Buffer): Record<string, any> {
  const ns = signal === 'traces' ? otlpProto.collector.trace.v1 : otlpProto.collector[signal].v1;
  const T = signal === 'logs' ? ns.ExportLogsServiceRequest : signal === 'metrics' ? ns.ExportMetricsServiceRequest : ns.ExportTraceServiceRequest;
  return T.toObject(T.decode(body), { longs: String, defaults: false, arrays: true });
}

/** An attribute list (KeyValue[] as decoded) as a plain object of JS values. */
export function attrsOf(kvs: { key: string; value: Record<string, any> }[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) out[kv.key] = anyOf(kv.value);
  return out;
}

/** An AnyValue as decoded (protobuf toObject or OTLP/JSON) as a JS value; intValue as a decimal string. */
export function anyOf(v: Record<string, any> | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyOf);
  if (v.kvlistValue !== undefined) return attrsOf(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return Buffer.from(v.bytesValue);
  return undefined;
}

/**
 * The records one OTLP export request carries (LogRecords, metric data points or spans), from
 * its path (`/v1/logs`…), content type and decoded body; undefined when it is not one.
 */
export function otlpRecordCount(url: string, contentType: string | undefined, body: Buffer): number | undefined {
  const m = /^\/v1\/(logs|metrics|traces)$/.exec(url);
  if (!m) return undefined;
  const signal = m[1] as 'logs' | 'metrics' | 'traces';
  const msg = String(contentType ?? '').startsWith('application/json') ? JSON.parse(body.toString('utf8')) : decodeOtlp(signal, body);
  let n = 0;
  if (signal === 'logs') for (const rl of msg.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) n += (sl.logRecords ?? []).length;
  else if (signal === 'traces') for (const rs of msg.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += (ss.spans ?? []).length;
  else
    for (const rm of msg.resourceMetrics ?? [])
      for (const sm of rm.scopeMetrics ?? [])
        for (const mt of sm.metrics ?? []) n += (mt.gauge ?? mt.sum ?? mt.histogram ?? mt.exponentialHistogram ?? mt.summary ?? { dataPoints: [] }).dataPoints.length;
  return n;
}
