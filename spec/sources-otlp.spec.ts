/**
 * The OTLP/HTTP receiver (`sources/otlp/`) with real parts: the OpenTelemetry JS SDK's own
 * exporters (protobuf and JSON, gzip) send to it on a free loopback port; what comes out of
 * `batches$` is compared field by field with what the app produced. Bad input goes in as raw
 * HTTP requests (truncated protobuf, wrong content type, a 100 MB body, a gzip bomb, deep
 * nesting, invalid JSON), and the budget is exercised with acks withheld.
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import { createOtlpReceiver, otlpReceiver, type OtlpReceiverSource } from '../sources/otlp/component.js';
import { memoryLogger } from '../lib/logger.js';
import { withDefaults } from '../lib/component.js';
import type { Batch } from '../lib/types.js';
import type { LogRecord, MetricRecord, SpanRecord } from '../lib/telemetry.js';
import { waitFor, sleep } from './helpers/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const req = createRequire(path.join(ROOT, 'package.json'));
/* eslint-disable @typescript-eslint/no-explicit-any */
const api = req('@opentelemetry/api') as any;
const { resourceFromAttributes } = req('@opentelemetry/resources') as any;
const traceBase = req('@opentelemetry/sdk-trace-base') as any;
const { OTLPTraceExporter: ProtoTraceExporter } = req('@opentelemetry/exporter-trace-otlp-proto') as any;
const { OTLPTraceExporter: JsonTraceExporter } = req('@opentelemetry/exporter-trace-otlp-http') as any;
const sdkLogs = req('@opentelemetry/sdk-logs') as any;
const { SeverityNumber } = req('@opentelemetry/api-logs') as any;
const { OTLPLogExporter } = req('@opentelemetry/exporter-logs-otlp-proto') as any;
const sdkMetrics = req('@opentelemetry/sdk-metrics') as any;
const { OTLPMetricExporter } = req('@opentelemetry/exporter-metrics-otlp-proto') as any;
const otlpRoot = req('@opentelemetry/otlp-transformer/build/src/generated/root.js') as any;
const P = otlpRoot.opentelemetry.proto;

interface Rx {
  rx: OtlpReceiverSource;
  batches: Batch[];
  port: number;
  url: (p: string) => string;
  /** Acks every batch received so far (when started with `hold`). */
  ackAll(): void;
}

const running: { rx: OtlpReceiverSource; sub: Subscription }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.sub.unsubscribe();
    await r.rx.stop(1000);
  }
});

async function start(own: Record<string, unknown> = {}, opts: { hold?: boolean } = {}): Promise<Rx> {
  const rx = createOtlpReceiver({ endpoint: '127.0.0.1:0', ...own }, { logger: memoryLogger() });
  await rx.ready();
  const batches: Batch[] = [];
  const sub = rx.batches$.subscribe((b) => {
    batches.push(b);
    if (!opts.hold) b.stream.ack(b.end);
  });
  running.push({ rx, sub });
  const port = rx.address()!.port;
  return {
    rx,
    batches,
    port,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    ackAll: () => {
      for (const b of batches) b.stream.ack(b.end);
    },
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function post(port: number, p: string, body: Buffer | string, headers: Record<string, string> = {}, method = 'POST'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, path: p, method, headers: { 'Content-Length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

const PROTO = { 'Content-Type': 'application/x-protobuf' };
const JSON_CT = { 'Content-Type': 'application/json' };

/** Wraps a real exporter's export() to see the result the SDK got. */
function watch<T extends { export: (items: unknown, cb: (r: { code: number; error?: Error }) => void) => void }>(exp: T): { exporter: T; results: { code: number; error?: Error }[] } {
  const results: { code: number; error?: Error }[] = [];
  const orig = exp.export.bind(exp);
  exp.export = (items, cb) =>
    orig(items, (r) => {
      results.push(r);
      cb(r);
    });
  return { exporter: exp, results };
}

const hex = (b: Uint8Array | string) => (typeof b === 'string' ? b : Buffer.from(b).toString('hex'));
const ns = (hr: [number, number]) => BigInt(hr[0]) * 1_000_000_000n + BigInt(hr[1]);

/** A trace request (official definitions) with `n` spans and an attribute of the given nesting. */
function traceRequest(opts: { spans?: number; depth?: number; traceId?: Buffer; name?: string } = {}) {
  let value: any = { stringValue: 'leaf' };
  for (let i = 0; i < (opts.depth ?? 0); i++) value = { kvlistValue: { values: [{ key: `k${i}`, value }] } };
  const spans = Array.from({ length: opts.spans ?? 1 }, (_, i) => ({
    traceId: opts.traceId ?? Buffer.alloc(16, 0xab),
    spanId: Buffer.from([0, 0, 0, 0, 0, 0, 1, i + 1]),
    name: `${opts.name ?? 'span'}-${i}`,
    kind: 2,
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000250000000',
    attributes: [{ key: 'deep', value }],
  }));
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'raw' } }] }, scopeSpans: [{ scope: { name: 'raw-scope' }, spans }] }] };
}
/** A trace request whose one attribute nests `depth` arrays, encoded by the official definitions in a child with a large stack. */
function hugeNesting(depth: number): Buffer {
  const script = `
    const P = require(${JSON.stringify(req.resolve('@opentelemetry/otlp-transformer/build/src/generated/root.js'))}).opentelemetry.proto;
    let v = { stringValue: 'x' };
    for (let i = 0; i < ${depth}; i++) v = { arrayValue: { values: [v] } };
    const T = P.collector.trace.v1.ExportTraceServiceRequest;
    const buf = T.encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 1), attributes: [{ key: 'a', value: v }] }] }] }] }).finish();
    process.stdout.write(Buffer.from(buf).toString('base64'));`;
  return Buffer.from(execFileSync(process.execPath, ['--stack-size=3900', '-e', script]).toString(), 'base64');
}
const encodeTraces = (o: unknown) => Buffer.from(P.collector.trace.v1.ExportTraceServiceRequest.encode(P.collector.trace.v1.ExportTraceServiceRequest.fromObject(o)).finish());

