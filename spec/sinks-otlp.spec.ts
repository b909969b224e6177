/**
 * The OTLP exporter sink against a real local HTTP(S) receiver (a CA made in the test): what
 * arrives is decoded with the official protobuf definitions (testkit/otlpServer.ts loads them,
 * not the sink) or JSON.parse, and compared field by field; retries, 413 splits, 400 and partial
 * success drops, timeouts, stop/takePending and ack order under faults.
 */
import zlib from 'node:zlib';
import protobuf from 'protobufjs';
import type { Batch, Event, Stream } from '../lib/types.js';
import type { TelemetryRecord } from '../lib/telemetry.js';
import { memoryLogger } from '../lib/logger.js';
import { Credits } from '../lib/pipeline/credits.js';
import { createOtlpSink, signalUrl, type OtlpSink, type OtlpSinkConfig } from '../sinks/otlp/sink.js';
import { otlpSink } from '../sinks/otlp/component.js';
import { withDefaults } from '../lib/component.js';
import { makeTestCa, startTestServer, waitFor, type TestCa, type TestServer } from '../testkit/tlsServer.js';
import { attrsOf, decodeOtlp, otlpProto } from '../testkit/otlpServer.js';
import { startConnectProxy } from './helpers/connectProxy.js';

type TestStream = Stream & { acks: number[]; ackRequests: number[] };

let server: TestServer;
let ca: TestCa;
const sinks: OtlpSink[] = [];

function mkStream(name: string, kind = 'log', attrs: Record<string, string> = { parser: 'json', logfile: `/var/log/${name}.log` }): TestStream {
  const s: TestStream = {
    id: `file:/var/log/${name}.log`,
    kind,
    path: `/var/log/${name}.log`,
    attrs,
    acks: [],
    ackRequests: [],
    ack(end: number) {
      s.acks.push(end);
      s.ackRequests.push(server ? server.requests.length : -1);
    },
  };
  return s;
}

/** A batch of events with byte-accurate ends starting at `start`. */
function batch(stream: Stream, start: number, evs: (string | Partial<Event>)[]): Batch {
  let off = start;
  const events: Event[] = evs.map((x) => {
    const e: Partial<Event> = typeof x === 'string' ? { message: Buffer.from(x) } : { ...x };
    if (e.message === undefined) e.message = Buffer.from('x');
    off += typeof e.message === 'string' ? Buffer.byteLength(e.message) : e.message.length;
    return { ...e, end: off } as Event;
  });
  return { stream, events, end: off };
}

function mkSink(cfg: Partial<OtlpSinkConfig> = {}, readBudget?: Credits) {
  const logger = memoryLogger();
  const sink = createOtlpSink(
    { endpoint: server.url, linger_ms: 0, retry_base_ms: 50, retry_max_ms: 400, timeout: 5, version: '9.9.9', server_attributes: { serverHost: 'web-1', region: 'eu' }, ...cfg },
    { logger, id: 'sinks.test', readBudget },
  );
  sinks.push(sink);
  return { sink, logger };
}

/** Every log record received so far (protobuf), with its resource and scope. */
function receivedLogs(srv = server) {
  const out: { rec: Record<string, any>; resource: Record<string, unknown>; scope: Record<string, any> }[] = [];
  for (const r of srv.requests.filter((x) => x.url === '/v1/logs')) {
    const d = decodeOtlp('logs', r.body);
    for (const rl of d.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) for (const rec of sl.logRecords ?? []) out.push({ rec, resource: attrsOf(rl.resource?.attributes), scope: sl.scope });
  }
  return out;
}
const bodies = (srv = server) => receivedLogs(srv).map((x) => x.rec.body?.stringValue);

/** google.rpc.Status, declared in the test with protobufjs's reflection API. */
function rpcStatus(code: number, message: string): Buffer {
  const Status = new protobuf.Type('Status').add(new protobuf.Field('code', 1, 'int32')).add(new protobuf.Field('message', 2, 'string'));
  new protobuf.Root().define('google.rpc').add(Status);
  return Buffer.from(Status.encode(Status.create({ code, message })).finish());
}

beforeAll(() => {
  ca = makeTestCa();
});

beforeEach(async () => {
  server = await startTestServer();
});

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.stop(100)));
  await server.close();
});

