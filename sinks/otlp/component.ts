/**
 * The OTLP exporter as a component: `sinks: { otel: { type: "otlp", endpoint, protocol, headers,
 * compression, … } }`. Its own options are read once, at create, with the defaults of their
 * declarations (options.ts); the proxies and `server_attributes` are global (the latter applied
 * live through `reconfigure` / `setServerAttributes`).
 */
import { defineComponent, readDeclared } from '../../lib/component.js';
import { VERSION } from '../../lib/version.js';
import { OTLP_OPTIONS } from './options.js';
import { createOtlpSink, type OtlpSinkConfig } from './sink.js';

export { OTLP_OPTIONS } from './options.js';

/** The sink's flat config: its own options from `own`, the global ones from `agent`. */
export function otlpConfig(own: Readonly<Record<string, unknown>>, agent: Readonly<Record<string, unknown>>): OtlpSinkConfig {
  return { ...readDeclared(OTLP_OPTIONS, agent, 'global'), ...readDeclared(OTLP_OPTIONS, own, 'own'), version: VERSION } as OtlpSinkConfig;
}

export const otlpSink = defineComponent({
  kind: 'sink',
  type: 'otlp',
  countsItself: true,
  accepts: ['log', 'metric', 'trace'],
  doc: 'Exports logs (LogRecords: the line as body, its attributes, `log.file.path`, severity from a parsed `level`), monitor metrics (gauges and monotonic sums, fields as attributes) and spans to an OpenTelemetry Collector or any OTLP/HTTP receiver, as protobuf or JSON, gzip-compressed; `server_attributes` go into the resource (`serverHost` as `host.name`). At-least-once: a stream is acknowledged only once the receiver accepted its events; 429/502/503/504, network errors and timeouts are retried with backoff honouring `Retry-After`, other errors keep the data and retry; 413 splits the request; a 400 or a partial success drops the refused records, counted.',
  options: OTLP_OPTIONS,
  example: { endpoint: 'http://127.0.0.1:1', linger_ms: 50, retry_base_ms: 100, retry_max_ms: 1000, timeout: 2 },
  check: (own) => {
    const problems: { key: string; message: string }[] = [];
    const ra = own.resource_attributes;
    if (ra !== undefined && ra !== null && (typeof ra !== 'object' || Array.isArray(ra))) problems.push({ key: 'resource_attributes', message: 'expected an object of attribute names to values' });
    for (const k of ['endpoint', 'logs_endpoint', 'metrics_endpoint', 'traces_endpoint']) {
      const v = own[k];
      if (v === undefined || v === null) continue;
      try {
        const u = new URL(String(v));
        if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ key: k, message: `unsupported scheme ${u.protocol} (use http:// or https://)` });
      } catch {
        problems.push({ key: k, message: 'not a URL (expected http(s)://host[:port][/path])' });
      }
    }
    return problems;
  },
  create: (own, ctx) => createOtlpSink(otlpConfig(own, ctx.agent), { logger: ctx.logger, id: ctx.id, readBudget: ctx.credits }),
});