describe('the component', () => {
  test('declares its options in section:otlp_receiver; the example starts; create checks the endpoint', async () => {
    expect(otlpReceiver.home).toBe('section:otlp_receiver');
    const names = otlpReceiver.options!.map((o) => o.name);
    for (const n of ['endpoint', 'max_request_bytes', 'max_pending_bytes', 'retry_after_secs', 'max_attribute_depth', 'attributes', 'redaction_rules', 'sampling_rules']) expect(names).toContain(n);
    expect(withDefaults(otlpReceiver, {}).endpoint).toBe('127.0.0.1:4318');
    const rx = otlpReceiver.create(otlpReceiver.example!, { id: 'otlp_receiver', logger: memoryLogger() } as never) as OtlpReceiverSource;
    await rx.ready();
    expect(rx.address()!.host).toBe('127.0.0.1');
    expect(rx.address()!.port).toBeGreaterThan(0);
    await rx.stop(1000);
    expect(() => createOtlpReceiver({ endpoint: 'no port here' }, { logger: memoryLogger() })).toThrow(/otlp_receiver\.endpoint: expected "HOST:PORT"/);
  });

  test('port in use: ready() rejects with a clear error', async () => {
    const a = await start();
    const b = createOtlpReceiver({ endpoint: `127.0.0.1:${a.port}` }, { logger: memoryLogger() });
    await expect(b.ready()).rejects.toThrow(`otlp_receiver: cannot listen on 127.0.0.1:${a.port}: the address is in use`);
    await b.stop(100);
    // The first one still answers.
    expect((await post(a.port, '/v1/traces', encodeTraces(traceRequest()), PROTO)).status).toBe(200);
  });

  test('stop() is idempotent and bounded, even with idle and half-sent connections open', async () => {
    const a = await start();
    const idle = net.connect(a.port, '127.0.0.1');
    const half = net.connect(a.port, '127.0.0.1');
    await new Promise((r) => half.once('connect', r));
    half.write('POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nContent-Type: application/json\r\n\r\n{"res');
    await sleep(50);
    const t0 = Date.now();
    const s1 = a.rx.stop(800);
    const s2 = a.rx.stop(800);
    expect(s2).toBe(s1);
    await s1;
    expect(Date.now() - t0).toBeLessThan(1500);
    await waitFor('sockets closed', () => half.destroyed || half.readableEnded);
    idle.destroy();
    half.destroy();
    let completed = false;
    a.rx.batches$.subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
  });
});

