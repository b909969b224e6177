/**
 * The addEvents sink against a real local HTTPS server (private CA made with node-forge):
 * exact bodies, acks only after success, every fault survived without loss, size shrinking,
 * discardBuffer, loud bad keys, CA checks, CONNECT proxy, API key never shown.
 */
import fs from 'node:fs';
import type { Batch, Event, Stream } from '../lib/types.js';
import { memoryLogger } from '../lib/logger.js';
import { createAddEventsSink, type AddEventsSink, type AddEventsSinkConfig } from '../sinks/addEvents/sink.js';
import { resolveServerUrl, noProxyMatches, parseRetryAfter } from '../sinks/addEvents/transport.js';
import {
  makeTestCa,
  parseAddEventsBody,
  resolveSequence,
  startTestServer,
  waitFor,
  type Fault,
  type TestCa,
  type TestServer,
} from '../testkit/tlsServer.js';
import { startConnectProxy } from './helpers/connectProxy.js';

const API_KEY = 'sEcReT-api-KEY-0123456789';

type TestStream = Stream & { acks: number[]; ackAt: number[] };

function mkStream(name: string, seqId: string | undefined = `seq-${name}`): TestStream {
  const s: TestStream = {
    id: `file:/var/log/${name}.log`,
    kind: 'log',
    path: `/var/log/${name}.log`,
    attrs: { parser: 'test', logfile: `/var/log/${name}.log` },
    seqId,
    acks: [],
    ackAt: [],
    ack(end: number) {
      s.acks.push(end);
      s.ackAt.push(server ? server.requests.length : -1);
    },
  };
  return s;
}

/** A batch of lines with byte-accurate ends starting at `start`. */
function lines(stream: Stream, start: number, msgs: (string | Buffer)[]): Batch {
  let off = start;
  const events: Event[] = msgs.map((m) => {
    const message = typeof m === 'string' ? Buffer.from(m) : m;
    off += message.length;
    return { message, end: off };
  });
  return { stream, events, end: off };
}

let ca: TestCa;
let otherCa: TestCa;
let server: TestServer | undefined;
const sinks: AddEventsSink[] = [];

beforeAll(() => {
  ca = makeTestCa('sluice test CA');
  otherCa = makeTestCa('unknown CA');
});

beforeEach(async () => {
  server = await startTestServer(ca);
});

afterEach(async () => {
  for (const s of sinks.splice(0)) await s.stop(100);
  await server?.close();
  server = undefined;
});

afterAll(() => {
  fs.rmSync(ca.dir, { recursive: true, force: true });
  fs.rmSync(otherCa.dir, { recursive: true, force: true });
});

function mkSink(extra: Partial<AddEventsSinkConfig> = {}, logger = memoryLogger()) {
  const sink = createAddEventsSink(
    {
      api_key: API_KEY,
      scalyr_server: server!.url,
      server_attributes: { serverHost: 'web-1', tier: 'test' },
      ca_cert_path: ca.caPath,
      version: '9.9.9',
      retry_base_ms: 5,
      retry_max_ms: 40,
      linger_ms: 10_000,
      request_deadline: 2,
      env: {},
      ...extra,
    },
    { logger, id: 'sink-under-test' },
  );
  sinks.push(sink);
  return { sink, logger };
}

function parsed(i: number) {
  return parseAddEventsBody(server!.requests[i].body);
}

/** Events of every recorded request, with sequence numbers resolved. */
function allEvents() {
  return server!.requests.flatMap((r) => resolveSequence(parseAddEventsBody(r.body).events));
}

function noKeyAnywhere(sink: AddEventsSink, logger: ReturnType<typeof memoryLogger>) {
  expect(JSON.stringify(sink.status())).not.toContain(API_KEY);
  expect(JSON.stringify(sink.counters)).not.toContain(API_KEY);
  expect(JSON.stringify(logger.records)).not.toContain(API_KEY);
}

