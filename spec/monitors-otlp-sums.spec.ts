/**
 * Monitor metrics out of a whole agent (`createAgent`) through its `otlp` sink to a local OTLP/HTTP
 * receiver, decoded with the official protobuf definitions (testkit/otlpServer.ts loads
 * `@opentelemetry/otlp-transformer`'s, not sluice's encoder): a monitor's cumulative counters
 * arrive as monotonic cumulative Sums whose start stays put from point to point (and moves at a
 * reset), its gauges as Gauges, its k=v fields as attributes. The monitors are real:
 * `linux_system_metrics` reading this machine's /proc, and `openmetrics_monitor` scraping a
 * Prometheus text endpoint served by the test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type net from 'node:net';
import { createAgent, type Agent } from '../app/agent.js';
import { attrsOf, decodeOtlp, otlpProto } from '../testkit/otlpServer.js';
import { startTestServer, type TestServer } from '../testkit/tlsServer.js';
import { isolatedAgent } from './helpers/isolated.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

const CUMULATIVE = otlpProto.metrics.v1.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE as number;

const dirs: string[] = [];
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-otlp-sums-'));
  dirs.push(d);
  return d;
};

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every Metric the receiver got (each request's, in order), decoded with the official definitions. */
function metrics(s: TestServer): any[] {
  return s.requests
    .filter((r) => r.url === '/v1/metrics')
    .flatMap((r) => decodeOtlp('metrics', r.body).resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics)));
}

/** The data points of `name` (of whichever kind), with the kind of the Metric that held each. */
function points(s: TestServer, name: string, match: (attrs: Record<string, unknown>) => boolean = () => true): { kind: 'sum' | 'gauge'; metric: any; p: any; attrs: Record<string, unknown> }[] {
  const out: { kind: 'sum' | 'gauge'; metric: any; p: any; attrs: Record<string, unknown> }[] = [];
  for (const m of metrics(s)) {
    if (m.name !== name) continue;
    const kind = m.sum ? 'sum' : 'gauge';
    for (const p of (m.sum ?? m.gauge).dataPoints) {
      const attrs = attrsOf(p.attributes);
      if (match(attrs)) out.push({ kind, metric: m, p, attrs });
    }
  }
  return out;
}

const valueOf = (p: any) => (p.asInt !== undefined ? Number(p.asInt) : p.asDouble);

function startAgent(dir: string, server: TestServer, monitors: Record<string, unknown>[]): Promise<Agent> {
  const agent = createAgent({
    config: {
      ...isolatedAgent(dir),
      global_monitor_sample_interval_enable_jitter: false,
      server_attributes: { serverHost: 'sums-host' },
      sinks: { otel: { type: 'otlp', endpoint: server.url, protocol: 'http/protobuf', compression: 'gzip', linger_ms: 50, retry_base_ms: 100, retry_max_ms: 500 } },
      monitors: monitors.map((m) => ({ monitor_log_write_rate: -1, monitor_log_max_write_burst: -1, ...m, sinks: ['otel'] })),
    },
    watchConfig: false,
  });
  cleanups.push(() => agent.stop());
  return agent.start().then(() => agent);
}

/** Checks the points of one counter series: Sums, cumulative and monotonic, one start, the first one a zero-duration point. */
function expectCumulativeSeries(ps: ReturnType<typeof points>): void {
  expect(ps.length).toBeGreaterThanOrEqual(3);
  for (const { kind, metric, p } of ps) {
    expect(kind).toBe('sum');
    expect(metric.gauge).toBeUndefined();
    expect(metric.sum.isMonotonic).toBe(true);
    expect(metric.sum.aggregationTemporality).toBe(CUMULATIVE);
    expect(BigInt(p.startTimeUnixNano)).toBeLessThanOrEqual(BigInt(p.timeUnixNano));
  }
  const starts = new Set(ps.map(({ p }) => p.startTimeUnixNano));
  expect(starts.size).toBe(1);
  // Its start is unknown to the monitor (counting began at boot): the first point is the zero-duration one.
  expect(ps[0].p.startTimeUnixNano).toBe(ps[0].p.timeUnixNano);
  expect(BigInt(ps[ps.length - 1].p.timeUnixNano)).toBeGreaterThan(BigInt(ps[0].p.startTimeUnixNano));
  const values = ps.map(({ p }) => valueOf(p));
  expect(values.every((v, i) => i === 0 || v >= values[i - 1])).toBe(true);
}

