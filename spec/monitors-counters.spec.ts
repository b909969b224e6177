/**
 * Monitor counters: which samples the monitor runner marks as cumulative counters (a sample's
 * `counter`, a component's `counterMetrics`) and the start of each counter series' cumulative
 * period (stable across samples, a new one at a reset), as the `MetricRecord` the OTLP sink
 * exports. The runner is the real `createMonitorSource` under virtual time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirtualTimeScheduler, VirtualAction, Subscription, defer, of } from 'rxjs';
import { createRegistry, type MonitorSample } from '../lib/registry.js';
import { defineComponent } from '../lib/component.js';
import { memoryLogger } from '../lib/logger.js';
import type { AgentConfig, MonitorConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import type { MetricRecord } from '../lib/telemetry.js';
import { createMonitorSource } from '../sources/monitors/monitorSource.js';
import { CounterPeriods, counterMatcher } from '../sources/monitors/counterSeries.js';
import { collectSystemMetrics, LINUX_SYSTEM_COUNTERS, linuxSystemMetricsComponent, systemMetricsOptions } from '../sources/monitors/linuxSystemMetrics.js';
import { linuxProcessMetricsComponent } from '../sources/monitors/linuxProcessMetrics.js';
import { registerBuiltinMonitors } from '../sources/monitors/builtins.js';
import { waitFor } from '../testkit/statusPeers.js';
import { loadPlugin } from '../lib/plugins.js';
import { configDocsOf } from '../app/config.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { fileURLToPath } from 'node:url';

const ms = (n: number) => BigInt(n) * 1_000_000n;

describe('CounterPeriods', () => {
  test('a series starts at its first point; later points keep that start', () => {
    const p = new CounterPeriods();
    expect(p.startOf('c', { k: 'v' }, 10, ms(1000))).toBe(ms(1000));
    expect(p.startOf('c', { k: 'v' }, 15, ms(2000))).toBe(ms(1000));
    expect(p.startOf('c', { k: 'v' }, 15, ms(3000))).toBe(ms(1000));
  });

  test('a lower value is a reset: that point starts a new period, kept afterwards', () => {
    const p = new CounterPeriods();
    p.startOf('c', undefined, 100, ms(1000));
    expect(p.startOf('c', undefined, 120, ms(2000))).toBe(ms(1000));
    expect(p.startOf('c', undefined, 3, ms(3000))).toBe(ms(3000));
    expect(p.startOf('c', undefined, 9, ms(4000))).toBe(ms(3000));
  });

  test('series are told apart by name and fields, not by the order of the fields', () => {
    const p = new CounterPeriods();
    p.startOf('c', { a: '1', b: 'x' }, 5, ms(1000));
    expect(p.startOf('c', { b: 'x', a: '1' }, 6, ms(2000))).toBe(ms(1000));
    expect(p.startOf('c', { a: '2', b: 'x' }, 1, ms(2000))).toBe(ms(2000));
    expect(p.startOf('d', { a: '1', b: 'x' }, 1, ms(2500))).toBe(ms(2500));
    // a number field and a string field of the same text are different series
    p.startOf('e', { n: 1 }, 1, ms(1000));
    expect(p.startOf('e', { n: '1' }, 1, ms(2000))).toBe(ms(2000));
    expect(p.size).toBe(5);
  });

  test('bounded: the least recently seen series is forgotten first; seen again it starts anew', () => {
    const p = new CounterPeriods(2);
    p.startOf('a', undefined, 1, ms(1));
    p.startOf('b', undefined, 1, ms(2));
    p.startOf('a', undefined, 2, ms(3)); // a is now the most recent
    p.startOf('c', undefined, 1, ms(4)); // b goes
    expect(p.size).toBe(2);
    expect(p.startOf('a', undefined, 3, ms(5))).toBe(ms(1));
    expect(p.startOf('b', undefined, 2, ms(6))).toBe(ms(6));
  });
});

describe('counterMatcher', () => {
  test('exact names and fnmatch globs', () => {
    const m = counterMatcher(['proc.stat.cpu', 'mysql.global.com_*', 'x.?']);
    expect(m('proc.stat.cpu')).toBe(true);
    expect(m('proc.stat.cpux')).toBe(false);
    expect(m('mysql.global.com_select')).toBe(true);
    expect(m('mysql.global.connections')).toBe(false);
    expect(m('x.a')).toBe(true);
    expect(m('x.ab')).toBe(false);
    expect(counterMatcher(undefined)('anything')).toBe(false);
    expect(counterMatcher([])('anything')).toBe(false);
  });
});

function agent(jitter: boolean): AgentConfig {
  return { agent_log_path: '/var/log/sluice', agent_data_path: '/var/lib/sluice', global_monitor_sample_interval: 30, global_monitor_sample_interval_enable_jitter: jitter } as AgentConfig;
}

/** Runs a monitor entry under virtual time; `records()` are the MetricRecords of its events so far. */
function harness() {
  const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
  const registry = createRegistry();
  const logger = memoryLogger();
  const subs = new Subscription();
  /** `jitter`: the first sample comes 20 % of the interval after the start (a fixed draw). */
  const run = (cfg: MonitorConfig, jitter = false) => {
    const src = createMonitorSource(cfg, { logger, agent: agent(jitter), registry, scheduler, random: () => 0 });
    const batches: Batch[] = [];
    subs.add(src.batches$.subscribe((b) => batches.push(b)));
    const records = () => batches.flatMap((b) => b.events.map((e) => e.record as MetricRecord | undefined)).filter((r): r is MetricRecord => r !== undefined);
    return { src, records, lines: () => batches.flatMap((b) => b.events.map((e) => String(e.message))) };
  };
  const advanceTo = (t: number) => {
    scheduler.maxFrames = t;
    scheduler.flush();
  };
  return { registry, logger, run, advanceTo, close: () => subs.unsubscribe() };
}