describe('real OpenTelemetry SDK exporters', () => {
  test('traces over protobuf + gzip (BatchSpanProcessor): parent/child, attributes, events, status, resource', async () => {
    const a = await start({ attributes: { env: 'test' } });
    const { exporter, results } = watch(new ProtoTraceExporter({ url: a.url('/v1/traces'), compression: 'gzip' }));
    const provider = new traceBase.BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.2.3' }),
      spanProcessors: [new traceBase.BatchSpanProcessor(exporter, { scheduledDelayMillis: 50 })],
    });
    const tracer = provider.getTracer('spec-tracer', '0.1.0');
    const parent = tracer.startSpan('GET /cart', { kind: api.SpanKind.SERVER, attributes: { 'http.method': 'GET', 'http.status_code': 200 } });
    const child = tracer.startSpan('SELECT cart', { kind: api.SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', tags: ['a', 'b'] } }, api.trace.setSpan(api.context.active(), parent));
    child.addEvent('rows', { count: 3 });
    child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'timeout' });
    child.end();
    parent.end();
    await provider.forceFlush();
    await provider.shutdown();
    expect(results.map((r) => r.code)).toEqual([0]);

    const spans = a.batches.flatMap((b) => b.events);
    expect(spans).toHaveLength(2);
    expect(a.batches[0]!.stream).toMatchObject({ id: 'otlp:traces', kind: 'trace', path: 'otlp:traces', attrs: { parser: 'otlp-traces', logfile: 'otlp:traces', env: 'test' } });
    const byName = Object.fromEntries(spans.map((e) => [e.message as string, e]));
    const p = byName['GET /cart']!;
    const c = byName['SELECT cart']!;
    const pr = p.record as SpanRecord;
    const cr = c.record as SpanRecord;
    expect(pr.traceId).toBe(parent.spanContext().traceId);
    expect(pr.spanId).toBe(parent.spanContext().spanId);
    expect(pr.parentSpanId).toBeUndefined();
    expect(cr.traceId).toBe(parent.spanContext().traceId);
    expect(cr.spanId).toBe(child.spanContext().spanId);
    expect(cr.parentSpanId).toBe(parent.spanContext().spanId);
    expect(pr.spanKind).toBe(2);
    expect(cr.spanKind).toBe(3);
    expect(pr.startNs).toBe(ns(parent.startTime));
    expect(pr.endNs).toBe(ns(parent.endTime));
    expect(cr.attributes).toEqual({ 'db.system': 'postgresql', tags: ['a', 'b'] });
    expect(pr.attributes).toEqual({ 'http.method': 'GET', 'http.status_code': 200 });
    expect(cr.status).toEqual({ code: 2, message: 'timeout' });
    expect(cr.events).toEqual([{ name: 'rows', timeNs: ns(child.events[0].time), attributes: { count: 3 } }]);
    expect(cr.resource).toMatchObject({ 'service.name': 'checkout', 'service.version': '1.2.3' });
    expect(cr.scope).toEqual({ name: 'spec-tracer', version: '0.1.0' });
    expect(c.ts).toBe(cr.startNs);
    expect(c.attrs).toMatchObject({
      trace_id: cr.traceId,
      span_id: cr.spanId,
      parent_span_id: pr.spanId,
      status: 'error',
      'service.name': 'checkout',
      'db.system': 'postgresql',
      tags: '["a","b"]',
      duration_ms: Number(cr.endNs - cr.startNs) / 1e6,
    });
    expect(p.attrs).not.toHaveProperty('parent_span_id');
    const st = a.rx.status() as any;
    expect(st.requests.traces['200']).toBe(1);
  });

  test('traces over JSON (exporter-trace-otlp-http, SimpleSpanProcessor, gzip)', async () => {
    const a = await start();
    const { exporter, results } = watch(new JsonTraceExporter({ url: a.url('/v1/traces'), compression: 'gzip' }));
    const provider = new traceBase.BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'json-svc' }), spanProcessors: [new traceBase.SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('json-tracer');
    const root = tracer.startSpan('root', { attributes: { big: 2 ** 40, ratio: 0.5, ok: true } });
    const kid = tracer.startSpan('kid', {}, api.trace.setSpan(api.context.active(), root));
    kid.end();
    root.end();
    await provider.forceFlush();
    await provider.shutdown();
    expect(results.length).toBe(2);
    expect(results.every((r) => r.code === 0)).toBe(true);
    const recs = a.batches.flatMap((b) => b.events.map((e) => e.record as SpanRecord));
    const r = recs.find((x) => x.name === 'root')!;
    const k = recs.find((x) => x.name === 'kid')!;
    expect(k.parentSpanId).toBe(root.spanContext().spanId);
    expect(k.traceId).toBe(root.spanContext().traceId);
    expect(r.attributes).toEqual({ big: 2 ** 40, ratio: 0.5, ok: true });
    expect(r.startNs).toBe(ns(root.startTime));
    expect(r.resource!['service.name']).toBe('json-svc');
  });

  test('logs over protobuf + gzip: body, severity, attributes, times, trace context, resource', async () => {
    const a = await start({ attributes: { team: 'pay' } });
    const { exporter, results } = watch(new OTLPLogExporter({ url: a.url('/v1/logs'), compression: 'gzip' }));
    const provider = new sdkLogs.LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'billing' }), processors: [new sdkLogs.SimpleLogRecordProcessor(exporter)] });
    const logger = provider.getLogger('spec-logger', '2.0.0');
    const spanCtx = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
    const ctx = api.trace.setSpanContext(api.context.active(), spanCtx);
    const t = Date.UTC(2024, 4, 1, 12, 0, 0, 123);
    logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'card declined', attributes: { 'order.id': 42, nested: { a: [1, 2] } }, timestamp: new Date(t), context: ctx });
    logger.emit({ severityNumber: SeverityNumber.INFO, body: { event: 'checkout', items: 3 } });
    await provider.forceFlush();
    await provider.shutdown();
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const events = a.batches.flatMap((b) => b.events);
    expect(events).toHaveLength(2);
    expect(a.batches[0]!.stream).toMatchObject({ id: 'otlp:logs', kind: 'log', attrs: { parser: 'otlp', logfile: 'otlp:logs', team: 'pay' } });
    // The SDK exported the two records in two requests, which may arrive in either order.
    const w = events.find((e) => e.message === 'card declined');
    const i = events.find((e) => e !== w);
    expect(w!.message).toBe('card declined');
    expect(w!.ts).toBe(BigInt(t) * 1_000_000n);
    expect(w!.attrs).toEqual({ 'order.id': 42, nested: '{"a":[1,2]}', severity: 'WARN', trace_id: spanCtx.traceId, span_id: spanCtx.spanId, 'service.name': 'billing' });
    const wr = w!.record as LogRecord;
    expect(wr).toMatchObject({ kind: 'log', severityNumber: 13, severityText: 'WARN', traceId: spanCtx.traceId, spanId: spanCtx.spanId, attributes: { 'order.id': 42, nested: { a: [1, 2] } }, scope: { name: 'spec-logger', version: '2.0.0' } });
    expect(wr.body).toBeUndefined();
    expect(wr.resource!['service.name']).toBe('billing');
    expect(typeof wr.observedNs).toBe('bigint');
    expect(JSON.parse(i!.message as string)).toEqual({ event: 'checkout', items: 3 });
    expect((i!.record as LogRecord).body).toEqual({ event: 'checkout', items: 3 });
    expect((i!.record as LogRecord).severityNumber).toBe(9);
    // No timestamp given: the SDK sets the record time to now (as it observed it).
    expect(Number(i!.ts! / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
  });

  test('metrics over protobuf + gzip: counter, up-down counter, gauge, histogram', async () => {
    const a = await start();
    const { exporter, results } = watch(new OTLPMetricExporter({ url: a.url('/v1/metrics'), compression: 'gzip' }));
    const reader = new sdkMetrics.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const provider = new sdkMetrics.MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'meters' }), readers: [reader] });
    const meter = provider.getMeter('spec-meter', '3.0.0');
    meter.createCounter('requests', { unit: '1', description: 'requests served' }).add(5, { route: '/a' });
    meter.createUpDownCounter('queue.depth').add(-2);
    meter.createGauge('temperature', { unit: 'Cel' }).record(21.5, { room: 'lab' });
    const h = meter.createHistogram('latency', { unit: 'ms' });
    h.record(10);
    h.record(30);
    await provider.forceFlush();
    expect(results.map((r) => r.code)).toEqual([0]);
    await provider.shutdown(); // exports the (cumulative) points once more
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(a.batches).toHaveLength(2);
    const events = a.batches[0]!.events;
    expect(a.batches[0]!.stream).toMatchObject({ id: 'otlp:metrics', kind: 'metric', attrs: { parser: 'agent-metrics', logfile: 'otlp:metrics' } });
    const rec = (name: string) => events.find((e) => (e.record as MetricRecord).name === name)!;
    const req = rec('requests').record as MetricRecord;
    expect(req).toMatchObject({ kind: 'metric', name: 'requests', value: 5, fields: { route: '/a' }, monotonic: true, unit: '1', description: 'requests served', scope: { name: 'spec-meter', version: '3.0.0' } });
    expect(typeof req.startNs).toBe('bigint');
    expect(req.resource!['service.name']).toBe('meters');
    expect(rec('requests').message).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[otlp\(meters\)\] requests 5 route="\/a"\n$/);
    const q = rec('queue.depth').record as MetricRecord;
    expect(q.value).toBe(-2);
    expect(q.monotonic).toBeUndefined();
    const g = rec('temperature').record as MetricRecord;
    expect(g).toMatchObject({ value: 21.5, fields: { room: 'lab' }, unit: 'Cel' });
    expect(g.monotonic).toBeUndefined();
    expect(rec('latency.count').record).toMatchObject({ value: 2, monotonic: true, unit: 'ms' });
    const sum = rec('latency.sum').record as MetricRecord;
    expect(sum.value).toBe(40);
    expect(sum.monotonic).toBeUndefined();
    expect(events).toHaveLength(5);
    expect(rec('latency.sum').attrs).toEqual({ 'service.name': 'meters' });
  });
});

