/**
 * `linux_process_metrics` (behavior §6.4): metrics of one process (or an aggregated set),
 * found by a `commandline` regex (Python syntax, *searched* in `/proc/<pid>/cmdline` joined by
 * spaces) or by `pid` (a comma list; `$$` is the agent itself), read from `/proc`.
 *
 * Emits with field `app=<id>` (and `type` where listed): `app.cpu` user|system (1/100 s),
 * `app.uptime` (ms), `app.nice` (float), `app.threads`, `app.mem.bytes`
 * vmsize|resident|peak_vmsize|peak_resident, `app.mem.majflt`, `app.disk.bytes` and
 * `app.disk.requests` read|write (when `/proc/<pid>/io` is readable), `app.io.fds` open,
 * `app.io.wait`. Cumulative metrics are the **sum of deltas since the monitor started** (the
 * first sample reports 0; a process seen for the first time contributes from then on); gauges
 * are raw.
 *
 * Re-discovery: a followed process that exited (or whose pid was reused: start time changed)
 * is dropped and the command line is searched again at the next sample, so a restarted
 * process is picked up; matching is also redone every `process_discovery_interval` seconds.
 */
import { defer, from, type Observable } from 'rxjs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { compilePythonRegex } from '../../lib/regex.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { readDeclared } from '../../lib/component.js';
import { CLOCK_TICKS, PROC, listPids, parseKeyValueNumbers, parseProcIo, parseProcStat, readCmdline, readText, readUptimeSecs, type ProcStat } from './procfs.js';

const PAGE_SIZE = 4096;

/** The keys of a `linux_process_metrics` entry the monitor reads. */
export const LINUX_PROCESS_METRICS_OPTIONS: OptionDecl[] = [
  s({ name: 'id', type: 'string', description: 'Required. Names the monitored process in every metric, as field `app` (and in `linux_process_metrics(<id>)`).' }),
  s({ name: 'commandline', type: 'regex', description: 'A regular expression searched in each process\'s command line (its arguments joined by spaces, as `ps` shows it); the matching process is monitored. Either this or `pid` is required.' }),
  s({ name: 'pid', type: 'string', description: 'The process id(s) to monitor, a comma list; `$$` is the agent itself. Ignored when `commandline` is set.' }),
  s({ name: 'aggregate_multiple_processes', type: 'bool', default: false, description: 'When several processes match `commandline`, report the sum of their metrics; otherwise only the first one is monitored (with a warning).' }),
  s({ name: 'include_child_processes', type: 'bool', default: false, description: 'Add the metrics of all descendants of the matched processes.' }),
  s({ name: 'process_discovery_interval', type: 'float', default: 120, min: 0, description: 'Seconds between searches for the processes matching `commandline` (a followed process that exits is searched for again at the next sample).' }),
  own({ name: 'proc_root', type: 'string', default: PROC, description: 'Where the proc file system is mounted (for tests, or a host\'s /proc mounted elsewhere).' }),
];

/** The cross-field rules of a `linux_process_metrics` entry (also applied when the factory is called directly). */
export function checkLinuxProcessMetrics(own: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const present = (v: unknown) => v !== undefined && v !== null && v !== '';
  if (!present(own.id)) problems.push({ key: 'id', message: 'missing required option "id" (linux_process_metrics reports it as app)' });
  if (!present(own.commandline) && !present(own.pid)) problems.push({ key: 'commandline', message: 'linux_process_metrics needs "commandline" or "pid"' });
  return problems;
}

/** Everything read about one process in one sample. */
export interface ProcessReading {
  pid: number;
  stat: ProcStat;
  status: Map<string, number>;
  io?: Map<string, number>;
  fds?: number;
  uptimeMs: number;
}

const CUMULATIVE = ['cpu.user', 'cpu.system', 'uptime', 'majflt', 'disk.bytes.read', 'disk.bytes.write', 'disk.requests.read', 'disk.requests.write', 'io.wait'] as const;
type CumKey = (typeof CUMULATIVE)[number];

/**
 * The metrics reported from the cumulative values above (behavior §6.4: sums of deltas since the
 * monitor started, first sample 0): counters that only grow, exported over OTLP as monotonic
 * sums whose period starts at the monitor's first sample. `app.nice`, `app.threads`,
 * `app.mem.bytes` and `app.io.fds` are gauges.
 */
export const LINUX_PROCESS_COUNTERS: readonly string[] = ['app.cpu', 'app.uptime', 'app.mem.majflt', 'app.disk.bytes', 'app.disk.requests', 'app.io.wait'];

function cumulativeOf(r: ProcessReading): Record<CumKey, number | undefined> {
  return {
    'cpu.user': r.stat.utime,
    'cpu.system': r.stat.stime,
    uptime: r.uptimeMs,
    majflt: r.stat.majflt,
    'disk.bytes.read': r.io?.get('read_bytes'),
    'disk.bytes.write': r.io?.get('write_bytes'),
    'disk.requests.read': r.io?.get('syscr'),
    'disk.requests.write': r.io?.get('syscw'),
    'io.wait': r.stat.delayacctBlkioTicks,
  };
}

