/**
 * `linux_system_metrics` (behavior §6.3): host metrics read directly from `/proc` and
 * `statfs(2)` (no collector scripts), with the metric names and fields of Scalyr's tcollector
 * based monitor. Counters are reported raw and cumulative, as Scalyr does; the component declares
 * which they are (`LINUX_SYSTEM_COUNTERS`), so OTLP exports them as monotonic sums.
 *
 * Options: `network_interface_prefixes` (default `["eth"]`), `network_interface_suffix`
 * (default `[0-9A-Z]+`), `local_disks_only` (true), `ignore_mounts` (fnmatch patterns, default
 * `["/sys/*","/dev*","/run*","/var/lib/docker/*","/snap/*"]`), and the sluice extra `proc_root`
 * (default `/proc`, for tests). One sample = one array of metric samples per tick; a file that
 * cannot be read is skipped (logged at debug), the rest of the sample still goes out.
 */
import { defer, from, type Observable } from 'rxjs';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, type OptionDecl } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { PROC, readText } from './procfs.js';
import { readDeclared } from '../../lib/component.js';
import { fnmatchRegExp } from '../../lib/fnmatch.js';

export const DEFAULT_IGNORE_MOUNTS = ['/sys/*', '/dev*', '/run*', '/var/lib/docker/*', '/snap/*'];

/** The keys of a `linux_system_metrics` entry the monitor reads. */
export const LINUX_SYSTEM_METRICS_OPTIONS: OptionDecl[] = [
  s({ name: 'network_interface_prefixes', type: 'any', default: ['eth'], defaultText: '`["eth"]`', description: 'A string, or a list of strings (a string may also be a comma list): the network interface name prefixes to report. `eth` matches `eth0`, `eth1`, `ethA`… (with `network_interface_suffix`).' }),
  s({ name: 'network_interface_suffix', type: 'string', default: '[0-9A-Z]+', description: 'A regular expression appended to each of the `network_interface_prefixes` to make the full interface name.' }),
  s({ name: 'local_disks_only', type: 'bool', default: true, description: 'Limits the disk metrics to locally mounted file systems (network file systems are left out).' }),
  s({ name: 'ignore_mounts', type: 'stringArray', default: DEFAULT_IGNORE_MOUNTS, description: 'Glob patterns of mount points to leave out; typically special docker, cgroup and other related mount points. `[]` includes them all.' }),
  own({ name: 'proc_root', type: 'string', default: PROC, description: 'Where the proc file system is mounted (for tests, or a host\'s /proc mounted elsewhere).' }),
];

/** Remote/network file systems skipped when `local_disks_only` (what `df -l` leaves out). */
const REMOTE_FS = new Set(['nfs', 'nfs4', 'cifs', 'smbfs', 'smb3', 'ncpfs', 'afs', 'coda', 'ceph', 'glusterfs', 'fuse.glusterfs', 'fuse.sshfs', 'sshfs', '9p', 'lustre', 'gfs', 'gfs2', 'ocfs2', 'fuse.s3fs', 'davfs', 'fuse.davfs']);


function toList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
}

/** A sample from a number as text: `float` when the text has a decimal point (Python float). */
function numeric(metric: string, text: string, fields?: Record<string, string>): ScalyrMonitorSample | undefined {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) return undefined;
  return { metric, value, ...(fields ? { fields } : {}), ...(/[.eE]/.test(text) ? { float: true } : {}) };
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface SystemMetricsOptions {
  procRoot: string;
  interfaceRe: RegExp;
  localDisksOnly: boolean;
  ignoreMounts: RegExp[];
  logger?: { debug(m: string): void };
}

export function systemMetricsOptions(config: Readonly<Record<string, unknown>>): SystemMetricsOptions {
  const c = readDeclared(LINUX_SYSTEM_METRICS_OPTIONS, config);
  const prefixes = toList(c.network_interface_prefixes);
  const suffix = String(c.network_interface_suffix);
  return {
    procRoot: String(c.proc_root),
    interfaceRe: new RegExp(`^\\s*((?:${prefixes.join('|')})(?:${suffix})):(.*)$`),
    localDisksOnly: c.local_disks_only !== false && c.local_disks_only !== 'false',
    ignoreMounts: toList(c.ignore_mounts).map(fnmatchRegExp),
  };
}

const CPU_TYPES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal', 'guest'];
const VMSTAT_KEYS = new Set(['pgpgin', 'pgpgout', 'pswpin', 'pswpout', 'pgfault', 'pgmajfault']);
const NET_FIELDS_IN = ['bytes', 'packets', 'errs', 'dropped', 'fifo.errs', 'frame.errs', 'compressed', 'multicast'];
const NET_FIELDS_OUT = ['bytes', 'packets', 'errs', 'dropped', 'fifo.errs', 'collisions', 'carrier.errs', 'compressed'];
const DISK_FIELDS = ['read_requests', 'read_merged', 'read_sectors', 'msec_read', 'write_requests', 'write_merged', 'write_sectors', 'msec_write', 'ios_in_progress', 'msec_total', 'msec_weighted_total'];

