/**
 * OpenTelemetry in and out through a whole agent (`createAgent`), with real parts at each end:
 * - a log file and a shell monitor routed to a named `otlp` sink (protobuf + gzip) arrive at a
 *   local HTTP receiver as LogRecords and gauges, decoded with the official protobuf
 *   definitions (testkit/otlpServer.ts), not sluice's encoder;
 * - the real Scout Node agent (`@scout_apm/scout-apm` in an express app, a child process) sends
 *   requests over the core-agent socket; with `export_spans` and `sinks: ["otel"]` they arrive
 *   as OTLP spans with the app's parent/child structure;
 * - the OpenTelemetry JS SDK's own log and trace exporters send to the agent's `otlp_receiver`,
 *   which routes them to an `addEvents` sink (a local Scalyr API): the logs arrive as events,
 *   redacted by the receiver's `redaction_rules`;
 * - the SDK's trace, log and metric exporters to the receiver, out through an `otlp` sink to a
 *   backend that decodes with the official definitions: ids, parents, kinds, times, attributes
 *   (ints stay ints), status, events, severity, trace context, sums and gauges, field by field.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { createRequire } from 'node:module';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createAgent, type Agent } from '../app/agent.js';
import { attrsOf, decodeOtlp } from '../testkit/otlpServer.js';
import { startTestServer, parseAddEventsBody, type TestServer } from '../testkit/tlsServer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const req = createRequire(path.join(ROOT, 'package.json'));
/* eslint-disable @typescript-eslint/no-explicit-any */

