/**
 * The monitor source: timer and jitter, batches and streams, failure isolation (throw on load,
 * throw per sample, garbage, erroring Observables) with backoff, rate limiting and stop.
 * Virtual time (rxjs VirtualTimeScheduler) keeps it deterministic.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirtualTimeScheduler, VirtualAction, Observable, defer, of, throwError, NEVER, Subscription, interval, map } from 'rxjs';
import { createRegistry, type MonitorSample } from '../lib/registry.js';
import { memoryLogger } from '../lib/logger.js';
import type { AgentConfig, MonitorConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import { createMonitorSource, initialJitterMs, resolveMonitorFactory, validateSample } from '../sources/monitors/monitorSource.js';

function agent(extra: Partial<AgentConfig> = {}): AgentConfig {
  return {
    agent_log_path: '/var/log/sluice',
    agent_data_path: '/var/lib/sluice',
    global_monitor_sample_interval: 30,
    global_monitor_sample_interval_enable_jitter: true,
    ...extra,
  } as AgentConfig;
}

function harness(extra: Partial<AgentConfig> = {}) {
  const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
  const registry = createRegistry();
  const logger = memoryLogger();
  const subs = new Subscription();
  const run = (cfg: MonitorConfig, opts: { random?: () => number; baseDir?: string } = {}) => {
    const src = createMonitorSource(cfg, { logger, agent: agent(extra), registry, scheduler, random: opts.random ?? (() => 0), baseDir: opts.baseDir });
    const batches: Batch[] = [];
    let completed = false;
    subs.add(src.batches$.subscribe({ next: (b) => batches.push(b), complete: () => (completed = true) }));
    return { src, batches, lines: () => batches.flatMap((b) => b.events.map((e) => String(e.message))), completed: () => completed };
  };
  const advanceTo = (ms: number) => {
    scheduler.maxFrames = ms;
    scheduler.flush();
  };
  return { scheduler, registry, logger, run, advanceTo, close: () => subs.unsubscribe() };
}

const counterMonitor = () => {
  let n = 0;
  return () => defer(() => of<MonitorSample[]>([{ metric: 'n', value: ++n, fields: { k: 'v' } }]));
};

describe('initial jitter (§6.2)', () => {
  test('20%–80% of the interval in whole seconds, 15–40 s from 40 s up', () => {
    expect(initialJitterMs(30, () => 0)).toBe(6000);
    expect(initialJitterMs(30, () => 0.999999)).toBe(24000);
    expect(initialJitterMs(60, () => 0)).toBe(15000);
    expect(initialJitterMs(60, () => 0.999999)).toBe(40000);
    expect(initialJitterMs(0.1, () => 0.5)).toBe(50);
  });
});

describe('createMonitorSource', () => {
  test('samples after the jitter, then every sample_interval; batches carry the metric stream', () => {
    const h = harness();
    h.registry.register('monitor', 'counter', counterMonitor());
    const { src, batches, lines } = h.run({ module: 'counter', id: 'a' });
    expect(src.id).toBe('counter(a)');
    h.advanceTo(5999);
    expect(batches).toHaveLength(0);
    h.advanceTo(6000);
    expect(lines()).toEqual(['1970-01-01 00:00:06.000Z [counter(a)] n 1 k="v"\n']);
    h.advanceTo(36000);
    h.advanceTo(66000);
    expect(lines()).toHaveLength(3);
    expect(lines()[2]).toBe('1970-01-01 00:01:06.000Z [counter(a)] n 3 k="v"\n');
    const b = batches[0];
    expect(b.stream.kind).toBe('metric');
    expect(b.stream.path).toBe('/var/log/sluice/counter.log');
    expect(b.stream.attrs).toEqual({ parser: 'agent-metrics', logfile: '/var/log/sluice/counter.log' });
    // end is a running byte counter over the stream
    const lens = lines().map((l) => Buffer.byteLength(l));
    expect(batches.map((x) => x.end)).toEqual([lens[0], lens[0] + lens[1], lens[0] + lens[1] + lens[2]]);
    expect(batches[2].events[0].ts).toBe(66000n * 1_000_000n);
    expect(() => b.stream.ack(b.end)).not.toThrow();
    expect(src.status()).toMatchObject({ name: 'counter(a)', linesEmitted: 3, errors: 0, alive: true });
    expect(src.counters.sentEvents).toBe(3);
    h.close();
  });

  test('per-monitor sample_interval, Scalyr module names, tags, no jitter when disabled', () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    h.registry.register('monitor', 'counter', counterMonitor());
    const { batches } = h.run({ module: 'scalyr_agent.builtin_monitors.counter', sample_interval: 5, tags: { team: 'x' } });
    h.advanceTo(0);
    expect(batches).toHaveLength(1);
    h.advanceTo(10000);
    expect(batches).toHaveLength(3);
    expect(batches[0].stream.attrs).toEqual({ team: 'x', parser: 'agent-metrics', logfile: '/var/log/sluice/counter.log' });
    expect(String(batches[0].events[0].message)).toContain('[counter()] n 1');
    h.close();
  });

  test('a factory that throws on load is reported and retried with backoff; others keep going', () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    let calls = 0;
    h.registry.register('monitor', 'broken', () => {
      calls++;
      throw new Error('no config for you');
    });
    h.registry.register('monitor', 'counter', counterMonitor());
    const bad = h.run({ module: 'broken', sample_interval: 1 });
    const good = h.run({ module: 'counter', sample_interval: 1 });
    h.advanceTo(60_000);
    expect(good.lines()).toHaveLength(61);
    expect(bad.batches).toHaveLength(0);
    // backoff: 1, 2, 4, 8, 16, 32 s → about 6 attempts in a minute, not 61
    expect(calls).toBeGreaterThanOrEqual(5);
    expect(calls).toBeLessThanOrEqual(8);
    const st = bad.src.status();
    expect(st.alive).toBe(false);
    expect(st.errors).toBe(calls);
    expect(st.lastError).toMatch(/failed to start: no config for you/);
    expect(st.skippedTicks).toBeGreaterThan(40);
    const errorLogs = h.logger.records.filter((r) => r.level === 'error' && r.message.includes('broken()'));
    expect(errorLogs).toHaveLength(1); // once per burst
    h.close();
  });

  test('a sample that throws / an Observable that errors is counted, backed off, and recovers', () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    let n = 0;
    h.registry.register('monitor', 'flaky', () =>
      defer(() => {
        n++;
        if (n <= 3) throw new Error(`boom ${n}`);
        return of({ metric: 'ok', value: n });
      }),
    );
    h.registry.register('monitor', 'erroring', () => throwError(() => new Error('stream broke')));
    const flaky = h.run({ module: 'flaky', sample_interval: 1 });
    const erroring = h.run({ module: 'erroring', sample_interval: 1 });
    h.advanceTo(30_000);
    expect(flaky.src.status()).toMatchObject({ errors: 3, alive: true, lastError: 'sample failed: boom 3' });
    expect(flaky.lines().length).toBeGreaterThan(15);
    expect(h.logger.records.filter((r) => r.level === 'error' && r.message.includes('flaky()'))).toHaveLength(1);
    expect(h.logger.records.some((r) => r.level === 'info' && r.message.includes('flaky(): recovered after 3'))).toBe(true);
    expect(erroring.src.status()).toMatchObject({ alive: false, lastError: 'sample failed: stream broke' });
    expect(erroring.src.status().errors).toBeLessThan(8);
    h.close();
  });

  test('garbage samples are dropped and counted; good samples of the same emission still go out', () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    h.registry.register('monitor', 'garbage', () =>
      defer(() =>
        of([
          { metric: 'good', value: 1 },
          { metric: 'nan', value: NaN },
          { metric: 'inf', value: 1, fields: { x: Infinity } },
          { value: 3 },
          'not an object',
          { metric: 'obj', value: { a: 1 } },
          { metric: '9 bad name!', value: 2, fields: { 'bad key': 'v', monitor: 'm' } },
        ] as unknown as MonitorSample[]),
      ),
    );
    const g = h.run({ module: 'garbage', sample_interval: 1 });
    h.advanceTo(2000);
    const lines = g.lines();
    expect(lines.filter((l) => l.includes('good 1'))).toHaveLength(3);
    expect(lines[1]).toBe('1970-01-01 00:00:00.000Z [garbage()] sa_9_bad_name_ 2 bad_key="v" monitor_="m"\n');
    const st = g.src.status();
    expect(st.invalidSamples).toBe(15);
    expect(g.src.counters.dropped.invalid_sample).toBe(15);
    expect(st.lastError).toMatch(/invalid sample/);
    expect(h.logger.records.filter((r) => r.level === 'warn' && r.message.includes('garbage()'))).toHaveLength(1);
    h.close();
  });

  test('validateSample explains what is wrong', () => {
    expect(validateSample({ metric: 'a', value: 1 })).toBeUndefined();
    expect(validateSample(null)).toMatch(/not an object/);
    expect(validateSample({ metric: '', value: 1 })).toMatch(/no metric/);
    expect(validateSample({ metric: 'a', value: -Infinity })).toMatch(/non-finite/);
    expect(validateSample({ metric: 'a', value: 1, fields: [] })).toMatch(/fields/);
    expect(validateSample({ metric: 'a', value: 1, fields: { b: null } })).toMatch(/field b/);
  });

  test('a tick while the previous sample still runs is skipped and counted (no pile-up)', () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    let subscriptions = 0;
    h.registry.register('monitor', 'slow', () =>
      defer(() => {
        subscriptions++;
        return NEVER;
      }),
    );
    const s = h.run({ module: 'slow', sample_interval: 1 });
    h.advanceTo(10_000);
    expect(subscriptions).toBe(1);
    expect(s.src.status().skippedTicks).toBe(10);
    h.close();
  });

  test('a long-lived Observable is subscribed once and emits on its own schedule', () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    h.registry.register('monitor', 'stream', (_c, ctx) => interval(250, (ctx as any).scheduler).pipe(map((i) => ({ metric: 'i', value: i }))));
    const s = h.run({ module: 'stream', sample_interval: 1 });
    h.advanceTo(2000);
    expect(s.lines()).toHaveLength(8);
    h.close();
  });

  test('write-rate limit drops lines, counts them and reports a warning line', () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    h.registry.register('monitor', 'chatty', () => defer(() => of(Array.from({ length: 10 }, (_, i) => ({ metric: 'm', value: i })))));
    const s = h.run({ module: 'chatty', sample_interval: 1, monitor_log_write_rate: 40, monitor_log_max_write_burst: 200 });
    h.advanceTo(0);
    // each line is 40 bytes: 5 fit in the 200-byte burst
    expect(s.lines()).toHaveLength(5);
    h.advanceTo(2000);
    expect(s.lines().some((l) => /\[chatty\(\)\] Warning, skipped writing \d+ log lines due to limit set by `monitor_log_write_rate` option/.test(l))).toBe(true);
    expect(s.src.counters.dropped.rate_limit).toBeGreaterThan(10);
    expect(s.src.status().rateLimitedLines).toBe(s.src.counters.dropped.rate_limit);
    h.close();
  });

  test('stop() completes batches$, unsubscribes the sample and is idempotent', async () => {
    const h = harness({ global_monitor_sample_interval_enable_jitter: false });
    let torn = 0;
    h.registry.register('monitor', 'held', () => new Observable<MonitorSample>(() => () => void torn++));
    const s = h.run({ module: 'held', sample_interval: 1 });
    h.advanceTo(1000);
    await s.src.stop();
    await s.src.stop();
    expect(s.completed()).toBe(true);
    expect(torn).toBe(1);
    expect(s.src.status().alive).toBe(false);
    h.advanceTo(5000);
    expect(s.src.status().skippedTicks).toBe(1);
    h.close();
  });

  test('unknown modules and plugin files that throw on import are reported with the module name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-mon-'));
    try {
      fs.writeFileSync(path.join(dir, 'bad.mjs'), 'throw new Error("kaput at import");\n');
      const h = harness({ global_monitor_sample_interval_enable_jitter: false });
      const registry = h.registry;
      await expect(resolveMonitorFactory({ module: 'scalyr_agent.builtin_monitors.nope' }, { registry })).rejects.toThrow(/nope.*not supported/);
      await expect(resolveMonitorFactory({ module: './bad.mjs' }, { registry, baseDir: dir })).rejects.toThrow(/bad\.mjs.*kaput at import/);
      await expect(resolveMonitorFactory({ module: './missing.mjs' }, { registry, baseDir: dir })).rejects.toThrow(/missing\.mjs.*not found/);
      const s = h.run({ module: './bad.mjs', sample_interval: 1 }, { baseDir: dir });
      h.advanceTo(0);
      for (let i = 0; i < 50 && s.src.status().errors === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(s.src.status()).toMatchObject({ alive: false, errors: 1 });
      expect(s.src.status().lastError).toMatch(/failed to load.*kaput at import/);
      h.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