/**
 * The sum-of-deltas bookkeeping of §6.4, independent of /proc so it can be tested alone:
 * `update(readings)` returns the running totals after this sample.
 */
export class CumulativeTracker {
  private readonly prev = new Map<string, Record<CumKey, number | undefined>>();
  readonly totals: Record<CumKey, number> = Object.fromEntries(CUMULATIVE.map((k) => [k, 0])) as Record<CumKey, number>;

  update(readings: readonly ProcessReading[]): Record<CumKey, number> {
    const next = new Map<string, Record<CumKey, number | undefined>>();
    for (const r of readings) {
      const key = `${r.pid}:${r.stat.starttime}`;
      const cur = cumulativeOf(r);
      const before = this.prev.get(key);
      if (before) {
        for (const k of CUMULATIVE) {
          const a = before[k];
          const b = cur[k];
          if (a !== undefined && b !== undefined && b > a) this.totals[k] += b - a;
        }
      }
      next.set(key, cur);
    }
    this.prev.clear();
    for (const [k, v] of next) this.prev.set(k, v);
    return this.totals;
  }
}

/** Parses the `pid` option: numbers, comma lists, `$$` = this process. */
export function parsePidOption(v: unknown, self = process.pid): number[] {
  const parts = Array.isArray(v) ? v.map(String) : String(v).split(',');
  const out: number[] = [];
  for (const p of parts) {
    const t = p.trim();
    if (t === '') continue;
    if (t === '$$') out.push(self);
    else if (/^\d+$/.test(t)) out.push(Number(t));
    else throw new Error(`pid option: ${JSON.stringify(t)} is not a pid or $$`);
  }
  return out;
}

async function readProcess(pid: number, procRoot: string, sysUptime: number): Promise<ProcessReading | undefined> {
  const dir = path.join(procRoot, String(pid));
  let stat: ProcStat;
  let status: Map<string, number>;
  try {
    stat = parseProcStat(await readText(path.join(dir, 'stat')));
    status = parseKeyValueNumbers(await readText(path.join(dir, 'status')));
  } catch {
    return undefined; // gone
  }
  if (stat.state === 'Z' || stat.state === 'X') return undefined;
  let io: Map<string, number> | undefined;
  try {
    io = parseProcIo(await readText(path.join(dir, 'io')));
  } catch {
    io = undefined;
  }
  let fds: number | undefined;
  try {
    fds = (await fsp.readdir(path.join(dir, 'fd'))).length;
  } catch {
    fds = undefined;
  }
  const uptimeMs = Math.max(0, Math.round((sysUptime - stat.starttime / CLOCK_TICKS) * 1000));
  return { pid, stat, status, io, fds, uptimeMs };
}

