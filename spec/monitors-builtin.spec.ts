/**
 * The built-in monitors, run for real on this Linux host: linux_system_metrics (values from
 * /proc and statfs within sane ranges), linux_process_metrics (the agent itself; a child that
 * exits and comes back is re-discovered), shell_monitor (vectors run for real, a hanging
 * command is killed with its process group, the next tick still runs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, lastValueFrom, toArray, Subscription } from 'rxjs';
import { createRegistry, type MonitorContext } from '../lib/registry.js';
import { memoryLogger, silentLogger } from '../lib/logger.js';
import { Credits } from '../lib/pipeline/credits.js';
import type { AgentConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import { registerBuiltinMonitors } from '../sources/monitors/builtins.js';
import { createMonitorSource } from '../sources/monitors/monitorSource.js';
import { linuxSystemMetrics } from '../sources/monitors/linuxSystemMetrics.js';
import { linuxProcessMetrics } from '../sources/monitors/linuxProcessMetrics.js';
import { shellMonitor } from '../sources/monitors/shellMonitor.js';
import type { ScalyrMonitorSample } from '../sources/monitors/metricLine.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr/monitors.json'), 'utf8')) as {
  cases: { name: string; kind: string; input: any; expected: any }[];
};

const ctx = (sampleInterval = 30): MonitorContext => ({
  id: 'test',
  logger: silentLogger,
  agent: {},
  credits: new Credits(1000),
  dataPath: '/tmp',
  sampleInterval,
});

async function waitFor(cond: () => boolean, ms = 5000, step = 20): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, step));
  }
}

/** Alive = exists and is not a zombie (a reparented zombie may linger until init reaps it). */
const pidAlive = (pid: number) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
};

const find = (s: ScalyrMonitorSample[], metric: string, fields: Record<string, unknown> = {}) =>
  s.filter((x) => x.metric === metric && Object.entries(fields).every(([k, v]) => x.fields?.[k] === v));
const one = (s: ScalyrMonitorSample[], metric: string, fields: Record<string, unknown> = {}) => {
  const r = find(s, metric, fields);
  if (r.length !== 1) throw new Error(`${metric} ${JSON.stringify(fields)}: ${r.length} samples`);
  return r[0].value as number;
};

