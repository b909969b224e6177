/** APM minute → Batch conversion and the Scout check-in sink against a local HTTP server. */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { createApmBatcher, batchToMinutes } from '../sinks/checkin/toBatches.js';
import { createCheckinSink } from '../sinks/checkin/index.js';
import { buildCheckinPayload } from '../sinks/checkin/checkinPayload.js';
import { silentLogger } from '../lib/logger.js';
import type { ApmMinute } from '../lib/apm/types.js';
import { waitFor } from './apmHelpers.js';

const stats = (n: number, t: number) => ({ callCount: n, totalCallTime: t, totalExclusiveTime: t / 2, minCallTime: t / n, maxCallTime: t / n });
const minute: ApmMinute = {
  minute: Date.UTC(2026, 10, 23, 8, 52),
  minuteMs: 60_000,
  appKey: 'SecretOrgKey0123456',
  appName: 'my app',
  endpoints: [
    { name: 'Controller/GET /users/:id', kind: 'web', ...stats(2, 0.2), errors: 1, histogram: [[0.1, 2]], exclusiveHistogram: [[0.05, 2]], children: { 'SQL/all': stats(2, 0.03) }, queueTime: stats(1, 0.005) },
    { name: 'Job/report', kind: 'job', queue: 'low', ...stats(1, 1), errors: 0, histogram: [[1, 1]], exclusiveHistogram: [[0.5, 1]], children: {} },
  ],
  errorsTotal: 1,
  samplers: { 'CPU/Utilization': stats(2, 20), 'Memory/Physical': stats(1, 34.8) },
  dbQueries: [{ model: 'User', operation: 'select', scope: 'Controller/GET /users/:id', ...stats(2, 0.03), transactionCount: 1, histogram: [[0.015, 2]] }],
  traces: [
    {
      requestId: 'req-1',
      endpoint: 'Controller/GET /users/:id',
      kind: 'web',
      score: 2.5,
      start: Date.UTC(2026, 10, 23, 8, 52, 1) + 0.123,
      stop: Date.UTC(2026, 10, 23, 8, 52, 1, 100),
      totalCallTime: 0.1,
      uri: '/users/1',
      tags: { path: '/users/1' },
      spans: [{ id: 's1', operation: 'Controller/GET /users/:id', start: 1, stop: 2, tags: { stack: [{ file: 'a.js', line: 3, function: 'f' }] } }],
      truncated: false,
    },
  ],
  metadata: { source: 'Pid: 1', value: { language: 'nodejs', application_root: '/srv' }, timestamp: 0 },
  requests: 3,
};

describe('createApmBatcher', () => {
  test('one event per record, no org key in events, round trip for the check-in sink', () => {
    const b = createApmBatcher();
    const batch = b.toBatch(minute);
    expect(batch.stream).toMatchObject({ kind: 'apm', path: 'scout-apm' });
    expect(batch.events.map((e) => e.attrs!.apm_type)).toEqual(['minute', 'endpoint', 'endpoint', 'db_query', 'sampler', 'sampler', 'trace', 'metadata']);
    expect(batch.end).toBe(8);
    expect(JSON.stringify(batch.events.map((e) => [e.message, e.attrs]))).not.toContain('SecretOrgKey0123456');
    expect(batch.events[1]!.attrs).toMatchObject({ endpoint: 'Controller/GET /users/:id', call_count: 2, scout_app: 'my app', minute: '2026-11-23T08:52:00.000Z' });
    const [back] = batchToMinutes(batch, b.keyring);
    expect(back).toEqual(minute);
    expect(b.toBatch(minute).events[0]!.end).toBe(9); // offsets keep growing
  });

  test('check-in payload shape', () => {
    const p = buildCheckinPayload(minute, { hostname: 'h', agentVersion: '1.5.1', pid: 7, uniqueId: 'abc' }) as Record<string, any>;
    expect(p.metadata).toMatchObject({ app_root: '/srv', agent_time: '2026-11-23T08:52:00Z', payload_version: 2, platform: 'nodejs' });
    const keys = p.metrics.map((m: any) => `${m.key.bucket}/${m.key.name}${m.key.scope ? ' @' + m.key.scope.bucket + '/' + m.key.scope.name : ''}`);
    expect(keys).toEqual([
      'Controller/GET /users/:id',
      'SQL/all @Controller/GET /users/:id',
      'Errors/Controller/GET /users/:id',
      'QueueTime/Request @Controller/GET /users/:id',
      'Errors/Request',
      'CPU/Utilization',
      'Memory/Physical',
    ]);
    expect(p.jobs).toEqual([expect.objectContaining({ queue: 'low', name: 'report', count: 1 })]);
    expect(p.histograms).toEqual([{ name: 'Controller/GET /users/:id', histogram: [[0.1, 2]] }]);
    expect(p.db_metrics.query[0]).toMatchObject({ model_name: 'User', operation: 'select', call_count: 2 });
    expect(p.span_traces[0].identity).toMatchObject({ transaction_id: 'req-1', type: 'Web', start_instant: '2026-11-23T08:52:01.000123Z' });
    expect(p.span_traces[0].spans[0].tags.backtrace).toEqual([{ file: 'a.js', line: '3', function: 'f' }]);
  });
});