/**
 * The cumulative counters among these metrics (running totals since boot, or since the interface
 * came up): CPU jiffies (behavior §6.3 "jiffies, cumulative"), and as proc(5) and the kernel's
 * iostats documentation define them, the interrupts, context switches and forks of /proc/stat,
 * the page and swap event counts of /proc/vmstat, every /proc/net/dev column, and every
 * /proc/diskstats column but the I/Os in progress. The rest are gauges (load, memory, uptime,
 * entropy, file handles, blocked processes, df).
 */
export const LINUX_SYSTEM_COUNTERS: readonly string[] = [
  'proc.stat.cpu',
  'proc.stat.intr',
  'proc.stat.ctxt',
  'proc.stat.processes',
  ...[...VMSTAT_KEYS].map((k) => `proc.vmstat.${k}`),
  ...[...new Set([...NET_FIELDS_IN, ...NET_FIELDS_OUT])].map((f) => `proc.net.${f}`),
  ...['disk', 'part'].flatMap((kind) => DISK_FIELDS.filter((f) => f !== 'ios_in_progress').map((f) => `iostat.${kind}.${f}`)),
];

/** `/proc/stat`, `/proc/loadavg`, `/proc/uptime`, `/proc/meminfo`, `/proc/vmstat`, entropy, file-nr, cpu count. */
export async function collectProcStats(o: SystemMetricsOptions, out: ScalyrMonitorSample[]): Promise<void> {
  const push = (s: ScalyrMonitorSample | undefined) => s && out.push(s);
  const read = async (rel: string) => {
    try {
      return await readText(path.join(o.procRoot, rel));
    } catch (err) {
      o.logger?.debug(`linux_system_metrics: cannot read ${rel}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const uptime = await read('uptime');
  if (uptime) {
    const m = /^(\S+)\s+(\S+)/.exec(uptime);
    if (m) {
      push(numeric('proc.uptime.total', m[1]));
      push(numeric('proc.uptime.now', m[2]));
    }
  }
  const meminfo = await read('meminfo');
  if (meminfo) {
    for (const line of meminfo.split('\n')) {
      const m = /^(\w+):\s+(\d+)/.exec(line);
      if (m) push(numeric(`proc.meminfo.${m[1].toLowerCase()}`, m[2]));
    }
  }
  const vmstat = await read('vmstat');
  if (vmstat) {
    for (const line of vmstat.split('\n')) {
      const m = /^(\w+)\s+(\d+)/.exec(line);
      if (m && VMSTAT_KEYS.has(m[1])) push(numeric(`proc.vmstat.${m[1]}`, m[2]));
    }
  }
  const stat = await read('stat');
  if (stat) {
    for (const line of stat.split('\n')) {
      const m = /^(\w+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const [, key, rest] = m;
      if (key === 'cpu') {
        const f = rest.trim().split(/\s+/);
        CPU_TYPES.forEach((type, i) => {
          if (f[i] !== undefined) push(numeric('proc.stat.cpu', f[i], { type }));
        });
      } else if (key === 'intr') push(numeric('proc.stat.intr', rest.trim().split(/\s+/)[0]));
      else if (key === 'ctxt' || key === 'processes' || key === 'procs_blocked') push(numeric(`proc.stat.${key}`, rest.trim()));
    }
  }
  const loadavg = await read('loadavg');
  if (loadavg) {
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\/(\d+)\s+/.exec(loadavg);
    if (m) {
      push(numeric('proc.loadavg.1min', m[1]));
      push(numeric('proc.loadavg.5min', m[2]));
      push(numeric('proc.loadavg.15min', m[3]));
      push(numeric('proc.loadavg.runnable', m[4]));
      push(numeric('proc.loadavg.total_threads', m[5]));
    }
  }
  const entropy = await read('sys/kernel/random/entropy_avail');
  if (entropy) push(numeric('proc.kernel.entropy_avail', entropy.trim()));
  const fileNr = await read('sys/fs/file-nr');
  if (fileNr) {
    const [allocated, , max] = fileNr.trim().split(/\s+/);
    push(numeric('sys.fs.file-nr', allocated));
    if (max !== undefined) push(numeric('sys.fs.file-max', max));
  }
  out.push({ metric: 'sys.cpu.count', value: Math.max(1, os.cpus().length) });
}

/** `df.1kblocks.*` and `df.inodes.*` per local mount (what `df -PlTk` / `df -PlTi` report). */
export async function collectDf(o: SystemMetricsOptions, out: ScalyrMonitorSample[]): Promise<void> {
  let mounts: string;
  try {
    mounts = await readText(path.join(o.procRoot, 'mounts'));
  } catch {
    return;
  }
  const seen = new Set<string>();
  for (const line of mounts.split('\n')) {
    const parts = line.split(' ');
    if (parts.length < 3) continue;
    const mount = unescapeMount(parts[1]);
    const fstype = parts[2];
    if (seen.has(mount)) continue;
    if (fstype === 'debugfs' || fstype === 'devtmpfs') continue;
    if (mount === '/dev' || mount.startsWith('/dev/') || mount.startsWith('/lib/')) continue;
    if (o.localDisksOnly && REMOTE_FS.has(fstype)) continue;
    if (o.ignoreMounts.some((re) => re.test(mount))) continue;
    let st: Awaited<ReturnType<typeof fsp.statfs>>;
    try {
      st = await fsp.statfs(mount);
    } catch {
      continue;
    }
    if (st.blocks === 0) continue; // pseudo file systems (df leaves them out)
    seen.add(mount);
    const k = (n: number) => Math.ceil((n * st.bsize) / 1024);
    const fields = { mount, fstype };
    out.push({ metric: 'df.1kblocks.total', value: k(st.blocks), fields });
    out.push({ metric: 'df.1kblocks.used', value: k(st.blocks - st.bfree), fields });
    out.push({ metric: 'df.1kblocks.free', value: k(st.bavail), fields });
    if (st.files > 0) {
      out.push({ metric: 'df.inodes.total', value: st.files, fields });
      out.push({ metric: 'df.inodes.used', value: st.files - st.ffree, fields });
      out.push({ metric: 'df.inodes.free', value: st.ffree, fields });
    }
  }
}

/** `proc.net.*` per matching interface from `/proc/net/dev`. */
export async function collectNet(o: SystemMetricsOptions, out: ScalyrMonitorSample[]): Promise<void> {
  let text: string;
  try {
    text = await readText(path.join(o.procRoot, 'net/dev'));
  } catch {
    return;
  }
  for (const line of text.split('\n')) {
    const m = o.interfaceRe.exec(line);
    if (!m) continue;
    const iface = m[1];
    const f = m[2].trim().split(/\s+/);
    if (f.length < 16) continue;
    NET_FIELDS_IN.forEach((name, i) => {
      const s = numeric(`proc.net.${name}`, f[i], { iface, direction: 'in' });
      if (s) out.push(s);
    });
    NET_FIELDS_OUT.forEach((name, i) => {
      const s = numeric(`proc.net.${name}`, f[i + 8], { iface, direction: 'out' });
      if (s) out.push(s);
    });
  }
}

/** `iostat.disk.*` (whole disks) and `iostat.part.*` (partitions) from `/proc/diskstats`. */
export async function collectIostat(o: SystemMetricsOptions, out: ScalyrMonitorSample[]): Promise<void> {
  let text: string;
  try {
    text = await readText(path.join(o.procRoot, 'diskstats'));
  } catch {
    return;
  }
  let blockDevs: Set<string> | undefined;
  try {
    blockDevs = new Set(await fsp.readdir('/sys/block'));
  } catch {
    blockDevs = undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const dev = f[2];
    if (/^(ram|loop)\d*$/.test(dev)) continue;
    const isDisk = blockDevs ? blockDevs.has(dev) : !/\d$/.test(dev) || /^(nvme\d+n\d+|mmcblk\d+)$/.test(dev);
    const kind = isDisk ? 'disk' : 'part';
    DISK_FIELDS.forEach((name, i) => {
      const s = numeric(`iostat.${kind}.${name}`, f[3 + i], { dev });
      if (s) out.push(s);
    });
  }
}

/** One full sample. */
export async function collectSystemMetrics(o: SystemMetricsOptions): Promise<ScalyrMonitorSample[]> {
  const out: ScalyrMonitorSample[] = [];
  await collectProcStats(o, out);
  await collectDf(o, out);
  await collectNet(o, out);
  await collectIostat(o, out);
  return out;
}

/** The monitor factory: each subscription reads one sample. */
export function linuxSystemMetrics(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const o = { ...systemMetricsOptions(config), logger: ctx.logger };
  return defer(() => from(collectSystemMetrics(o)));
}

export const linuxSystemMetricsComponent = defineComponent({
  kind: 'monitor',
  type: 'linux_system_metrics',
  aliases: ['scalyr_agent.builtin_monitors.linux_system_metrics'],
  doc: 'Host metrics read from /proc and statfs(2) with the names and fields of Scalyr\'s tcollector-based monitor: CPU, load, memory, virtual memory, disks (`df.*`, `iostat.*`), network interfaces (`proc.net.*`). The agent runs one by default (`implicit_metric_monitor`).',
  options: LINUX_SYSTEM_METRICS_OPTIONS,
  counterMetrics: LINUX_SYSTEM_COUNTERS,
  example: { module: 'linux_system_metrics' },
  create: linuxSystemMetrics,
});