describe('linux_system_metrics (real /proc)', () => {
  test('reports CPU, load, memory, uptime, disks, network, disks I/O with Scalyr names', async () => {
    const s = await firstValueFrom(
      linuxSystemMetrics({ network_interface_prefixes: ['eth', 'lo'], network_interface_suffix: '[0-9A-Z]*' }, ctx()),
    );
    expect(one(s, 'sys.cpu.count')).toBeGreaterThanOrEqual(1);
    for (const type of ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal', 'guest']) {
      expect(one(s, 'proc.stat.cpu', { type })).toBeGreaterThanOrEqual(0);
    }
    expect(one(s, 'proc.stat.cpu', { type: 'idle' })).toBeGreaterThan(0);
    expect(one(s, 'proc.stat.ctxt')).toBeGreaterThan(0);
    expect(one(s, 'proc.stat.processes')).toBeGreaterThan(0);
    expect(one(s, 'proc.stat.intr')).toBeGreaterThanOrEqual(0);
    expect(one(s, 'proc.stat.procs_blocked')).toBeGreaterThanOrEqual(0);
    expect(one(s, 'proc.loadavg.1min')).toBeGreaterThanOrEqual(0);
    expect(one(s, 'proc.loadavg.total_threads')).toBeGreaterThanOrEqual(one(s, 'proc.loadavg.runnable'));
    expect(find(s, 'proc.loadavg.5min')[0].float).toBe(true);
    expect(one(s, 'proc.uptime.total')).toBeGreaterThan(0);
    expect(one(s, 'proc.uptime.now')).toBeGreaterThanOrEqual(0);
    const memTotal = one(s, 'proc.meminfo.memtotal');
    expect(memTotal * 1024).toBeGreaterThan(os.totalmem() * 0.5);
    expect(memTotal * 1024).toBeLessThan(os.totalmem() * 2);
    expect(one(s, 'proc.meminfo.memfree')).toBeLessThanOrEqual(memTotal);
    expect(one(s, 'proc.meminfo.cached')).toBeGreaterThanOrEqual(0);
    expect(one(s, 'proc.vmstat.pgfault')).toBeGreaterThan(0);
    expect(one(s, 'sys.fs.file-nr')).toBeGreaterThan(0);
    if (fs.existsSync('/proc/sys/kernel/random/entropy_avail')) expect(one(s, 'proc.kernel.entropy_avail')).toBeGreaterThanOrEqual(0);
    // the root file system is a local disk
    const rootTotal = find(s, 'df.1kblocks.total', { mount: '/' });
    expect(rootTotal).toHaveLength(1);
    const total = rootTotal[0].value as number;
    const used = one(s, 'df.1kblocks.used', { mount: '/' });
    const free = one(s, 'df.1kblocks.free', { mount: '/' });
    expect(total).toBeGreaterThan(0);
    expect(used + free).toBeLessThanOrEqual(total);
    expect(typeof rootTotal[0].fields?.fstype).toBe('string');
    expect(one(s, 'df.inodes.total', { mount: '/' })).toBeGreaterThanOrEqual(one(s, 'df.inodes.used', { mount: '/' }));
    // ignore_mounts defaults leave /sys, /dev*, /run* out
    expect(s.filter((x) => x.metric.startsWith('df.') && /^\/(sys\/|dev|run)/.test(String(x.fields?.mount)))).toEqual([]);
    // network: lo always exists
    expect(one(s, 'proc.net.bytes', { iface: 'lo', direction: 'in' })).toBeGreaterThanOrEqual(0);
    expect(one(s, 'proc.net.packets', { iface: 'lo', direction: 'out' })).toBeGreaterThanOrEqual(0);
    expect(find(s, 'proc.net.errs', { iface: 'lo' })).toHaveLength(2);
    expect(find(s, 'proc.net.dropped', { iface: 'lo' })).toHaveLength(2);
    // iostat: every device listed in /proc/diskstats except ram/loop
    const devs = fs
      .readFileSync('/proc/diskstats', 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[2])
      .filter((d) => d && !/^(ram|loop)\d*$/.test(d));
    for (const dev of devs) {
      expect(find(s, 'iostat.disk.read_requests', { dev }).length + find(s, 'iostat.part.read_requests', { dev }).length).toBe(1);
    }
    // every metric name is valid and every value finite
    for (const x of s) {
      expect(x.metric).toMatch(/^[_a-zA-Z][\w.\-()]*$/);
      expect(Number.isFinite(x.value)).toBe(true);
    }
  });

  test('interface prefixes and ignore_mounts filter', async () => {
    const s = await firstValueFrom(linuxSystemMetrics({ network_interface_prefixes: 'nope', ignore_mounts: ['*'] }, ctx()));
    expect(find(s, 'proc.net.bytes')).toEqual([]);
    expect(s.filter((x) => x.metric.startsWith('df.'))).toEqual([]);
  });

  test('runs through the monitor source and emits well-formed metric lines', async () => {
    const registry = registerBuiltinMonitors(createRegistry());
    const agent = { agent_log_path: '/tmp/sluice-log', global_monitor_sample_interval: 30, global_monitor_sample_interval_enable_jitter: false } as AgentConfig;
    const src = createMonitorSource({ module: 'scalyr_agent.builtin_monitors.linux_system_metrics', sample_interval: 0.1 }, { logger: silentLogger, agent, registry });
    const batches: Batch[] = [];
    const sub = src.batches$.subscribe((b) => batches.push(b));
    try {
      await waitFor(() => batches.length >= 2);
      expect(src.id).toBe('linux_system_metrics()');
      expect(batches[0].stream.path).toBe('/tmp/sluice-log/linux_system_metrics.log');
      const lines = batches[0].events.map((e) => String(e.message));
      const re = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[linux_system_metrics\(\)\] [_a-zA-Z][\w.\-]* \S+( [_a-zA-Z][\w.\-]*=("([^"\\]|\\.)*"|[^ ]+))*\n$/;
      for (const l of lines) expect(l).toMatch(re);
      expect(lines.some((l) => / proc\.stat\.cpu \d+ type="user"\n$/.test(l))).toBe(true);
      expect(lines.some((l) => / proc\.loadavg\.1min \d+\.\d+\n$/.test(l))).toBe(true);
      expect(lines.some((l) => / df\.1kblocks\.total \d+ fstype="[^"]+" mount="\/"\n$/.test(l))).toBe(true);
    } finally {
      sub.unsubscribe();
      await src.stop();
    }
  });
});

describe('linux_process_metrics (real processes)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  test('follows the agent itself ($$): Scalyr names, gauges, cumulative metrics from 0', async () => {
    const mon = linuxProcessMetrics({ id: 'agent', pid: '$$' }, ctx());
    const first = await firstValueFrom(mon);
    for (const x of first) expect(x.fields?.app).toBe('agent');
    expect(one(first, 'app.cpu', { type: 'user' })).toBe(0);
    expect(one(first, 'app.cpu', { type: 'system' })).toBe(0);
    expect(one(first, 'app.uptime')).toBe(0);
    expect(one(first, 'app.mem.majflt')).toBe(0);
    expect(one(first, 'app.threads')).toBeGreaterThanOrEqual(1);
    expect(find(first, 'app.nice')[0].float).toBe(true);
    const rss = one(first, 'app.mem.bytes', { type: 'resident' });
    expect(rss).toBeGreaterThan(1 << 20);
    expect(rss).toBeLessThanOrEqual(one(first, 'app.mem.bytes', { type: 'peak_resident' }) + (64 << 20));
    expect(one(first, 'app.mem.bytes', { type: 'vmsize' })).toBeGreaterThanOrEqual(rss);
    expect(one(first, 'app.mem.bytes', { type: 'peak_vmsize' })).toBeGreaterThan(0);
    expect(one(first, 'app.io.fds', { type: 'open' })).toBeGreaterThanOrEqual(3);
    if (find(first, 'app.disk.bytes').length) {
      expect(one(first, 'app.disk.bytes', { type: 'read' })).toBe(0);
      expect(find(first, 'app.disk.requests')).toHaveLength(2);
    }
    // burn some CPU and wait a bit: cumulative values grow by the deltas
    const until = Date.now() + 300;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    const second = await firstValueFrom(mon);
    const up = one(second, 'app.uptime');
    expect(up).toBeGreaterThanOrEqual(200);
    expect(up).toBeLessThan(5000);
    expect(one(second, 'app.cpu', { type: 'user' }) + one(second, 'app.cpu', { type: 'system' })).toBeGreaterThan(0);
  });

  test('a process found by commandline that exits and comes back is re-discovered', async () => {
    const marker = `sluice-proc-test-${process.pid}-${Date.now()}`;
    const start = () => {
      const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', marker], { stdio: 'ignore' });
      children.push(c);
      return c;
    };
    const logger = memoryLogger();
    const mon = linuxProcessMetrics({ id: 'kid', commandline: `-e .* ${marker}$` }, { ...ctx(), logger });
    expect(await firstValueFrom(mon)).toEqual([]); // not running yet
    let child = start();
    let s: ScalyrMonitorSample[] = [];
    for (let i = 0; i < 100 && s.length === 0; i++) {
      s = await firstValueFrom(mon);
      if (s.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(one(s, 'app.threads', { app: 'kid' })).toBeGreaterThanOrEqual(1);
    expect(one(s, 'app.uptime')).toBe(0);
    await new Promise((r) => setTimeout(r, 150));
    const before = one(await firstValueFrom(mon), 'app.uptime');
    expect(before).toBeGreaterThanOrEqual(100);

    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await firstValueFrom(mon)).toEqual([]); // gone: nothing reported

    child = start();
    s = [];
    for (let i = 0; i < 100 && s.length === 0; i++) {
      s = await firstValueFrom(mon);
      if (s.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(one(s, 'app.threads')).toBeGreaterThanOrEqual(1);
    // the new process is a new baseline: the total carries on from before
    expect(one(s, 'app.uptime')).toBe(before);
    await new Promise((r) => setTimeout(r, 150));
    expect(one(await firstValueFrom(mon), 'app.uptime')).toBeGreaterThan(before);
    child.kill('SIGKILL');
  });

  test('aggregate_multiple_processes sums matches; otherwise the first is used with one warning', async () => {
    const marker = `sluice-agg-test-${process.pid}-${Date.now()}`;
    // Single-threaded children (a Node child's thread count moves while it starts up).
    const kids = [0, 1].map(() => spawn('bash', ['-c', `exec -a ${marker} sleep 1000`], { stdio: 'ignore' }));
    children.push(...kids);
    try {
      const logger = memoryLogger();
      const single = linuxProcessMetrics({ id: 'one', commandline: marker }, { ...ctx(), logger });
      const agg = linuxProcessMetrics({ id: 'both', commandline: marker, aggregate_multiple_processes: true }, ctx());
      const threadsOf = (pid: number) => Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      let a: ScalyrMonitorSample[] = [];
      for (let i = 0; i < 100; i++) {
        a = await firstValueFrom(agg);
        if (a.length && one(a, 'app.threads') === threadsOf(kids[0].pid!) + threadsOf(kids[1].pid!)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(one(a, 'app.threads')).toBe(threadsOf(kids[0].pid!) + threadsOf(kids[1].pid!));
      const s1 = await firstValueFrom(single);
      expect(one(s1, 'app.threads')).toBe(threadsOf(Math.min(kids[0].pid!, kids[1].pid!)));
      await firstValueFrom(single);
      expect(logger.records.filter((r) => r.level === 'warn' && r.message.includes('2 processes match'))).toHaveLength(1);
    } finally {
      for (const k of kids) k.kill('SIGKILL');
    }
  });

  test('bad configurations fail at start with the option named', () => {
    expect(() => linuxProcessMetrics({ pid: '$$' }, ctx())).toThrow(/"id"/);
    expect(() => linuxProcessMetrics({ id: 'x' }, ctx())).toThrow(/commandline.*pid/);
  });
});

describe('shell_monitor (real commands)', () => {
  const shellCases = vectors.cases.filter((c) => c.kind === 'shell_monitor');
  test.each(shellCases.map((c) => [c.name, c] as const))('%s (run for real)', async (_n, c) => {
    const samples = await lastValueFrom(shellMonitor(c.input.config, ctx(30)).pipe(toArray()));
    expect(samples).toHaveLength(1);
    const { metric, value, fields } = samples[0];
    expect(metric).toBe(c.expected.metric);
    expect(value).toBe(c.expected.value);
    const { duration, ...rest } = fields as Record<string, unknown>;
    expect(rest).toEqual(c.expected.extra_fields);
    expect(Number.isInteger(duration)).toBe(true);
  });

  test('a hanging command is killed with its process group and reported; the next tick still runs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-shell-'));
    const pidFile = path.join(dir, 'pid');
    const registry = registerBuiltinMonitors(createRegistry());
    const logger = memoryLogger();
    const agent = { agent_log_path: dir, global_monitor_sample_interval: 30, global_monitor_sample_interval_enable_jitter: false } as AgentConfig;
    // First run hangs (a background sleep 100 in the same group); later runs answer at once.
    const command = `if [ ! -f ${pidFile} ]; then sleep 100 & echo $! > ${pidFile}; wait; else echo fine; fi`;
    const src = createMonitorSource({ module: 'shell_monitor', id: 'hang', command, sample_interval: 0.1, timeout: 0.35 }, { logger, agent, registry });
    const lines: string[] = [];
    const sub: Subscription = src.batches$.subscribe((b) => lines.push(...b.events.map((e) => String(e.message))));
    try {
      await waitFor(() => lines.length >= 2, 8000);
      expect(lines[0]).toMatch(/\[shell_monitor\(hang\)\] output "" command=".*" duration=0 error="timed out after 0\.35s; process group killed" exit_code=-9 length=0\n$/);
      expect(lines[1]).toMatch(/\[shell_monitor\(hang\)\] output "fine" command=".*" duration=0 exit_code=0 length=5\n$/);
      const sleeper = Number(fs.readFileSync(pidFile, 'utf8'));
      await waitFor(() => !pidAlive(sleeper), 3000);
      expect(src.status().skippedTicks).toBeGreaterThanOrEqual(2); // ticks during the hang were skipped
      expect(src.status().errors).toBe(0);
    } finally {
      sub.unsubscribe();
      await src.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('stop() kills a running command and its children', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-shell-'));
    const pidFile = path.join(dir, 'pid');
    const registry = registerBuiltinMonitors(createRegistry());
    const agent = { agent_log_path: dir, global_monitor_sample_interval: 30, global_monitor_sample_interval_enable_jitter: false } as AgentConfig;
    const src = createMonitorSource({ module: 'shell_monitor', command: `sleep 100 & echo $! > ${pidFile}; wait`, sample_interval: 60 }, { logger: silentLogger, agent, registry });
    let completed = false;
    const sub = src.batches$.subscribe({ complete: () => (completed = true) });
    try {
      await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
      const sleeper = Number(fs.readFileSync(pidFile, 'utf8'));
      expect(pidAlive(sleeper)).toBe(true);
      await src.stop();
      expect(completed).toBe(true);
      await waitFor(() => !pidAlive(sleeper), 3000);
    } finally {
      sub.unsubscribe();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a command that is not found reports its exit code, not an error', async () => {
    const [s] = await lastValueFrom(shellMonitor({ command: 'definitely-not-a-command-xyz' }, ctx(1)).pipe(toArray()));
    expect((s.fields as any).exit_code).toBe(127);
    expect(String(s.value)).toMatch(/not found/);
  });
});