const dirs: string[] = [];
const tmp = (p: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), p));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function until(what: string, ok: () => boolean, ms = 15_000, detail: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const quiet = (dir: string) => ({
  agent_data_path: path.join(dir, 'data'),
  agent_log_path: path.join(dir, 'log'),
  implicit_metric_monitor: false,
  implicit_agent_process_metrics_monitor: false,
  implicit_agent_log_collection: false,
  server_attributes: { serverHost: 'otlp-host-1', region: 'test' },
});

const otelSink = (s: TestServer) => ({ type: 'otlp', endpoint: s.url, protocol: 'http/protobuf', compression: 'gzip', linger_ms: 50, retry_base_ms: 100, retry_max_ms: 500 });

/** Every record of `signal` the receiver got, decoded with the official definitions. */
function decoded(s: TestServer, signal: 'logs' | 'metrics' | 'traces'): any[] {
  return s.requests.filter((r) => r.url === `/v1/${signal}`).map((r) => decodeOtlp(signal, r.body));
}

describe('an agent exporting to a named otlp sink', () => {
  let server: TestServer;
  let agent: Agent | undefined;
  let child: ChildProcess | undefined;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await agent?.stop();
    agent = undefined;
    await server.close();
  });

  it('sends a log file as LogRecords and a monitor as gauges, gzip protobuf', async () => {
    const dir = tmp('sluice-otlp-agent-');
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(log, '{"level":"error","msg":"disk full"}\n{"msg":"second line"}\n');
    agent = createAgent({
      config: {
        ...quiet(dir),
        sinks: { otel: otelSink(server), local: { type: 'embedded', dir: path.join(dir, 'local') } },
        logs: [{ path: log, copy_from_start: true, parse_format: 'json', json_message_field: 'msg', attributes: { team: 'core' }, sinks: ['otel'] }],
        monitors: [{ module: 'shell_monitor', id: 'answer', command: 'echo 42', sample_interval: 0.2, sinks: ['otel'] }],
      },
      watchConfig: false,
    });
    await agent.start();
    const records = () => decoded(server, 'logs').flatMap((r) => r.resourceLogs.flatMap((rl: any) => rl.scopeLogs.flatMap((sl: any) => sl.logRecords.map((lr: any) => ({ lr, resource: attrsOf(rl.resource?.attributes) })))));
    await until('two log records', () => records().length >= 2, 15_000, () => JSON.stringify(server.requests.map((r) => r.url)));
    await until('a gauge', () => decoded(server, 'metrics').length > 0);
    for (const r of server.requests) {
      expect(r.headers['content-type']).toBe('application/x-protobuf');
      expect(r.headers['content-encoding']).toBe('gzip');
    }
    const [first, second] = records();
    expect(first!.resource).toMatchObject({ 'host.name': 'otlp-host-1', region: 'test' });
    expect(first!.lr.body.stringValue).toBe('disk full');
    const a1 = attrsOf(first!.lr.attributes);
    expect(a1).toMatchObject({ 'log.file.path': log, team: 'core', level: 'error' });
    // The json parser's `level` becomes the severity.
    expect(first!.lr.severityNumber).toBe(17);
    expect(first!.lr.severityText).toBe('error');
    expect(second!.lr.body.stringValue).toBe('second line');
    expect(second!.lr.severityNumber ?? 0).toBe(0);
    expect(BigInt(first!.lr.timeUnixNano)).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n);

    const points = decoded(server, 'metrics').flatMap((r) => r.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics)));
    const answer = points.find((m: any) => m.gauge?.dataPoints?.length);
    expect(answer).toBeDefined();
    expect(answer.name).toBe('output');
    expect(answer.gauge.dataPoints[0].asDouble ?? Number(answer.gauge.dataPoints[0].asInt)).toBe(42);
    // The sample's k=v fields are the data point's attributes.
    expect(attrsOf(answer.gauge.dataPoints[0].attributes)).toMatchObject({ command: 'echo 42' });
    // Routed only to `otel`: the embedded sink got nothing of either.
    expect(fs.existsSync(path.join(dir, 'local')) ? fs.readdirSync(path.join(dir, 'local')).filter((f) => fs.statSync(path.join(dir, 'local', f)).size > 0) : []).toEqual([]);
    const st = agent.status();
    expect(st.sinks?.otel).toMatchObject({ type: 'otlp' });
  }, 30_000);

  it('the real Scout Node agent\'s requests arrive as OTLP spans with their structure', async () => {
    const dir = tmp('sluice-otlp-scout-');
    const sock = path.join(dir, 'core-agent.sock');
    agent = createAgent({
      config: { ...quiet(dir), sinks: { otel: otelSink(server) }, apm: { enabled: true, socket_path: sock, export_spans: true, sinks: ['otel'] } },
      watchConfig: false,
    });
    await agent.start();
    const appFile = path.join(dir, 'app.cjs');
    fs.writeFileSync(
      appFile,
      `
const scout = require(${JSON.stringify(req.resolve('@scout_apm/scout-apm'))});
const express = require(${JSON.stringify(req.resolve('express'))});
const app = express();
app.use(scout.expressMiddleware());
app.get('/orders/:id', (req, res) => {
  scout.api.instrument('SQL/Query', (doneSql, { span }) => {
    span.addContextSync('db.statement', 'SELECT 1');
    scout.api.instrument('Custom/render', (doneRender) => setTimeout(() => { doneRender(); setTimeout(() => { doneSql(); res.send('ok'); }, 2); }, 3));
  });
});
scout.install({ monitor: true, allowShutdown: false }).then(() => {
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + server.address().port + '\\n'));
});
process.on('SIGTERM', () => process.exit(0));
`,
    );
    child = spawn(process.execPath, [appFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        SCOUT_MONITOR: 'true',
        SCOUT_KEY: 'OtlpAgentKey0123456789',
        SCOUT_NAME: 'otlp-agent-it',
        SCOUT_CORE_AGENT_LAUNCH: 'false',
        SCOUT_CORE_AGENT_DOWNLOAD: 'false',
        SCOUT_ERRORS_ENABLED: 'false',
        SCOUT_SOCKET_PATH: sock,
        SCOUT_LOG_LEVEL: 'error',
      },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await until('the app to listen', () => /PORT \d+/.test(out), 10_000, () => out);
    const port = Number(/PORT (\d+)/.exec(out)![1]);
    await until('the Scout agent to register', () => JSON.stringify(agent!.status().apm ?? {}).includes('"registrations":1'), 10_000, () => JSON.stringify(agent!.status().apm));
    const code = await new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: '/orders/7' }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject));
    expect(code).toBe(200);
    const spans = () => decoded(server, 'traces').flatMap((r) => r.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((sp: any) => ({ sp, resource: attrsOf(rs.resource?.attributes) })))));
    await until('three spans', () => spans().length >= 3, 15_000, () => JSON.stringify(spans().map((s) => s.sp.name)));
    const byName = (n: string) => spans().find((s) => s.sp.name === n)!;
    const root = byName('Controller/GET /orders/:id');
    const sql = byName('SQL/Query');
    const render = byName('Custom/render');
    expect(root && sql && render).toBeTruthy();
    const hex = (b: Buffer | undefined) => (b ? Buffer.from(b).toString('hex') : '');
    // One trace; the parent links as the app nested the calls.
    expect(hex(root.sp.traceId)).toMatch(/^[0-9a-f]{32}$/);
    expect(hex(sql.sp.traceId)).toBe(hex(root.sp.traceId));
    expect(hex(render.sp.traceId)).toBe(hex(root.sp.traceId));
    expect(hex(root.sp.parentSpanId)).toBe('');
    expect(hex(sql.sp.parentSpanId)).toBe(hex(root.sp.spanId));
    expect(hex(render.sp.parentSpanId)).toBe(hex(sql.sp.spanId));
    expect(BigInt(render.sp.startTimeUnixNano) >= BigInt(sql.sp.startTimeUnixNano)).toBe(true);
    expect(BigInt(render.sp.endTimeUnixNano) <= BigInt(sql.sp.endTimeUnixNano)).toBe(true);
    expect(attrsOf(sql.sp.attributes)['db.statement']).toBe('SELECT 1');
    expect(root.resource['service.name']).toBe('otlp-agent-it');
    expect(server.requests.map((r) => r.body.toString('latin1')).join('')).not.toContain('OtlpAgentKey0123456789');
  }, 40_000);
});

