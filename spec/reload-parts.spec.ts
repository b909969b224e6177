/**
 * Live reconfiguration of each kind of part: the sink (swapped without losing queued events),
 * server_attributes (next request), added and removed log entries, a changed monitor.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent, type Agent } from '../app/index.js';
import { memoryLogger } from '../lib/logger.js';
import { makeTestCa, startTestServer, parseAddEventsBody, type TestServer } from '../testkit/tlsServer.js';
import { waitFor } from './helpers/wait.js';
import { readNdjson } from './helpers/ndjson.js';
import { isolatedAgent } from './helpers/isolated.js';

const ca = makeTestCa();

function events(server: TestServer) {
  return server.requests.filter((r) => !r.fault.status && !r.fault.reset && !r.fault.hang).flatMap((r) => parseAddEventsBody(r.body).events);
}

describe('reloading each kind of part', () => {
  let agent: Agent | undefined;
  const servers: TestServer[] = [];
  afterEach(async () => {
    await agent?.stop(3000);
    agent = undefined;
    for (const s of servers.splice(0)) await s.close();
  });

  function base(dir: string, extra: Record<string, unknown>) {
    return {
      ...isolatedAgent(dir),
      ca_cert_path: ca.caPath,
      upload: { retry_base_ms: 50, retry_max_ms: 100, linger_ms: 20 },
      ...extra,
    };
  }

  /**
   * An agent tailing `log` (attributes `v`) that uploads to a server answering 500 until its
   * `faults` are cleared; `pending()` is the sink's queued bytes.
   */
  async function startDuringOutage(dir: string, log: string, extra: Record<string, unknown> = {}) {
    const server = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
    servers.push(server);
    for (let i = 0; i < 100_000; i++) server.faults.push({ status: 500, body: 'down' });
    const entry = (v: number) => ({ path: log, copy_from_start: true, attributes: { v: String(v) } });
    const cfg = base(dir, { api_key: 'k', scalyr_server: server.url, ...extra, logs: [entry(0)] });
    const logger = memoryLogger();
    agent = createAgent({ logger, config: cfg, stopDeadlineMs: 200 });
    await agent.start();
    const a = agent;
    const pending = () => (a.status().sink as { bytesPending?: number }).bytesPending ?? 0;
    return { server, entry, cfg, logger, pending };
  }

  it('a new scalyr_server swaps the sink; events queued for the failing one go to the new one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rp-'));
    const log = path.join(dir, 'a.log');
    fs.writeFileSync(log, '');
    const bad = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
    const good = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
    servers.push(bad, good);
    for (let i = 0; i < 10_000; i++) bad.faults.push({ status: 500, body: 'down' });
    const cfg = base(dir, { api_key: 'k', scalyr_server: bad.url, logs: [{ path: log, copy_from_start: true }], server_attributes: { serverHost: 'h1' } });
    agent = createAgent({ logger: memoryLogger(), config: cfg });
    await agent.start();
    fs.appendFileSync(log, 'queued 1\nqueued 2\n');
    await waitFor('failing attempts', () => bad.requests.length >= 2);
    const outcome = await agent.reload({ ...cfg, scalyr_server: good.url, server_attributes: { serverHost: 'h2' } });
    expect(outcome.restarted).toEqual(['sink']);
    expect(outcome.unchanged).toContain(`log:${log}`);
    await waitFor('delivered to the new server', () => events(good).length >= 2);
    expect(events(good).map((e) => e.message.toString())).toEqual(['queued 1\n', 'queued 2\n']);
    expect((parseAddEventsBody(good.requests[0].body).head.sessionInfo as Record<string, string>).serverHost).toBe('h2');
  });

  it('server_attributes change the next request without restarting anything', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rp-'));
    const log = path.join(dir, 'a.log');
    fs.writeFileSync(log, '');
    const server = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
    servers.push(server);
    const cfg = base(dir, { api_key: 'k', scalyr_server: server.url, logs: [{ path: log, copy_from_start: true }], server_attributes: { serverHost: 'before' } });
    agent = createAgent({ logger: memoryLogger(), config: cfg });
    await agent.start();
    fs.appendFileSync(log, 'one\n');
    await waitFor('first', () => events(server).length >= 1);
    const outcome = await agent.reload({ ...cfg, server_attributes: { serverHost: 'after', team: 'x' } });
    expect(outcome.restarted).toEqual([]);
    expect(outcome.started).toEqual([]);
    fs.appendFileSync(log, 'two\n');
    await waitFor('second', () => events(server).length >= 2);
    const last = parseAddEventsBody(server.requests[server.requests.length - 1].body);
    expect(last.head.sessionInfo).toEqual({ serverHost: 'after', team: 'x' });
  });

  it('an added entry starts existing files at their end (Scalyr); a removed one stops after its data is delivered', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rp-'));
    const a = path.join(dir, 'a.log');
    const b = path.join(dir, 'b.log');
    fs.writeFileSync(a, '');
    fs.writeFileSync(b, 'old b content\n');
    const cfg = base(dir, { logs: [{ path: a, copy_from_start: true }] });
    agent = createAgent({ logger: memoryLogger(), config: cfg });
    await agent.start();
    const out = path.join(dir, 'data', 'events');
    const withB = { ...cfg, logs: [{ path: a, copy_from_start: true }, { path: b }] };
    const added = await agent.reload(withB);
    expect(added.started).toEqual([`log:${b}`]);
    fs.appendFileSync(b, 'new b\n');
    fs.appendFileSync(a, 'a1\n');
    await waitFor('both', () => readNdjson(out).length >= 2);
    expect(readNdjson(out).map((r) => r.message).sort()).toEqual(['a1\n', 'new b\n']);

    fs.appendFileSync(b, 'last b\n');
    await waitFor('last b', () => readNdjson(out).some((r) => r.message === 'last b\n'));
    const removed = await agent.reload(cfg);
    expect(removed.stopped).toEqual([`log:${b}`]);
    fs.appendFileSync(b, 'after removal\n');
    fs.appendFileSync(a, 'a2\n');
    await waitFor('a2', () => readNdjson(out).some((r) => r.message === 'a2\n'));
    expect(readNdjson(out).some((r) => r.message === 'after removal\n')).toBe(false);
    expect(agent.status().logs.map((l) => l.path)).toEqual([a]);
  });

  it('a restarted entry still drains a file rotated away and deleted during the restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rp-'));
    const log = path.join(dir, 'a.log');
    fs.writeFileSync(log, '');
    const cfg = base(dir, { logs: [{ path: log, copy_from_start: true, attributes: { v: '1' } }] });
    // Long rescans and polls: the old source must not notice the rotation on its own.
    agent = createAgent({ logger: memoryLogger(), config: { ...cfg, max_new_log_detection_time: 30 } });
    await agent.start();
    const out = path.join(dir, 'data', 'events');
    fs.appendFileSync(log, 'first\n');
    await waitFor('first', () => readNdjson(out).length >= 1);
    // Written, rotated away and deleted with no reader in between, then the entry changes.
    const fd = fs.openSync(log, 'a');
    fs.writeSync(fd, 'late 1\nlate 2\n');
    fs.closeSync(fd);
    const reloading = agent.reload({ ...cfg, max_new_log_detection_time: 30, logs: [{ path: log, copy_from_start: true, attributes: { v: '2' } }] });
    fs.renameSync(log, log + '.1');
    fs.unlinkSync(log + '.1');
    fs.writeFileSync(log, 'new file\n');
    expect((await reloading).restarted).toEqual([`log:${log}`]);
    await waitFor('every line', () => readNdjson(out).length >= 4, 10_000);
    expect(readNdjson(out).map((r) => r.message)).toEqual(['first\n', 'late 1\n', 'late 2\n', 'new file\n']);
  });

  it('an entry restarted again and again while the server fails queues its lines once, not once per restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rp-'));
    const log = path.join(dir, 'a.log');
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(80)}\n`);
    fs.writeFileSync(log, lines.join('')); // ≈ 1.8 MB, far more than the read budget
    const budget = 256 * 1024;
    const { server, entry, cfg, logger, pending } = await startDuringOutage(dir, log, { max_pending_bytes: budget });
    await waitFor('the read budget filled', () => pending() >= budget - 4096, 10_000);
    for (let v = 1; v <= 6; v++) {
      expect((await agent!.reload({ ...cfg, logs: [entry(v)] })).restarted).toEqual([`log:${log}`]);
      await waitFor('the restarted entry read up to the budget again', () => pending() >= budget - 4096, 10_000);
      // The predecessor's queued lines went; what is left is the successor's budget plus the
      // requests already built from the predecessor's lines (one in flight, two ahead).
      expect(pending()).toBeLessThanOrEqual(budget + 3 * budget);
    }
    expect(logger.records.some((r) => /queued events dropped from the sink; the restarted entry reads them again/.test(r.message))).toBe(true);
    expect((agent!.status().sink as { counters?: { dropped?: Record<string, number> } }).counters?.dropped?.superseded_by_reload).toBeGreaterThan(0);
    // The server recovers: every line arrives, in order (duplicates of re-read lines allowed).
    server.faults.length = 0;
    const got = () => events(server).map((e) => e.message.toString());
    await waitFor('every line', () => new Set(got()).size >= lines.length, 30_000);
    const firsts: string[] = [];
    const seen = new Set<string>();
    for (const m of got()) if (!seen.has(m)) (seen.add(m), firsts.push(m));
    expect(firsts).toEqual(lines);
  }, 60_000);

  it('a restarted entry re-reads a rotated file that was read to its end, deleted and not yet delivered', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rp-'));
    const log = path.join(dir, 'a.log');
    fs.writeFileSync(log, 'old 1\nold 2\n');
    const { server, entry, cfg, logger, pending } = await startDuringOutage(dir, log, { max_new_log_detection_time: 0.2 });
    await waitFor('the old file queued', () => pending() >= 12, 5000);
    fs.renameSync(log, log + '.1');
    fs.writeFileSync(log, 'new 1\n');
    await waitFor('the rotation seen', () => logger.records.some((r) => /was rotated/.test(r.message)), 5000);
    await waitFor('the new file queued', () => pending() >= 18, 5000);
    fs.unlinkSync(log + '.1'); // read to its end, nothing acknowledged, now deleted
    await agent!.reload({ ...cfg, logs: [entry(1)] });
    // The successor finds the deleted file through the handle the old source still holds.
    expect(logger.records.filter((r) => /could not be found again/.test(r.message)).map((r) => r.message)).toEqual([]);
    server.faults.length = 0;
    const got = () => events(server).map((e) => e.message.toString());
    await waitFor('every line', () => ['old 1\n', 'old 2\n', 'new 1\n'].every((l) => got().includes(l)), 10_000);
  }, 30_000);

  it('a changed monitor restarts only that monitor', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-rp-'));
    const mon = (id: string, text: string) => ({ module: 'shell_monitor', id, command: `echo ${text}`, sample_interval: 0.1 });
    const cfg = base(dir, { global_monitor_sample_interval_enable_jitter: false, monitors: [mon('a', 'alpha'), mon('b', 'beta')] });
    agent = createAgent({ logger: memoryLogger(), config: cfg });
    await agent.start();
    const out = path.join(dir, 'data', 'events');
    await waitFor('both monitors', () => readNdjson(out).some((r) => r.message.includes('beta')) && readNdjson(out).some((r) => r.message.includes('alpha')));
    const r = await agent.reload({ ...cfg, monitors: [mon('a', 'alpha'), mon('b', 'gamma')] });
    expect(r.restarted).toEqual(['monitor:shell_monitor(b)']);
    expect(r.unchanged).toContain('monitor:shell_monitor(a)');
    await waitFor('new command', () => readNdjson(out).some((x) => x.message.includes('gamma')));
  });
});