describe('delivery', () => {
  test('exact body, headers, binary + multi-line messages, acks after success', async () => {
    const { sink, logger } = mkSink();
    const a = mkStream('a');
    const b = mkStream('b');
    const bin = Buffer.from([0x00, 0xff, 0xfe, 0x22, 0x5c, 0x60, 0x73, 0x0a]);
    sink.write(lines(a, 0, ['first line\n', 'multi\n  line\n  group\n', bin]));
    sink.write(lines(b, 100, ['other stream "quoted"\n']));
    sink.write(lines(a, 41, ['third\n']));
    expect(a.acks).toEqual([]);
    await sink.flush(3000);
    expect(server!.requests).toHaveLength(1);
    const req = server!.requests[0];
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/addEvents');
    expect(req.headers['content-encoding']).toBe('deflate');
    expect(req.headers['accept']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^sluice\/9\.9\.9/);
    const body = parsed(0);
    expect(body.head.token).toBe(API_KEY);
    expect(body.head.session).toMatch(/^[A-Za-z0-9_-]{27}=$/);
    expect(body.head.threads).toEqual([]);
    expect(body.head.sessionInfo).toEqual({ serverHost: 'web-1', tier: 'test' });
    expect(body.events.map((e) => e.message)).toEqual([
      Buffer.from('first line\n'),
      Buffer.from('multi\n  line\n  group\n'),
      bin,
      Buffer.from('other stream "quoted"\n'),
      Buffer.from('third\n'),
    ]);
    const ta = body.events[0].thread!;
    const tb = body.events[3].thread!;
    expect(body.logs).toEqual([
      { id: ta, attrs: a.attrs },
      { id: tb, attrs: b.attrs },
    ]);
    expect(body.threads).toEqual([
      { id: ta, name: 'Lines for file /var/log/a.log' },
      { id: tb, name: 'Lines for file /var/log/b.log' },
    ]);
    expect(body.events[0]).toMatchObject({ si: 'seq-a', sn: 11, attrs: a.attrs, log: ta });
    expect(body.events[1]).toMatchObject({ sd: 21 });
    expect(body.events[2]).toMatchObject({ sd: 8 });
    expect(body.events[3]).toMatchObject({ si: 'seq-b', sn: 122 });
    expect(body.events[4]).toMatchObject({ si: 'seq-a', sn: 47 });
    expect(typeof body.events[0].ts).toBe('string');
    expect(Math.abs(body.client_time - Date.now() / 1000)).toBeLessThan(5);
    expect(a.acks).toEqual([40, 47]);
    expect(b.acks).toEqual([122]);
    expect(sink.counters.sentEvents).toBe(5);
    const st = sink.status();
    expect(st.lastResponseStatus).toBe('success');
    expect(st.requests).toBe(1);
    expect(st.bytesPending).toBe(0);
    expect(st.health).toBe('good');
    noKeyAnywhere(sink, logger);
  });

  test('event attrs: sample_rate and only differing line attrs; string messages; given ts', async () => {
    const { sink } = mkSink({ compression_type: 'none' });
    const a = mkStream('a');
    sink.write({
      stream: a,
      events: [
        { message: 'sampled\n', end: 8, attrs: { sample_rate: 0.25 } },
        { message: 'jsonmsg', end: 30, ts: 1700000000123456789n, attrs: { parser: 'test', level: 'info' } },
      ],
      end: 30,
    });
    await sink.flush(3000);
    expect(server!.requests[0].headers['content-encoding']).toBeUndefined();
    const ev = parsed(0).events;
    expect(ev[0].attrs).toEqual(a.attrs);
    expect(ev[0].sample_rate).toBe(0.25);
    expect(ev[1].attrs).toEqual({ level: 'info' });
    expect(ev[1].ts).toBe('1700000000123456789');
    expect(ev[1].message.toString()).toBe('jsonmsg');
  });

  test('empty batches are acked in order, with or without a request', async () => {
    const { sink } = mkSink({ linger_ms: 0 });
    const a = mkStream('a');
    sink.write({ stream: a, events: [], end: 5 });
    await waitFor(() => a.acks.length === 1, 2000, 'ack of empty batch');
    expect(a.acks).toEqual([5]);
    expect(server!.requests).toHaveLength(0);
    server!.faults.push({ status: 503, body: 'busy' });
    sink.write(lines(a, 5, ['x\n']));
    sink.write({ stream: a, events: [], end: 20 });
    await sink.flush(3000);
    expect(a.acks).toEqual([5, 7, 20]);
    expect(a.ackAt[1]).toBe(2); // only after the second (successful) request
  });

  test('a small write goes out after the linger without flush', async () => {
    const { sink } = mkSink({ linger_ms: 30 });
    const a = mkStream('a');
    sink.write(lines(a, 0, ['hello\n']));
    await waitFor(() => a.acks.length === 1, 3000, 'linger send');
    expect(server!.requests).toHaveLength(1);
  });

  test('setServerAttributes takes effect on the next request', async () => {
    const { sink } = mkSink();
    const a = mkStream('a');
    sink.write(lines(a, 0, ['1\n']));
    await sink.flush(3000);
    sink.setServerAttributes({ serverHost: 'web-2', region: 'eu' });
    sink.write(lines(a, 2, ['2\n']));
    await sink.flush(3000);
    expect(parsed(0).head.sessionInfo).toEqual({ serverHost: 'web-1', tier: 'test' });
    expect(parsed(1).head.sessionInfo).toEqual({ serverHost: 'web-2', region: 'eu' });
    expect(parsed(1).head.session).toBe(parsed(0).head.session);
  });

  test('max_in_flight 2 keeps per-stream ack order even when the first request is retried', async () => {
    const { sink } = mkSink({ max_in_flight: 2, max_allowed_request_size: 1500, min_allowed_request_size: 1024 });
    const a = mkStream('a');
    server!.faults.push({ status: 500, body: '{"status":"error/server"}', delayMs: 50 });
    let off = 0;
    for (let i = 0; i < 10; i++) {
      const b = lines(a, off, ['y'.repeat(300) + '\n']);
      off = b.end;
      sink.write(b);
    }
    await sink.flush(5000);
    const sorted = [...a.acks].sort((x, y) => x - y);
    expect(a.acks).toEqual(sorted);
    expect(a.acks[a.acks.length - 1]).toBe(off);
    const delivered = new Map<number, number>();
    for (const e of allEvents()) delivered.set(e.num!, (delivered.get(e.num!) ?? 0) + 1);
    expect(delivered.size).toBe(10);
  });
});