/** The monitor factory. Throws (a load failure, retried with backoff) on a bad configuration. */
export function linuxProcessMetrics(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const c = readDeclared(LINUX_PROCESS_METRICS_OPTIONS, config);
  const [problem] = checkLinuxProcessMetrics(c);
  if (problem) throw new Error(`linux_process_metrics: "${problem.key}": ${problem.message}`);
  const app = String(c.id);
  const hasCmd = typeof c.commandline === 'string' && c.commandline !== '';
  const cmdRe = hasCmd ? compilePythonRegex(String(c.commandline)) : undefined;
  const fixedPids = hasCmd ? undefined : parsePidOption(c.pid);
  const aggregate = c.aggregate_multiple_processes === true || c.aggregate_multiple_processes === 'true';
  const children = c.include_child_processes === true || c.include_child_processes === 'true';
  const discoveryMs = Number(c.process_discovery_interval) * 1000;
  const procRoot = String(c.proc_root);
  const logger = ctx.logger;
  const tracker = new CumulativeTracker();
  let followed: { pid: number; starttime: number }[] = [];
  let lastDiscovery = -Infinity;
  let warnedMany = false;
  let notFoundLogged = false;

  async function discover(): Promise<number[]> {
    const pids = await listPids(procRoot);
    const matches: number[] = [];
    for (const pid of pids) {
      let cmd: string;
      try {
        cmd = await readCmdline(pid, procRoot);
      } catch {
        continue;
      }
      if (cmd === '') continue;
      cmdRe!.lastIndex = 0;
      if (cmdRe!.test(cmd)) matches.push(pid);
    }
    if (matches.length > 1 && !aggregate) {
      if (!warnedMany) {
        warnedMany = true;
        logger.warn(`linux_process_metrics(${app}): ${matches.length} processes match the commandline; using the first (pid ${matches[0]}). Set aggregate_multiple_processes to sum them.`);
      }
      return [matches[0]];
    }
    return matches;
  }

  async function withChildren(roots: number[]): Promise<number[]> {
    if (!children || roots.length === 0) return roots;
    const parentOf = new Map<number, number>();
    for (const pid of await listPids(procRoot)) {
      try {
        parentOf.set(pid, parseProcStat(await readText(path.join(procRoot, String(pid), 'stat'))).ppid);
      } catch {
        /* gone */
      }
    }
    const set = new Set(roots);
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, ppid] of parentOf) {
        if (!set.has(pid) && set.has(ppid)) {
          set.add(pid);
          grew = true;
        }
      }
    }
    return [...set].sort((a, b) => a - b);
  }

  async function sampleOnce(): Promise<ScalyrMonitorSample[]> {
    const sysUptime = await readUptimeSecs(procRoot);
    const now = Date.now();
    let readings: ProcessReading[] = [];
    if (followed.length > 0) {
      for (const f of followed) {
        const r = await readProcess(f.pid, procRoot, sysUptime);
        if (r && r.stat.starttime === f.starttime) readings.push(r);
      }
      // One of them exited (or its pid was reused): search again now.
      if (readings.length < followed.length) lastDiscovery = -Infinity;
    }
    if (followed.length === 0 || now - lastDiscovery >= discoveryMs) {
      lastDiscovery = now;
      const roots = fixedPids ?? (await discover());
      const pids = await withChildren(roots);
      readings = [];
      for (const pid of pids) {
        const r = await readProcess(pid, procRoot, sysUptime);
        if (r) readings.push(r);
      }
      followed = readings.map((r) => ({ pid: r.pid, starttime: r.stat.starttime }));
      if (readings.length === 0) {
        if (!notFoundLogged) {
          notFoundLogged = true;
          logger.info(`linux_process_metrics(${app}): no matching process right now; will keep looking`);
        }
      } else notFoundLogged = false;
    }
    if (readings.length === 0) return [];
    const totals = tracker.update(readings);
    const sum = (f: (r: ProcessReading) => number | undefined) => readings.reduce((a, r) => a + (f(r) ?? 0), 0);
    const has = (f: (r: ProcessReading) => unknown) => readings.some((r) => f(r) !== undefined);
    const F = (type?: string): Record<string, string> => (type ? { app, type } : { app });
    const out: ScalyrMonitorSample[] = [
      { metric: 'app.cpu', value: totals['cpu.user'], fields: F('user') },
      { metric: 'app.cpu', value: totals['cpu.system'], fields: F('system') },
      { metric: 'app.uptime', value: totals.uptime, fields: F() },
      { metric: 'app.nice', value: readings[0].stat.nice, fields: F(), float: true },
      { metric: 'app.threads', value: sum((r) => r.stat.numThreads), fields: F() },
      { metric: 'app.mem.majflt', value: totals.majflt, fields: F() },
      { metric: 'app.mem.bytes', value: sum((r) => r.stat.vsize), fields: F('vmsize') },
      { metric: 'app.mem.bytes', value: sum((r) => (r.status.has('VmRSS') ? r.status.get('VmRSS')! * 1024 : r.stat.rssPages * PAGE_SIZE)), fields: F('resident') },
      { metric: 'app.mem.bytes', value: sum((r) => (r.status.get('VmPeak') ?? 0) * 1024), fields: F('peak_vmsize') },
      { metric: 'app.mem.bytes', value: sum((r) => (r.status.get('VmHWM') ?? 0) * 1024), fields: F('peak_resident') },
    ];
    if (has((r) => r.io)) {
      out.push(
        { metric: 'app.disk.bytes', value: totals['disk.bytes.read'], fields: F('read') },
        { metric: 'app.disk.bytes', value: totals['disk.bytes.write'], fields: F('write') },
        { metric: 'app.disk.requests', value: totals['disk.requests.read'], fields: F('read') },
        { metric: 'app.disk.requests', value: totals['disk.requests.write'], fields: F('write') },
      );
    }
    if (has((r) => r.fds)) out.push({ metric: 'app.io.fds', value: sum((r) => r.fds), fields: F('open') });
    out.push({ metric: 'app.io.wait', value: totals['io.wait'], fields: F() });
    return out;
  }

  return defer(() => from(sampleOnce()));
}

export const linuxProcessMetricsComponent = defineComponent({
  kind: 'monitor',
  type: 'linux_process_metrics',
  aliases: ['scalyr_agent.builtin_monitors.linux_process_metrics'],
  doc: 'Metrics of one process (or the sum of several) found by a command-line regular expression or a pid, read from /proc: CPU, memory, threads, uptime, disk I/O, open file descriptors (`app.*`, with field `app=<id>`). The agent runs one for itself (`implicit_agent_process_metrics_monitor`).',
  options: LINUX_PROCESS_METRICS_OPTIONS,
  check: checkLinuxProcessMetrics,
  counterMetrics: LINUX_PROCESS_COUNTERS,
  example: { module: 'linux_process_metrics', id: 'agent', pid: '$$' },
  create: linuxProcessMetrics,
});