describe('bad input', () => {
  test('each is answered with the right code and message; what was accepted before is unchanged', async () => {
    const a = await start({ max_request_bytes: 65536, max_attribute_depth: 4 });
    const b = await start();
    const good = await post(a.port, '/v1/traces', encodeTraces(traceRequest({ spans: 2, depth: 2 })), PROTO);
    expect(good.status).toBe(200);
    expect(good.headers['content-type']).toBe('application/x-protobuf');
    expect(P.collector.trace.v1.ExportTraceServiceResponse.decode(good.body).partialSuccess).toBeFalsy();
    const before = JSON.stringify(a.batches, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    expect(a.batches).toHaveLength(1);

    const status = (r: Answer) => (r.headers['content-type'] === 'application/x-protobuf' ? undefined : JSON.parse(r.body.toString()));

    // Truncated protobuf.
    const full = encodeTraces(traceRequest({ spans: 3 }));
    const trunc = await post(a.port, '/v1/traces', full.subarray(0, full.length - 7), PROTO);
    expect(trunc.status).toBe(400);
    // A protobuf error answer is a google.rpc.Status: field 2 is the message.
    expect(trunc.body.toString('latin1')).toMatch(/invalid protobuf ExportTraceServiceRequest/);

    // Wrong content type, path, method.
    const ct = await post(a.port, '/v1/traces', 'hello', { 'Content-Type': 'text/plain' });
    expect(ct.status).toBe(415);
    expect(status(ct).message).toMatch(/Content-Type "text\/plain" is not supported/);
    expect((await post(a.port, '/v1/spans', '{}', JSON_CT)).status).toBe(404);
    const get = await post(a.port, '/v1/logs', '', JSON_CT, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect((await post(a.port, '/v1/logs', '{}', { ...JSON_CT, 'Content-Encoding': 'br' })).status).toBe(415);

    // Invalid JSON, wrong types.
    const inv = await post(a.port, '/v1/logs', '{"resourceLogs": [', JSON_CT);
    expect(inv.status).toBe(400);
    expect(status(inv).message).toMatch(/^body: invalid JSON/);
    const wrong = await post(a.port, '/v1/logs', JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }, { severityText: 7 }] }] }] }), JSON_CT);
    expect(wrong.status).toBe(400);
    expect(status(wrong).message).toBe('resourceLogs[0].scopeLogs[0].logRecords[1].severityText: expected a string, got number 7');

    // Deep nesting, JSON and protobuf: the message names the field.
    let deep: any = { stringValue: 'x' };
    for (let i = 0; i < 5; i++) deep = { arrayValue: { values: [deep] } };
    const logs = { resourceLogs: [{ scopeLogs: [{}, { logRecords: [{}, {}, {}, { body: deep }] }] }] };
    const dj = await post(a.port, '/v1/logs', JSON.stringify(logs), JSON_CT);
    expect(dj.status).toBe(400);
    expect(status(dj)).toEqual({ code: 3, message: 'resourceLogs[0].scopeLogs[1].logRecords[3].body: nesting deeper than 4' });
    const dp = await post(a.port, '/v1/traces', encodeTraces(traceRequest({ depth: 5 })), PROTO);
    expect(dp.status).toBe(400);
    expect(dp.body.toString('latin1')).toContain('resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value: nesting deeper than 4');
    // Nesting far past what a decoder's stack holds (encoded by the official definitions in a
    // child with a larger stack): still a 400, and the receiver keeps running.
    const hp = await post(b.port, '/v1/traces', hugeNesting(10_000), PROTO);
    expect(hp.status).toBe(400);
    expect(hp.body.toString('latin1')).toContain('body: nesting too deep to decode');

    // A gzip bomb: under 64 KiB of gzip that would be 60 MB.
    const bomb = zlib.gzipSync(Buffer.alloc(60 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(65536);
    const rss0 = process.memoryUsage().rss;
    const gb = await post(a.port, '/v1/logs', bomb, { ...JSON_CT, 'Content-Encoding': 'gzip' });
    expect(gb.status).toBe(413);
    expect(status(gb).message).toMatch(/more than max_request_bytes \(65536\) bytes once decompressed/);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(50 * 1024 * 1024);

    // Invalid gzip.
    const ig = await post(a.port, '/v1/logs', 'not gzip at all', { ...JSON_CT, 'Content-Encoding': 'gzip' });
    expect(ig.status).toBe(400);
    expect(status(ig).message).toMatch(/^body: invalid gzip data/);

    expect(JSON.stringify(a.batches, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(before);
    const st = a.rx.status() as any;
    expect(st.requests.traces).toMatchObject({ '200': 1, '400': 2, '415': 1 });
    expect((b.rx.status() as any).requests.traces).toEqual({ '400': 1 });
    expect(a.rx.counters.dropped).toMatchObject({ invalid_body: 5, unsupported_media_type: 1, unsupported_encoding: 1, not_found: 1, method_not_allowed: 1, request_too_large: 1, invalid_compression: 1 });
    expect(st.lastError.status).toBe(400);
  });

  test('a 100 MB body is answered 413 without being read (declared length, and chunked)', async () => {
    const a = await start();
    const rss0 = process.memoryUsage().rss;
    const send = (chunked: boolean) =>
      new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
        const headers: Record<string, string> = { 'Content-Type': 'application/x-protobuf' };
        if (!chunked) headers['Content-Length'] = String(100 * 1024 * 1024);
        const r = http.request({ host: '127.0.0.1', port: a.port, path: '/v1/logs', method: 'POST', headers });
        const chunk = Buffer.alloc(1024 * 1024, 7);
        let sent = 0;
        let answered = false;
        r.on('response', (res) => {
          answered = true;
          const parts: Buffer[] = [];
          res.on('data', (c) => parts.push(c));
          res.on('end', () => {
            r.destroy();
            resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString('latin1'), sent });
          });
        });
        r.on('error', (e) => (answered ? undefined : reject(e)));
        const pump = () => {
          while (!answered && sent < 100) {
            sent++;
            if (!r.write(chunk)) return void r.once('drain', pump);
          }
          if (!answered) r.end();
        };
        pump();
      });
    const declared = await send(false);
    expect(declared.status).toBe(413);
    expect(declared.body).toContain('Content-Length 104857600 is over max_request_bytes (4194304)');
    const chunked = await send(true);
    expect(chunked.status).toBe(413);
    expect(chunked.body).toContain('more than max_request_bytes (4194304) bytes');
    const st = a.rx.status() as any;
    // What the receiver kept: at most the limit; what it read and threw away after answering is
    // bounded too (max_request_bytes per refused request), far from 2 × 100 MB.
    expect(st.bytes.wire).toBeLessThanOrEqual(4 * 1024 * 1024 + 1024 * 1024);
    await waitFor('lingering ended', () => (a.rx.status() as any).connections === 0);
    expect(st.bytes.wire + (a.rx.status() as any).bytes.discarded).toBeLessThan(3 * 4 * 1024 * 1024 + 4 * 1024 * 1024);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(60 * 1024 * 1024);
    expect(a.batches).toHaveLength(0);
    expect(a.rx.counters.dropped.request_too_large).toBe(2);
  });

  test('partial success: an invalid trace id rejects that span alone (JSON, snake_case, int64 as numbers)', async () => {
    const a = await start();
    const body = {
      resource_spans: [
        {
          scope_spans: [
            {
              spans: [
                { trace_id: '5B8EFFF798038103D269B633813FC60C', span_id: 'EEE19B7EC3C1B174', name: 'ok', start_time_unix_nano: 1700000000000000000, end_time_unix_nano: '1700000000001000000', kind: 'SPAN_KIND_SERVER' },
                { trace_id: '00000000000000000000000000000000', span_id: 'eee19b7ec3c1b175', name: 'zero trace' },
                { traceId: 'abc', spanId: 'eee19b7ec3c1b176', name: 'short trace' },
              ],
            },
          ],
        },
      ],
    };
    const r = await post(a.port, '/v1/traces', JSON.stringify(body), JSON_CT);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const ans = JSON.parse(r.body.toString());
    expect(ans.partialSuccess.rejectedSpans).toBe('2');
    expect(ans.partialSuccess.errorMessage).toContain('resourceSpans[0].scopeSpans[0].spans[1].traceId: invalid trace id');
    const recs = a.batches.flatMap((b) => b.events.map((e) => e.record as SpanRecord));
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', spanKind: 2, startNs: 1700000000000000000n, endNs: 1700000000001000000n });
    expect(a.rx.counters.dropped.rejected_item).toBe(2);
    // protobuf: the partial success decodes with the official definitions.
    const pb = await post(a.port, '/v1/traces', encodeTraces(traceRequest({ traceId: Buffer.alloc(16, 0) })), PROTO);
    expect(pb.status).toBe(200);
    const decoded = P.collector.trace.v1.ExportTraceServiceResponse.toObject(P.collector.trace.v1.ExportTraceServiceResponse.decode(pb.body), { longs: String });
    expect(decoded.partialSuccess.rejectedSpans).toBe('1');
  });

  test('slow clients: headers or bodies that do not arrive in time are answered 408 and closed', async () => {
    const a = await start({ header_timeout_secs: 0.3, request_timeout_secs: 0.6 });
    const slow = (text: string) =>
      new Promise<{ data: string; ms: number }>((resolve) => {
        const t0 = Date.now();
        const s = net.connect(a.port, '127.0.0.1', () => s.write(text));
        let data = '';
        s.on('data', (d) => (data += d.toString()));
        s.on('close', () => resolve({ data, ms: Date.now() - t0 }));
        s.on('error', () => undefined);
      });
    const [h, b] = await Promise.all([slow('POST /v1/logs HTTP/1.1\r\nHost: x\r\n'), slow('POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"resource')]);
    expect(h.data).toMatch(/^HTTP\/1\.1 408/);
    expect(b.data).toMatch(/^HTTP\/1\.1 408/);
    expect(h.ms).toBeLessThan(3000);
    expect(b.ms).toBeLessThan(3000);
    expect(a.rx.counters.dropped.timeout).toBe(2);
    expect((await post(a.port, '/v1/traces', encodeTraces(traceRequest()), PROTO)).status).toBe(200);
  });

  test('a connection cap refuses connections past max_connections', async () => {
    const a = await start({ max_connections: 2 });
    const socks = await Promise.all([0, 1].map(() => new Promise<net.Socket>((r) => { const s = net.connect(a.port, '127.0.0.1', () => r(s)); })));
    await sleep(50);
    const third = await new Promise<string>((resolve) => {
      const s = net.connect(a.port, '127.0.0.1');
      s.on('close', () => resolve('closed'));
      s.on('error', () => undefined);
    });
    expect(third).toBe('closed');
    expect(a.rx.counters.dropped.connection_limit).toBe(1);
    for (const s of socks) s.destroy();
  });
});

