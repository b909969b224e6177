/** Span intake behaviours: socket hygiene, registration rules, shutdown, expiry, caps, timestamps. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { createSpanIntake, type SpanIntake } from '../sources/spanSocket/index.js';
import { parseScoutTimestamp } from '../lib/apm/timestamp.js';
import { silentLogger } from '../lib/logger.js';
import type { ApmConfig } from '../lib/config/types.js';
import type { CompletedRequest } from '../lib/apm/types.js';
import { FrameClient, waitFor } from './apmHelpers.js';

let dir: string;
const open: SpanIntake[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-intake-'));
});
afterEach(async () => {
  for (const i of open.splice(0)) await i.stop(500);
  fs.rmSync(dir, { recursive: true, force: true });
});
function make(extra: Partial<ApmConfig> = {}, ctx: { onShutdown?: () => void } = {}) {
  const cfg: ApmConfig = { enabled: true, socket_path: path.join(dir, 's.sock'), max_frame_bytes: 1 << 20, request_timeout_secs: 60, ...extra };
  const intake = createSpanIntake(cfg, { logger: silentLogger, ...ctx });
  open.push(intake);
  const completed: CompletedRequest[] = [];
  intake.completed$.subscribe((b) => completed.push(...b));
  return { intake, completed, sock: cfg.socket_path };
}
const reg = { Register: { app: 'a', key: 'k', api_version: '1.0' } };

describe('socket hygiene', () => {
  test('mode 0600 by default, 0660 when configured', async () => {
    const a = make();
    await a.intake.listen();
    expect(fs.statSync(a.sock).mode & 0o777).toBe(0o600);
    await a.intake.stop();
    const b = make({ socket_mode: '660' });
    await b.intake.listen();
    expect(fs.statSync(b.sock).mode & 0o777).toBe(0o660);
  });

  test('a live socket is not stolen; a stale one is replaced; a regular file is refused', async () => {
    const a = make();
    await a.intake.listen();
    const b = make();
    await expect(b.intake.listen()).rejects.toMatchObject({ code: 'EADDRINUSE_LIVE' });
    // The first one still works.
    const c = await FrameClient.connect(a.sock);
    expect(await c.request(reg)).toEqual({ Register: { id: null, result: 'Success' } });
    await c.close();
    // Stale: a socket file nobody listens on.
    const stalePath = path.join(dir, 'stale.sock');
    // A process that bound the path and died leaves the file behind.
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => process.exit(0))`]);
    expect(r.status).toBe(0);
    expect(fs.existsSync(stalePath)).toBe(true);
    const d = make({ socket_path: stalePath });
    await d.intake.listen();
    const c2 = await FrameClient.connect(stalePath);
    expect(await c2.request(reg)).toEqual({ Register: { id: null, result: 'Success' } });
    await c2.close();
    const file = path.join(dir, 'file.sock');
    fs.writeFileSync(file, 'x');
    await expect(make({ socket_path: file }).intake.listen()).rejects.toThrow(/not a socket/);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });

  test('TCP on loopback; a live TCP listener is reported as EADDRINUSE_LIVE', async () => {
    const a = make({ socket_path: '', tcp: '127.0.0.1:0' });
    await a.intake.listen();
    const port = (a.intake.status().listening as net.AddressInfo[])[0]!.port;
    const c = await FrameClient.connect(port);
    expect(await c.request({ CoreAgentVersion: {} })).toEqual({ CoreAgentVersion: { version: '1.5.1', result: 'Success' } });
    await c.close();
    await expect(make({ socket_path: '', tcp: String(port) }).intake.listen()).rejects.toMatchObject({ code: 'EADDRINUSE_LIVE' });
  });
});

describe('protocol rules', () => {
  test('only Register/CoreAgentVersion/CoreAgentShutdown before Register; Register may repeat; CoreAgentShutdown calls back', async () => {
    let shutdowns = 0;
    const a = make({}, { onShutdown: () => shutdowns++ });
    await a.intake.listen();
    const c = await FrameClient.connect(a.sock);
    expect(await c.request({ StartRequest: { request_id: 'r' } })).toEqual({ Failure: { message: 'unregistered client' } });
    expect(await c.request({ CoreAgentVersion: {} })).toMatchObject({ CoreAgentVersion: { result: 'Success' } });
    expect(await c.request(reg)).toEqual({ Register: { id: null, result: 'Success' } });
    expect(await c.request({ Register: { app: 'b', key: 'k2', api_version: '1.0', language: 'python', host: null } })).toEqual({ Register: { id: null, result: 'Success' } });
    expect(await c.request({ StartRequest: { request_id: 'r' } })).toEqual({ StartRequest: { result: 'Success' } });
    expect(await c.request({ CoreAgentShutdown: {} })).toEqual({ CoreAgentShutdown: { result: 'Success' } });
    await waitFor(() => shutdowns === 1, 2000, 'shutdown callback');
    expect(a.intake.counters.dropped).toEqual({ unregistered: 1 });
    await c.close();
  });

  test('one request spread over two connections; children before parents; tags after stop; open spans auto-closed', async () => {
    const a = make();
    await a.intake.listen();
    const c1 = await FrameClient.connect(a.sock);
    const c2 = await FrameClient.connect(a.sock);
    await c1.request(reg);
    await c2.request({ Register: { app: 'other', key: 'k', api_version: '1.0' } });
    await c1.request({ StartRequest: { request_id: 'r', timestamp: '2026-11-23T08:53:35.745515+00:00' } });
    await c2.request({ StartSpan: { request_id: 'r', span_id: 'child', parent_id: 'root', operation: 'SQL/Query', timestamp: '2026-11-23T08:53:35.75Z' } });
    await c2.request({ StopSpan: { request_id: 'r', span_id: 'child', timestamp: '2026-11-23T08:53:35.76Z' } });
    await c1.request({ StartSpan: { request_id: 'r', span_id: 'root', parent_id: null, operation: 'Controller/x', timestamp: '2026-11-23T08:53:35.746Z' } });
    await c1.request({ StartSpan: { request_id: 'r', span_id: 'open', parent_id: 'root', operation: 'Custom/open', timestamp: '2026-11-23T08:53:35.77Z' } });
    await c1.request({ StopSpan: { request_id: 'r', span_id: 'root', timestamp: '2026-11-23T08:53:35.8Z' } });
    await c2.request({ TagSpan: { request_id: 'r', span_id: 'root', tag: 'stack', value: [{ line: 1 }], timestamp: '2026-11-23T08:53:35.9Z' } });
    await c2.request({ TagRequest: { request_id: 'r', tag: 'user_id', value: 42 } });
    expect(await c1.request({ FinishRequest: { request_id: 'r', timestamp: '2026-11-23T08:53:35.81Z' } })).toEqual({ FinishRequest: { result: 'Success' } });
    await waitFor(() => a.completed.length === 1);
    const r = a.completed[0]!;
    expect(r).toMatchObject({ appName: 'a', tags: { user_id: 42 } });
    expect(r.start).toBeCloseTo(Date.UTC(2026, 10, 23, 8, 53, 35) + 745.515, 3);
    const byId = Object.fromEntries(r.spans.map((s) => [s.id, s]));
    expect(byId.child!.parentId).toBe('root');
    expect(byId.root!.tags.stack).toEqual([{ line: 1 }]);
    expect(byId.open).toMatchObject({ autoClosed: true, stop: Date.UTC(2026, 10, 23, 8, 53, 35, 810) });
    // Late command for a finished request: counted, not a zombie.
    expect(await c2.request({ TagRequest: { request_id: 'r', tag: 'late', value: 1 } })).toEqual({ Failure: { message: 'request already finished' } });
    expect(a.intake.status().liveRequests).toBe(0);
    await c1.close();
    await c2.close();
  });

  test('unfinished requests expire (counted); max_connections is enforced (counted)', async () => {
    const a = make({ request_timeout_secs: 0.05, max_connections: 2 });
    await a.intake.listen();
    const c = await FrameClient.connect(a.sock);
    await c.request(reg);
    await c.request({ StartRequest: { request_id: 'never' } });
    expect(a.intake.status().liveRequests).toBe(1);
    await new Promise((r) => setTimeout(r, 80));
    a.intake.sweep();
    expect(a.intake.status().liveRequests).toBe(0);
    expect(a.intake.counters.dropped.request_timeout).toBe(1);
    const c2 = await FrameClient.connect(a.sock);
    const c3 = await FrameClient.connect(a.sock).catch(() => undefined);
    await waitFor(() => (a.intake.counters.dropped.connection_limit ?? 0) === 1, 2000, 'connection_limit');
    await c.close();
    await c2.close();
    await c3?.close();
  });
});

describe('parseScoutTimestamp (behaviour notes §1.5)', () => {
  const base = Date.UTC(2026, 10, 23, 8, 53, 35);
  test.each([
    ['2026-11-23T08:53:35.545Z', base + 545],
    ['2026-11-23T08:53:35.745515+00:00', base + 745.515],
    ['2026-11-23T08:53:35+00:00', base],
    ['2026-11-23T08:53:35Z', base],
    ['2026-11-23T08:53:35.123456Z', base + 123.456],
    ['2026-11-23T08:53:35.1Z', base + 100],
    ['2026-11-23T10:53:35.5+02:00', base + 500],
    ['2026-11-23T08:53:35.123456789Z', base + 123.456789],
  ])('%s', (s, ms) => {
    expect(parseScoutTimestamp(s)).toBeCloseTo(ms, 3);
  });
  test.each([[undefined], [12], ['yesterday'], ['2026-13-01T00:00:00Z'], ['2026-11-23']])('rejects %p', (v) => {
    expect(parseScoutTimestamp(v)).toBeUndefined();
  });
});