describe('monitor metrics over OTLP: counters as Sums, the rest as Gauges', () => {
  test('linux_system_metrics on this machine: proc.stat.cpu (jiffies) and proc.stat.ctxt are cumulative Sums with a stable start; memory and load are Gauges', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    await startAgent(tmp(), server, [{ module: 'linux_system_metrics', sample_interval: 0.3 }]);
    await until('three samples', () => points(server, 'proc.stat.cpu', (a) => a.type === 'user').length >= 3);

    const user = points(server, 'proc.stat.cpu', (a) => a.type === 'user');
    expectCumulativeSeries(user);
    // the sample's k=v fields are the data point's attributes, with the monitor
    expect(user[0].attrs).toMatchObject({ type: 'user', monitor: 'linux_system_metrics' });
    // each CPU type is its own series with its own (stable) start
    for (const type of ['system', 'idle']) expectCumulativeSeries(points(server, 'proc.stat.cpu', (a) => a.type === type));
    expectCumulativeSeries(points(server, 'proc.stat.ctxt'));

    for (const name of ['proc.meminfo.memtotal', 'proc.loadavg.1min', 'proc.stat.procs_blocked', 'sys.cpu.count']) {
      const ps = points(server, name);
      expect([name, ps.length > 0, ps.every(({ kind, p }) => kind === 'gauge' && p.startTimeUnixNano === undefined)]).toEqual([name, true, true]);
    }
  }, 30_000);

  test('openmetrics_monitor scraping a local endpoint: a counter family is a cumulative Sum (a new start after it resets), a gauge is a Gauge, labels are attributes', async () => {
    // The endpoint's counter grows by 5 per scrape, and drops back to 1 at the fifth (a restarted exporter).
    let scrapes = 0;
    const peer = http.createServer((_req, res) => {
      scrapes++;
      const total = scrapes < 5 ? 10 + 5 * scrapes : scrapes - 4;
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(`# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\nhttp_requests_total{code="200",path="/api"} ${total}\n# TYPE queue_depth gauge\nqueue_depth{queue="jobs"} ${5 - scrapes}\n`);
    });
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => { peer.closeAllConnections(); peer.close(r); }));
    const url = `http://127.0.0.1:${(peer.address() as net.AddressInfo).port}/metrics`;

    const server = await startTestServer();
    cleanups.push(() => server.close());
    await startAgent(tmp(), server, [{ module: 'openmetrics_monitor', id: 'app', url, sample_interval: 0.25 }]);
    await until('seven scrapes exported', () => points(server, 'http_requests_total').length >= 7);

    const reqs = points(server, 'http_requests_total');
    expect(reqs[0].attrs).toMatchObject({ code: '200', path: '/api', monitor: 'openmetrics_monitor' });
    const values = reqs.map(({ p }) => valueOf(p));
    const drop = values.findIndex((v, i) => i > 0 && v < values[i - 1]);
    expect(drop).toBe(4);
    // before the reset: one cumulative period beginning at the first point
    expectCumulativeSeries(reqs.slice(0, drop));
    // from the reset on: a new period beginning at the point where the value went down
    const after = reqs.slice(drop);
    expect(after.every(({ kind, metric }) => kind === 'sum' && metric.sum.isMonotonic === true)).toBe(true);
    expect(after[0].p.startTimeUnixNano).toBe(after[0].p.timeUnixNano);
    expect(new Set(after.map(({ p }) => p.startTimeUnixNano)).size).toBe(1);
    expect(BigInt(after[0].p.startTimeUnixNano)).toBeGreaterThan(BigInt(reqs[drop - 1].p.timeUnixNano));

    const queue = points(server, 'queue_depth');
    expect(queue.length).toBeGreaterThanOrEqual(7);
    expect(queue.every(({ kind, p }) => kind === 'gauge' && p.startTimeUnixNano === undefined)).toBe(true);
    expect(queue[0].attrs).toMatchObject({ queue: 'jobs', monitor: 'openmetrics_monitor' });
    expect(queue.some(({ p }) => valueOf(p) < 0)).toBe(true); // a gauge goes up and down, below zero too
  }, 30_000);
});
