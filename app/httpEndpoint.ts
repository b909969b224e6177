/**
 * Optional HTTP endpoint (off by default; bound to loopback unless told otherwise):
 *   GET /health   → 200 `Good` or 503 with the reason (the verdict of `sluice status -H`);
 *                   `?max_secs=N` overrides the window without a successful upload
 *   GET /ready    → 200 once the agent runs (its configuration was valid and parts started)
 *   GET /metrics  → Prometheus text (prom-client): component counters, drops by reason,
 *                   sink figures and request latency, tail lag per file, process figures.
 * Figures are read from the agent's status at scrape time: nothing is computed when nobody scrapes.
 */
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { AgentStatus } from '../lib/status/types.js';
import type { Logger } from '../lib/types.js';
import { healthOf } from '../lib/status/health.js';

export interface HttpEndpointConfig {
  enabled: boolean;
  host: string;
  port: number;
}

export interface HttpEndpoint {
  port: number;
  stop(): Promise<void>;
  status(): unknown;
}

type CounterSet = { receivedEvents: number; receivedBytes: number; sentEvents: number; sentBytes: number; dropped: Record<string, number>; errors: number };

/** Builds a prom-client registry whose collectors read `status()` on each scrape. */
export function createMetricsRegistry(status: () => AgentStatus): PromRegistry {
  const reg = new PromRegistry();
  collectDefaultMetrics({ register: reg, prefix: 'sluice_process_' });
  const components = (s: AgentStatus): [string, CounterSet | undefined][] => [
    ['sink', s.sink.counters as CounterSet | undefined],
    ...s.logs.map((l) => [`log:${l.path}`, l.counters] as [string, CounterSet]),
    ...s.monitors.map((m) => [`monitor:${m.key}`, m.counters as CounterSet | undefined] as [string, CounterSet | undefined]),
    ...(s.sources ?? []).map((x) => [`source:${x.key}`, x.counters as CounterSet | undefined] as [string, CounterSet | undefined]),
  ];
  const counter = (name: string, help: string, pick: (c: CounterSet) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['component'],
      registers: [reg],
      collect() {
        this.reset();
        for (const [component, c] of components(status())) if (c) this.inc({ component }, pick(c));
      },
    });
  counter('sluice_component_received_events_total', 'Events received by a component.', (c) => c.receivedEvents);
  counter('sluice_component_received_bytes_total', 'Bytes received by a component.', (c) => c.receivedBytes);
  counter('sluice_component_sent_events_total', 'Events sent (delivered) by a component.', (c) => c.sentEvents);
  counter('sluice_component_sent_bytes_total', 'Bytes sent (delivered) by a component.', (c) => c.sentBytes);
  counter('sluice_component_errors_total', 'Errors caught at a component boundary.', (c) => c.errors);
  new Counter({
    name: 'sluice_component_dropped_events_total',
    help: 'Events dropped by a component, by reason.',
    labelNames: ['component', 'reason'],
    registers: [reg],
    collect() {
      this.reset();
      for (const [component, c] of components(status())) for (const [reason, n] of Object.entries(c?.dropped ?? {})) this.inc({ component, reason }, n);
    },
  });
  new Gauge({
    name: 'sluice_pending_bytes',
    help: 'Bytes read but not yet acknowledged by the sink (the shared read budget in use).',
    registers: [reg],
    collect() {
      this.set(status().pendingBytes);
    },
  });
  new Gauge({
    name: 'sluice_file_lag_bytes',
    help: 'Bytes of a tailed file not yet acknowledged (file size minus acknowledged offset).',
    labelNames: ['entry', 'file'],
    registers: [reg],
    collect() {
      this.reset();
      for (const l of status().logs) for (const f of l.files as { path: string; pendingBytes?: number }[]) this.set({ entry: l.path, file: f.path }, f.pendingBytes ?? 0);
    },
  });
  new Gauge({
    name: 'sluice_sink_last_success_timestamp_seconds',
    help: 'Time of the last successful upload.',
    registers: [reg],
    collect() {
      const s = status().sink as Record<string, unknown>;
      this.set(Number(s.lastSuccessTime ?? s.lastWriteTime ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'sluice_sink_retries',
    help: 'Upload retries since start.',
    registers: [reg],
    collect() {
      this.set(Number((status().sink as Record<string, unknown>).retries ?? 0));
    },
  });
  new Gauge({
    name: 'sluice_healthy',
    help: '1 when the health verdict is Good.',
    registers: [reg],
    collect() {
      this.set(healthOf(status()).healthy ? 1 : 0);
    },
  });
  // Request latency: sinks that record latencies expose them as `latencies` (seconds) in status.
  const seen = { n: 0 };
  new Histogram({
    name: 'sluice_sink_request_duration_seconds',
    help: 'Upload request latency.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [reg],
    collect() {
      const lat = ((status().sink as Record<string, unknown>).latencies as number[] | undefined) ?? [];
      for (const v of lat.slice(seen.n)) this.observe(v);
      seen.n = lat.length;
    },
  });
  return reg;
}

export async function startHttpEndpoint(cfg: HttpEndpointConfig, ctx: { status: () => AgentStatus; logger: Logger }): Promise<HttpEndpoint> {
  const reg = createMetricsRegistry(ctx.status);
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method !== 'GET') {
        res.writeHead(405).end();
      } else if (url.pathname === '/ready') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
      } else if (url.pathname === '/health') {
        const maxSecs = url.searchParams.get('max_secs');
        const v = healthOf(ctx.status(), maxSecs ? Number(maxSecs) : undefined);
        res.writeHead(v.healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(`${v.reason}\n`);
      } else if (url.pathname === '/metrics') {
        const body = await reg.metrics();
        res.writeHead(200, { 'content-type': reg.contentType }).end(body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('try /health, /ready or /metrics\n');
      }
    } catch (err) {
      res.writeHead(500).end(String((err as Error).message));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host || '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  ctx.logger.info(`HTTP endpoint listening on http://${cfg.host}:${port} (/health, /metrics).`);
  return {
    port,
    status: () => ({ port, host: cfg.host }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
