/**
 * Shared helpers for the benchmark scripts: flags, statistics, /proc sampling of a child process,
 * and running sluice as a real child process on a temporary config.
 *
 * Promises: nothing here is timed by tests; every helper releases what it opened (child processes
 * are killed by pid on `stop()`/exit, temp dirs removed unless `--keep`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../app/cli/nodeFlags.js';

/** Repository root (dist/bench/common.js → ../..). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The sluice command (override with $SLUICE_BIN, e.g. to bench another build). */
export const SLUICE_BIN = process.env.SLUICE_BIN ?? path.join(REPO, 'bin', 'sluice');
const CLK_TCK = 100;
const PAGE = 4096;

// ---------------------------------------------------------------- flags

export class Flags {
  constructor(private readonly argv: string[] = process.argv.slice(2)) {}
  has(name: string): boolean {
    return this.argv.includes(`--${name}`);
  }
  str(name: string, dflt: string): string {
    const i = this.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < this.argv.length ? this.argv[i + 1] : dflt;
  }
  num(name: string, dflt: number): number {
    const v = Number(this.str(name, String(dflt)));
    if (!Number.isFinite(v)) throw new Error(`--${name}: not a number`);
    return v;
  }
}

// ---------------------------------------------------------------- statistics

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** `median [min–max]` with the given digits. */
export function spread(xs: number[], digits = 1): string {
  if (xs.length === 0) return 'n/a';
  const f = (x: number) => x.toFixed(digits);
  return `${f(median(xs))} [${f(Math.min(...xs))}–${f(Math.max(...xs))}]`;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

// ---------------------------------------------------------------- /proc

export interface ProcSample {
  /** CPU seconds (user + system) of the process so far. */
  cpu: number;
  /** CPU seconds of the main thread alone (the JavaScript thread; the rest is libuv's pool, GC helpers, I/O). */
  mainCpu: number;
  rssKiB: number;
  hwmKiB: number;
}

/**
 * CPU seconds of each thread of `pid` (`/proc/<pid>/task/*`), largest first; the main thread is
 * the one whose id is the pid. Node's threads all carry the name `node`; creation order tells
 * them apart: V8's platform workers (GC helpers) start with the process, libuv's pool threads at
 * its first use (file read, deflate).
 */
export function threadCpu(pid: number): { tid: number; main: boolean; cpu: number }[] {
  const out: { tid: number; main: boolean; cpu: number }[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        out.push({ tid: Number(t), main: Number(t) === pid, cpu: statCpu(`/proc/${pid}/task/${t}/stat`) });
      } catch {
        // the thread ended
      }
    }
  } catch {
    // the process ended
  }
  return out.sort((a, b) => b.cpu - a.cpu);
}

function statCpu(file: string): number {
  const stat = fs.readFileSync(file, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK; // fields 14, 15 (utime, stime)
}

/** utime+stime, VmRSS and VmHWM of a pid; undefined once it is gone. */
export function procSample(pid: number): ProcSample | undefined {
  try {
    const cpu = statCpu(`/proc/${pid}/stat`);
    const mainCpu = statCpu(`/proc/${pid}/task/${pid}/stat`);
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return { cpu, mainCpu, rssKiB: rss, hwmKiB: hwm };
  } catch {
    return undefined;
  }
}

/** RSS from /proc/<pid>/statm (cheap). */
export function rssKiB(pid: number): number {
  try {
    return (Number(fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE) / 1024;
  } catch {
    return NaN;
  }
}

/** Pins the current process to `cpus` (e.g. "1") so the receiver stays off the agent's core. */
export function pinSelf(cpus: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  } catch {
    // taskset missing: run unpinned
  }
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / GiB).toFixed(0)} GiB RAM, Linux ${os.release()}, Node ${process.version}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------- running sluice

export interface AgentRunOptions {
  /** taskset CPU list ("0", "0,1"); empty = unpinned. */
  cpus?: string;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Where the config, data and logs go (created; removed by cleanup unless keep). */
  dir: string;
  config: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

export interface RunningAgent {
  child: ChildProcess;
  pid: number;
  configPath: string;
  /** Output of the child so far (stdout + stderr). */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/** The base config every benchmark uses: real upload to a local receiver, no implicit parts. */
export function benchConfig(dir: string, receiverUrl: string | undefined, logs: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...(receiverUrl ? { api_key: 'bench-key', scalyr_server: receiverUrl, allow_http: true } : {}),
    agent_data_path: path.join(dir, 'data'),
    agent_log_path: path.join(dir, 'log'),
    implicit_metric_monitor: false,
    implicit_agent_process_metrics_monitor: false,
    implicit_agent_log_collection: false,
    server_attributes: { serverHost: 'bench' },
    logs,
    ...extra,
  };
}

/** Writes the config and starts `node bin/sluice start --foreground` (under taskset when asked). */
export function startAgent(o: AgentRunOptions): RunningAgent {
  fs.mkdirSync(o.dir, { recursive: true });
  const configPath = path.join(o.dir, 'agent.json');
  fs.writeFileSync(configPath, JSON.stringify(o.config, null, 2));
  // The agent runs with the flags its launcher (bin/sluice) gives it.
  // SLUICE_BENCH_NODE_ARGS: extra node flags for experiments (`--max-old-space-size=64`, `--require probe.cjs`).
  const extra = (process.env.SLUICE_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const nodeCmd = [process.execPath, ...AGENT_NODE_FLAGS, ...extra, ...(o.nodeArgs ?? []), SLUICE_BIN, 'start', '--foreground', '--quiet', '--config', configPath];
  const [cmd, args] = o.cpus ? ['taskset', ['-c', o.cpus, ...nodeCmd]] : [nodeCmd[0], nodeCmd.slice(1)];
  const child = spawn(cmd as string, args as string[], {
    cwd: o.dir,
    env: { ...AGENT_ENV, ...process.env, SLUICE_PROGRESS_MS: '3600000', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (c: Buffer) => {
    out += c.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async (graceMs = 15_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    }
    return child.exitCode;
  };
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, pid: child.pid!, configPath, output: () => out, exited, stop };
}

/** Polls `pred` every `pollMs` until true; throws after `timeoutMs` (with `what`). */
export async function until(pred: () => boolean, timeoutMs: number, what: string, pollMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Appends a result record to `$SLUICE_BENCH_DIR/results.jsonl` (for docs/PERFORMANCE.md). */
export function record(name: string, result: Record<string, unknown>): void {
  const dir = process.env.SLUICE_BENCH_DIR ?? path.join(os.tmpdir(), 'sluice-bench');
  fs.mkdirSync(dir, { recursive: true });
  const line = { bench: name, at: new Date().toISOString(), argv: process.argv.slice(2), machine: machine(), loadavg: os.loadavg().map((x) => +x.toFixed(2)), ...result };
  fs.appendFileSync(path.join(dir, 'results.jsonl'), JSON.stringify(line) + '\n');
}

export function isMain(metaUrl: string): boolean {
  return !!process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(metaUrl);
}
