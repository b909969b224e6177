/**
 * `url_monitor` against real local servers (testkit/tlsServer.ts: an HTTPS server with a CA made
 * here, a plain HTTP one, and a raw TCP peer that answers garbage), run through the real monitor
 * source with the default registry plus the component. Lines are checked by Scalyr's names
 * (`response`, `url`, `status`, `length`, `request_method`, `url_error`…); faults (down then up,
 * slow, garbage, non-2xx) keep a line per sample and log one line per state change.
 */
import net from 'node:net';
import { Subscription } from 'rxjs';
import { createDefaultRegistry } from '../app/builtins.js';
import { memoryLogger } from '../lib/logger.js';
import { createCounters } from '../lib/counters.js';
import type { AgentConfig, MonitorConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import { createMonitorSource } from '../sources/monitors/monitorSource.js';
import { lookupMonitorComponent } from '../sources/monitors/resolveMonitor.js';
import { checkUrlMonitor, responseValue, urlMonitorComponent } from '../sources/monitors/urlMonitor.js';
import { makeTestCa, startTestServer, type TestCa, type TestServer } from '../testkit/tlsServer.js';
import { waitUntil } from '../testkit/componentHarness.js';
import { firstValueFrom, toArray, type Observable } from 'rxjs';
import type { MonitorContext } from '../lib/registry.js';

const registry = createDefaultRegistry().add(urlMonitorComponent);
const subs: Subscription[] = [];
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const sub of subs.splice(0)) sub.unsubscribe();
  for (const c of closers.splice(0)) await c();
});

function run(cfg: Record<string, unknown>) {
  const logger = memoryLogger();
  const agent = { agent_log_path: '/var/log/sluice', agent_data_path: '/tmp', global_monitor_sample_interval: 30, global_monitor_sample_interval_enable_jitter: false } as unknown as AgentConfig;
  const src = createMonitorSource({ module: 'scalyr_agent.builtin_monitors.url_monitor', sample_interval: 0.15, ...cfg } as MonitorConfig, { logger, agent, registry });
  const batches: Batch[] = [];
  const sub = src.batches$.subscribe((b) => batches.push(b));
  subs.push(sub);
  closers.push(() => src.stop());
  const lines = () => batches.flatMap((b) => b.events.map((e) => String(e.message).replace(/^\S+ \S+ /, '').trimEnd()));
  return { src, logger, lines, stop: () => src.stop() };
}