describe('OTLP/JSON and encodings (raw requests)', () => {
  test('logs and metrics as JSON: snake_case names, int64 as strings and numbers, bytes, every metric type, deflate', async () => {
    const a = await start();
    const logs = {
      resource_logs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { string_value: 'jsonapp' } }] },
          scope_logs: [
            {
              scope: { name: 'raw', version: '1' },
              log_records: [
                {
                  time_unix_nano: '1700000000123456789',
                  severity_number: 17,
                  severity_text: 'ERROR',
                  body: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'boom' } }, { key: 'n', value: { intValue: '9007199254740993' } }] } },
                  attributes: [
                    { key: 'bin', value: { bytesValue: Buffer.from('hi').toString('base64') } },
                    { key: 'count', value: { intValue: 3 } },
                    { key: '__proto__', value: { stringValue: 'safe' } },
                    { key: 'empty', value: {} },
                  ],
                  trace_id: '5B8EFFF798038103D269B633813FC60C',
                  span_id: 'EEE19B7EC3C1B174',
                },
                { observedTimeUnixNano: 1700000001000000000, body: { stringValue: 'only observed time' } },
              ],
            },
          ],
        },
      ],
    };
    const r1 = await post(a.port, '/v1/logs', zlib.deflateSync(JSON.stringify(logs)), { 'Content-Type': 'application/json; charset=utf-8', 'Content-Encoding': 'deflate' });
    expect(r1.status).toBe(200);
    expect(JSON.parse(r1.body.toString())).toEqual({});
    const [e1, e2] = a.batches[0]!.events;
    const lr = e1!.record as LogRecord;
    expect(lr.body).toEqual({ msg: 'boom', n: 9007199254740993n });
    expect(e1!.message).toBe('{"msg":"boom","n":"9007199254740993"}');
    expect(e1!.ts).toBe(1700000000123456789n);
    expect(lr.attributes!.bin).toEqual(Buffer.from('hi'));
    expect(lr.attributes!.count).toBe(3);
    expect(Object.getOwnPropertyDescriptor(lr.attributes, '__proto__')!.value).toBe('safe');
    expect(Object.getPrototypeOf(lr.attributes)).toBe(Object.prototype);
    expect(lr.attributes!.empty).toBeNull();
    expect(lr).toMatchObject({ severityNumber: 17, severityText: 'ERROR', traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', scope: { name: 'raw', version: '1' }, resource: { 'service.name': 'jsonapp' } });
    expect(e1!.attrs).toMatchObject({ bin: 'aGk=', count: 3, severity: 'ERROR', 'service.name': 'jsonapp' });
    expect(e1!.attrs).not.toHaveProperty('empty');
    expect(e2!.message).toBe('only observed time');
    expect(e2!.ts).toBe(1700000001000000000n);

    const pt = (extra: object) => ({ timeUnixNano: '1700000000000000000', startTimeUnixNano: '1699999990000000000', attributes: [{ key: 'host', value: { stringValue: 'h1' } }], ...extra });
    const metrics = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'g', gauge: { dataPoints: [pt({ asDouble: 1.5 }), pt({ asInt: '7', flags: 1 })] } },
                { name: 'delta', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [pt({ asInt: 4 })] } },
                { name: 'cum', sum: { aggregation_temporality: 2, is_monotonic: true, data_points: [pt({ as_int: '10' })] } },
                { name: 'eh', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [pt({ count: '6', sum: 12.5, scale: 1, positive: { offset: 0, bucketCounts: ['6'] } })] } },
                { name: 'sm', summary: { dataPoints: [pt({ count: 3, sum: 9, quantileValues: [{ quantile: 0.5, value: 3 }] })] } },
                { name: 'novalue', gauge: { dataPoints: [pt({})] } },
                { name: '', gauge: { dataPoints: [pt({ asDouble: 1 })] } },
                { name: 'nodata' },
              ],
            },
          ],
        },
      ],
    };
    const r2 = await post(a.port, '/v1/metrics', zlib.deflateRawSync(JSON.stringify(metrics)), { ...JSON_CT, 'Content-Encoding': 'deflate' });
    expect(r2.status).toBe(200);
    const ps = JSON.parse(r2.body.toString()).partialSuccess;
    expect(ps.rejectedDataPoints).toBe('2');
    expect(ps.errorMessage).toContain('resourceMetrics[0].scopeMetrics[0].metrics[5].gauge.dataPoints[0]: a data point needs asDouble or asInt');
    const recs = a.batches[1]!.events.map((e) => e.record as MetricRecord);
    expect(recs.map((r) => [r.name, r.value, r.monotonic ?? false])).toEqual([
      ['g', 1.5, false],
      ['delta', 4, false],
      ['cum', 10, true],
      ['eh.count', 6, true],
      ['eh.sum', 12.5, false],
      ['sm.count', 3, true],
      ['sm.sum', 9, false],
    ]);
    expect(recs[2]).toMatchObject({ fields: { host: 'h1' }, startNs: 1699999990000000000n });
    expect(a.batches[1]!.events[0]!.ts).toBe(1700000000000000000n);
    expect(a.batches[1]!.events[0]!.message).toBe('2023-11-14 22:13:20.000Z [otlp()] g 1.5 host="h1"\n');
    expect(a.rx.counters.dropped).toMatchObject({ no_recorded_value: 1, metric_without_data: 1, rejected_item: 2 });
  });

  test('an empty request is a success; the budget refuses by Content-Length before reading the body', async () => {
    const a = await start({ max_pending_bytes: 2048 }, { hold: true });
    expect((await post(a.port, '/v1/logs', '{}', JSON_CT)).status).toBe(200);
    expect(a.batches).toHaveLength(0);
    const one = encodeTraces(traceRequest({ spans: 30 }));
    expect((await post(a.port, '/v1/traces', one, PROTO)).status).toBe(200);
    const wire0 = (a.rx.status() as any).bytes.wire;
    const r = await post(a.port, '/v1/traces', one, PROTO);
    expect(r.status).toBe(429);
    expect(r.headers['content-type']).toBe('application/x-protobuf');
    expect((a.rx.status() as any).bytes.wire).toBe(wire0); // refused from its header alone
    a.ackAll();
    expect((await post(a.port, '/v1/traces', one, PROTO)).status).toBe(200);
    // end offsets: the running count of accepted bytes of the stream; acks release exactly that.
    expect(a.batches.map((b) => b.end)).toEqual([one.length, 2 * one.length]);
    expect((a.rx.status() as any).pending.bytes).toBe(one.length);
  });
});