/** A monitor whose sample `i` (from 0) is `samples(i)`. */
function scripted(samples: (i: number) => MonitorSample[]) {
  let i = 0;
  return () => defer(() => of(samples(i++)));
}

describe('the monitor runner marks counters', () => {
  test('a sample marked counter: true is a monotonic record with a stable start; an unmarked one is a gauge', () => {
    const h = harness();
    h.registry.register(
      'monitor',
      'm',
      scripted((i) => [
        { metric: 'requests', value: 10 * (i + 1), fields: { path: '/' }, counter: true },
        { metric: 'queue', value: 7 - i, fields: { path: '/' } },
      ]),
    );
    const { records, lines } = h.run({ module: 'm', sample_interval: 10 });
    h.advanceTo(30_000); // samples at 0, 10 s, 20 s, 30 s
    const req = records().filter((r) => r.name === 'requests');
    const queue = records().filter((r) => r.name === 'queue');
    expect(req.map((r) => r.value)).toEqual([10, 20, 30, 40]);
    expect(req.every((r) => r.monotonic === true)).toBe(true);
    // the period starts at the series' first point (its start is unknown: a zero-duration first point) and stays there
    expect(req.map((r) => r.startNs)).toEqual([0n, 0n, 0n, 0n]);
    expect(queue).toHaveLength(4);
    for (const r of queue) {
      expect(r.monotonic).toBeUndefined();
      expect(r.startNs).toBeUndefined();
    }
    // the metric line is Scalyr's, whatever the kind
    expect(lines()[0]).toBe('1970-01-01 00:00:00.000Z [m()] requests 10 path="/"\n');
    h.close();
  });

  test('the start is the first sample of the series, not the creation of the monitor; a reset starts a new period', () => {
    const h = harness();
    const values = [5, 8, 2, 4];
    h.registry.register('monitor', 'm', scripted((i) => [{ metric: 'c', value: values[i] ?? 9, counter: true }]));
    // created at 0, first sample after a 2 s jitter, then every 10 s
    const { records } = h.run({ module: 'm', sample_interval: 10 }, true);
    h.advanceTo(32_000);
    const got = records().map((r) => [r.value, r.startNs]);
    expect(got).toEqual([
      [5, ms(2_000)],
      [8, ms(2_000)],
      [2, ms(22_000)],
      [4, ms(22_000)],
    ]);
    h.close();
  });

  test('a series that first appears later starts at its own first point', () => {
    const h = harness();
    h.registry.register('monitor', 'm', scripted((i) => (i === 0 ? [{ metric: 'c', value: 1, fields: { dev: 'a' }, counter: true }] : [{ metric: 'c', value: i, fields: { dev: 'a' }, counter: true }, { metric: 'c', value: i, fields: { dev: 'b' }, counter: true }])));
    const { records } = h.run({ module: 'm', sample_interval: 10 });
    h.advanceTo(20_000);
    const of = (dev: string) => records().filter((r) => r.fields?.dev === dev).map((r) => r.startNs);
    expect(of('a')).toEqual([0n, 0n, 0n]);
    expect(of('b')).toEqual([ms(10_000), ms(10_000)]);
    h.close();
  });

  test('a component declares its counters in counterMetrics (names and globs); a sample\'s counter: false wins', () => {
    const h = harness();
    h.registry.add(
      defineComponent({
        kind: 'monitor',
        type: 'decl',
        counterMetrics: ['db.commits', 'db.rows.*'],
        create: scripted(() => [
          { metric: 'db.commits', value: 3 },
          { metric: 'db.rows.read', value: 4 },
          { metric: 'db.connections', value: 2 },
          { metric: 'db.rows.estimate', value: 9, counter: false },
        ]),
      }),
    );
    const { records } = h.run({ module: 'decl', sample_interval: 10 });
    h.advanceTo(0);
    const kind = Object.fromEntries(records().map((r) => [r.name, r.monotonic === true]));
    expect(kind).toEqual({ 'db.commits': true, 'db.rows.read': true, 'db.connections': false, 'db.rows.estimate': false });
    h.close();
  });

  test('a numeric string counter is a number; a non-numeric one stays a gauge (a Sum needs a number)', () => {
    const h = harness();
    h.registry.register('monitor', 'm', scripted(() => [{ metric: 'snmp.octets', value: '4711', counter: true }, { metric: 'state', value: 'up', counter: true }]));
    const { records } = h.run({ module: 'm', sample_interval: 10 });
    h.advanceTo(0);
    const [octets, state] = records();
    expect(octets).toMatchObject({ name: 'snmp.octets', value: 4711, monotonic: true, startNs: 0n });
    expect(state.monotonic).toBeUndefined();
    h.close();
  });

  test('counter must be a boolean: anything else is an invalid sample (counted, not sent)', () => {
    const h = harness();
    h.registry.register('monitor', 'm', () => of([{ metric: 'c', value: 1, counter: 'yes' } as unknown as MonitorSample, { metric: 'ok', value: 1 }]));
    const { src, records } = h.run({ module: 'm', sample_interval: 10 });
    h.advanceTo(0);
    expect(records().map((r) => r.name)).toEqual(['ok']);
    expect(src.status().invalidSamples).toBe(1);
    expect(src.status().lastError).toMatch(/counter must be true or false/);
    h.close();
  });

  test('rate-limited lines still advance the series, so a reset among them is not missed', () => {
    const h = harness();
    const values = [50, 60, 1, 2];
    h.registry.register('monitor', 'm', scripted((i) => [{ metric: 'c', value: values[i], counter: true }]));
    // Lines are 35–36 bytes; a 40-byte burst refilled at 1 B/s lets through the lines at 0 s and 36 s only.
    const { src, records } = h.run({ module: 'm', sample_interval: 12, monitor_log_write_rate: 1, monitor_log_max_write_burst: 40 });
    h.advanceTo(36_000);
    expect(src.status().rateLimitedLines).toBe(2);
    // the reset happened at 24 s, on a line that was skipped: the point at 36 s is in the period that began there
    expect(records().map((r) => [r.value, r.startNs])).toEqual([
      [50, 0n],
      [2, ms(24_000)],
    ]);
    h.close();
  });

  test('a plugin component with a bad counterMetrics is refused when it is registered', () => {
    const r = createRegistry();
    expect(() => r.add({ kind: 'monitor', type: 'bad', counterMetrics: 'x' as unknown as string[], create: () => of() })).toThrow(/counterMetrics must be a list/);
    expect(() => r.add({ kind: 'monitor', type: 'bad', counterMetrics: [''], create: () => of() })).toThrow(/counterMetrics/);
  });
});