/** A free loopback port (a server started on it and closed again). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let ca: TestCa;
beforeAll(() => {
  ca = makeTestCa('url_monitor test CA');
});

describe('url_monitor', () => {
  test('answers to Scalyr\'s module name; check needs an http(s) url and a group in extract', () => {
    expect(lookupMonitorComponent('scalyr_agent.builtin_monitors.url_monitor', registry)).toBe(urlMonitorComponent);
    expect(checkUrlMonitor({ url: 'https://x/' })).toEqual([]);
    expect(checkUrlMonitor({}).map((p) => p.key)).toEqual(['url']);
    expect(checkUrlMonitor({ url: 'ftp://x/' }).map((p) => p.key)).toEqual(['url']);
    expect(checkUrlMonitor({ url: 'http://x/', extract: 'nogroup' }).map((p) => p.key)).toEqual(['extract']);
    expect(checkUrlMonitor({ url: 'http://x/', request_headers: { header: 'a' } }).map((p) => p.key)).toEqual(['request_headers']);
    expect(urlMonitorComponent.options!.find((o) => o.name === 'timeout')).toMatchObject({ default: 10, min: 0, max: 30 });
  });

  test('value rules: extract group, first line stripped, max_characters with ...', () => {
    expect(responseValue({ logAllLines: false, maxCharacters: 200 }, '  first \r\nsecond')).toEqual({ value: 'first', length: 16 });
    expect(responseValue({ logAllLines: true, maxCharacters: 5 }, 'abcdefg\nh')).toEqual({ value: 'abcde...', length: 9 });
    expect(responseValue({ logAllLines: false, maxCharacters: 200, extract: /v=(\d+)/ }, 'x\nv=42;')).toEqual({ value: '42', length: 2 });
  });

  test('HTTPS with a CA made here: POST with headers and data, extract; without the CA it is a url_error', async () => {
    const server: TestServer = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
    closers.push(() => server.close());
    const url = `${server.url}/status`;
    const m = run({
      id: 'tls',
      url,
      ca_cert_path: ca.caPath,
      request_method: 'POST',
      request_headers: [{ header: 'X-Probe', value: 'yes' }],
      request_data: 'a=1&b=2',
      extract: '"status":"(\\w+)"',
    });
    expect(await waitUntil(() => m.lines().length >= 2, 5000)).toBe(true);
    expect(m.lines()[0]).toBe(`[url_monitor(tls)] response "success" length=7 request_method="POST" status=200 url="${url}"`);
    const r = server.requests[0];
    expect(r.method).toBe('POST');
    expect(r.body.toString()).toBe('a=1&b=2');
    expect(r.headers['x-probe']).toBe('yes');
    expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(r.headers['user-agent']).toMatch(/;monitor=url_monitor$/);
    expect(m.src.status().errors).toBe(0);

    const untrusted = run({ id: 'untrusted', url });
    expect(await waitUntil(() => untrusted.lines().length >= 2, 5000)).toBe(true);
    expect(untrusted.lines()[0]).toBe(`[url_monitor(untrusted)] response "failed" length=0 status=0 url="${url}" url_error="<urlopen error [SSL: CERTIFICA..."`);
    expect(untrusted.logger.records.filter((x) => x.level === 'error')).toHaveLength(1);
    expect(untrusted.logger.records.find((x) => x.level === 'error')!.message).toMatch(/failed: .*certificate/i);
  });

  test('peer down then up: a failed line per sample, one error, then answers and one recovery line', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/health`;
    const m = run({ id: 'flap', url, log_all_lines: true });
    expect(await waitUntil(() => m.lines().length >= 4, 5000)).toBe(true);
    for (const l of m.lines()) expect(l).toBe(`[url_monitor(flap)] response "failed" length=0 status=0 url="${url}" url_error="<urlopen error [Errno 111] Con..."`);
    const errors = () => m.logger.records.filter((x) => x.level === 'error');
    expect(errors()).toHaveLength(1);
    expect(errors()[0].message).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/health failed: .*ECONNREFUSED/);
    const server = await startTestServer(undefined, port);
    closers.push(() => server.close());
    server.faults.push({ body: 'up\nand running', contentType: 'text/plain' });
    expect(await waitUntil(() => m.lines().some((l) => l.includes('status=200')), 5000)).toBe(true);
    expect(m.lines().find((l) => l.includes('status=200'))).toBe(`[url_monitor(flap)] response "up\\nand running" length=14 request_method="GET" status=200 url="${url}"`);
    expect(errors()).toHaveLength(1);
    expect(m.logger.records.filter((x) => x.level === 'info' && /answers again \(status 200\)/.test(x.message))).toHaveLength(1);
    // Samples went on at the interval; every failed request is counted as an error in status.
    const failed = m.lines().filter((l) => l.includes('response "failed"')).length;
    expect(m.src.status()).toMatchObject({ errors: failed, alive: true, skippedTicks: 0 });
  });

  test('slow peer: timeout gives unknown_error "timed out", sampling goes on', async () => {
    const server = await startTestServer();
    closers.push(() => server.close());
    server.faults.push({ delayMs: 3000 }, { delayMs: 3000 });
    const url = `${server.url}/slow`;
    const m = run({ id: 'slow', url, timeout: 0.3 });
    expect(await waitUntil(() => m.lines().length >= 3, 6000)).toBe(true);
    const lines = m.lines();
    expect(lines[0]).toBe(`[url_monitor(slow)] response "failed" length=0 status=0 unknown_error="timed out" url="${url}"`);
    expect(lines[1]).toBe(lines[0]);
    expect(lines[2]).toBe(`[url_monitor(slow)] response "{\\"status\\":\\"success\\",\\"bytesCharged\\":0}" length=37 request_method="GET" status=200 url="${url}"`);
    expect(m.logger.records.filter((x) => x.level === 'error')).toHaveLength(1);
    expect(m.logger.records.filter((x) => x.level === 'error')[0].message).toMatch(/within 0.3s \(timeout\)/);
  });

  test('garbage answer and non-2xx status: recorded as Scalyr does, one log line per change', async () => {
    const peers = new Set<net.Socket>();
    const garbage = net.createServer((s) => {
      peers.add(s);
      s.on('close', () => peers.delete(s));
      s.on('error', () => {});
      s.end('hello, this is not HTTP\r\n\r\n');
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    closers.push(() => {
      for (const s of peers) s.destroy();
      return new Promise<void>((r) => garbage.close(() => r()));
    });
    const gurl = `http://127.0.0.1:${(garbage.address() as net.AddressInfo).port}/`;
    const g = run({ id: 'garbage', url: gurl });
    expect(await waitUntil(() => g.lines().length >= 3, 5000)).toBe(true);
    for (const l of g.lines()) expect(l).toMatch(new RegExp(`^\\[url_monitor\\(garbage\\)\\] response "failed" length=0 status=0 unknown_error="invalid HTTP answer: .*" url="${gurl.replace(/[./]/g, '\\$&')}"$`));
    expect(g.logger.records.filter((x) => x.level === 'error')).toHaveLength(1);
    expect(g.logger.records[g.logger.records.length - 1].message).not.toMatch(/recovered/);

    const server = await startTestServer();
    closers.push(() => server.close());
    server.faults.push({ status: 503, body: 'busy' }, { status: 503, body: 'busy' }, { status: 503, body: 'busy' });
    const url = `${server.url}/x`;
    const m = run({ id: 'busy', url });
    expect(await waitUntil(() => m.lines().length >= 4, 5000)).toBe(true);
    expect(m.lines().slice(0, 3)).toEqual(Array(3).fill(`[url_monitor(busy)] response "busy" length=4 request_method="GET" status=503 url="${url}"`));
    expect(m.lines()[3]).toMatch(/status=200/);
    expect(m.logger.records.filter((x) => x.level === 'warn' && /HTTP status 503/.test(x.message))).toHaveLength(1);
    expect(m.logger.records.filter((x) => x.level === 'info' && /answers again/.test(x.message))).toHaveLength(1);
  });

  test('failed requests and 4xx/5xx answers are counted in the counters the monitor is handed; request_time on demand', async () => {
    const port = await freePort();
    const counters = createCounters();
    const logger = memoryLogger();
    const ctx = { id: 'url_monitor(direct)', logger, agent: {}, credits: undefined as never, dataPath: '/tmp', sampleInterval: 1, counters } as MonitorContext;
    const sample$ = urlMonitorComponent.create({ url: `http://127.0.0.1:${port}/`, record_request_time: true }, ctx) as Observable<unknown>;
    const [s] = (await firstValueFrom(sample$.pipe(toArray()))) as { fields: Record<string, unknown> }[];
    expect(s.fields).toMatchObject({ status: 0, length: 0, url_error: '<urlopen error [Errno 111] Con...' });
    expect(typeof s.fields.request_time).toBe('number');
    await firstValueFrom(sample$.pipe(toArray()));
    expect(counters.errors).toBe(2);
    expect(counters.lastError?.message).toMatch(/ECONNREFUSED/);
    expect(logger.records.filter((x) => x.level === 'error')).toHaveLength(1);
  });
});
