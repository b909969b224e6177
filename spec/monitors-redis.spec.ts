/**
 * `redis_monitor` against a real `redis-server` (Debian `redis-server`) started in a temp dir on
 * a free loopback port with `--slowlog-log-slower-than 0` (every command is a slow-log entry),
 * run through the real monitor source: Scalyr's module name, its `redis "slowlog"` lines with
 * `host`, `ts`, `exectime` and `command`, only entries newer than the last one reported, and the
 * fault cases of issue 17 (server down then up, restarted on the same port, wrong password,
 * garbage answers, a peer that never answers): one error per fault state, every failed sample
 * counted, sampling goes on. Skips (with a printed reason) when redis-server is not installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { createClient } from 'redis';
import { redisMonitorComponent, parseSlowlog, slowlogTs } from '../sources/monitors/redisMonitor.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { contractProblems, createEnv, declarationProblems, exercise } from '../testkit/componentHarness.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { freePort, runMonitor, startTcpPeer, waitFor } from '../testkit/statusPeers.js';
import { canConnect, redisMissing, startRedis, type RealServer } from '../testkit/realServers.js';

const redisMissingReason = redisMissing();
if (redisMissingReason) console.warn(`skipping the real-redis tests of redis_monitor: ${redisMissingReason}`);
const withRedis = redisMissingReason ? it.skip : it;

let dir: string;
const cleanup: Array<() => Promise<void>> = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-redis-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function redisOn(port: number, extra: string[] = []): Promise<RealServer> {
  const server = await startRedis(dir, port, extra);
  cleanup.push(() => server.stop());
  return server;
}

async function commands(port: number, run: (c: ReturnType<typeof createClient>) => Promise<unknown>, password?: string): Promise<void> {
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, ...(password ? { password } : {}) });
  c.on('error', () => undefined);
  await c.connect();
  try {
    await run(c);
  } finally {
    await c.quit();
  }
}

function monitor(port: number, extra: Record<string, unknown> = {}, hostExtra: Record<string, unknown> = {}) {
  const m = runMonitor(redisMonitorComponent, { module: 'scalyr_agent.builtin_monitors.redis_monitor', id: 'cache', sample_interval: 0.2, hosts: [{ host: '127.0.0.1', port, ...hostExtra }], ...extra }, dir);
  cleanup.push(() => m.stop());
  return m;
}

const slowlogLines = (lines: string[]) => lines.filter((l) => / \[redis_monitor\(cache\)\] redis "slowlog" /.test(l));

test('the slow-log reply and Scalyr\'s ts format', () => {
  expect(parseSlowlog([[7, 1700000000, 12, ['SET', 'k', 'v'], '127.0.0.1:5000', '']], 'h:1')).toEqual([{ id: 7, startTime: 1700000000, duration: 12, command: 'SET k v' }]);
  expect(() => parseSlowlog('OK', 'h:1')).toThrow(/did not answer SLOWLOG GET with a list/);
  expect(slowlogTs(1700000000)).toBe('2023-11-14 22:13:20Z');
});

test('the component: declared options with Scalyr\'s defaults; example passes the component contract and reads exactly what it declares', async () => {
  expect(redisMonitorComponent.aliases).toEqual(['scalyr_agent.builtin_monitors.redis_monitor']);
  const byName = Object.fromEntries(redisMonitorComponent.options!.map((o) => [o.name, o.default]));
  expect(byName).toMatchObject({ hosts: [{ host: 'localhost', port: 6379 }], lines_to_fetch: 500, connection_timeout: 5, connection_error_repeat_interval: 300 });
  // The example names localhost:6379: answer it with a real redis when that port is free, else check only what the monitor reads.
  const reachable = (await canConnect(6379)) || (redisMissingReason === undefined && (await redisOn(6379).then(() => true, () => false)));
  const registry = createDefaultRegistry().add(redisMonitorComponent);
  const env = await createEnv(registry);
  try {
    const run = await exercise(redisMonitorComponent, { registry, env, record: true });
    if (!reachable) console.warn('redis_monitor contract: nothing answers localhost:6379; checking only the options it reads');
    expect([...(reachable ? contractProblems(run) : []), ...declarationProblems(run, { own: new Set(MONITOR_ENTRY_OPTIONS.filter((o) => (o.scope ?? 'own') === 'own').map((o) => o.name)) })]).toEqual([]);
  } finally {
    await env.close();
  }
});

withRedis('real redis: slow-log entries as Scalyr\'s `redis "slowlog"` lines, only entries newer than the last one reported', async () => {
  const port = await freePort();
  await redisOn(port);
  await commands(port, (c) => c.set('before', 'start')); // older than the monitor: never reported
  const m = monitor(port);
  expect(await waitFor(() => m.src.status().linesEmitted > 0 || m.src.status().errors > 0, 5000)).toBe(true);
  await commands(port, async (c) => {
    await c.set('sluice:key', 'hello world');
    await c.get('sluice:key');
  });
  expect(await waitFor(() => slowlogLines(m.lines()).some((l) => l.includes('command="GET sluice:key"')), 5000)).toBe(true);
  const lines = slowlogLines(m.lines());
  const set = lines.find((l) => l.includes('command="SET sluice:key hello world"'))!;
  expect(set).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[redis_monitor\(cache\)\] redis "slowlog" command="SET sluice:key hello world" exectime=\d+ host="127\.0\.0\.1:\d+" ts="\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"\n$/);
  expect(lines.some((l) => l.includes('SET before start'))).toBe(false);
  // Each entry once: the SET appears once although several samples ran since.
  await new Promise((r) => setTimeout(r, 600));
  expect(slowlogLines(m.lines()).filter((l) => l.includes('command="SET sluice:key hello world"'))).toHaveLength(1);
  expect(m.batches[0].stream.attrs).toMatchObject({ parser: 'agent-metrics' });
  expect(m.src.status().errors).toBe(0);
});

withRedis('real redis down, then up, then restarted on the same port: one error per outage, every failure counted, entries after the restart reported', async () => {
  const port = await freePort();
  const m = monitor(port);
  expect(await waitFor(() => m.src.status().errors >= 2, 5000)).toBe(true);
  expect(m.lines()).toEqual([]);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(/Unable to establish connection: 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  let peer = await redisOn(port);
  expect(await waitFor(() => m.logger.records.some((r) => r.level === 'info' && /recovered/.test(r.message)), 8000)).toBe(true);
  await commands(port, (c) => c.set('first', 'life'));
  expect(await waitFor(() => slowlogLines(m.lines()).some((l) => l.includes('command="SET first life"')), 8000)).toBe(true);
  // Restarted: down (connection lost), then up again with a new run_id and ids starting over.
  await peer.stop();
  const errorsBefore = m.src.status().errors;
  expect(await waitFor(() => m.src.status().errors >= errorsBefore + 2, 8000)).toBe(true);
  expect(m.errors()).toHaveLength(2);
  expect(m.errors()[1]).toMatch(/127\.0\.0\.1:\d+/);
  // Scalyr selects entries after a restart by start time (whole seconds, strictly newer): let a second pass.
  await new Promise((r) => setTimeout(r, 1100));
  peer = await redisOn(port);
  await commands(port, (c) => c.set('second', 'life'));
  expect(await waitFor(() => slowlogLines(m.lines()).some((l) => l.includes('command="SET second life"')), 10000)).toBe(true);
  expect(m.logger.records.some((r) => r.level === 'warn' && /Redis server reset detected for 127\.0\.0\.1:\d+\.  Some log lines may have been dropped/.test(r.message))).toBe(true);
  expect(m.src.status().alive).toBe(true);
  void peer;
});

withRedis('wrong password: the sample fails with an authentication error, logged once, counted; sampling goes on', async () => {
  const port = await freePort();
  await redisOn(port, ['--requirepass', 'right-secret']);
  const m = monitor(port, {}, { password: 'wrong-secret' });
  expect(await waitFor(() => m.src.status().errors >= 3, 8000)).toBe(true);
  expect(m.lines()).toEqual([]);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(/Authentication failed for redis 127\.0\.0\.1:\d+: WRONGPASS/);
  // The right password works.
  const ok = monitor(port, { id: 'ok' }, { password: 'right-secret' });
  await commands(port, (c) => c.set('auth', 'ok'), 'right-secret');
  await waitFor(() => ok.src.status().linesEmitted > 0, 5000);
  expect(ok.src.status().errors).toBe(0);
});

test('garbage: a peer that answers non-RESP bytes and closes; one that never answers (connection_timeout): counted, logged once each', async () => {
  const junk = await startTcpPeer('\x00\x01garbage that is not RESP\r\n');
  cleanup.push(() => junk.stop());
  const m = monitor(junk.port);
  expect(await waitFor(() => m.src.status().errors >= 3, 8000)).toBe(true);
  expect(m.lines()).toEqual([]);
  expect(m.errors()).toHaveLength(1);
  expect(m.src.status().lastError).toMatch(/127\.0\.0\.1:\d+/);

  const silent = await startTcpPeer(undefined);
  cleanup.push(() => silent.stop());
  const m2 = monitor(silent.port, { id: 'silent', connection_timeout: 1, sample_interval: 0.1 });
  expect(await waitFor(() => m2.src.status().errors >= 2, 8000)).toBe(true);
  expect(m2.errors()).toHaveLength(1);
  expect(m2.errors()[0]).toMatch(/Connection timed out: 127\.0\.0\.1:\d+/);
});