/** A small /proc of every file linux_system_metrics reads (a disk named as one of this machine's /sys/block, and a partition). */
function fixtureProc(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-proc-'));
  const w = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  w('uptime', '12345.67 23456.78\n');
  w('meminfo', 'MemTotal:       16000000 kB\nMemFree:         8000000 kB\n');
  w('vmstat', 'nr_free_pages 100\npgpgin 1\npgpgout 2\npswpin 3\npswpout 4\npgfault 5\npgmajfault 6\n');
  w('stat', 'cpu  1 2 3 4 5 6 7 8 9 0\ncpu0 1 2 3 4 5 6 7 8 9 0\nintr 100 1 2\nctxt 200\nbtime 1700000000\nprocesses 300\nprocs_running 1\nprocs_blocked 0\n');
  w('loadavg', '0.10 0.20 0.30 1/200 4242\n');
  w('sys/kernel/random/entropy_avail', '256\n');
  w('sys/fs/file-nr', '1000 0 100000\n');
  w('mounts', '');
  w('net/dev', 'Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n');
  let disk = 'sda';
  try {
    disk = fs.readdirSync('/sys/block').find((d) => !/^(ram|loop)\d*$/.test(d)) ?? 'sda';
  } catch {
    /* no /sys/block: the name heuristic applies */
  }
  w('diskstats', `   8       0 ${disk} 1 2 3 4 5 6 7 8 9 10 11\n   8       1 zzpart1 1 2 3 4 5 6 7 8 9 10 11\n`);
  return root;
}

