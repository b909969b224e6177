/**
 * Scout requests as spans (`sources/spanSocket/toSpans.ts`) and their emission by the APM intake
 * with `export_spans` (`sources/spanSocket/intakeSource.ts`): the mapping rules on built
 * requests, the bounded trace stream through the real component on a real Unix socket, the real
 * `@scout_apm/scout-apm` agent in a child process, and a replay of captured Node-agent frames.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { CompletedRequest, CompletedSpan } from '../lib/apm/types.js';
import type { SpanRecord } from '../lib/telemetry.js';
import type { Batch } from '../lib/types.js';
import { silentLogger } from '../lib/logger.js';
import { ScoutKeyring, keyId } from '../sinks/checkin/keyring.js';
import {
  MAX_UNACKED_SPANS,
  createSpanBatcher,
  flattenAttrs,
  msToNs,
  requestToSpans,
  spanIdOf,
  traceIdOf,
} from '../sources/spanSocket/toSpans.js';
import { createApmIntakeSource, apmIntakeSource } from '../sources/spanSocket/component.js';
import { runCoreAgent, type CoreAgentHandle } from '../app/cli/runCoreAgent.js';
import { FrameClient, waitFor } from './apmHelpers.js';
import { get } from './helpers/http.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const req = createRequire(path.join(ROOT, 'package.json'));

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const bigintSafe = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : Buffer.isBuffer(x) ? x.toString('hex') : x));
const T0 = Date.UTC(2026, 11, 3, 19, 0, 0); // ms

function span(id: string, operation: string, start: number, stop: number, extra: Partial<CompletedSpan> = {}): CompletedSpan {
  return { id, operation, start: T0 + start, stop: T0 + stop, tags: {}, ...extra };
}
function request(spans: CompletedSpan[], extra: Partial<CompletedRequest> = {}): CompletedRequest {
  return { type: 'request', requestId: 'req-462867b1-c97f-4f57-b46f-83462aaba685', appKey: 'SecretOrgKey0123456789', appName: 'shop', start: T0, stop: T0 + 50, receivedAt: T0 + 51, tags: {}, spans, ...extra };
}
const byName = (spans: SpanRecord[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe('requestToSpans', () => {
  test('ids: the UUID of the request id as trace id, a hash otherwise; span ids from request and span id', () => {
    expect(traceIdOf('req-462867b1-c97f-4f57-b46f-83462aaba685')).toBe('462867b1c97f4f57b46f83462aaba685');
    expect(traceIdOf('462867B1-C97F-4F57-B46F-83462AABA685')).toBe('462867b1c97f4f57b46f83462aaba685');
    expect(traceIdOf('job-0f656ee2-fdbe-468d-a95e-2fbfdec3a593')).toBe('0f656ee2fdbe468da95e2fbfdec3a593');
    // Not a UUID (or an all-zero one, which OTLP forbids): the first 16 bytes of SHA-256.
    expect(traceIdOf('12345')).toBe(sha('12345').slice(0, 32));
    expect(traceIdOf('req-462867b1-c97f-4f57-b46f-83462aaba685-x')).toBe(sha('req-462867b1-c97f-4f57-b46f-83462aaba685-x').slice(0, 32));
    expect(traceIdOf('00000000-0000-0000-0000-000000000000')).toBe(sha('00000000-0000-0000-0000-000000000000').slice(0, 32));
    expect(spanIdOf('r1', 's1')).toBe(sha('r1\u0000s1').slice(0, 16));
    // The same span id in two requests gives two span ids.
    expect(spanIdOf('r1', 's1')).not.toBe(spanIdOf('r2', 's1'));
  });

  test('times: ms floats to ns, exact to the microsecond', () => {
    expect(msToNs(1795422142198.363)).toBe(1795422142198363000n);
    expect(msToNs(1700000000123.456)).toBe(1700000000123456000n);
    expect(msToNs(1700000000000)).toBe(1700000000000000000n);
    expect(msToNs(0.001)).toBe(1000n);
    // Every µs of a real timestamp survives: 1000 consecutive µs give 1000 distinct, ordered ns.
    const ns = Array.from({ length: 1000 }, (_, i) => msToNs(1795422142198 + i / 1000));
    for (let i = 1; i < ns.length; i++) expect(ns[i]! - ns[i - 1]!).toBe(1000n);
  });

  test('a Controller root: structure, names, kinds, times, tags and Scout attributes', () => {
    const keyring = new ScoutKeyring();
    const r = request(
      [
        span('c', 'Controller/GET /users/:id', 0.5, 49.25, { tags: { 'scout.desc': 'users' } }),
        span('sql', 'SQL/Query', 2.001, 7.5, { parentId: 'o', tags: { 'db.statement': "SELECT * FROM users WHERE email = 'a@b.c'" } }),
        span('o', 'Custom/outer', 1, 40, { parentId: 'c', tags: { cache: 'miss', hits: 3, nested: { a: [1, 'x'] } } }),
        span('http', 'HTTP/GET', 10, 20, { parentId: 'o', tags: { url: 'http://example/x' } }),
        span('late', 'Custom/late', 41, 50, { parentId: 'c', autoClosed: true }),
        span('orphan', 'Custom/orphan', 30, 31, { parentId: 'never-arrived' }),
      ],
      { tags: { path: '/users/42', user_id: '42' }, droppedSpans: 2 },
    );
    const spans = requestToSpans(r, { keyring });
    expect(spans.map((s) => s.name)).toEqual(['Controller/GET /users/:id', 'SQL/Query', 'Custom/outer', 'HTTP/GET', 'Custom/late', 'Custom/orphan']);
    const trace = '462867b1c97f4f57b46f83462aaba685';
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([trace]));
    const rid = r.requestId;
    const id = (scoutId: string) => spanIdOf(rid, scoutId);
    const root = byName(spans, 'Controller/GET /users/:id');
    expect(root.spanId).toBe(id('c'));
    expect(root.parentSpanId).toBeUndefined();
    expect(byName(spans, 'Custom/outer').parentSpanId).toBe(id('c'));
    expect(byName(spans, 'SQL/Query').parentSpanId).toBe(id('o'));
    expect(byName(spans, 'HTTP/GET').parentSpanId).toBe(id('o'));
    expect(byName(spans, 'Custom/late').parentSpanId).toBe(id('c'));
    // A span whose parent never arrived hangs from the root.
    expect(byName(spans, 'Custom/orphan').parentSpanId).toBe(id('c'));
    for (const s of spans) {
      expect(s.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(s.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.kind).toBe('span');
    }
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    // Kinds: SERVER for the Controller root, CLIENT for SQL and HTTP, INTERNAL otherwise.
    expect(Object.fromEntries(spans.map((s) => [s.name, s.spanKind]))).toEqual({
      'Controller/GET /users/:id': 2,
      'SQL/Query': 3,
      'Custom/outer': 1,
      'HTTP/GET': 3,
      'Custom/late': 1,
      'Custom/orphan': 1,
    });
    // Times in ns, exact to the µs.
    expect(root.startNs).toBe(BigInt(T0) * 1_000_000n + 500_000n);
    expect(root.endNs).toBe(BigInt(T0) * 1_000_000n + 49_250_000n);
    expect(byName(spans, 'SQL/Query').startNs).toBe(BigInt(T0) * 1_000_000n + 2_001_000n);
    // Tags as attributes, Scout names kept; the statement exactly as Scout sent it.
    expect(byName(spans, 'SQL/Query').attributes).toEqual({
      'db.statement': "SELECT * FROM users WHERE email = 'a@b.c'",
      'scout.request_id': rid,
      'scout.span_id': 'sql',
      'scout.operation': 'SQL/Query',
    });
    expect(byName(spans, 'Custom/outer').attributes).toMatchObject({ cache: 'miss', hits: 3, nested: { a: [1, 'x'] } });
    expect(byName(spans, 'Custom/late').attributes['scout.auto_closed']).toBe(true);
    expect(byName(spans, 'Custom/outer').attributes['scout.auto_closed']).toBeUndefined();
    // The root carries the request's tags and its own.
    expect(root.attributes).toEqual({
      path: '/users/42',
      user_id: '42',
      'scout.desc': 'users',
      'scout.dropped_spans': 2,
      'scout.request_id': rid,
      'scout.span_id': 'c',
      'scout.operation': 'Controller/GET /users/:id',
    });
    // No error anywhere: no status.
    expect(spans.every((s) => s.status === undefined)).toBe(true);
    // Resource: the app, and the key's id, never the key.
    for (const s of spans) expect(s.resource).toEqual({ 'service.name': 'shop', 'scout.app_key_id': keyId('SecretOrgKey0123456789') });
    expect(keyring.get(keyId('SecretOrgKey0123456789'))).toBe('SecretOrgKey0123456789');
    expect(bigintSafe(spans)).not.toContain('SecretOrgKey0123456789');
    // Without a keyring: no key id at all.
    for (const s of requestToSpans(r)) expect(s.resource).toEqual({ 'service.name': 'shop' });
    // Deterministic.
    expect(bigintSafe(requestToSpans(r, { keyring }))).toBe(bigintSafe(spans));
  });

  test('errors: the request error tag marks the root, a span error tag its span', () => {
    for (const v of [true, 'true']) {
      const spans = requestToSpans(request([span('c', 'Controller/GET /boom', 0, 5), span('s', 'Custom/x', 1, 2, { parentId: 'c' })], { tags: { error: v } }));
      expect(byName(spans, 'Controller/GET /boom').status).toEqual({ code: 2 });
      expect(byName(spans, 'Custom/x').status).toBeUndefined();
    }
    for (const v of [false, 'false', undefined]) {
      const spans = requestToSpans(request([span('c', 'Controller/GET /ok', 0, 5)], { tags: v === undefined ? {} : { error: v } }));
      expect(spans[0]!.status).toBeUndefined();
    }
    const own = requestToSpans(request([span('c', 'Controller/GET /x', 0, 5), span('h', 'HTTP/GET', 1, 2, { parentId: 'c', tags: { error: 'true' } })]));
    expect(byName(own, 'HTTP/GET').status).toEqual({ code: 2 });
    expect(byName(own, 'Controller/GET /x').status).toBeUndefined();
    // Synthetic root: the request's error goes on it.
    const synth = requestToSpans(request([span('a', 'Custom/a', 1, 2)], { tags: { error: true } }));
    expect(byName(synth, 'Request').status).toEqual({ code: 2 });
    expect(byName(synth, 'Custom/a').status).toBeUndefined();
  });

  test('no single Controller/Job root: a synthetic Request root over the request', () => {
    const cases: CompletedSpan[][] = [
      [span('h', 'HTTP/UNKNOWN', 1, 9, { tags: { url: 'http://x/' } })], // one root, not an endpoint
      [span('c1', 'Controller/GET /a', 1, 9), span('c2', 'Controller/GET /b', 10, 20)], // two roots
      [span('c1', 'Controller/GET /a', 1, 9), span('x', 'Custom/beside', 10, 20)], // an endpoint and something beside it
      [], // nothing
    ];
    for (const spansIn of cases) {
      const r = request(spansIn, { start: T0 + 0.25, stop: T0 + 30.5 });
      const out = requestToSpans(r);
      expect(out).toHaveLength(spansIn.length + 1);
      const root = out[0]!;
      expect(root.name).toBe('Request');
      expect(root.parentSpanId).toBeUndefined();
      expect(root.spanKind).toBe(1);
      expect(root.startNs).toBe(BigInt(T0) * 1_000_000n + 250_000n);
      expect(root.endNs).toBe(BigInt(T0) * 1_000_000n + 30_500_000n);
      expect(root.attributes['scout.request_id']).toBe(r.requestId);
      expect(root.attributes['scout.span_id']).toBeUndefined();
      for (const s of out.slice(1)) expect(s.parentSpanId).toBe(root.spanId);
      expect(new Set(out.map((s) => s.spanId)).size).toBe(out.length);
    }
    // A top-level Controller under the synthetic root is still SERVER; a nested one is INTERNAL.
    const two = requestToSpans(request([span('c1', 'Controller/GET /a', 1, 9), span('c2', 'Controller/GET /b', 2, 3, { parentId: 'c1' }), span('x', 'Custom/x', 10, 20)]));
    expect(byName(two, 'Controller/GET /a').spanKind).toBe(2);
    expect(byName(two, 'Controller/GET /b').spanKind).toBe(1);
  });

  test('a Job root keeps its id and is INTERNAL', () => {
    const out = requestToSpans(request([span('j', 'Job/nightly', 0, 10, { tags: { queue: 'default' } }), span('q', 'SQL/Query', 1, 2, { parentId: 'j' })]));
    expect(out[0]!).toMatchObject({ name: 'Job/nightly', spanKind: 1, spanId: spanIdOf('req-462867b1-c97f-4f57-b46f-83462aaba685', 'j') });
    expect(out[0]!.parentSpanId).toBeUndefined();
    expect(out[1]!.parentSpanId).toBe(out[0]!.spanId);
  });

  test('parent cycles and self-parents hang from the root; hostile tags stay bounded', () => {
    const r = request([
      span('c', 'Controller/GET /x', 0, 10),
      span('a', 'Custom/a', 1, 2, { parentId: 'b' }),
      span('b', 'Custom/b', 1, 2, { parentId: 'a' }),
      span('self', 'Custom/self', 1, 2, { parentId: 'self' }),
      span('kid', 'Custom/kid', 1, 2, { parentId: 'a' }),
    ]);
    const out = requestToSpans(r);
    const root = out[0]!;
    expect(root.name).toBe('Controller/GET /x');
    const ids = new Map(out.map((s) => [s.spanId, s]));
    // Every span reaches the root by its parents, without loops.
    for (const s of out) {
      let cur: SpanRecord | undefined = s;
      let hops = 0;
      while (cur && cur.parentSpanId) {
        cur = ids.get(cur.parentSpanId);
        expect(++hops).toBeLessThan(out.length);
      }
      expect(cur).toBe(root);
    }
    expect(byName(out, 'Custom/self').parentSpanId).toBe(root.spanId);
    expect(byName(out, 'Custom/kid').parentSpanId).toBe(byName(out, 'Custom/a').spanId);
    // A tag nested 10 000 deep becomes text past depth 8 (no stack overflow, no unbounded walk).
    let deep: unknown = 'bottom';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const [d] = requestToSpans(request([span('c', 'Controller/GET /x', 0, 1, { tags: { deep } })]));
    let v = d!.attributes.deep as unknown;
    let depth = 0;
    while (Array.isArray(v)) {
      v = v[0];
      depth++;
    }
    expect(depth).toBe(8);
    expect(typeof v).toBe('string');
    expect(v).toMatch(/^\[\[\[.*"…".*\]\]\]$/); // the rest as JSON text, itself cut at depth 32
    expect((v as string).length).toBeLessThan(100);
  });

  test('span ids stay unique over a large request and differ between requests', () => {
    const many = [span('root', 'Controller/GET /many', 0, 100), ...Array.from({ length: 1500 }, (_, i) => span(`s${i}`, 'Custom/x', 1, 2, { parentId: 'root' }))];
    const a = requestToSpans(request(many));
    expect(new Set(a.map((s) => s.spanId)).size).toBe(1501);
    const b = requestToSpans(request(many, { requestId: 'req-0f656ee2-fdbe-468d-a95e-2fbfdec3a593' }));
    expect(b[0]!.traceId).not.toBe(a[0]!.traceId);
    const bIds = new Set(b.map((s) => s.spanId));
    expect(a.filter((s) => bIds.has(s.spanId))).toEqual([]);
  });
});

describe('span batches', () => {
  test('one event per span: message, ts, flattened attributes, ids, duration, the record', () => {
    const drops: Record<string, number> = {};
    const sb = createSpanBatcher({ keyring: new ScoutKeyring(), drop: (reason, n) => (drops[reason] = (drops[reason] ?? 0) + n) });
    expect(sb.stream).toMatchObject({ id: 'apm:spans', kind: 'trace', path: 'scout-spans', attrs: { parser: 'scout-spans', logfile: 'scout-spans' } });
    const r = request(
      [span('c', 'Controller/GET /x', 0, 10), span('o', 'Custom/o', 1, 3.5, { parentId: 'c', tags: { m: { a: 1, b: { c: 'd' } }, l: [1, 2], n: null, big: 12345678901234567890n } })],
      { tags: { error: 'true' } },
    );
    const b = sb.toBatch(r)!;
    expect(b.stream).toBe(sb.stream);
    expect(b.events.map((e) => e.message)).toEqual(['Controller/GET /x', 'Custom/o']);
    expect(b.events.map((e) => e.end)).toEqual([1, 2]);
    expect(b.end).toBe(2);
    const [root, child] = b.events as Required<Batch['events'][number]>[];
    const rec = child!.record as SpanRecord;
    expect(child!.ts).toBe(rec.startNs);
    expect(child!.attrs).toEqual({
      'm.a': 1,
      'm.b.c': 'd',
      l: '[1,2]',
      big: '12345678901234567890',
      'scout.request_id': r.requestId,
      'scout.span_id': 'o',
      'scout.operation': 'Custom/o',
      trace_id: rec.traceId,
      span_id: rec.spanId,
      parent_span_id: (root!.record as SpanRecord).spanId,
      duration_ms: 2.5,
      scout_app: 'shop',
      scout_key_id: keyId('SecretOrgKey0123456789'),
    });
    expect(root!.attrs).toMatchObject({ status_code: 2, error: 'true', duration_ms: 10 });
    expect(root!.attrs.parent_span_id).toBeUndefined();
    expect(flattenAttrs({ a: { b: Buffer.from('hi') } })).toEqual({ 'a.b': Buffer.from('hi').toString('base64') });
    // The next request continues the running count.
    expect(sb.toBatch(request([span('c', 'Controller/GET /y', 0, 1)], { requestId: 'r2' }))!.events.map((e) => e.end)).toEqual([3]);
    // An ignored request is not exported (counted by its spans).
    expect(sb.toBatch(request([span('c', 'Controller/GET /z', 0, 1), span('d', 'Custom/d', 0, 1)], { requestId: 'r3', tags: { ignore_transaction: true } }))).toBeUndefined();
    expect(drops).toEqual({ spans_ignored: 2 });
  });

  test('the backlog of unacknowledged span events is bounded; acks free it', () => {
    const drops: Record<string, number> = {};
    const sb = createSpanBatcher({ maxUnacked: 5, drop: (reason, n) => (drops[reason] = (drops[reason] ?? 0) + n) });
    const req3 = (id: string) => request([span('c', 'Controller/GET /x', 0, 3), span('a', 'Custom/a', 1, 2, { parentId: 'c' }), span('b', 'Custom/b', 1, 2, { parentId: 'c' })], { requestId: id });
    expect(sb.toBatch(req3('r1'))!.end).toBe(3);
    expect(sb.toBatch(req3('r2'))).toBeUndefined(); // 3 pending + 3 > 5
    expect(drops).toEqual({ spans_backlog_full: 3 });
    sb.stream.ack(2);
    expect(sb.status()).toEqual({ emitted: 3, acked: 2, backlog: 1, maxUnacked: 5 });
    expect(sb.toBatch(req3('r3'))!.end).toBe(6); // 1 + 3 ≤ 5
    sb.stream.ack(6);
    // One request over the whole budget still goes when nothing is pending.
    const big = request([span('c', 'Controller/GET /x', 0, 3), ...Array.from({ length: 9 }, (_, i) => span(`s${i}`, 'Custom/s', 1, 2, { parentId: 'c' }))], { requestId: 'big' });
    expect(sb.toBatch(big)!.events).toHaveLength(10);
    expect(sb.toBatch(req3('r4'))).toBeUndefined();
    expect(drops).toEqual({ spans_backlog_full: 6 });
    // An ack past what was emitted cannot open room that does not exist.
    sb.stream.ack(1e9);
    expect(sb.status().backlog).toBe(0);
    expect(MAX_UNACKED_SPANS).toBe(10_000);
  });
});

// ---------------------------------------------------------------------------------------------

let dir: string;
const running: { stop(deadlineMs?: number): Promise<void> }[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-spans-'));
});
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop(1000);
  fs.rmSync(dir, { recursive: true, force: true });
});

const ts = (ms: number) => new Date(ms).toISOString().replace('Z', '') + '000Z'; // µs digits
const reg = { Register: { app: 'frames', key: 'FrameKey0123456789', api_version: '1.0' } };

async function startSource(extra: Record<string, unknown>) {
  const sock = path.join(dir, 'core.sock');
  const source = createApmIntakeSource({ enabled: true, socket_path: sock, request_timeout_secs: 60, ...extra }, { logger: silentLogger, services: { minuteMs: 60_000, graceMs: 0 } });
  running.push(source);
  const batches: Batch[] = [];
  source.batches$.subscribe((b) => batches.push(b));
  await source.ready();
  const client = await FrameClient.connect(sock);
  running.push({ stop: () => client.close() });
  expect(await client.request(reg)).toEqual({ Register: { id: null, result: 'Success' } });
  return { source, batches, client, traces: () => batches.filter((b) => b.stream.kind === 'trace') };
}

/** A BatchCommand for one request: a Controller span with `children` Custom spans under it. */
function requestFrame(id: string, children: number, tags: Record<string, unknown> = {}) {
  const start = T0 + 1;
  const commands: unknown[] = [{ StartRequest: { request_id: id, timestamp: ts(T0) } }, { StartSpan: { request_id: id, span_id: 'root', operation: 'Controller/GET /bulk', timestamp: ts(start) } }];
  for (let i = 0; i < children; i++) {
    commands.push({ StartSpan: { request_id: id, span_id: `s${i}`, parent_id: 'root', operation: 'Custom/child', timestamp: ts(start + 1) } });
    commands.push({ StopSpan: { request_id: id, span_id: `s${i}`, timestamp: ts(start + 2) } });
  }
  for (const [tag, value] of Object.entries(tags)) commands.push({ TagRequest: { request_id: id, tag, value, timestamp: ts(start + 2) } });
  commands.push({ StopSpan: { request_id: id, span_id: 'root', timestamp: ts(start + 3) } }, { FinishRequest: { request_id: id, timestamp: ts(start + 4) } });
  return { BatchCommand: { commands } };
}

