/**
 * One agent per data directory: `<agent_data_path>/agent.lock`, created with O_EXCL and holding
 * the owner's pid (and, on Linux, its start time, so that a later process that got the same pid,
 * as after a container restart, is not mistaken for the owner). A lock whose owner is no longer
 * alive (it was killed) is stale and taken over; a live one is refused with its pid. The owner releases it at the very end of its stop,
 * and in any case when the process exits.
 */
import fs from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'agent.lock';

export type LockResult = { ok: true; path: string; release(): void } | { ok: false; path: string; pid: number };

/**
 * Whether a process with this pid exists (EPERM: it exists, owned by someone else). A zombie
 * (exited, not yet reaped by its parent; Linux /proc) counts as gone: it holds nothing any more.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last ')' (comm may contain parentheses).
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
  } catch {
    /* no /proc (macOS) or it just vanished: trust kill(0) */
  }
  return true;
}

/** The process's start time in clock ticks since boot (Linux /proc), to tell a reused pid apart. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Lock file text: the pid on the first line, then `start <ticks>` where /proc has it. */
function parseLock(text: string): { pid?: number; start?: string } {
  const [first, second] = text.split('\n');
  const n = Number(first.trim());
  const m = /^start (\d+)$/.exec((second ?? '').trim());
  return { pid: Number.isInteger(n) && n > 0 ? n : undefined, start: m?.[1] };
}

function readLock(file: string): { pid?: number; start?: string } {
  try {
    return parseLock(fs.readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
}

function readPid(file: string): number | undefined {
  return readLock(file).pid;
}

/** The lock's owner is alive, and is the same process (not a later one that got its pid). */
function ownerAlive(lock: { pid?: number; start?: string }): boolean {
  if (lock.pid === undefined || !pidAlive(lock.pid)) return false;
  if (lock.start === undefined) return true;
  const now = processStartTime(lock.pid);
  return now === undefined || now === lock.start;
}

/** The pid holding the data directory's lock, if that process is alive. */
export function lockHolder(dataPath: string): number | undefined {
  const lock = readLock(path.join(dataPath, LOCK_FILE));
  return ownerAlive(lock) ? lock.pid : undefined;
}

/**
 * Takes the lock for `pid` (default this process). A lock file without a readable pid that is
 * younger than `graceMs` is being written by a concurrent starter and counts as held.
 */
export function acquireLock(dataPath: string, opts: { pid?: number; graceMs?: number } = {}): LockResult {
  const pid = opts.pid ?? process.pid;
  const graceMs = opts.graceMs ?? 2000;
  const file = path.join(dataPath, LOCK_FILE);
  fs.mkdirSync(dataPath, { recursive: true });
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const lock = readLock(file);
      const holder = lock.pid;
      if (holder !== undefined && holder !== pid && ownerAlive(lock)) return { ok: false, path: file, pid: holder };
      if (holder === undefined) {
        let age = Infinity;
        try {
          age = Date.now() - fs.statSync(file).mtimeMs;
        } catch {
          continue; // vanished meanwhile: try again
        }
        if (age < graceMs) return { ok: false, path: file, pid: 0 };
      }
      // Stale (dead owner, or our own pid left from an earlier run of this process): take it over.
      try {
        fs.unlinkSync(file);
      } catch {
        /* someone else removed it first */
      }
      continue;
    }
    try {
      const started = processStartTime(pid);
      fs.writeSync(fd, `${pid}\n${started !== undefined ? `start ${started}\n` : ''}`);
    } finally {
      fs.closeSync(fd);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      // Only our own lock: never remove a successor's.
      if (readPid(file) === pid) fs.rmSync(file, { force: true });
    };
    process.on('exit', release);
    return { ok: true, path: file, release };
  }
  const holder = readPid(file);
  return { ok: false, path: file, pid: holder ?? 0 };
}
