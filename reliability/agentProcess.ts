/**
 * The agent as a real child process: `node bin/sluice start --foreground --config <file>`, as an
 * operator runs it. Start waits until the control socket answers; `term()` sends SIGTERM and
 * falls back to SIGKILL after a deadline; `kill9()` is `kill -9`. Also: which files the process
 * holds open (/proc/<pid>/fd, by dev+inode), its RSS (/proc/<pid>/status), and running a
 * `sluice` CLI command against the same config.
 *
 * The child's stdout/stderr are appended to `<logFile>` (nothing is lost between restarts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { call } from '../app/control/client.js';

/** The repository root (works from reliability/ under ts-jest and from dist/reliability/). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'sluice') return dir;
      } catch {
        /* keep looking */
      }
    }
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the sluice repository root');
}

export function sluiceBin(): string {
  return path.join(repoRoot(), 'bin', 'sluice');
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sluice <args...>` (the built CLI) and collects its output. */
export function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [sluiceBin(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

export class AgentProcess {
  child?: ChildProcess;
  starts = 0;
  private exited?: Promise<void>;

  constructor(
    readonly configPath: string,
    readonly dataPath: string,
    readonly logFile: string,
    /** Extra environment for the agent process. */
    readonly env: NodeJS.ProcessEnv = {},
    /** Run the agent as this user (the harness must be root), e.g. so file permissions apply. */
    readonly as?: { uid: number; gid: number },
  ) {}

  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Running and not being stopped (a stopping agent no longer promises to follow rotations). */
  get up(): boolean {
    return this.pid !== undefined && !this.stopping;
  }

  private stopping = false;

  async start(timeoutMs = 20_000): Promise<void> {
    if (this.pid !== undefined) return;
    const out = fs.openSync(this.logFile, 'a');
    fs.writeSync(out, `\n===== harness: starting agent (${new Date().toISOString()}) =====\n`);
    const child = spawn(process.execPath, [sluiceBin(), 'start', '--foreground', '--config', this.configPath], {
      stdio: ['ignore', out, out],
      env: { ...process.env, SLUICE_PROGRESS_MS: '5000', ...this.env },
      ...(this.as ?? {}),
    });
    fs.closeSync(out);
    this.child = child;
    this.starts++;
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the agent exited during start (code ${child.exitCode}, signal ${child.signalCode}); see ${this.logFile}`);
      }
      try {
        const s = await call<{ pid?: number }>(this.dataPath, { cmd: 'status' }, 2000);
        if (s && s.pid === child.pid) return;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the agent did not answer on its control socket within ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** SIGTERM; SIGKILL after `deadlineMs`. Returns true when the agent stopped by itself. */
  async term(deadlineMs = 15_000): Promise<boolean> {
    const child = this.child;
    if (!child || this.pid === undefined) return true;
    this.stopping = true;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited!.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), deadlineMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      child.kill('SIGKILL');
      await this.exited;
    }
    this.stopping = false;
    return !timedOut;
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || this.pid === undefined) return;
    this.stopping = true;
    child.kill('SIGKILL');
    await this.exited;
    this.stopping = false;
  }

  /** `dev:ino` of every regular file the agent holds open. */
  openFiles(): Set<string> {
    const out = new Set<string>();
    const pid = this.pid;
    if (!pid) return out;
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      return out;
    }
    for (const fd of fds) {
      try {
        const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
        if (st.isFile()) out.add(`${st.dev}:${st.ino}`);
      } catch {
        /* closed meanwhile */
      }
    }
    return out;
  }

  /** Resident set size in bytes, or undefined when not running. */
  rss(): number | undefined {
    const pid = this.pid;
    if (!pid) return undefined;
    try {
      const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Whether the agent's checkpoint file names the file now at `livePath` as the path's current
 * incarnation: same dev and inode, and the same first bytes when recorded (required with
 * `needHead`, for copytruncate, where the inode never changes) — an inode freed by a deleted
 * rotated file may already belong to a new file the agent has never seen.
 */
export function checkpointNames(dataPath: string, livePath: string, dev: number, ino: number, needHead = false): boolean {
  let doc: { checkpoints?: Record<string, { inode?: number; dev?: number; fingerprint?: string }> };
  try {
    doc = JSON.parse(fs.readFileSync(path.join(dataPath, 'checkpoints.json'), 'utf8'));
  } catch {
    return false;
  }
  const e = doc.checkpoints?.[livePath];
  if (!e || e.inode !== ino || (e.dev !== undefined && e.dev !== dev)) return false;
  // No fingerprint: the agent saw the file empty. That names the inode (enough to find a renamed
  // file), not the content a copytruncate would move away (`needHead`).
  if (!e.fingerprint) return !needHead;
  const len = Number(e.fingerprint.slice(0, e.fingerprint.indexOf(':')));
  let head: Buffer;
  try {
    const fd = fs.openSync(livePath, 'r');
    try {
      head = Buffer.alloc(len);
      head = head.subarray(0, fs.readSync(fd, head, 0, len, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
  return head.length === len && `${len}:${createHash('sha1').update(head).digest('hex')}` === e.fingerprint;
}