describe('createCheckinSink', () => {
  let server: http.Server;
  let url: string;
  const seen: { url: string; headers: http.IncomingHttpHeaders; body: any }[] = [];
  let answers: number[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen.push({ url: req.url!, headers: req.headers, body: JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()) });
        const code = answers.shift() ?? 200;
        res.writeHead(code).end(code === 422 ? 'bad payload' : 'ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen.length = 0;
    answers = [];
  });

  test('posts gzip JSON per (minute, app) with key/name, retries 503, acks after delivery', async () => {
    answers = [503, 200];
    const b = createApmBatcher();
    const acks: number[] = [];
    const batch = b.toBatch(minute);
    batch.stream.ack = (end) => acks.push(end);
    const sink = createCheckinSink({ ingest_url: url, retryBaseMs: 10, hostname: 'hostA' }, { logger: silentLogger, keyring: b.keyring });
    sink.write(batch);
    await waitFor(() => acks.length === 1, 5000, 'ack');
    expect(acks).toEqual([8]);
    expect(seen).toHaveLength(2);
    expect(seen[1]!.url).toBe('/apps/checkin.scout?key=SecretOrgKey0123456&name=my%20app');
    expect(seen[1]!.headers).toMatchObject({ 'content-encoding': 'gzip', 'content-type': 'application/json', 'agent-hostname': 'hostA' });
    expect(seen[1]!.body.metrics.length).toBe(7);
    // Every event of the batch went out in the minute's check-in.
    expect(sink.counters.receivedEvents).toBe(batch.events.length);
    expect(sink.counters.sentEvents).toBe(batch.events.length);
    await sink.stop(1000);
  });

  test('a 4xx answer is not retried and is counted; non-apm batches are acked and counted', async () => {
    answers = [422];
    const b = createApmBatcher();
    const sink = createCheckinSink({ ingest_url: url, retryBaseMs: 10 }, { logger: silentLogger, keyring: b.keyring });
    sink.writeMinute(minute);
    await sink.flush(2000);
    expect(seen).toHaveLength(1);
    expect(sink.counters.dropped).toEqual({ rejected: 1 });
    let acked = -1;
    sink.write({ stream: { id: 'x', kind: 'log', path: 'x', attrs: {}, ack: (e) => (acked = e) }, events: [{ message: 'm', end: 3 }], end: 3 });
    expect(acked).toBe(3);
    expect(sink.counters.dropped.not_apm).toBe(1);
    await sink.stop(1000);
  });

  test('gives up after maxAttempts on an unreachable server (counted)', async () => {
    const sink = createCheckinSink({ ingest_url: 'http://127.0.0.1:1', retryBaseMs: 5, maxAttempts: 3, timeoutMs: 500 }, { logger: silentLogger });
    sink.writeMinute(minute);
    await sink.flush(5000);
    expect(sink.counters.dropped).toEqual({ retries_exhausted: 1 });
    expect(sink.counters.errors).toBe(3);
    await sink.stop(100);
  });

  test('absurdly nested client tag values never break the batch or the sink', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20000; i++) deep = [deep];
    const m: ApmMinute = { ...minute, traces: [{ ...minute.traces[0]!, tags: { deep } }] };
    const batch = createApmBatcher().toBatch(m);
    const trace = JSON.parse(batch.events.find((e) => e.attrs!.apm_type === 'trace')!.message as string);
    expect(trace.tags).toEqual({ unserializable: true });
    const sink = createCheckinSink({ ingest_url: url, retryBaseMs: 10 }, { logger: silentLogger });
    sink.writeMinute(m);
    sink.writeMinute(minute);
    await sink.flush(2000);
    expect(seen.length).toBe(2); // the deep one was posted with its tags replaced, the next one too
    await sink.stop(100);
  });
});