describe('the OpenTelemetry SDK to the agent\'s otlp_receiver, out through addEvents', () => {
  let scalyr: TestServer;
  let agent: Agent | undefined;
  beforeAll(async () => {
    scalyr = await startTestServer();
  });
  afterAll(async () => {
    await agent?.stop();
    await scalyr.close();
  });

  it('OTel logs reach Scalyr as events, redacted; spans too', async () => {
    const dir = tmp('sluice-otlp-rx-');
    agent = createAgent({
      config: {
        ...quiet(dir),
        api_key: 'test-key',
        upload: { linger_ms: 50 },
        sinks: { scalyr: { type: 'addEvents', scalyr_server: scalyr.url, allow_http: true } },
        otlp_receiver: { endpoint: '127.0.0.1:0', sinks: ['scalyr'], redaction_rules: [{ match_expression: 'password=\\S+', replacement: 'password=***' }] },
      },
      watchConfig: false,
    });
    await agent.start();
    const listening = String((agent.status() as any).otlpReceiver?.status?.listening ?? '');
    expect(listening).toMatch(/^127\.0\.0\.1:\d+$/);
    const base = `http://${listening}`;

    const { resourceFromAttributes } = req('@opentelemetry/resources');
    const sdkLogs = req('@opentelemetry/sdk-logs');
    const { SeverityNumber } = req('@opentelemetry/api-logs');
    const { OTLPLogExporter } = req('@opentelemetry/exporter-logs-otlp-proto');
    const traceBase = req('@opentelemetry/sdk-trace-base');
    const { OTLPTraceExporter } = req('@opentelemetry/exporter-trace-otlp-proto');
    const resource = resourceFromAttributes({ 'service.name': 'checkout' });

    const logExporter = new OTLPLogExporter({ url: `${base}/v1/logs`, compression: 'gzip' });
    const lp = new sdkLogs.LoggerProvider({ resource, processors: [new sdkLogs.SimpleLogRecordProcessor(logExporter)] });
    const logger = lp.getLogger('app');
    logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'login user=ann password=hunter2 ok', attributes: { 'http.route': '/login' } });
    logger.emit({ severityNumber: SeverityNumber.INFO, body: 'second message' });
    await lp.forceFlush();

    const tp = new traceBase.BasicTracerProvider({ resource, spanProcessors: [new traceBase.SimpleSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))] });
    const span = tp.getTracer('t').startSpan('GET /cart');
    span.setAttribute('cart.items', 3);
    span.end();
    await tp.forceFlush();

    const events = () => scalyr.requests.filter((r) => (r.fault.status ?? 200) === 200).flatMap((r) => parseAddEventsBody(r.body).events);
    const text = () => events().map((e) => e.message.toString('utf8'));
    await until('the two OTel logs at Scalyr', () => text().filter((m) => /login|second message/.test(m)).length >= 2, 15_000, () => JSON.stringify(text()));
    const login = events().find((e) => e.message.toString('utf8').includes('login'))!;
    expect(login.message.toString('utf8')).toContain('password=***');
    expect(scalyr.requests.map((r) => r.body.toString('latin1')).join('')).not.toContain('hunter2');
    expect(text()).toContain('second message');
    await until('the span at Scalyr', () => text().some((m) => m.includes('GET /cart')), 15_000, () => JSON.stringify(text()));
    const st = (agent.status() as any).otlpReceiver;
    expect(st.redactions).toBeGreaterThanOrEqual(1);
    await lp.shutdown();
    await tp.shutdown();
  }, 30_000);
});

