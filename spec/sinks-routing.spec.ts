/**
 * Named sinks and routing (issue 18, part 1): the hub's fan-out and ack combination, the read
 * budget per route, config validation of `sinks` and routes, a real agent with several embedded
 * sinks, and a real `bin/sluice` shipping one file to two addEvents servers while one of them
 * fails for a minute, killed with -9 in between.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Batch, ComponentCounters, Sink, Stream } from '../lib/types.js';
import { createCounters } from '../lib/counters.js';
import { Taps } from '../lib/pipeline/taps.js';
import { silentLogger } from '../lib/logger.js';
import { createHub } from '../app/parts/hub.js';
import { RouteBudgets } from '../lib/pipeline/routeBudgets.js';
import { createAgent } from '../app/agent.js';
import { loadAgentConfig } from '../app/config.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { startTestServer, parseAddEventsBody, resolveSequence, type TestServer } from '../testkit/tlsServer.js';
import { readNdjson } from './helpers/ndjson.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sluice');

/** A sink that keeps what it is given and acks when told (a recording sink for the hub's unit tests). */
class HeldSink implements Sink {
  readonly counters: ComponentCounters = createCounters();
  readonly got: Batch[] = [];
  constructor(readonly id: string) {}
  write(b: Batch): void {
    this.got.push(b);
  }
  /** Acks, in order, every batch received so far. */
  ackAll(): void {
    for (const b of this.got.splice(0)) b.stream.ack(b.end);
  }
  async flush(): Promise<void> {}
  async stop(): Promise<void> {}
  status(): Record<string, unknown> {
    return { held: this.got.length };
  }
  discard(pick: (s: Stream) => boolean): number {
    const before = this.got.length;
    const keep = this.got.filter((b) => !pick(b.stream));
    this.got.splice(0, this.got.length, ...keep);
    return before - keep.length;
  }
}

function stream(kind = 'log', id = 'file:/x#1'): Stream & { acks: number[] } {
  const acks: number[] = [];
  return { id, kind, path: '/x', attrs: { logfile: '/x' }, acks, ack: (end) => acks.push(end) };
}

const batch = (s: Stream, end: number): Batch => ({ stream: s, events: [{ message: `line ${end}\n`, end }], end });

