/**
 * The OTLP side of the test server. testkit/tlsServer.ts's `startTestServer` is also the local
 * OTLP/HTTP receiver for tests and benches (it records `/v1/logs|metrics|traces` requests with
 * their gunzipped bodies, answers them as a collector would, and takes the same fault queue and
 * `script`); this module decodes what it recorded.
 *
 * Decoding is the test's business: {@link otlpProto} gives the official definitions
 * (`@opentelemetry/otlp-transformer`'s protobufjs build), loaded here, not through the sink.
 */
import otlpRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { otlpSignal, type OtlpSignal } from './tlsServer.js';

/** `opentelemetry.proto` of the official definitions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const otlpProto: any = (otlpRoot as any).opentelemetry.proto;

/** Decodes a recorded protobuf request of `signal` to a plain object (ids as Buffers, 64-bit integers as decimal strings). */
export function decodeOtlp(signal: OtlpSignal, body: Buffer): Record<string, any> {
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
  const signal = otlpSignal(url);
  if (!signal) return undefined;
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