describe('with the agent read budget', () => {
  /** A budget stand-in: `exhausted` is what a waiting reader would make it. */
  function budget(total: number) {
    const listeners = new Set<() => void>();
    return {
      total,
      exhausted: false,
      onWait(fn: () => void) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      wait() {
        this.exhausted = true;
        for (const fn of listeners) fn();
      },
      listeners,
    };
  }

  test('a request is at most a third of the budget, and reading that waits for budget sends at once (no linger)', async () => {
    const rb = budget(4800);
    const sink = createAddEventsSink(
      { api_key: API_KEY, scalyr_server: server!.url, ca_cert_path: ca.caPath, linger_ms: 60_000, min_allowed_request_size: 1024, env: {} },
      { logger: memoryLogger(), id: 'budgeted', readBudget: rb },
    );
    sinks.push(sink);
    expect(sink.status().allowedRequestSize).toBe(1600);
    const a = mkStream('a');
    let off = 0;
    for (let i = 0; i < 3; i++) {
      const b = lines(a, off, ['w'.repeat(100) + '\n']);
      off = b.end;
      sink.write(b);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(server!.requests).toHaveLength(0); // lingering: more data may come
    rb.wait(); // the reader now waits for budget: nothing more can come before an answer
    await waitFor(() => a.acks.includes(off), 3000, 'sent without waiting for linger_ms');
    for (let i = 0; i < 40; i++) {
      const b = lines(a, off, ['v'.repeat(100) + '\n']);
      off = b.end;
      sink.write(b);
    }
    await sink.flush(5000);
    expect(server!.requests.length).toBeGreaterThan(3);
    for (const r of server!.requests) expect(r.body.length).toBeLessThanOrEqual(1600); // the test server keeps bodies inflated
    await sink.stop(1000);
    expect(rb.listeners.size).toBe(0); // stopped sinks stop listening
  });
});

describe('pipelining with reused body buffers', () => {
  test('requests built ahead go out in order; a retried one is resent unchanged; every line once', async () => {
    const { sink } = mkSink({ max_allowed_request_size: 1500, min_allowed_request_size: 1024 });
    const a = mkStream('a');
    // Slow answers let requests be built ahead; the third request fails once.
    server!.faults.push({ delayMs: 40 }, { delayMs: 40 }, { status: 500, body: '{"status":"error/server"}' });
    let off = 0;
    const sent: string[] = [];
    for (let i = 0; i < 24; i++) {
      const line = `${String(i).padStart(3, '0')} ${'z'.repeat(290)}\n`;
      sent.push(line);
      const b = lines(a, off, [line]);
      off = b.end;
      sink.write(b);
    }
    await sink.flush(8000);
    expect(a.acks[a.acks.length - 1]).toBe(off);
    expect([...a.acks]).toEqual([...a.acks].sort((x, y) => x - y));
    const bodies = server!.requests.map((r) => parseAddEventsBody(r.body));
    // The failed attempt (request 3) and its retry (request 4) carry the very same events.
    const key = (i: number) => bodies[i].events.map((e) => [e.message.toString(), e.si, e.sn, e.sd, e.ts]);
    expect(key(3)).toEqual(key(2));
    // Every line exactly once among the successful requests, in order.
    const delivered = bodies.filter((_, i) => i !== 2).flatMap((b) => b.events.map((e) => e.message.toString()));
    expect(delivered).toEqual(sent);
  });
});

describe('faults are survived with no loss and same si/sn', () => {
  const faults: [string, Fault][] = [
    ['HTTP 500', { status: 500, body: '{"status":"error/server","message":"x"}' }],
    ['HTTP 429', { status: 429, body: '{"status":"success"}' }],
    ['error/server/backoff', { status: 200, body: '{"status":"error/server/backoff","message":"slow down"}' }],
    ['slow past the deadline', { delayMs: 1500 }],
    ['connection reset', { reset: true }],
    ['garbage body', { status: 200, body: '<html>oops</html>' }],
    ['empty body', { status: 200, body: '' }],
    ['wrong content type', { status: 200, body: 'status=success', contentType: 'text/plain' }],
    ['huge 100 MB body', { status: 200, hugeBytes: 100 * 1024 * 1024 }],
  ];
  for (const [name, fault] of faults) {
    test(name, async () => {
      const { sink, logger } = mkSink({ request_deadline: 0.5, max_response_bytes: 64 * 1024 });
      const a = mkStream('a');
      server!.faults.push(fault);
      sink.write(lines(a, 0, ['one\n', 'two\n']));
      sink.write(lines(a, 8, ['three\n']));
      await sink.flush(8000);
      expect(a.acks).toEqual([8, 14]);
      expect(a.ackAt).toEqual([2, 2]);
      expect(server!.requests).toHaveLength(2);
      const first = parsed(0).events;
      const second = parsed(1).events;
      expect(second.map((e) => [e.message.toString(), e.si, e.sn, e.sd, e.ts])).toEqual(first.map((e) => [e.message.toString(), e.si, e.sn, e.sd, e.ts]));
      expect(second.map((e) => e.message.toString())).toEqual(['one\n', 'two\n', 'three\n']);
      const st = sink.status();
      expect(st.retries).toBe(1);
      expect(st.lastResponseStatus).toBe('success');
      expect(logger.records.filter((r) => r.level === 'warn' && r.message.includes('upload failed'))).toHaveLength(1);
      if (fault.hugeBytes) expect(logger.records.some((r) => r.message.includes('responseTooLarge'))).toBe(true);
      noKeyAnywhere(sink, logger);
    }, 15000);
  }

  test('429 with Retry-After waits that long (up to the backoff cap)', async () => {
    const { sink } = mkSink({ retry_max_ms: 400 });
    const a = mkStream('a');
    server!.faults.push({ status: 429, body: '', headers: { 'Retry-After': '5' } });
    sink.write(lines(a, 0, ['x\n']));
    void sink.flush(50);
    await waitFor(() => (sink.status().requestsFailed as number) === 1, 3000, 'first failure');
    expect(sink.status().lastResponseStatus).toBe('serverTooBusy');
    expect(sink.status().nextAttemptInMs as number).toBeGreaterThan(200);
    await sink.flush(3000);
    expect(a.acks).toEqual([2]);
  });

  test('connection refused, then the server comes back', async () => {
    const port = server!.port;
    const { sink } = mkSink();
    await server!.close();
    const a = mkStream('a');
    sink.write(lines(a, 0, ['while down\n']));
    void sink.flush(100);
    await waitFor(() => (sink.status().requestsFailed as number) >= 2, 3000, 'failed attempts');
    expect(sink.status().lastResponseStatus).toBe('client/connectionFailed');
    expect(a.acks).toEqual([]);
    server = await startTestServer(ca, port);
    await sink.flush(5000);
    expect(a.acks).toEqual([11]);
    expect(parsed(0).events[0].message.toString()).toBe('while down\n');
  });
});

describe('server statuses', () => {
  test('requestTooLarge shrinks the allowed size and rebuilds into several requests', async () => {
    const { sink } = mkSink({ max_allowed_request_size: 6000, min_allowed_request_size: 1024 });
    const a = mkStream('a');
    const msgs = Array.from({ length: 20 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'z'.repeat(200)}\n`);
    sink.write(lines(a, 0, msgs));
    server!.faults.push({ body: '{"status":"error/client/requestTooLarge","message":"too big"}' });
    await sink.flush(5000);
    const firstSize = server!.requests[0].body.length;
    expect(firstSize).toBeGreaterThan(4000);
    expect(server!.requests.length).toBeGreaterThanOrEqual(3);
    // The rebuilt request fits half the refused size; after its success the limit resets.
    expect(server!.requests[1].body.length).toBeLessThanOrEqual(Math.floor(firstSize / 2));
    const delivered = server!.requests.slice(1).flatMap((r, i) => parsed(i + 1).events.map((e) => e.message.toString()));
    expect(delivered).toEqual(msgs);
    expect(a.acks[a.acks.length - 1]).toBe(msgs.join('').length);
    expect(sink.status().allowedRequestSize).toBe(6000); // reset after success
  });

  test('request_too_large_adjustment sets how much a refused request shrinks', async () => {
    const { sink } = mkSink({ max_allowed_request_size: 12000, min_allowed_request_size: 1024, request_too_large_adjustment: 0.3 });
    const a = mkStream('a');
    const msgs = Array.from({ length: 40 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'z'.repeat(200)}\n`);
    sink.write(lines(a, 0, msgs));
    server!.faults.push({ body: '{"status":"error/client/requestTooLarge","message":"too big"}' });
    await sink.flush(5000);
    const firstSize = server!.requests[0].body.length;
    expect(firstSize).toBeGreaterThan(8000);
    const second = server!.requests[1].body.length;
    expect(second).toBeLessThanOrEqual(Math.floor(firstSize * 0.3));
    expect(second).toBeGreaterThan(Math.floor(firstSize * 0.15));
    const delivered = server!.requests.slice(1).flatMap((r, i) => parsed(i + 1).events.map((e) => e.message.toString()));
    expect(delivered).toEqual(msgs);
  });

  test('discardBuffer drops with a counted reason and acks', async () => {
    const { sink } = mkSink();
    const a = mkStream('a');
    server!.faults.push({ body: '{"status":"error/client/discardBuffer"}' });
    sink.write(lines(a, 0, ['gone\n', 'also gone\n']));
    await sink.flush(3000);
    expect(server!.requests).toHaveLength(1);
    expect(a.acks).toEqual([15]);
    expect(sink.counters.dropped.discardBuffer).toBe(2);
    expect(sink.counters.sentEvents).toBe(0);
  });

  test('max_no_success_secs (off by default) drops a failing request after the window, counted', async () => {
    const { sink } = mkSink({ max_no_success_secs: 0.2 });
    const a = mkStream('a');
    for (let i = 0; i < 100; i++) server!.faults.push({ status: 503, body: '{"status":"error/server/backoff"}' });
    await new Promise((r) => setTimeout(r, 250));
    sink.write(lines(a, 0, ['given up\n']));
    await sink.flush(3000);
    expect(a.acks).toEqual([9]);
    expect(sink.counters.dropped.no_success_timeout).toBe(1);
    expect(sink.counters.sentEvents).toBe(0);
  });

  test('a bad API key is loud once per burst, shown in status, and keeps the data', async () => {
    const { sink, logger } = mkSink();
    const a = mkStream('a');
    for (let i = 0; i < 4; i++) server!.faults.push({ body: JSON.stringify({ status: 'error/client/badParam', message: `Couldn't decode API token ${API_KEY}.` }) });
    sink.write(lines(a, 0, ['keep me\n']));
    void sink.flush(100);
    await waitFor(() => server!.requests.length >= 3, 3000, 'retries');
    const st = sink.status();
    expect(st.health).toBe('error');
    expect(st.lastResponseStatus).toBe('error/client/badParam');
    expect(String(st.lastResponseMessage)).toContain('<api_key>');
    expect(a.acks).toEqual([]);
    await sink.flush(5000);
    expect(a.acks).toEqual([8]);
    expect(logger.records.filter((r) => r.level === 'error')).toHaveLength(1);
    expect(logger.records.some((r) => r.level === 'info' && r.message.includes('recovered'))).toBe(true);
    expect(server!.requests.every((r) => parseAddEventsBody(r.body).events[0].message.toString() === 'keep me\n')).toBe(true);
    noKeyAnywhere(sink, logger);
  });
});

describe('large events', () => {
  test('an event larger than a request is split into ordered pieces, never dropped', async () => {
    const { sink } = mkSink({ max_allowed_request_size: 2000, min_allowed_request_size: 1024 });
    const a = mkStream('a');
    const big = Buffer.alloc(5000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    sink.write(lines(a, 10, ['before\n', big, 'after\n']));
    await sink.flush(5000);
    for (const r of server!.requests) expect(r.body.length).toBeLessThanOrEqual(2000);
    const evs = allEvents();
    expect(evs[0].message.toString()).toBe('before\n');
    expect(evs[evs.length - 1].message.toString()).toBe('after\n');
    const pieces = evs.slice(1, -1);
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    expect(Buffer.concat(pieces.map((p) => p.message))).toEqual(big);
    const nums = evs.map((e) => e.num);
    expect(nums).toEqual([...nums].sort((x, y) => x! - y!));
    expect(pieces[pieces.length - 1].num).toBe(10 + 7 + 5000);
    expect(a.acks[a.acks.length - 1]).toBe(10 + 7 + 5000 + 6);
  });
});

describe('TLS and proxies', () => {
  test('an unknown CA fails verification (data kept); verify_server_certificate false passes', async () => {
    const { sink } = mkSink({ ca_cert_path: otherCa.caPath });
    const a = mkStream('a');
    sink.write(lines(a, 0, ['x\n']));
    void sink.flush(100);
    await waitFor(() => (sink.status().requestsFailed as number) >= 1, 3000, 'TLS failure');
    expect(String(sink.status().lastResponseMessage)).toMatch(/certificate|self.signed|verify/i);
    expect(server!.requests).toHaveLength(0);
    expect(a.acks).toEqual([]);
    const pending = sink.takePending();
    expect(pending).toHaveLength(1);
    const { sink: lax, logger } = mkSink({ ca_cert_path: undefined, verify_server_certificate: false });
    for (const b of pending) lax.write(b);
    await lax.flush(3000);
    expect(a.acks).toEqual([2]);
    expect(logger.records.some((r) => r.level === 'warn' && r.message.includes('NOT checked'))).toBe(true);
  });

  test('no ca_cert_path: our private CA is not trusted', async () => {
    const { sink } = mkSink({ ca_cert_path: undefined });
    sink.write(lines(mkStream('a'), 0, ['x\n']));
    void sink.flush(100);
    await waitFor(() => (sink.status().requestsFailed as number) >= 1, 3000, 'TLS failure');
    expect(server!.requests).toHaveLength(0);
  });

  test('https_proxy through a CONNECT tunnel with basic auth', async () => {
    const proxy = await startConnectProxy({ user: 'u', pass: 'p@ss' });
    try {
      const { sink, logger } = mkSink({ https_proxy: `http://u:p%40ss@127.0.0.1:${proxy.port}` });
      const a = mkStream('a');
      sink.write(lines(a, 0, ['via proxy\n']));
      await sink.flush(3000);
      expect(a.acks).toEqual([10]);
      expect(proxy.connects[0].target).toBe(`127.0.0.1:${server!.port}`);
      expect(proxy.connects[0].auth).toBe(`Basic ${Buffer.from('u:p@ss').toString('base64')}`);
      expect(String(sink.status().proxy)).not.toContain('p%40ss');
      expect(JSON.stringify(logger.records)).not.toContain('p%40ss');
    } finally {
      await proxy.close();
    }
  });

  test('proxy from HTTPS_PROXY env; wrong credentials fail and keep data; NO_PROXY bypasses', async () => {
    const proxy = await startConnectProxy({ user: 'u', pass: 'right' });
    try {
      const { sink } = mkSink({ env: { HTTPS_PROXY: `http://u:wrong@127.0.0.1:${proxy.port}` } });
      const a = mkStream('a');
      sink.write(lines(a, 0, ['x\n']));
      void sink.flush(100);
      await waitFor(() => (sink.status().requestsFailed as number) >= 1, 3000, 'proxy failure');
      expect(String(sink.status().lastResponseMessage)).toContain('407');
      expect(String(sink.status().lastResponseMessage)).not.toContain('wrong');
      expect(a.acks).toEqual([]);
      const { sink: direct } = mkSink({ env: { HTTPS_PROXY: `http://u:wrong@127.0.0.1:${proxy.port}`, NO_PROXY: 'localhost,127.0.0.1' } });
      for (const b of sink.takePending()) direct.write(b);
      await direct.flush(3000);
      expect(a.acks).toEqual([2]);
    } finally {
      await proxy.close();
    }
  });

  test('plain http only with allow_http', async () => {
    const plain = await startTestServer();
    try {
      const { sink } = mkSink({ scalyr_server: plain.url, allow_http: true });
      const a = mkStream('a');
      sink.write(lines(a, 0, ['plain\n']));
      await sink.flush(3000);
      expect(a.acks).toEqual([6]);
      expect(plain.requests).toHaveLength(1);
      const { sink: strict } = mkSink({ scalyr_server: plain.url });
      expect(strict.status().server).toBe(plain.url.replace('http://', 'https://'));
      // http targets use http_proxy (through CONNECT); https_proxy is not used for them.
      const proxy = await startConnectProxy();
      try {
        const { sink: proxied } = mkSink({ scalyr_server: plain.url, allow_http: true, http_proxy: proxy.url, https_proxy: 'http://127.0.0.1:1' });
        const b = mkStream('b');
        proxied.write(lines(b, 0, ['proxied\n']));
        await proxied.flush(3000);
        expect(b.acks).toEqual([8]);
        expect(proxy.connects.map((c) => c.target)).toEqual([`127.0.0.1:${plain.port}`]);
      } finally {
        await proxy.close();
      }
    } finally {
      await plain.close();
    }
  });

  test('scalyr_server normalisation and NO_PROXY matching', () => {
    expect(resolveServerUrl('agent.scalyr.com', false)).toBe('https://agent.scalyr.com');
    expect(resolveServerUrl(' http://x.example:8080 ', false)).toBe('https://x.example:8080');
    expect(resolveServerUrl('http://x.example', true)).toBe('http://x.example');
    expect(resolveServerUrl('https://x.example/', false)).toBe('https://x.example');
    expect(() => resolveServerUrl('https://x.example/api', false)).toThrow(/scalyr_server/);
    expect(() => resolveServerUrl('ftp://x.example', false)).toThrow(/scalyr_server/);
    expect(noProxyMatches('app.scalyr.com', 443, '.scalyr.com')).toBe(true);
    expect(noProxyMatches('app.scalyr.com', 443, 'scalyr.com')).toBe(true);
    expect(noProxyMatches('notscalyr.com', 443, 'scalyr.com')).toBe(false);
    expect(noProxyMatches('x', 443, '*')).toBe(true);
    expect(noProxyMatches('127.0.0.1', 8443, '127.0.0.1:9999')).toBe(false);
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('bad input', () => {
  test('malformed events are counted and skipped; the batch end is still acked', async () => {
    const { sink } = mkSink();
    const a = mkStream('a');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    sink.write({
      stream: a,
      events: [{ message: 'ok\n', end: 3 }, { message: 42 as never, end: 5 }, { message: 'attrs\n', end: 11, attrs: circular }],
      end: 11,
    });
    await sink.flush(3000);
    expect(sink.counters.dropped.invalid_event).toBe(1);
    expect(a.acks).toEqual([11]);
    const ev = parsed(0).events;
    expect(ev.map((e) => e.message.toString())).toEqual(['ok\n', 'attrs\n']);
    expect(ev[1].attrs).toHaveProperty('unserializable_attrs');
  });
});

describe('lifecycle', () => {
  test('flush waits for what was written before it, not for later writes', async () => {
    const { sink } = mkSink({ linger_ms: 0 });
    const a = mkStream('a');
    const b = mkStream('b');
    server!.faults.push({ delayMs: 100 });
    sink.write(lines(a, 0, ['first\n']));
    const f = sink.flush(3000);
    server!.faults.push({ hang: true }, { hang: true });
    sink.write(lines(b, 0, ['later\n']));
    await f;
    expect(a.acks).toEqual([6]);
    expect(b.acks).toEqual([]);
  });

  test('stop aborts a hanging request after the deadline and keeps data unacked; idempotent', async () => {
    const { sink } = mkSink({ request_deadline: 30 });
    const a = mkStream('a');
    server!.faults.push({ hang: true });
    sink.write(lines(a, 0, ['stuck\n']));
    void sink.flush(50);
    await waitFor(() => server!.requests.length === 1, 3000, 'request');
    const t0 = Date.now();
    await Promise.all([sink.stop(200), sink.stop(200)]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(a.acks).toEqual([]);
    expect(sink.status().health).toBe('stopped');
    sink.write(lines(a, 6, ['late\n']));
    expect(sink.counters.dropped.sink_stopped).toBe(1);
  });

  test('takePending returns unacked batches (partially acked head trimmed)', async () => {
    const { sink } = mkSink({ max_allowed_request_size: 1200, min_allowed_request_size: 1024 });
    const a = mkStream('a');
    const msgs = Array.from({ length: 6 }, () => 'q'.repeat(300) + '\n');
    sink.write(lines(a, 0, msgs));
    server!.faults.push({}, { hang: true });
    void sink.flush(50);
    await waitFor(() => server!.requests.length === 2, 3000, 'second request');
    await waitFor(() => a.acks.length === 1, 3000, 'first ack');
    const delivered = parsed(0).events.length;
    const pending = sink.takePending();
    expect(pending).toHaveLength(1);
    expect(pending[0].events).toHaveLength(6 - delivered);
    expect(pending[0].end).toBe(6 * 301);
    expect(a.acks).toEqual([delivered * 301]);
  });
});