describe('mapping (decoded with the official definitions)', () => {
  test('logs over HTTPS with a private CA: body, times, attributes, log.file.path, host.name, severity, headers, gzip', async () => {
    await server.close();
    server = await startTestServer(ca);
    const { sink } = mkSink({ ca_cert_path: ca.caPath, headers: { 'x-api-key': 'k3y-s3cret-value', 'X-Tenant': 't1' }, resource_attributes: { 'service.name': 'shop', 'deployment.environment': 'prod' } });
    const s = mkStream('app');
    const before = BigInt(Date.now()) * 1_000_000n;
    const ts = 1_700_000_000_123_456_789n;
    const lb = batch(s, 0, [
        { message: Buffer.from('{"level":"WARN","msg":"disk"}\n'), ts, attrs: { level: 'WARN', msg: 'disk', n: 5, ratio: 0.5, ok: true, nested: { a: [1, 'b'] }, big: 12345678901234567890n } },
        { message: 'plain line\r\n' },
        { message: Buffer.from('caf\u00e9 \u2603') },
      ]);
    sink.write(lb);
    await sink.flush(5000);
    const after = BigInt(Date.now()) * 1_000_000n;
    expect(s.acks).toEqual([lb.end]);
    expect(server.requests).toHaveLength(1);
    const req = server.requests[0];
    expect(req.url).toBe('/v1/logs');
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/x-protobuf');
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(req.raw).equals(req.body)).toBe(true);
    expect(req.headers['user-agent']).toMatch(/^sluice\/9\.9\.9/);
    expect(req.headers['x-api-key']).toBe('k3y-s3cret-value');
    expect(req.headers['x-tenant']).toBe('t1');
    const logs = receivedLogs();
    expect(logs).toHaveLength(3);
    const [a, b, c] = logs;
    expect(a.resource).toEqual({ 'host.name': 'web-1', region: 'eu', 'service.name': 'shop', 'deployment.environment': 'prod' });
    expect(a.scope).toEqual({ name: 'sluice', version: '9.9.9', attributes: [] });
    expect(a.rec.body).toEqual({ stringValue: '{"level":"WARN","msg":"disk"}' });
    expect(a.rec.timeUnixNano).toBe(ts.toString());
    const observed = BigInt(a.rec.observedTimeUnixNano);
    expect(observed >= before - 1_000_000n && observed <= after).toBe(true);
    expect(a.rec.severityNumber).toBe(13);
    expect(a.rec.severityText).toBe('WARN');
    expect(attrsOf(a.rec.attributes)).toEqual({
      'log.file.path': '/var/log/app.log',
      parser: 'json',
      level: 'WARN',
      msg: 'disk',
      n: '5',
      ratio: 0.5,
      ok: true,
      nested: { a: ['1', 'b'] },
      big: BigInt.asIntN(64, 12345678901234567890n).toString(),
    });
    expect(b.rec.body).toEqual({ stringValue: 'plain line\r' });
    expect(b.rec.timeUnixNano).toBe(b.rec.observedTimeUnixNano);
    expect(b.rec.severityNumber).toBeUndefined();
    expect(attrsOf(b.rec.attributes)).toEqual({ 'log.file.path': '/var/log/app.log', parser: 'json' });
    expect(c.rec.body.stringValue).toBe('caf\u00e9 \u2603');
    expect(sink.counters).toMatchObject({ receivedEvents: 3, sentEvents: 3, dropped: {} });
    const st = sink.status();
    expect(st).toMatchObject({ type: 'otlp', protocol: 'http/protobuf', compression: 'gzip', state: 'idle', requests: 1 });
    expect(JSON.stringify(st)).not.toContain('k3y-s3cret-value');
  });

  test('OTLP log records: record severity, trace context, resource and scope win; severity aliases', async () => {
    const { sink } = mkSink();
    const s = mkStream('otel', 'log', {});
    const rec: TelemetryRecord = {
      kind: 'log',
      severityNumber: 17,
      severityText: 'Error',
      attributes: { 'http.route': '/x' },
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      resource: { 'service.name': 'checkout', 'host.name': 'pod-7' },
      scope: { name: 'my.lib', version: '1.2' },
      observedNs: 1_700_000_000_000_000_001n,
    };
    sink.write(
      batch(s, 0, [
        { message: 'boom', record: rec, ts: 1_700_000_000_000_000_000n },
        { message: 'structured', record: { kind: 'log', body: { a: 1, b: ['x'] } } },
        { message: 'dbg', attrs: { severity: 'debug' } },
        { message: 'p', attrs: { level: 50 } },
        { message: 'q', attrs: { loglevel: 'Warning' } },
        { message: 'r', attrs: { level: 'chatty' } },
      ]),
    );
    await sink.flush(5000);
    const logs = receivedLogs();
    expect(logs).toHaveLength(6);
    const boom = logs.find((l) => l.rec.body?.stringValue === 'boom')!;
    expect(boom.resource).toEqual({ 'host.name': 'pod-7', region: 'eu', 'service.name': 'checkout' });
    expect(boom.scope).toEqual({ name: 'my.lib', version: '1.2', attributes: [] });
    expect(boom.rec.severityNumber).toBe(17);
    expect(boom.rec.severityText).toBe('Error');
    expect(Buffer.from(boom.rec.traceId).toString('hex')).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(Buffer.from(boom.rec.spanId).toString('hex')).toBe('b7ad6b7169203331');
    expect(boom.rec.observedTimeUnixNano).toBe('1700000000000000001');
    expect(attrsOf(boom.rec.attributes)).toEqual({ 'http.route': '/x' });
    const rest = logs.filter((l) => l !== boom);
    expect(rest.every((l) => l.resource['host.name'] === 'web-1' && l.scope.name === 'sluice')).toBe(true);
    const structured = rest.find((l) => l.rec.body?.kvlistValue)!;
    expect(attrsOf(structured.rec.body.kvlistValue.values)).toEqual({ a: '1', b: ['x'] });
    const sev = Object.fromEntries(rest.filter((l) => l.rec.body?.stringValue).map((l) => [l.rec.body.stringValue, [l.rec.severityNumber, l.rec.severityText]]));
    expect(sev).toEqual({ dbg: [5, 'debug'], p: [17, '50'], q: [13, 'Warning'], r: [undefined, undefined] });
  });

  test('metrics: gauge and monotonic sum, int and double, string values, fields, monitor, one Metric per name', async () => {
    const { sink } = mkSink();
    const s = mkStream('mon', 'metric', { parser: 'agent-metrics', logfile: '/var/log/sluice/linux_system_metrics.log', team: 'infra' });
    const t1 = 1_700_000_100_000_000_000n;
    const start = 1_700_000_000_000_000_000n;
    const mb = batch(s, 0, [
        { message: 'proc.stat.cpu 12 type=user', ts: t1, record: { kind: 'metric', name: 'proc.stat.cpu', value: 12, fields: { type: 'user' }, monotonic: true, startNs: start, unit: 's', monitor: 'linux_system_metrics', description: 'CPU time' } },
        { message: 'proc.stat.cpu 3 type=system', ts: t1, record: { kind: 'metric', name: 'proc.stat.cpu', value: 3, fields: { type: 'system' }, monotonic: true, startNs: start, unit: 's', monitor: 'linux_system_metrics' } },
        { message: 'sys.load 0.25', ts: t1, record: { kind: 'metric', name: 'sys.load', value: 0.25, monitor: 'linux_system_metrics' } },
        { message: 'disk.count 4', ts: t1, record: { kind: 'metric', name: 'disk.count', value: 4, fields: { ok: true, n: 2 } } },
        { message: 'app.state up', ts: t1, record: { kind: 'metric', name: 'app.state', value: 'up' } },
        { message: 'a line of the metric log without a record' },
      ]);
    sink.write(mb);
    await sink.flush(5000);
    expect(server.requests.map((r) => r.url).sort()).toEqual(['/v1/logs', '/v1/metrics']);
    const m = decodeOtlp('metrics', server.requests.find((r) => r.url === '/v1/metrics')!.body);
    expect(m.resourceMetrics).toHaveLength(1);
    expect(attrsOf(m.resourceMetrics[0].resource.attributes)).toEqual({ 'host.name': 'web-1', region: 'eu' });
    const metrics = m.resourceMetrics[0].scopeMetrics[0].metrics as Record<string, any>[];
    expect(metrics.map((x) => x.name)).toEqual(['proc.stat.cpu', 'sys.load', 'disk.count', 'app.state']);
    const cpu = metrics[0];
    expect(cpu.unit).toBe('s');
    expect(cpu.description).toBe('CPU time');
    expect(cpu.gauge).toBeUndefined();
    expect(cpu.sum.aggregationTemporality).toBe(2);
    expect(cpu.sum.isMonotonic).toBe(true);
    expect(cpu.sum.dataPoints).toHaveLength(2);
    expect(cpu.sum.dataPoints[0]).toMatchObject({ asInt: '12', startTimeUnixNano: start.toString(), timeUnixNano: t1.toString() });
    expect(attrsOf(cpu.sum.dataPoints[0].attributes)).toEqual({ team: 'infra', type: 'user', monitor: 'linux_system_metrics' });
    expect(attrsOf(cpu.sum.dataPoints[1].attributes)).toEqual({ team: 'infra', type: 'system', monitor: 'linux_system_metrics' });
    expect(metrics[1].gauge.dataPoints[0].asDouble).toBe(0.25);
    expect(metrics[1].gauge.dataPoints[0].asInt).toBeUndefined();
    expect(metrics[1].gauge.dataPoints[0].startTimeUnixNano).toBeUndefined();
    expect(metrics[2].gauge.dataPoints[0].asInt).toBe('4');
    expect(attrsOf(metrics[2].gauge.dataPoints[0].attributes)).toEqual({ team: 'infra', ok: true, n: '2' });
    expect(metrics[3].gauge.dataPoints[0].asInt).toBe('1');
    expect(attrsOf(metrics[3].gauge.dataPoints[0].attributes)).toEqual({ team: 'infra', value: 'up' });
    expect(bodies()).toEqual(['a line of the metric log without a record']);
    // Two requests (metrics, logs) carry the batch: if the metrics one is answered first, the
    // offset of its last event is acknowledged on its own; the batch's end only after both.
    expect(s.acks[s.acks.length - 1]).toBe(mb.end);
    expect(s.acks.slice(0, -1)).toEqual(s.acks.length === 2 ? [mb.events[4].end] : []);
    expect(sink.counters.sentEvents).toBe(6);
  });

  test('spans: ids, parent, kind, times, attributes, status, events, links; invalid records dropped and counted', async () => {
    const { sink } = mkSink();
    const s = mkStream('apm', 'trace', {});
    const root: TelemetryRecord = {
      kind: 'span',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      name: 'GET /users',
      spanKind: 2,
      startNs: 1_700_000_000_000_000_000n,
      endNs: 1_700_000_000_250_000_000n,
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': 500 },
      status: { code: 2, message: 'Internal' },
      events: [{ name: 'exception', timeNs: 1_700_000_000_100_000_000n, attributes: { 'exception.type': 'Error' } }],
      links: [{ traceId: '5bf92f3577b34da6a3ce929d0e0e4736', spanId: '10f067aa0ba902b7', attributes: { why: 'retry' } }],
      traceState: 'vendor=1',
    };
    const child: TelemetryRecord = { kind: 'span', traceId: root.traceId, spanId: '1111111111111111', parentSpanId: root.spanId, name: 'SELECT', startNs: 1_700_000_000_010_000_000n, endNs: 1_700_000_000_020_000_000n, attributes: { 'db.system': 'postgresql' } };
    const bad = { kind: 'span', traceId: 'nothex', spanId: '1', name: 'x', startNs: 1n, endNs: 2n, attributes: {} } as TelemetryRecord;
    sink.write(batch(s, 0, [{ message: 'root', record: root }, { message: 'child', record: child }, { message: 'bad', record: bad }]));
    await sink.flush(5000);
    const t = decodeOtlp('traces', server.requests.find((r) => r.url === '/v1/traces')!.body);
    const spans = t.resourceSpans[0].scopeSpans[0].spans as Record<string, any>[];
    expect(spans).toHaveLength(2);
    const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);
    expect(hex(spans[0].traceId)).toBe(root.traceId);
    expect(hex(spans[0].spanId)).toBe(root.spanId);
    expect(spans[0].parentSpanId === undefined || spans[0].parentSpanId.length === 0).toBe(true);
    expect(spans[0]).toMatchObject({ name: 'GET /users', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000250000000', traceState: 'vendor=1', status: { code: 2, message: 'Internal' } });
    expect(attrsOf(spans[0].attributes)).toEqual({ 'http.request.method': 'GET', 'http.response.status_code': '500' });
    expect(spans[0].events[0]).toMatchObject({ name: 'exception', timeUnixNano: '1700000000100000000' });
    expect(attrsOf(spans[0].events[0].attributes)).toEqual({ 'exception.type': 'Error' });
    expect(hex(spans[0].links[0].traceId)).toBe('5bf92f3577b34da6a3ce929d0e0e4736');
    expect(hex(spans[0].links[0].spanId)).toBe('10f067aa0ba902b7');
    expect(hex(spans[1].traceId)).toBe(root.traceId);
    expect(hex(spans[1].parentSpanId)).toBe(root.spanId);
    expect(spans[1].kind).toBe(1);
    expect(spans[1].status).toBeUndefined();
    expect(sink.counters.dropped).toEqual({ invalid_record: 1 });
    expect(sink.counters.sentEvents).toBe(2);
    expect(s.acks).toEqual([s.acks[0]]);
    expect(s.acks[0]).toBe(batch(s, 0, ['root', 'child', 'bad']).end);
  });

  test('http/json without compression: the OTLP/JSON mapping (hex ids, int64 as strings, enums as ints, lowerCamelCase)', async () => {
    const { sink } = mkSink({ protocol: 'http/json', compression: 'none' });
    const logs = mkStream('j');
    const traces = mkStream('t', 'trace', {});
    const metrics = mkStream('m', 'metric', {});
    sink.write(batch(logs, 0, [{ message: 'json line\n', ts: 1_700_000_000_000_000_123n, attrs: { level: 'error', count: 7, blob: Buffer.from([1, 2, 3]) } }]));
    sink.write(batch(traces, 0, [{ message: 's', record: { kind: 'span', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '1111111111111111', name: 'op', spanKind: 3, startNs: 1n, endNs: 18446744073709551615n, attributes: {}, status: { code: 1 } } }]));
    sink.write(batch(metrics, 0, [{ message: 'm', ts: 5n, record: { kind: 'metric', name: 'c', value: 9007199254740993, monotonic: true } }, { message: 'n', ts: 5n, record: { kind: 'metric', name: 'g', value: -3 } }]));
    await sink.flush(5000);
    for (const r of server.requests) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['content-encoding']).toBeUndefined();
    }
    const get = (p: string) => JSON.parse(server.requests.find((r) => r.url === p)!.body.toString('utf8'));
    const l = get('/v1/logs').resourceLogs[0];
    expect(l.resource.attributes).toContainEqual({ key: 'host.name', value: { stringValue: 'web-1' } });
    const rec = l.scopeLogs[0].logRecords[0];
    expect(rec.timeUnixNano).toBe('1700000000000000123');
    expect(typeof rec.observedTimeUnixNano).toBe('string');
    expect(rec.severityNumber).toBe(17);
    expect(rec.body).toEqual({ stringValue: 'json line' });
    expect(rec.attributes).toContainEqual({ key: 'count', value: { intValue: '7' } });
    expect(rec.attributes).toContainEqual({ key: 'blob', value: { bytesValue: Buffer.from([1, 2, 3]).toString('base64') } });
    expect(rec).not.toHaveProperty('traceId');
    const span = get('/v1/traces').resourceSpans[0].scopeSpans[0].spans[0];
    expect(span).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: '1111111111111111', kind: 3, startTimeUnixNano: '1', endTimeUnixNano: '18446744073709551615', status: { code: 1 } });
    const ms = get('/v1/metrics').resourceMetrics[0].scopeMetrics[0].metrics;
    expect(ms[0].sum).toMatchObject({ aggregationTemporality: 2, isMonotonic: true });
    expect(ms[0].sum.dataPoints[0].asDouble).toBe(9007199254740993);
    expect(ms[1].gauge.dataPoints[0]).toMatchObject({ asInt: '-3', timeUnixNano: '5' });
    // The official definitions read the same JSON (fromObject takes lowerCamelCase names, decimal int64 strings, base64 bytes).
    const P = otlpProto.collector.logs.v1.ExportLogsServiceRequest;
    const back = P.toObject(P.decode(P.encode(P.fromObject(get('/v1/logs'))).finish()), { longs: String, bytes: String });
    expect(back.resourceLogs[0].scopeLogs[0].logRecords[0]).toMatchObject({ timeUnixNano: '1700000000000000123', severityNumber: 17, severityText: 'error', body: { stringValue: 'json line' } });
    expect(back.resourceLogs[0].scopeLogs[0].logRecords[0].attributes).toContainEqual({ key: 'blob', value: { bytesValue: 'AQID' } });
  });
});