describe('hub: fan-out to named sinks', () => {
  it('acks the source with the smallest offset every routed sink acknowledged, in order', () => {
    const hub = createHub(new Taps(), silentLogger, 1 << 20);
    hub.configure(['a', 'b']);
    const [a, b] = [new HeldSink('a'), new HeldSink('b')];
    hub.setSink('a', a);
    hub.setSink('b', b);
    const s = stream();
    hub.deliver(batch(s, 10));
    hub.deliver(batch(s, 20));
    expect(a.got.map((x) => x.end)).toEqual([10, 20]);
    expect(b.got.map((x) => x.end)).toEqual([10, 20]);
    // Each sink sees its own view of the stream, with the stream's fields.
    expect(a.got[0].stream).not.toBe(s);
    expect(a.got[0].stream.id).toBe(s.id);
    expect(a.got[0].stream.path).toBe('/x');
    a.ackAll();
    expect(s.acks).toEqual([]); // b has acknowledged nothing yet
    expect(hub.routing('b').holding).toEqual([expect.objectContaining({ path: '/x', behind: 20 })]);
    expect(hub.routing('a').holding).toEqual([]);
    b.got[0].stream.ack(10);
    expect(s.acks).toEqual([10]);
    b.ackAll();
    expect(s.acks).toEqual([10, 20]);
    expect(hub.routing('b').holding).toEqual([]);
  });

  it('routes by name, and a kind a sink does not accept is acknowledged for it at once', () => {
    const hub = createHub(new Taps(), silentLogger);
    hub.configure(['logs', 'traces']);
    const [l, t] = [new HeldSink('logs'), new HeldSink('traces')];
    hub.setSink('logs', l, ['log']);
    hub.setSink('traces', t, ['trace']);
    const file = stream('log', 'f');
    const spans = stream('trace', 't');
    hub.deliver(batch(file, 5));
    hub.deliver(batch(spans, 1));
    expect(l.got.map((b) => b.stream.id)).toEqual(['f']);
    expect(t.got.map((b) => b.stream.id)).toEqual(['t']);
    // A kind no sink takes: acked straight away.
    const metrics = stream('metric', 'm');
    hub.deliver(batch(metrics, 7));
    expect(metrics.acks).toEqual([7]);
    // An explicit route: only the sinks named.
    const only = stream('log', 'o');
    hub.deliver(batch(only, 3), ['logs']);
    hub.deliver(batch(only, 4), ['traces']); // not its kind: nothing to wait for there
    expect(l.got.map((b) => b.stream.id)).toEqual(['f', 'o', 'o']);
    expect(l.got[2].events).toEqual([]); // the second goes as an empty batch, acked in order
    l.ackAll();
    expect(only.acks).toEqual([3, 4]);
  });

  it('parks batches for a sink that is not running and hands them over when it starts', () => {
    const hub = createHub(new Taps(), silentLogger);
    hub.configure(['a']);
    const s = stream();
    hub.deliver(batch(s, 1));
    hub.deliver(batch(s, 2));
    expect(hub.routing('a')).toMatchObject({ running: false, parkedBatches: 2 });
    const a = new HeldSink('a');
    hub.setSink('a', a);
    expect(a.got.map((b) => b.end)).toEqual([1, 2]);
    a.ackAll();
    expect(s.acks).toEqual([1, 2]);
  });

  it('a sink taken out of the config no longer holds anything back', () => {
    const hub = createHub(new Taps(), silentLogger);
    hub.configure(['a', 'b']);
    const [a, b] = [new HeldSink('a'), new HeldSink('b')];
    hub.setSink('a', a);
    hub.setSink('b', b);
    const s = stream();
    hub.deliver(batch(s, 9));
    a.ackAll();
    expect(s.acks).toEqual([]);
    hub.configure(['a']);
    expect(s.acks).toEqual([9]);
    void b;
  });

  it('discard picks by the source stream, in every sink and in parked batches', () => {
    const hub = createHub(new Taps(), silentLogger);
    hub.configure(['a', 'b']);
    const a = new HeldSink('a');
    hub.setSink('a', a); // b is not running: its batches are parked
    const s1 = stream('log', 's1');
    const s2 = stream('log', 's2');
    hub.deliver(batch(s1, 1));
    hub.deliver(batch(s2, 1));
    expect(hub.discard((s) => s === s1)).toBe(2); // one in a, one parked for b
    expect(a.got.map((b) => b.stream.id)).toEqual(['s2']);
    expect(hub.routing('b').parkedBatches).toBe(1);
  });
});