describe('apm_intake with export_spans', () => {
  test('the option is declared beside the intake\'s, off by default', () => {
    const decl = apmIntakeSource.options!.find((o) => o.name === 'export_spans');
    expect(decl).toMatchObject({ type: 'bool', default: false, origin: 'sluice' });
    expect(decl!.description).toContain('stream kind `trace`');
  });

  test('off: no trace batches, only the aggregation', async () => {
    const s = await startSource({});
    expect(await s.client.request(requestFrame('req-11111111-2222-3333-4444-555555555555', 2))).toEqual({ BatchCommand: { result: 'Success' } });
    await s.client.close();
    await s.source.stop(5000);
    expect(s.traces()).toEqual([]);
    expect(s.batches.filter((b) => b.stream.kind === 'apm').length).toBeGreaterThan(0);
    expect(s.source.status()).not.toHaveProperty('spans');
  });

  test('on: each finished request is one trace batch; the backlog is bounded and counted; the aggregation sees every request', async () => {
    const s = await startSource({ export_spans: true, max_spans_per_request: 6001 });
    // Request A: 6000 span events (a root and 5999 children).
    expect(await s.client.request(requestFrame('req-aaaaaaaa-0000-4000-8000-000000000001', 5999, { path: '/bulk' }))).toEqual({ BatchCommand: { result: 'Success' } });
    await waitFor(() => s.traces().length === 1, 5000, 'the first trace batch');
    const a = s.traces()[0]!;
    expect(a.stream).toMatchObject({ id: 'apm:spans', kind: 'trace', attrs: { parser: 'scout-spans', logfile: 'scout-spans' } });
    expect(a.events).toHaveLength(6000);
    expect(a.end).toBe(6000);
    const root = a.events[0]!.record as SpanRecord;
    expect(root).toMatchObject({ name: 'Controller/GET /bulk', traceId: 'aaaaaaaa000040008000000000000001', spanKind: 2, attributes: { path: '/bulk' } });
    expect(root.resource).toEqual({ 'service.name': 'frames', 'scout.app_key_id': keyId('FrameKey0123456789') });
    expect(a.events.slice(1).every((e) => (e.record as SpanRecord).parentSpanId === root.spanId && e.attrs!.parent_span_id === root.spanId)).toBe(true);
    expect(a.events[1]!.ts).toBe(msToNs(T0 + 2));
    expect(a.events[1]!.attrs!.duration_ms).toBe(1);
    const sent = () => s.batches.reduce((n, b) => n + b.events.length, 0);
    expect(s.source.counters.sentEvents).toBe(sent());
    // Request B while A is unacknowledged: 6000 + 6000 > 10 000, so B's spans are dropped, counted.
    expect(await s.client.request(requestFrame('req-aaaaaaaa-0000-4000-8000-000000000002', 5999))).toEqual({ BatchCommand: { result: 'Success' } });
    await waitFor(() => (s.source.counters.dropped.spans_backlog_full ?? 0) > 0, 5000, 'the backlog drop');
    expect(s.source.counters.dropped).toEqual({ spans_backlog_full: 6000 });
    expect(s.traces()).toHaveLength(1);
    expect(s.source.status().spans).toMatchObject({ emitted: 6000, acked: 0, backlog: 6000, maxUnacked: 10_000, counters: { dropped: { spans_backlog_full: 6000 } } });
    // A sink acknowledges A: request C goes out, its offsets continuing the stream.
    a.stream.ack(a.end);
    expect(await s.client.request(requestFrame('req-aaaaaaaa-0000-4000-8000-000000000003', 1, { error: 'true' }))).toEqual({ BatchCommand: { result: 'Success' } });
    await waitFor(() => s.traces().length === 2, 5000, 'the third trace batch');
    const c = s.traces()[1]!;
    expect(c.events.map((e) => e.end)).toEqual([6001, 6002]);
    expect((c.events[0]!.record as SpanRecord).status).toEqual({ code: 2 });
    expect(s.source.counters.sentEvents).toBe(sent());
    await s.client.close();
    await s.source.stop(5000);
    // The aggregation is unaffected: all three requests, one endpoint.
    const minute = s.batches.filter((b) => b.stream.kind === 'apm').flatMap((b) => b.events).filter((e) => e.attrs!.apm_type === 'minute');
    expect(minute.reduce((n, e) => n + (e.attrs!.requests as number), 0)).toBe(3);
    const endpoints = s.batches.filter((b) => b.stream.kind === 'apm').flatMap((b) => b.events).filter((e) => e.attrs!.apm_type === 'endpoint');
    expect(endpoints.reduce((n, e) => n + (e.attrs!.call_count as number), 0)).toBe(3);
    expect(s.source.counters.sentEvents).toBe(sent());
    expect(s.traces().reduce((n, b) => n + b.events.length, 0)).toBe(6002);
  }, 30_000);

  test('through the core agent to its embedded NDJSON sink: span events written and acknowledged', async () => {
    const sock = path.join(dir, 'nd.sock');
    const agent = await runCoreAgent({ apm: { enabled: true, socket_path: sock, max_frame_bytes: 1 << 20, request_timeout_secs: 30, export_spans: true }, logger: silentLogger, dataDir: path.join(dir, 'data') });
    running.push(agent);
    const client = await FrameClient.connect(sock);
    running.push({ stop: () => client.close() });
    expect(await client.request(reg)).toEqual({ Register: { id: null, result: 'Success' } });
    expect(await client.request(requestFrame('req-bbbbbbbb-0000-4000-8000-000000000001', 2, { path: '/nd' }))).toEqual({ BatchCommand: { result: 'Success' } });
    const spansStatus = () => ((agent.status() as { spans?: { emitted: number; acked: number } }).spans ?? { emitted: -1, acked: -2 });
    await waitFor(() => spansStatus().emitted === 3 && spansStatus().acked === 3, 10_000, () => `the sink's ack (${JSON.stringify(spansStatus())})`);
    await client.close();
    await agent.stop(5000);
    const lines = fs.readFileSync(path.join(dir, 'data', 'events.ndjson'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const spanLines = lines.filter((l) => l.logfile === 'scout-spans');
    expect(spanLines.map((l) => l.message)).toEqual(['Controller/GET /bulk', 'Custom/child', 'Custom/child']);
    expect(spanLines.every((l) => l.attrs.trace_id === 'bbbbbbbb000040008000000000000001')).toBe(true);
    expect(spanLines[0].attrs.path).toBe('/nd');
    expect(spanLines[1].attrs.parent_span_id).toBe(spanLines[0].attrs.span_id);
    expect(spanLines[0].ts).toBe(msToNs(T0 + 1).toString());
    expect(lines.some((l) => l.logfile === 'scout-apm')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

/** The checks every emitted trace batch passes: one trace, one root, parents inside the trace. */
function checkTrace(b: Batch): SpanRecord[] {
  const spans = b.events.map((e) => e.record as SpanRecord);
  expect(spans.every((s) => s.kind === 'span')).toBe(true);
  expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
  expect(spans[0]!.traceId).toMatch(/^[0-9a-f]{32}$/);
  const ids = new Set(spans.map((s) => s.spanId));
  expect(ids.size).toBe(spans.length);
  expect(spans.filter((s) => s.parentSpanId === undefined)).toEqual([spans[0]]);
  for (const s of spans.slice(1)) expect(ids.has(s.parentSpanId!)).toBe(true);
  for (const [i, e] of b.events.entries()) {
    const s = spans[i]!;
    expect(e.message).toBe(s.name);
    expect(e.ts).toBe(s.startNs);
    expect(s.endNs >= s.startNs).toBe(true);
    expect(e.attrs).toMatchObject({ trace_id: s.traceId, span_id: s.spanId });
  }
  return spans;
}

const CAPTURE = path.join(ROOT, 'spec/fixtures/vectors/scout/node-agent-capture.jsonl');

describe('replay of captured Scout Node agent frames', () => {
  interface Line { run: string; event: string; conn: number; frame?: unknown }
  const lines: Line[] = fs.existsSync(CAPTURE) ? fs.readFileSync(CAPTURE, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  const runs = [...new Set(lines.map((l) => l.run))];
  (runs.length ? test.each(runs) : test.skip.each(['(no capture)']))('%s: every request is one trace with the parents it was sent with', async (run) => {
    const sock = path.join(dir, 'replay.sock');
    const source = createApmIntakeSource({ enabled: true, socket_path: sock, request_timeout_secs: 60, max_frame_bytes: 1 << 24, export_spans: true }, { logger: silentLogger, services: {} });
    running.push(source);
    const batches: Batch[] = [];
    source.batches$.subscribe((b) => batches.push(b));
    await source.ready();
    const completed: CompletedRequest[] = [];
    source.intake.completed$.subscribe((b) => completed.push(...b));
    const clients = new Map<number, FrameClient>();
    const mine = lines.filter((l) => l.run === run);
    for (const l of mine) {
      if (l.event === 'connect') {
        const c = await FrameClient.connect(sock);
        clients.set(l.conn, c);
        running.push({ stop: () => c.close() });
      }
      else if (l.event === 'close') await clients.get(l.conn)!.close();
      else if (l.event === 'frame') await clients.get(l.conn)!.request(l.frame);
    }
    for (const c of clients.values()) await c.close();
    const finished = mine.reduce((n, l) => n + JSON.stringify(l.frame ?? '').split('"FinishRequest"').length - 1, 0);
    expect(finished).toBeGreaterThan(0);
    const traces = () => batches.filter((b) => b.stream.kind === 'trace');
    await waitFor(() => traces().length === finished && completed.length === finished, 5000, 'one trace per finished request');
    const traceIds = new Set<string>();
    for (const [i, b] of traces().entries()) {
      const spans = checkTrace(b);
      const r = completed[i]!;
      expect(spans[0]!.attributes['scout.request_id']).toBe(r.requestId);
      expect(spans[0]!.traceId).toBe(traceIdOf(r.requestId));
      traceIds.add(spans[0]!.traceId);
      // Every Scout parent link that arrived is kept exactly.
      const bySid = new Map(spans.filter((s) => s.attributes['scout.span_id'] !== undefined).map((s) => [s.attributes['scout.span_id'], s]));
      expect(bySid.size).toBe(r.spans.length);
      for (const cs of r.spans) {
        const out = bySid.get(cs.id)!;
        expect(out.name).toBe(cs.operation);
        if (cs.parentId !== undefined && bySid.has(cs.parentId)) expect(out.parentSpanId).toBe(bySid.get(cs.parentId)!.spanId);
        else if (out !== spans[0]) expect(out.parentSpanId).toBe(spans[0]!.spanId);
      }
      // A Controller/Job request is rooted at its endpoint span; anything else at `Request`.
      const tops = r.spans.filter((s) => s.parentId === undefined);
      if (tops.length === 1 && /^(Controller|Job)\//.test(tops[0]!.operation)) expect(spans[0]!.name).toBe(tops[0]!.operation);
      else expect(spans[0]!.name).toBe('Request');
    }
    expect(traceIds.size).toBe(finished);
    const roots = traces().map((b) => (b.events[0]!.record as SpanRecord).name);
    expect(roots).toEqual(expect.arrayContaining(['Controller/GET /users/:id', 'Job/nightly_report']));
    // The nested request of the capture: Controller → Custom/outer → SQL/Query and Template/Render.
    const users = traces().map(checkTrace).find((t) => t[0]!.name === 'Controller/GET /users/:id' && t.some((s) => s.name === 'SQL/Query'));
    if (users) {
      const outer = byName(users, 'Custom/outer');
      expect(outer.parentSpanId).toBe(users[0]!.spanId);
      expect(byName(users, 'SQL/Query').parentSpanId).toBe(outer.spanId);
      expect(byName(users, 'SQL/Query').spanKind).toBe(3);
      expect(byName(users, 'SQL/Query').attributes['db.statement']).toBe('SELECT * FROM users WHERE id = $1');
    }
    expect(bigintSafe(traces().map((b) => b.events.map((e) => e.record)))).not.toContain('FakeKey0123456789abc');
    expect(Object.keys(source.counters.dropped).filter((k) => k.startsWith('spans_'))).toEqual([]);
    expect(source.intake.counters.dropped).toEqual({});
    await source.stop(5000);
  });
});

// ---------------------------------------------------------------------------------------------

const APP = (scoutPath: string, expressPath: string) => `
const scout = require(${JSON.stringify(scoutPath)});
const express = require(${JSON.stringify(expressPath)});
const app = express();
app.use(scout.expressMiddleware());
app.get('/hello', (req, res) => res.send('hello'));
app.get('/users/:id', (req, res) => {
  scout.api.instrument('Custom/outer', (doneOuter, { span }) => {
    span.addContextSync('cache', 'miss');
    scout.api.instrument('SQL/Query', (doneSql, { span }) => {
      span.addContextSync('db.statement', 'SELECT * FROM users WHERE id = ' + Number(req.params.id));
      scout.api.instrument('Custom/inner', (doneInner) => {
        setTimeout(() => {
          doneInner();
          setTimeout(() => { doneSql(); setTimeout(() => { doneOuter(); res.send('user'); }, 2); }, 2);
        }, 3);
      });
    });
  });
});
app.get('/boom', (req, res) => { scout.api.Context.addSync('error', 'true'); res.status(500).send('boom'); });
scout.install({ monitor: true, allowShutdown: false }).then(() => {
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + server.address().port + '\\n'));
});
process.on('SIGTERM', () => process.exit(0));
`;

describe('real @scout_apm/scout-apm agent with export_spans', () => {
  let agent: CoreAgentHandle | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await agent?.stop(2000);
  });

  test('nested spans arrive as one trace with the app\'s structure, tags and errors', async () => {
    const sock = path.join(dir, 'core-agent.sock');
    const delivered: Batch[] = [];
    agent = await runCoreAgent({
      apm: { enabled: true, socket_path: sock, max_frame_bytes: 1 << 24, request_timeout_secs: 30, export_spans: true },
      logger: silentLogger,
      deliver: (b) => {
        delivered.push(b);
        b.stream.ack(b.end); // as a sink that delivered it
      },
      minuteMs: 60_000,
      graceMs: 0,
    });
    const appFile = path.join(dir, 'app.cjs');
    fs.writeFileSync(appFile, APP(req.resolve('@scout_apm/scout-apm'), req.resolve('express')));
    child = spawn(process.execPath, [appFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        SCOUT_MONITOR: 'true',
        SCOUT_KEY: 'SpansIntegrationKey0123',
        SCOUT_NAME: 'scout-spans-it',
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
    await waitFor(() => /PORT \d+/.test(out), 10_000, `the app to listen (output: ${out})`);
    const port = Number(/PORT (\d+)/.exec(out)![1]);
    await waitFor(() => (agent!.intake.status().registrations as number) > 0, 10_000, 'Register');
    expect(await get(port, '/users/42')).toBe(200);
    expect(await get(port, '/hello')).toBe(200);
    expect(await get(port, '/boom')).toBe(500);
    const traces = () => delivered.filter((b) => b.stream.kind === 'trace').map(checkTrace);
    const rooted = (name: string) => traces().filter((t) => t[0]!.name === name);
    await waitFor(() => rooted('Controller/GET /users/:id').length === 1 && rooted('Controller/GET /hello').length === 1 && rooted('Controller/GET /boom').length === 1, 15_000, () =>
      `three traces (got ${JSON.stringify(traces().map((t) => t.map((s) => s.name)))}; output: ${out})`);

    const [users] = rooted('Controller/GET /users/:id');
    const [root, outer, sql, inner] = ['Controller/GET /users/:id', 'Custom/outer', 'SQL/Query', 'Custom/inner'].map((n) => byName(users!, n));
    expect(users!.map((s) => s.name)).toEqual(['Controller/GET /users/:id', 'Custom/outer', 'SQL/Query', 'Custom/inner']);
    // One trace, the request's UUID as its id.
    const requestId = root!.attributes['scout.request_id'] as string;
    expect(requestId).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(root!.traceId).toBe(requestId.slice(4).replace(/-/g, ''));
    // The structure exactly as the app nested it.
    expect(root!.parentSpanId).toBeUndefined();
    expect(outer!.parentSpanId).toBe(root!.spanId);
    expect(sql!.parentSpanId).toBe(outer!.spanId);
    expect(inner!.parentSpanId).toBe(sql!.spanId);
    // Times ordered: each child inside its parent, the inner wait measurable.
    for (const [parent, kid] of [[root!, outer!], [outer!, sql!], [sql!, inner!]] as const) {
      expect(kid.startNs >= parent.startNs).toBe(true);
      expect(kid.endNs <= parent.endNs).toBe(true);
    }
    expect(inner!.endNs - inner!.startNs >= 2_000_000n).toBe(true);
    // Tags as attributes; kinds; Scout attributes; the resource without the key.
    expect(sql!.attributes['db.statement']).toBe('SELECT * FROM users WHERE id = 42');
    expect(outer!.attributes.cache).toBe('miss');
    expect(root!.attributes.path).toBe('/users/42');
    expect([root!.spanKind, outer!.spanKind, sql!.spanKind, inner!.spanKind]).toEqual([2, 1, 3, 1]);
    expect(sql!.attributes['scout.operation']).toBe('SQL/Query');
    expect(sql!.attributes['scout.span_id']).toMatch(/^span-/);
    expect(root!.resource).toEqual({ 'service.name': 'scout-spans-it', 'scout.app_key_id': keyId('SpansIntegrationKey0123') });
    expect(users!.every((s) => s.status === undefined)).toBe(true);
    // The errored request: status 2 on its root.
    const [boom] = rooted('Controller/GET /boom');
    expect(boom![0]!.status).toEqual({ code: 2 });
    expect(boom![0]!.attributes.error).toBe('true');
    expect(rooted('Controller/GET /hello')[0]![0]!.status).toBeUndefined();
    const all = bigintSafe(delivered.filter((b) => b.stream.kind === 'trace').map((b) => b.events));
    expect(all).not.toContain('SpansIntegrationKey0123');

    const gone = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await gone;
    await agent.stop(5000);
    // The aggregation still made its minute records, with the same three endpoints.
    const endpoints = delivered.filter((b) => b.stream.kind === 'apm').flatMap((b) => b.events).filter((e) => e.attrs!.apm_type === 'endpoint' && e.attrs!.scout_app === 'scout-spans-it');
    expect(endpoints.map((e) => e.attrs!.endpoint).sort()).toEqual(['Controller/GET /boom', 'Controller/GET /hello', 'Controller/GET /users/:id']);
    expect(Object.keys(agent.intake.counters.dropped).filter((k) => k.startsWith('spans_'))).toEqual([]);
  }, 40_000);
});