describe('delivery', () => {
  test('503 with Retry-After: 1 then 200: nothing lost, same bytes resent, acks only after success', async () => {
    server.faults.push({ status: 503, headers: { 'Retry-After': '1' }, body: rpcStatus(14, 'unavailable'), contentType: 'application/x-protobuf' });
    const { sink, logger } = mkSink({ retry_base_ms: 10, retry_max_ms: 5000 });
    const s = mkStream('r');
    const b = batch(s, 0, ['one\n', 'two\n', 'three\n']);
    sink.write(b);
    // The server records a request before it answers: wait for the sink to have read the answer.
    await waitFor(() => server.requests.length === 1 && sink.status().consecutiveFailures === 1, 5000, 'first attempt answered');
    expect(s.acks).toEqual([]);
    expect(sink.status()).toMatchObject({ state: 'retrying', consecutiveFailures: 1, lastHttpStatus: 503 });
    expect(sink.status().nextRetryTime).toBeGreaterThan(Date.now() + 500);
    await sink.flush(5000);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(950);
    expect(server.requests[1].raw.equals(server.requests[0].raw)).toBe(true);
    expect(s.acks).toEqual([b.end]);
    expect(s.ackRequests).toEqual([2]);
    expect(bodies()).toEqual(['one', 'two', 'three', 'one', 'two', 'three']);
    expect(logger.records.filter((r) => r.level === 'warn' && r.message.includes('HTTP 503: unavailable'))).toHaveLength(1);
    expect(sink.counters).toMatchObject({ sentEvents: 3, dropped: {} });
  });

  test('429 without Retry-After backs off and retries; network errors too; logged once per state', async () => {
    server.faults.push({ status: 429 }, { status: 429 }, { reset: true }, { status: 200 });
    const { sink, logger } = mkSink();
    const s = mkStream('busy');
    const b = batch(s, 0, ['a\n']);
    sink.write(b);
    await sink.flush(8000);
    expect(server.requests).toHaveLength(4);
    expect(s.acks).toEqual([b.end]);
    expect(s.ackRequests).toEqual([4]);
    const warns = logger.records.filter((r) => r.level === 'warn');
    expect(warns.filter((w) => w.message.includes('HTTP 429'))).toHaveLength(1);
    expect(logger.records.some((r) => r.level === 'info' && r.message.includes('recovered after 3 failed attempts'))).toBe(true);
  });

  test('413 splits the request in halves until it fits; a single record still too large is dropped as too_large', async () => {
    server.script = (req) => {
      const d = decodeOtlp('logs', req.body);
      const n = d.resourceLogs[0].scopeLogs[0].logRecords.length;
      const huge = d.resourceLogs[0].scopeLogs[0].logRecords.some((r: any) => r.body.stringValue.startsWith('HUGE'));
      return n > 3 || huge ? { status: 413 } : {};
    };
    const { sink } = mkSink({ linger_ms: 1000 });
    const s = mkStream('big');
    const msgs = Array.from({ length: 10 }, (_, i) => `line ${i}\n`);
    msgs.splice(5, 0, `HUGE ${'x'.repeat(1000)}\n`);
    const b = batch(s, 0, msgs);
    sink.write(b);
    await sink.flush(8000);
    expect(bodies().filter((x) => !x.startsWith('HUGE')).length).toBeGreaterThanOrEqual(10);
    // Only accepted requests count: their records, in order, each once.
    const accepted: string[] = [];
    for (const r of server.requests) {
      const recs = decodeOtlp('logs', r.body).resourceLogs[0].scopeLogs[0].logRecords.map((x: any) => x.body.stringValue);
      if (recs.length <= 3 && !recs.some((x: string) => x.startsWith('HUGE'))) accepted.push(...recs);
    }
    expect(accepted).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i}`));
    expect(sink.counters.dropped).toEqual({ too_large: 1 });
    expect(sink.counters.sentEvents).toBe(10);
    expect(s.acks[s.acks.length - 1]).toBe(b.end);
    expect([...s.acks].sort((x, y) => x - y)).toEqual(s.acks);
  });

  test('400 drops the request, counted otlp_rejected, the google.rpc.Status message logged once; later data flows', async () => {
    server.faults.push({ status: 400, body: rpcStatus(3, 'invalid timeUnixNano'), contentType: 'application/x-protobuf' }, { status: 400, body: 'plain text complaint', contentType: 'text/plain' });
    const { sink, logger } = mkSink();
    const s = mkStream('bad');
    const b1 = batch(s, 0, ['x\n', 'y\n']);
    sink.write(b1);
    await sink.flush(5000);
    expect(s.acks).toEqual([b1.end]);
    expect(sink.counters.dropped).toEqual({ otlp_rejected: 2 });
    const errs = logger.records.filter((r) => r.level === 'error');
    expect(errs).toHaveLength(1);
    expect(errs[0].message).toContain('invalid timeUnixNano');
    const b2 = batch(s, b1.end, ['z\n']);
    sink.write(b2);
    await sink.flush(5000);
    expect(logger.records.filter((r) => r.level === 'error').map((r) => r.message).join('\n')).toContain('plain text complaint');
    const b3 = batch(s, b2.end, ['ok\n']);
    sink.write(b3);
    await sink.flush(5000);
    expect(s.acks).toEqual([b1.end, b2.end, b3.end]);
    expect(sink.counters).toMatchObject({ sentEvents: 1, dropped: { otlp_rejected: 3 } });
  });

  test('partial success (protobuf and JSON answers) counts the rejected records, logs the message, does not retry', async () => {
    const Res = otlpProto.collector.logs.v1.ExportLogsServiceResponse;
    server.faults.push({ body: Buffer.from(Res.encode(Res.fromObject({ partialSuccess: { rejectedLogRecords: 2, errorMessage: 'too old' } })).finish()) });
    server.faults.push({ body: JSON.stringify({ partialSuccess: { rejectedLogRecords: '1', errorMessage: 'too old' } }), contentType: 'application/json' });
    const { sink, logger } = mkSink();
    const s = mkStream('ps');
    const b1 = batch(s, 0, ['a\n', 'b\n', 'c\n']);
    sink.write(b1);
    await sink.flush(5000);
    const b2 = batch(s, b1.end, ['d\n']);
    sink.write(b2);
    await sink.flush(5000);
    expect(server.requests).toHaveLength(2);
    expect(s.acks).toEqual([b1.end, b2.end]);
    expect(sink.counters).toMatchObject({ sentEvents: 1, dropped: { otlp_partial_success: 3 } });
    expect(logger.records.filter((r) => r.level === 'warn' && r.message.includes('too old'))).toHaveLength(1);
  });

  test('a server that never answers: the request times out and is retried', async () => {
    server.faults.push({ hang: true });
    const { sink, logger } = mkSink({ timeout: 0.3 });
    const s = mkStream('slow');
    const b = batch(s, 0, ['patience\n']);
    const t0 = Date.now();
    sink.write(b);
    await sink.flush(5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(server.requests).toHaveLength(2);
    expect(s.acks).toEqual([b.end]);
    expect(logger.records.some((r) => r.level === 'warn' && /deadline|timed? ?out/i.test(r.message))).toBe(true);
  });

  test('401 keeps the data and retries (failing), header values never shown', async () => {
    const secret = 'Bearer tok-9f8e7d6c5b4a';
    server.faults.push({ status: 401, body: `unauthorized: ${secret}`, contentType: 'text/plain' }, { status: 401, body: `unauthorized: ${secret}`, contentType: 'text/plain' });
    const { sink, logger } = mkSink({ headers: { Authorization: secret } });
    const s = mkStream('auth');
    const b = batch(s, 0, ['a\n']);
    sink.write(b);
    await waitFor(() => server.requests.length >= 1 && sink.status().state === 'failing', 5000, 'failing');
    expect(s.acks).toEqual([]);
    await sink.flush(5000);
    expect(server.requests).toHaveLength(3);
    expect(s.acks).toEqual([b.end]);
    const errs = logger.records.filter((r) => r.level === 'error');
    expect(errs).toHaveLength(1);
    expect(errs[0].message).toContain('HTTP 401');
    const all = JSON.stringify(logger.records) + JSON.stringify(sink.status()) + JSON.stringify(sink.counters);
    expect(all).not.toContain('tok-9f8e7d6c5b4a');
  });

  test('stop() with a down server returns within its deadline; takePending() hands back the unacked batches', async () => {
    const port = server.port;
    await server.close();
    const { sink } = mkSink({ endpoint: `http://127.0.0.1:${port}`, retry_base_ms: 20 });
    const s = mkStream('down');
    const b1 = batch(s, 0, ['a\n']);
    sink.write(b1);
    const t0 = Date.now();
    await sink.stop(300);
    expect(Date.now() - t0).toBeLessThan(1500);
    await sink.stop(300); // idempotent
    expect(s.acks).toEqual([]);

    const { sink: other } = mkSink({ endpoint: `http://127.0.0.1:${port}`, retry_base_ms: 20 });
    const b2 = batch(s, 0, ['x\n', 'y\n']);
    const t = mkStream('down2');
    const b3 = batch(t, 0, ['z\n']);
    other.write(b2);
    other.write(b3);
    await new Promise((r) => setTimeout(r, 200));
    const pending = other.takePending();
    expect(pending.map((p) => [p.stream.id, p.end, p.events.length])).toEqual([
      [s.id, b2.end, 2],
      [t.id, b3.end, 1],
    ]);
    other.write(batch(s, b2.end, ['late\n']));
    expect(other.counters.dropped).toEqual({ sink_stopped: 1 });
    server = await startTestServer(); // for afterEach
  });

  test('ack order with several streams interleaved, across failures: per stream in order, never before delivery', async () => {
    const { sink } = mkSink({ max_batch_events: 4, retry_base_ms: 30 });
    server.faults.push({}, { status: 502 }, {}, { status: 504 });
    const failed = new Set([1, 3]);
    const streams = [mkStream('a'), mkStream('b'), mkStream('c')];
    const offsets = [0, 0, 0];
    const bodyAtEnd = streams.map(() => new Map<number, string>());
    for (let i = 0; i < 30; i++) {
      const k = (i * 7) % 3;
      const text = `${streams[k].path} ${i}`;
      const b = batch(streams[k], offsets[k], [`${text}\n`]);
      offsets[k] = b.end;
      bodyAtEnd[k].set(b.end, text);
      sink.write(b);
    }
    sink.write({ stream: streams[0], events: [], end: offsets[0] + 10 });
    await sink.flush(8000);
    const delivered = (upTo: number) => new Set(server.requests.slice(0, upTo).filter((_r, i) => !failed.has(i)).flatMap((r) => receivedLogs({ ...server, requests: [r] } as TestServer).map((x) => x.rec.body.stringValue as string)));
    for (let k = 0; k < 3; k++) {
      const s = streams[k];
      expect([...s.acks].sort((x, y) => x - y)).toEqual(s.acks);
      expect(new Set(s.acks).size).toBe(s.acks.length);
      expect(s.acks[s.acks.length - 1]).toBe(k === 0 ? offsets[0] + 10 : offsets[k]);
      s.acks.forEach((end, j) => {
        const got = delivered(s.ackRequests[j]);
        // Every event of the stream up to the acked end was in a request that succeeded before the ack.
        for (const [e, text] of bodyAtEnd[k]) if (e <= end) expect(got.has(text)).toBe(true);
      });
    }
    expect(new Set(bodies()).size).toBe(30);
    expect(sink.counters.sentEvents).toBe(30);
  });

  test('a failing lane holds back acks of a stream whose other events went out; other kinds (apm) are acked in order', async () => {
    server.script = (req) => (req.url === '/v1/metrics' && server.requests.filter((r) => r.url === '/v1/metrics').length <= 2 ? { status: 503 } : {});
    const { sink } = mkSink({ retry_base_ms: 150, retry_max_ms: 200 });
    const mon = mkStream('mon', 'metric', {});
    const apm = mkStream('scout', 'apm', {});
    const b1 = batch(mon, 0, [{ message: 'log line' }, { message: 'cpu 1', record: { kind: 'metric', name: 'cpu', value: 1 } }, { message: 'another line' }]);
    sink.write(b1);
    const b2 = batch(apm, 0, ['scout payload']);
    sink.write(b2);
    // The server records a request before it answers: wait for the sink to have read the answer.
    await waitFor(() => bodies().length === 2 && mon.acks.length > 0, 5000, 'logs delivered');
    expect(mon.acks).toEqual([b1.events[0].end]);
    expect(apm.acks).toEqual([]);
    await sink.flush(5000);
    expect(mon.acks).toEqual([b1.events[0].end, b1.end]);
    expect(apm.acks).toEqual([b2.end]);
    expect(sink.counters.dropped).toEqual({ kind_not_exported: 1 });
    expect(sink.counters.sentEvents).toBe(3);
  });

  test('the read budget: a reader waiting for credits makes a lingering request go at once', async () => {
    const credits = new Credits(64 * 1024);
    const { sink } = mkSink({ linger_ms: 60_000 }, credits);
    const s = mkStream('budget');
    await credits.acquire(60 * 1024);
    sink.write(batch(s, 0, ['waiting\n']));
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests).toHaveLength(0);
    const waiting = credits.acquire(8 * 1024);
    await waitFor(() => server.requests.length === 1, 3000, 'early send');
    credits.release(60 * 1024);
    await waiting;
  });

  test('through a CONNECT proxy (the sink\'s own proxy option)', async () => {
    const proxy = await startConnectProxy();
    try {
      const { sink } = mkSink({ proxy: proxy.url });
      const s = mkStream('px');
      sink.write(batch(s, 0, ['via proxy\n']));
      await sink.flush(5000);
      expect(bodies()).toEqual(['via proxy']);
      expect(proxy.connects[0].target).toBe(`127.0.0.1:${server.port}`);
    } finally {
      await proxy.close();
    }
  });

  test('HTTPS: an unknown CA is refused and retried (data kept); verify_server_certificate: false accepts it', async () => {
    await server.close();
    server = await startTestServer(ca);
    const { sink, logger } = mkSink({ retry_base_ms: 50 });
    const s = mkStream('tls');
    sink.write(batch(s, 0, ['secure\n']));
    await waitFor(() => logger.records.some((r) => r.level === 'warn' && /certificate|self.signed|issuer/i.test(r.message)), 5000, 'tls failure logged');
    expect(server.requests).toHaveLength(0);
    await sink.stop(100);
    expect(s.acks).toEqual([]);
    const { sink: lax } = mkSink({ verify_server_certificate: false });
    const t = mkStream('tls2');
    const b = batch(t, 0, ['lax\n']);
    lax.write(b);
    await lax.flush(5000);
    expect(t.acks).toEqual([b.end]);
  });
});