describe('read budgets by route', () => {
  it('gives each set of sinks its own budget; a sink sees the waits of every route that includes it', async () => {
    const budgets = new RouteBudgets(100);
    const ab = budgets.of(['b', 'a']);
    expect(budgets.of(['a', 'b'])).toBe(ab);
    const onlyA = budgets.of(['a']);
    const all = budgets.of();
    expect(new Set([ab, onlyA, all]).size).toBe(3);
    const seenByB: string[] = [];
    budgets.forSink('b').onWait(() => seenByB.push('wait'));
    // Route [a] spent: b does not care.
    expect(onlyA.tryAcquire(100)).toBe(true);
    void onlyA.acquire(10);
    await Promise.resolve();
    expect(seenByB).toEqual([]);
    expect(budgets.forSink('b').exhausted).toBe(false);
    expect(budgets.forSink('a').exhausted).toBe(true);
    // The all-sinks route and [a, b] include b.
    expect(all.tryAcquire(100)).toBe(true);
    void all.acquire(1);
    await new Promise((r) => setTimeout(r, 0));
    expect(seenByB).toEqual(['wait']);
    expect(budgets.inUse).toBe(200 + 0);
  });
});

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe('config: sinks and routes', () => {
  const load = (config: Record<string, unknown>) =>
    loadAgentConfig({ config: { agent_data_path: '/tmp/x', agent_log_path: '/tmp/x', implicit_metric_monitor: false, implicit_agent_process_metrics_monitor: false, ...config }, env: {}, hostname: 'h', registry: createDefaultRegistry() });

  it('reads named sinks with their declared options, top-level options overridable per sink', async () => {
    const r = await load({ api_key: 'k', sinks: { scalyr: { type: 'addEvents', scalyr_server: 'https://eu.scalyr.com' }, local: { type: 'embedded', dir: '/tmp/e' } }, logs: [{ path: '/tmp/a.log', sinks: ['local'] }] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.sinks).toEqual({ scalyr: { type: 'addEvents', scalyr_server: 'https://eu.scalyr.com' }, local: expect.objectContaining({ type: 'embedded', dir: '/tmp/e' }) });
    expect(r.config.logs[0].sinks).toEqual(['local']);
  });

  it('names where a route or a sink is wrong', async () => {
    const r = await load({ sinks: { a: { type: 'embedded' }, b: { type: 'nosuch' }, c: 'x', 'bad name': { type: 'embedded' } }, logs: [{ path: '/tmp/a.log', sinks: ['a', 'z'] }], monitors: [{ module: 'shell_monitor', command: 'true', sinks: ['q'] }] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
    expect(text).toMatch(/sinks\.b\.type: no sink type "nosuch"/);
    expect(text).toMatch(/sinks\.c: expected an object/);
    expect(text).toMatch(/sink name "bad name"/);
    expect(text).toMatch(/logs\[0\]\.sinks\[1\]: no sink named "z".*\(sinks: a\)/);
    expect(text).toMatch(/monitors\[0\]\.sinks\[0\]: no sink named "q"/);
  });

  it('without `sinks`, the one sink is `default`, and a route may name it', async () => {
    const r = await load({ logs: [{ path: '/tmp/a.log', sinks: ['default'] }] });
    expect(r.ok).toBe(true);
  });
});

describe('a real agent with named sinks', () => {
  it('sends each entry to the sinks it names (default: all), and shows each sink in status', async () => {
    const dir = tmp('sluice-routes-');
    const logs = ['both', 'onlyA', 'onlyB'].map((n) => path.join(dir, `${n}.log`));
    for (const f of logs) fs.writeFileSync(f, `${path.basename(f)} first\n`);
    const agent = createAgent({
      config: {
        agent_data_path: path.join(dir, 'data'),
        agent_log_path: path.join(dir, 'log'),
        implicit_metric_monitor: false,
        implicit_agent_process_metrics_monitor: false,
        implicit_agent_log_collection: false,
        sinks: { a: { type: 'embedded', dir: path.join(dir, 'a') }, b: { type: 'embedded', dir: path.join(dir, 'b') } },
        logs: [
          { path: logs[0], copy_from_start: true },
          { path: logs[1], copy_from_start: true, sinks: ['a'] },
          { path: logs[2], copy_from_start: true, sinks: ['b'] },
        ],
      },
      watchConfig: false,
    });
    await agent.start();
    try {
      const msgs = (sub: string) => readNdjson(path.join(dir, sub)).map((r) => String(r.message).trim()).sort();
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (msgs('a').length < 2 || msgs('b').length < 2)) await new Promise((r) => setTimeout(r, 50));
      expect(msgs('a')).toEqual(['both.log first', 'onlyA.log first']);
      expect(msgs('b')).toEqual(['both.log first', 'onlyB.log first']);
      const st = agent.status();
      expect(Object.keys(st.sinks ?? {})).toEqual(['a', 'b']);
      expect(st.sinks!.a).toMatchObject({ type: 'embedded', routing: { running: true, holdingStreams: 0 } });
      expect(st.mode).toBe('embedded');
      expect(st.routes?.length).toBe(3); // all sinks, [a], [b]

      // Reload with sink b's directory changed: only sink b restarts.
      const cfg = structuredClone(agent.config) as unknown as Record<string, unknown>;
      const next = {
        agent_data_path: path.join(dir, 'data'),
        agent_log_path: path.join(dir, 'log'),
        implicit_metric_monitor: false,
        implicit_agent_process_metrics_monitor: false,
        implicit_agent_log_collection: false,
        sinks: { a: { type: 'embedded', dir: path.join(dir, 'a') }, b: { type: 'embedded', dir: path.join(dir, 'b2') } },
        logs: (cfg.logs as Record<string, unknown>[]).map((e) => ({ path: e.path, copy_from_start: true, ...(e.sinks ? { sinks: e.sinks } : {}) })),
      };
      const out = await agent.reload(next);
      expect(out.ok).toBe(true);
      expect(out.restarted).toEqual(['sink:b']);
      fs.appendFileSync(logs[0], 'both.log second\n');
      const until = Date.now() + 10_000;
      while (Date.now() < until && msgs('b2').length < 1) await new Promise((r) => setTimeout(r, 50));
      expect(msgs('b2')).toEqual(['both.log second']);
      expect(msgs('a')).toContain('both.log second');
    } finally {
      await agent.stop();
    }
  });
});

describe('one file to two addEvents servers, one failing for a minute, kill -9 in between', () => {
  const children: ChildProcess[] = [];
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.close()));
  });

  /** The furthest stream offset the server accepted (an event's `sn` is its end offset in the file). */
  function acceptedEnd(server: TestServer): number {
    let end = 0;
    for (const r of server.requests) {
      if ((r.fault.status ?? 200) !== 200) continue;
      for (const e of resolveSequence(parseAddEventsBody(r.body).events)) {
        if (e.num !== undefined) end = Math.max(end, e.num);
      }
    }
    return end;
  }

  function lines(server: TestServer): string[] {
    const out: string[] = [];
    for (const r of server.requests) {
      if ((r.fault.status ?? 200) !== 200) continue;
      for (const e of parseAddEventsBody(r.body).events) out.push(e.message.toString('utf8').trim());
    }
    return out;
  }

  function checkpoint(dataDir: string, log: string): number {
    try {
      const j = JSON.parse(fs.readFileSync(path.join(dataDir, 'checkpoints.json'), 'utf8')) as { checkpoints: Record<string, { position?: number }> };
      return j.checkpoints[log]?.position ?? 0;
    } catch {
      return 0;
    }
  }

  it('every line arrives at both, none lost, and the checkpoint is never ahead of the slower sink', async () => {
    const fast = await startTestServer();
    const slow = await startTestServer();
    servers.push(fast, slow);
    const FAIL_MS = Number(process.env.SLUICE_ROUTING_FAIL_MS ?? 60_000); // the minute
    const failUntil = Date.now() + FAIL_MS;
    slow.script = () => (Date.now() < failUntil ? { status: 503, body: '{"status":"error/server/backoff","message":"down for a minute"}' } : undefined);

    const dir = tmp('sluice-two-sinks-');
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(log, '');
    const dataDir = path.join(dir, 'data');
    const sink = (server: TestServer) => ({ type: 'addEvents', scalyr_server: server.url, allow_http: true });
    const config = {
      api_key: 'test-key',
      agent_data_path: dataDir,
      agent_log_path: path.join(dir, 'log'),
      implicit_metric_monitor: false,
      implicit_agent_process_metrics_monitor: false,
      implicit_agent_log_collection: false,
      max_pending_bytes: 65536,
      upload: { linger_ms: 50, retry_base_ms: 200, retry_max_ms: 2000 },
      sinks: { fast: sink(fast), slow: sink(slow) },
      logs: [{ path: log, copy_from_start: true }],
    };
    const configPath = path.join(dir, 'agent.json');
    fs.writeFileSync(configPath, JSON.stringify(config));
    const start = () => {
      const c = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(c);
      return c;
    };
    const violations: string[] = [];
    const watch = setInterval(() => {
      const cp = checkpoint(dataDir, log);
      const slowEnd = acceptedEnd(slow);
      if (cp > slowEnd) violations.push(`checkpoint ${cp} ahead of the slow sink's ${slowEnd}`);
    }, 100);
    try {
      let agent = start();
      let text = '';
      for (let i = 0; i < 3000; i++) text += `line ${i} ${'x'.repeat(40)}\n`;
      fs.appendFileSync(log, text);
      // The fast sink gets lines, up to the route's budget; the slow one none; nothing is checkpointed.
      const t0 = Date.now();
      while (Date.now() - t0 < 15_000 && lines(fast).length < 500) await new Promise((r) => setTimeout(r, 100));
      expect(lines(fast).length).toBeGreaterThanOrEqual(500);
      expect(lines(slow)).toEqual([]);
      expect(slow.requests.length).toBeGreaterThan(0);
      expect(checkpoint(dataDir, log)).toBe(0);
      // The budget holds reading back: not the whole file in memory (3000 lines ≈ 150 KB, budget 64 KiB).
      expect(lines(fast).length).toBeLessThan(3000);
      // What status says: sink slow holds the file back, and why.
      // (The fast sink may have a request in flight at a given moment: ask until it has none.)
      const status = () => JSON.parse(spawnSync(process.execPath, [BIN, 'status', '-v', '--format', 'json', '--config', configPath], { encoding: 'utf8' }).stdout);
      let st = status();
      for (let i = 0; i < 20 && st.sinks.fast.routing.holdingStreams !== 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        st = status();
      }
      expect(st.sinks.slow.routing.holding[0]).toMatchObject({ path: log, kind: 'log' });
      expect(st.sinks.slow.routing.holding[0].behind).toBeGreaterThan(0);
      expect(st.sinks.slow.lastError ?? st.sinks.slow.lastStatus ?? JSON.stringify(st.sinks.slow)).toMatch(/503|backoff|down/);
      expect(st.sinks.fast.routing.holdingStreams).toBe(0);
      // `sluice top` says the same: one block per sink, the slow one holding the file back.
      const topOut = spawnSync(process.execPath, [BIN, 'top', '--once', '--interval', '0.2', '--config', configPath], { encoding: 'utf8' }).stdout;
      expect(topOut).toMatch(/^Sink fast \(addEvents\)/m);
      expect(topOut).toMatch(/^Sink slow \(addEvents\).*last error .*(503|down)/m);
      expect(topOut).toContain(`holds back ${log} (log): `);
      expect(topOut.split('Sink slow')[0]).not.toContain('holds back');

      agent.kill('SIGKILL');
      await new Promise((r) => agent.once('exit', r));
      let more = '';
      for (let i = 3000; i < 4000; i++) more += `line ${i} ${'x'.repeat(40)}\n`;
      fs.appendFileSync(log, more);
      agent = start();
      const want = new Set(Array.from({ length: 4000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`));
      const all = (s: TestServer) => new Set(lines(s));
      const t1 = Date.now();
      while (Date.now() - t1 < FAIL_MS + 30_000 && (all(slow).size < 4000 || all(fast).size < 4000)) await new Promise((r) => setTimeout(r, 200));
      const report = (['fast', 'slow'] as const).map((name) => {
        const got = all(name === 'fast' ? fast : slow);
        const missing = [...want].filter((l) => !got.has(l));
        return { sink: name, missing: missing.length, first: missing.slice(0, 3) };
      });
      expect({ dir, report }).toEqual({ dir, report: [{ sink: 'fast', missing: 0, first: [] }, { sink: 'slow', missing: 0, first: [] }] });
      // The slow sink failed for the whole minute before anything reached it.
      const firstSlowOk = slow.requests.findIndex((r) => (r.fault.status ?? 200) === 200);
      expect(firstSlowOk).toBeGreaterThan(0);
      expect(Date.now()).toBeGreaterThan(failUntil);
      // Every line once at the slow sink except a re-read from the last checkpoint; never a gap.
      const slowLines = lines(slow);
      expect(slowLines.length - new Set(slowLines).size).toBeLessThanOrEqual(4000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(checkpoint(dataDir, log)).toBe(fs.statSync(log).size);
      expect(violations).toEqual([]);
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    } finally {
      clearInterval(watch);
    }
  }, 150_000);
});