describe('budget', () => {
  test('429 + Retry-After once max_pending_bytes is used; acks free it; the SDK retry delivers everything', async () => {
    const a = await start({ max_pending_bytes: 4096, retry_after_secs: 1 }, { hold: true });
    // The first request is accepted even though it is larger than the budget (nothing pending).
    const big = encodeTraces(traceRequest({ spans: 60, name: 'first' }));
    expect(big.length).toBeGreaterThan(4096);
    expect((await post(a.port, '/v1/traces', big, PROTO)).status).toBe(200);
    expect((a.rx.status() as any).pending).toMatchObject({ bytes: big.length, budget: 4096 });
    // Now nothing more fits: raw request → 429 with Retry-After and a Status body.
    const refused = await post(a.port, '/v1/traces', encodeTraces(traceRequest({ spans: 1, name: 'raw' })), PROTO);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');

    // The SDK exporter is refused too, then its retry (after Retry-After) gets through once acked.
    const { exporter, results } = watch(new ProtoTraceExporter({ url: a.url('/v1/traces'), timeoutMillis: 8000 }));
    const provider = new traceBase.BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'retry' }), spanProcessors: [new traceBase.SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('retry');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = tracer.startSpan(`retried-${i}`);
      ids.push(s.spanContext().spanId);
      s.end();
    }
    await waitFor('the exporter refused', () => ((a.rx.status() as any).requests.traces['429'] ?? 0) >= 2);
    expect(a.batches).toHaveLength(1);
    a.ackAll(); // the sinks deliver the first batch
    expect((a.rx.status() as any).pending.bytes).toBe(0);
    await provider.forceFlush();
    await waitFor('all retried spans arrived', () => a.batches.length === 4);
    await provider.shutdown();
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    const got = a.batches.slice(1).flatMap((b) => b.events.map((e) => (e.record as SpanRecord).spanId));
    expect(got.sort()).toEqual(ids.sort());
    a.ackAll();
    expect((a.rx.status() as any).pending.bytes).toBe(0);
    // ends: a running byte count per stream.
    const ends = a.batches.map((b) => b.end);
    expect(ends).toEqual([...ends].sort((x, y) => x - y));
    expect(a.rx.counters.dropped.over_budget).toBeGreaterThanOrEqual(2);
  });

  test('nobody subscribed yet: 503 with Retry-After (nothing accepted, nothing lost)', async () => {
    const rx = createOtlpReceiver({ endpoint: '127.0.0.1:0', retry_after_secs: 2 }, { logger: memoryLogger() });
    await rx.ready();
    try {
      const r = await post(rx.address()!.port, '/v1/traces', encodeTraces(traceRequest()), PROTO);
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('2');
    } finally {
      await rx.stop(500);
    }
  });
});