describe('configuration', () => {
  test('endpoint → /v1/<signal>; full per-signal URLs as is; bad values name the option', () => {
    expect(signalUrl('http://collector:4318', 'logs')).toBe('http://collector:4318/v1/logs');
    expect(signalUrl('https://gw.example.com/otlp/', 'traces')).toBe('https://gw.example.com/otlp/v1/traces');
    const logger = memoryLogger();
    const s = createOtlpSink({ endpoint: 'http://u:pw@127.0.0.1:1', metrics_endpoint: 'http://127.0.0.1:2/custom' }, { logger, id: 'sinks.x' });
    sinks.push(s);
    expect(s.status().endpoints).toEqual({ logs: 'http://***:***@127.0.0.1:1/v1/logs', metrics: 'http://127.0.0.1:2/custom', traces: 'http://***:***@127.0.0.1:1/v1/traces' });
    expect(() => createOtlpSink({ endpoint: 'ftp://x' }, { logger, id: 'sinks.x' })).toThrow(/sinks\.x\.endpoint: unsupported scheme ftp:/);
    expect(() => createOtlpSink({ traces_endpoint: 'not a url' }, { logger, id: 'sinks.x' })).toThrow(/sinks\.x\.traces_endpoint: cannot parse/);
    expect(() => createOtlpSink({ headers: { 'bad header': 'v' } }, { logger, id: 'sinks.x' })).toThrow(/sinks\.x\.headers: "bad header"/);
    expect(() => createOtlpSink({ protocol: 'grpc' }, { logger, id: 'sinks.x' })).toThrow(/sinks\.x\.protocol/);
    expect(otlpSink.check!({ endpoint: 'nope', resource_attributes: [] })).toEqual([
      { key: 'resource_attributes', message: expect.any(String) },
      { key: 'endpoint', message: expect.any(String) },
    ]);
  });

  test('the component: own options and defaults from the declarations, global server_attributes applied live', async () => {
    const logger = memoryLogger();
    const credits = new Credits(6 * 1024 * 1024);
    const own = withDefaults(otlpSink, { endpoint: server.url, linger_ms: 0, headers: { 'x-k': 'v' } });
    const sink = otlpSink.create(own, { id: 'sinks.otel', logger, agent: { server_attributes: { serverHost: 'h1', dc: 'x' } }, credits, dataPath: '/tmp' }) as OtlpSink;
    sinks.push(sink);
    expect(otlpSink.accepts).toEqual(['log', 'metric', 'trace']);
    expect(sink.status()).toMatchObject({ protocol: 'http/protobuf', compression: 'gzip' });
    const s = mkStream('comp');
    sink.write(batch(s, 0, ['first\n']));
    await sink.flush(5000);
    sink.reconfigure({ server_attributes: { serverHost: 'h2' } });
    sink.write(batch(s, 6, ['second\n']));
    await sink.flush(5000);
    const logs = receivedLogs();
    expect(logs.map((l) => [l.rec.body.stringValue, l.resource['host.name'], l.resource.dc])).toEqual([
      ['first', 'h1', 'x'],
      ['second', 'h2', undefined],
    ]);
    expect(server.requests[0].headers['x-k']).toBe('v');
    expect(server.requests[0].headers['user-agent']).toMatch(/^sluice\//);
  });

  test('discard drops queued batches of superseded streams not yet in a request', async () => {
    const port = server.port;
    await server.close();
    const { sink } = mkSink({ endpoint: `http://127.0.0.1:${port}`, linger_ms: 60_000 });
    const a = mkStream('old');
    const b = mkStream('keep');
    sink.write(batch(a, 0, ['1\n', '2\n']));
    sink.write(batch(b, 0, ['3\n']));
    expect(sink.discard((st) => st === a)).toBe(2);
    expect(sink.counters.dropped).toEqual({ superseded_by_reload: 2 });
    // The emptied batch is first in the queue: acknowledged at once (nothing of it is pending any more).
    expect(a.acks).toEqual([4]);
    expect(sink.takePending().map((p) => [p.stream.id, p.events.length])).toEqual([[b.id, 1]]);
    server = await startTestServer();
  });
});