describe('the built-in monitors\' declared counters', () => {
  test('linux_system_metrics: CPU jiffies, interrupts, context switches, forks, vmstat events, every net/dev column, every diskstats column but the I/Os in progress', async () => {
    const root = fixtureProc();
    try {
      const samples = await collectSystemMetrics(systemMetricsOptions({ proc_root: root }));
      const names = new Set(samples.map((x) => x.metric));
      // every declared counter is a metric the monitor writes (no stale or misspelt names)
      expect(LINUX_SYSTEM_COUNTERS.filter((n) => !names.has(n))).toEqual([]);
      expect(linuxSystemMetricsComponent.counterMetrics).toBe(LINUX_SYSTEM_COUNTERS);
      const isCounter = counterMatcher(linuxSystemMetricsComponent.counterMetrics);
      const gauges = [...names].filter((n) => !isCounter(n)).sort();
      expect(gauges).toEqual([
        'iostat.disk.ios_in_progress',
        'iostat.part.ios_in_progress',
        'proc.kernel.entropy_avail',
        'proc.loadavg.15min',
        'proc.loadavg.1min',
        'proc.loadavg.5min',
        'proc.loadavg.runnable',
        'proc.loadavg.total_threads',
        'proc.meminfo.memfree',
        'proc.meminfo.memtotal',
        'proc.stat.procs_blocked',
        'proc.uptime.now',
        'proc.uptime.total',
        'sys.cpu.count',
        'sys.fs.file-max',
        'sys.fs.file-nr',
      ]);
      expect(LINUX_SYSTEM_COUNTERS.length).toBe(4 + 6 + 10 + 20);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('linux_process_metrics of this process (real /proc): the sums of deltas are counters starting at the first sample, the rest gauges', async () => {
    const registry = registerBuiltinMonitors(createRegistry());
    const src = createMonitorSource({ module: 'linux_process_metrics', id: 'self', pid: '$$', sample_interval: 0.1 }, { logger: memoryLogger(), agent: agent(false), registry });
    const batches: Batch[] = [];
    const sub = src.batches$.subscribe((b) => batches.push(b));
    try {
      const records = () => batches.flatMap((b) => b.events.map((e) => e.record as MetricRecord));
      await waitFor(() => records().filter((r) => r.name === 'app.threads').length >= 3, 10_000);
      const kinds = new Map<string, boolean>();
      for (const r of records()) kinds.set(`${r.name}${r.fields?.type ? `/${r.fields.type}` : ''}`, r.monotonic === true);
      expect(Object.fromEntries([...kinds].sort())).toEqual({
        'app.cpu/system': true,
        'app.cpu/user': true,
        'app.disk.bytes/read': true,
        'app.disk.bytes/write': true,
        'app.disk.requests/read': true,
        'app.disk.requests/write': true,
        'app.io.fds/open': false,
        'app.io.wait': true,
        'app.mem.bytes/peak_resident': false,
        'app.mem.bytes/peak_vmsize': false,
        'app.mem.bytes/resident': false,
        'app.mem.bytes/vmsize': false,
        'app.mem.majflt': true,
        'app.nice': false,
        'app.threads': false,
        'app.uptime': true,
      });
      // every counter series starts at the first sample (where its sum of deltas is 0)
      const firstTs = batches[0].events[0].ts;
      for (const r of records()) if (r.monotonic) expect([r.name, r.startNs]).toEqual([r.name, firstTs]);
      expect(records().filter((r) => r.name === 'app.uptime')[0].value).toBe(0);
      expect(linuxProcessMetricsComponent.counterMetrics).toContain('app.cpu');
    } finally {
      sub.unsubscribe();
      await src.stop();
    }
  });
});

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs a monitor entry for real (wall clock) until `enough(records)`. */
async function runUntil(cfg: MonitorConfig, registry: ReturnType<typeof createRegistry>, enough: (rs: MetricRecord[]) => boolean, baseDir?: string): Promise<MetricRecord[]> {
  const src = createMonitorSource(cfg, { logger: memoryLogger(), agent: agent(false), registry, baseDir });
  const batches: Batch[] = [];
  const sub = src.batches$.subscribe((b) => batches.push(b));
  const records = () => batches.flatMap((b) => b.events.map((e) => e.record)).filter((r): r is MetricRecord => r !== undefined);
  try {
    await waitFor(() => enough(records()), 10_000);
    return records();
  } finally {
    sub.unsubscribe();
    await src.stop();
  }
}

describe('plugin monitors mark counters', () => {
  test('the example plugin by path (a bare factory): its counter: true sample is a counter, its position a gauge', async () => {
    const rs = await runUntil({ module: './examples/monitors/random-walk.mjs', id: 'demo', sample_interval: 0.05 }, createRegistry(), (r) => r.filter((x) => x.name === 'walk.samples').length >= 3, repoRoot);
    const samples = rs.filter((r) => r.name === 'walk.samples');
    expect(samples.every((r) => r.monotonic === true)).toBe(true);
    expect(new Set(samples.map((r) => r.startNs)).size).toBe(1);
    expect(rs.filter((r) => r.name === 'walk.position').every((r) => r.monotonic === undefined)).toBe(true);
  });

  test('a plugin module\'s component declares counterMetrics: its samples are counters and the reference lists them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-counter-plugin-'));
    try {
      const file = path.join(dir, 'jobs.mjs');
      fs.writeFileSync(
        file,
        // No imports: each subscription iterates the iterable create returns (rxjs' from()), one sample each.
        `let done = 0;
export const components = [{
  kind: 'monitor',
  type: 'jobs_monitor',
  doc: 'Jobs done and waiting.',
  options: [],
  counterMetrics: ['jobs.done', 'jobs.failed.*'],
  create: () => ({ *[Symbol.iterator]() { done += 2; yield [{ metric: 'jobs.done', value: done }, { metric: 'jobs.failed.timeout', value: 1 }, { metric: 'jobs.waiting', value: 5 }]; } }),
}];
`,
      );
      const registry = createDefaultRegistry();
      await loadPlugin(file, dir, registry);
      expect(registry.component('monitor', 'jobs_monitor')?.counterMetrics).toEqual(['jobs.done', 'jobs.failed.*']);
      const rs = await runUntil({ module: 'jobs_monitor', sample_interval: 0.05 }, registry, (r) => r.filter((x) => x.name === 'jobs.done').length >= 2);
      const kind = Object.fromEntries(rs.map((r) => [r.name, r.monotonic === true]));
      expect(kind).toEqual({ 'jobs.done': true, 'jobs.failed.timeout': true, 'jobs.waiting': false });
      const docs = configDocsOf(registry);
      expect(docs).toContain('### Monitor `jobs_monitor` (plugin)');
      expect(docs).toMatch(/### Monitor `jobs_monitor` \(plugin\)\n\nJobs done and waiting\.\n\nCumulative counters \(exported over OTLP as monotonic cumulative sums; its other metrics as gauges\): `jobs\.done`, `jobs\.failed\.\*`\./);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
