/**
 * Small readers for Linux `/proc` files used by the built-in monitors. Every reader takes the
 * proc root (default `/proc`) so tests can point it at fixture trees; they throw on a missing
 * file and parse defensively (unknown lines are skipped).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export const PROC = '/proc';

export async function readText(file: string): Promise<string> {
  return fsp.readFile(file, 'utf8');
}

/** `/proc/<pid>/stat` fields after the command name (index 0 = field 3 `state`). */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  majflt: number;
  utime: number;
  stime: number;
  nice: number;
  numThreads: number;
  starttime: number;
  vsize: number;
  rssPages: number;
  delayacctBlkioTicks: number;
}

/** Parses `/proc/<pid>/stat` (the command name may contain spaces and parentheses). */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error('malformed stat line');
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  const f = text.slice(close + 2).trim().split(/\s+/); // f[0] = field 3 (state)
  const n = (field: number) => Number(f[field - 3] ?? 0);
  return {
    pid,
    comm,
    state: f[0] ?? '?',
    ppid: n(4),
    majflt: n(12),
    utime: n(14),
    stime: n(15),
    nice: n(19),
    numThreads: n(20),
    starttime: n(22),
    vsize: n(23),
    rssPages: n(24),
    delayacctBlkioTicks: n(42),
  };
}

/** `Key: value [kB]` files (`/proc/meminfo`, `/proc/<pid>/status`) → key → number (first number). */
export function parseKeyValueNumbers(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:\s]+):\s+(\d+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** `/proc/<pid>/io` → key → number. */
export function parseProcIo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s*(\d+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

/** The command line of a process with NULs turned into spaces (empty for kernel threads). */
export async function readCmdline(pid: number, procRoot = PROC): Promise<string> {
  const buf = await fsp.readFile(path.join(procRoot, String(pid), 'cmdline'));
  let s = buf.toString('utf8');
  while (s.endsWith('\0')) s = s.slice(0, -1);
  return s.replace(/\0/g, ' ');
}

/** Numeric entries of the proc root. */
export async function listPids(procRoot = PROC): Promise<number[]> {
  const names = await fsp.readdir(procRoot);
  const pids: number[] = [];
  for (const n of names) if (/^\d+$/.test(n)) pids.push(Number(n));
  return pids.sort((a, b) => a - b);
}

/** System uptime in seconds (first number of `/proc/uptime`). */
export async function readUptimeSecs(procRoot = PROC): Promise<number> {
  const t = await readText(path.join(procRoot, 'uptime'));
  return Number(t.trim().split(/\s+/)[0]);
}

/** Clock ticks per second (`sysconf(_SC_CLK_TCK)`); 100 on every mainstream Linux. */
export const CLOCK_TICKS = 100;