describe('the OpenTelemetry SDK through the agent to an OTLP backend (receiver → otlp sink)', () => {
  let backend: TestServer;
  let agent: Agent | undefined;
  beforeAll(async () => {
    backend = await startTestServer();
  });
  afterAll(async () => {
    await agent?.stop();
    await backend.close();
  });

  it('what the SDK sent is what the backend decodes, field by field (spans, logs, metrics)', async () => {
    const dir = tmp('sluice-otlp-roundtrip-');
    agent = createAgent({
      config: { ...quiet(dir), sinks: { otel: otelSink(backend) }, otlp_receiver: { endpoint: '127.0.0.1:0' } },
      watchConfig: false,
    });
    await agent.start();
    const base = `http://${String((agent.status() as any).otlpReceiver?.status?.listening ?? '')}`;
    const { resourceFromAttributes } = req('@opentelemetry/resources');
    const api = req('@opentelemetry/api');
    const traceBase = req('@opentelemetry/sdk-trace-base');
    const sdkLogs = req('@opentelemetry/sdk-logs');
    const sdkMetrics = req('@opentelemetry/sdk-metrics');
    const { SeverityNumber } = req('@opentelemetry/api-logs');
    const { OTLPTraceExporter } = req('@opentelemetry/exporter-trace-otlp-proto');
    const { OTLPLogExporter } = req('@opentelemetry/exporter-logs-otlp-proto');
    const { OTLPMetricExporter } = req('@opentelemetry/exporter-metrics-otlp-proto');
    const resource = resourceFromAttributes({ 'service.name': 'shop', 'service.version': '2.0.1' });

    // Traces: a server span with a child in error.
    const tp = new traceBase.BasicTracerProvider({ resource, spanProcessors: [new traceBase.SimpleSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces`, compression: 'gzip' }))] });
    const tracer = tp.getTracer('shop-tracer', '0.3.0');
    const parent = tracer.startSpan('POST /pay', { kind: api.SpanKind.SERVER, attributes: { 'http.method': 'POST', 'http.status_code': 502 } });
    const child = tracer.startSpan('charge card', { kind: api.SpanKind.CLIENT, attributes: { 'peer.service': 'bank', retries: 2 } }, api.trace.setSpan(api.context.active(), parent));
    child.addEvent('retry', { attempt: 1 });
    child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'bank timeout' });
    child.end();
    parent.end();
    await tp.forceFlush();
    // Logs: one with trace context and severity.
    const lp = new sdkLogs.LoggerProvider({ resource, processors: [new sdkLogs.SimpleLogRecordProcessor(new OTLPLogExporter({ url: `${base}/v1/logs` }))] });
    // (No context manager is registered here: the span's context is passed explicitly.)
    lp.getLogger('shop-logger').emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'payment failed', attributes: { 'order.id': 'A-17' }, context: api.trace.setSpan(api.context.active(), parent) });
    await lp.forceFlush();
    // Metrics: a counter (a monotonic cumulative sum) and a gauge.
    const reader = new sdkMetrics.PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 60_000 });
    const mp = new sdkMetrics.MeterProvider({ resource, readers: [reader] });
    const meter = mp.getMeter('shop-meter');
    meter.createCounter('payments').add(5, { outcome: 'failed' });
    meter.createObservableGauge('queue.depth').addCallback((r: any) => r.observe(7, { queue: 'pay' }));
    await mp.forceFlush();

    const spans = () => decoded(backend, 'traces').flatMap((r) => r.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => ({ s, resource: attrsOf(rs.resource?.attributes), scope: ss.scope })))));
    const logs = () => decoded(backend, 'logs').flatMap((r) => r.resourceLogs.flatMap((rl: any) => rl.scopeLogs.flatMap((sl: any) => sl.logRecords.map((lr: any) => ({ lr, resource: attrsOf(rl.resource?.attributes) })))));
    const metrics = () => decoded(backend, 'metrics').flatMap((r) => r.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics)));
    await until('two spans, a log and two metrics at the backend', () => spans().length >= 2 && logs().length >= 1 && metrics().length >= 2, 15_000, () => JSON.stringify(backend.requests.map((r) => r.url)));

    const hexOf = (b: any) => Buffer.from(b ?? []).toString('hex');
    const nsOf = (hr: [number, number]) => String(BigInt(hr[0]) * 1_000_000_000n + BigInt(hr[1]));
    const byName = Object.fromEntries(spans().map((x) => [x.s.name, x]));
    const p = byName['POST /pay']!;
    const c = byName['charge card']!;
    expect(p.resource).toMatchObject({ 'service.name': 'shop', 'service.version': '2.0.1' });
    expect(p.scope).toMatchObject({ name: 'shop-tracer', version: '0.3.0' });
    expect(hexOf(p.s.traceId)).toBe(parent.spanContext().traceId);
    expect(hexOf(p.s.spanId)).toBe(parent.spanContext().spanId);
    expect(hexOf(p.s.parentSpanId)).toBe('');
    expect(hexOf(c.s.traceId)).toBe(parent.spanContext().traceId);
    expect(hexOf(c.s.spanId)).toBe(child.spanContext().spanId);
    expect(hexOf(c.s.parentSpanId)).toBe(parent.spanContext().spanId);
    expect(p.s.kind).toBe(2);
    expect(c.s.kind).toBe(3);
    expect(String(p.s.startTimeUnixNano)).toBe(nsOf(parent.startTime));
    expect(String(p.s.endTimeUnixNano)).toBe(nsOf(parent.endTime));
    expect(String(c.s.startTimeUnixNano)).toBe(nsOf(child.startTime));
    expect(String(c.s.endTimeUnixNano)).toBe(nsOf(child.endTime));
    // attrsOf gives an intValue as its decimal string; the type is checked on the value itself.
    expect(attrsOf(p.s.attributes)).toMatchObject({ 'http.method': 'POST', 'http.status_code': '502' });
    expect(p.s.attributes.find((kv: any) => kv.key === 'http.status_code').value.intValue).toBeDefined();
    expect(attrsOf(c.s.attributes)).toMatchObject({ 'peer.service': 'bank', retries: '2' });
    expect(c.s.status).toMatchObject({ code: 2, message: 'bank timeout' });
    expect(c.s.events.map((e: any) => ({ name: e.name, time: String(e.timeUnixNano), attrs: attrsOf(e.attributes) }))).toEqual([{ name: 'retry', time: nsOf(child.events[0].time), attrs: { attempt: '1' } }]);

    const [{ lr, resource: lres }] = logs();
    expect(lres).toMatchObject({ 'service.name': 'shop' });
    expect(lr.body.stringValue).toBe('payment failed');
    expect(lr.severityNumber).toBe(SeverityNumber.ERROR);
    expect(lr.severityText).toBe('ERROR');
    expect(attrsOf(lr.attributes)).toMatchObject({ 'order.id': 'A-17' });
    expect(hexOf(lr.traceId)).toBe(parent.spanContext().traceId);
    expect(hexOf(lr.spanId)).toBe(parent.spanContext().spanId);

    const payments = metrics().find((m: any) => m.name === 'payments');
    expect(payments.sum).toMatchObject({ isMonotonic: true });
    expect(Number(payments.sum.dataPoints[0].asDouble ?? payments.sum.dataPoints[0].asInt)).toBe(5);
    expect(attrsOf(payments.sum.dataPoints[0].attributes)).toMatchObject({ outcome: 'failed' });
    const depth = metrics().find((m: any) => m.name === 'queue.depth');
    expect(Number(depth.gauge.dataPoints[0].asDouble ?? depth.gauge.dataPoints[0].asInt)).toBe(7);
    expect(attrsOf(depth.gauge.dataPoints[0].attributes)).toMatchObject({ queue: 'pay' });

    await tp.shutdown();
    await lp.shutdown();
    await mp.shutdown();
  }, 30_000);
});
