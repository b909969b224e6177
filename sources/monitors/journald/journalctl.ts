/**
 * One run of the real `journalctl`, following the journal as JSON:
 *
 *   journalctl [-D <dir> | --file <file>] -o json --all --no-pager --follow
 *              (-n 0 | --after-cursor=<c> --no-tail) [-- <FIELD=value>…]
 *
 * `-n 0`: start at the end (Scalyr's `seek_tail`, when there is no usable checkpoint);
 * `--after-cursor`: resume after the checkpointed entry. Each stdout line is one entry; lines
 * are split here with a bound (`maxEntryBytes`: a longer line is skipped up to its newline and
 * reported, never buffered whole). `pause()` stops reading stdout (journalctl then blocks on
 * the pipe: the journal is the buffer). stderr is kept (last 4 KiB) for the exit message.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface JournalctlArgs {
  /** `journal_path`: a directory (`-D`), a file (`--file`), or '' for the local journal. */
  journal: { dir?: string; file?: string };
  matches: readonly string[];
  /** Resume after this cursor; undefined: start at the end. */
  afterCursor?: string;
}

export function journalctlArgs(a: JournalctlArgs): string[] {
  const args: string[] = [];
  if (a.journal.dir) args.push('-D', a.journal.dir);
  else if (a.journal.file) args.push('--file', a.journal.file);
  args.push('-o', 'json', '--all', '--no-pager', '--follow');
  if (a.afterCursor !== undefined) args.push(`--after-cursor=${a.afterCursor}`, '--no-tail');
  else args.push('-n', '0');
  if (a.matches.length > 0) args.push('--', ...a.matches);
  return args;
}

export interface JournalctlHandlers {
  /** A chunk of complete lines (without newlines). */
  lines(lines: string[]): void;
  /** A line longer than the bound was skipped. */
  oversized(bytes: number): void;
  /** The process could not start (ENOENT…) or ended; `stderr` its last words. */
  exit(info: { code: number | null; signal: NodeJS.Signals | null; spawnError?: NodeJS.ErrnoException; stderr: string }): void;
}

export interface JournalctlRun {
  readonly child: ChildProcess;
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** Kills it (SIGTERM, then SIGKILL after 2 s); idempotent. */
  kill(): void;
}

export function runJournalctl(bin: string, args: string[], maxEntryBytes: number, h: JournalctlHandlers): JournalctlRun {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '', LC_ALL: 'C.UTF-8' } });
  let rest: Buffer[] = [];
  let restLen = 0;
  let skipping = 0; // > 0: inside an oversized line, bytes skipped so far
  let stderr = '';
  let done = false;
  let paused = false;
  let spawnError: NodeJS.ErrnoException | undefined;

  child.stdout!.on('data', (chunk: Buffer) => {
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      if (skipping > 0) {
        h.oversized(skipping + (nl - start));
        skipping = 0;
      } else {
        const piece = chunk.subarray(start, nl);
        if (restLen + piece.length > maxEntryBytes) h.oversized(restLen + piece.length);
        else {
          const line = restLen > 0 ? Buffer.concat([...rest, piece]).toString('utf8') : piece.toString('utf8');
          if (line.length > 0) out.push(line);
        }
        rest = [];
        restLen = 0;
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      if (skipping > 0) skipping += tail.length;
      else if (restLen + tail.length > maxEntryBytes) {
        skipping = restLen + tail.length;
        rest = [];
        restLen = 0;
      } else {
        rest.push(Buffer.from(tail));
        restLen += tail.length;
      }
    }
    if (out.length > 0) h.lines(out);
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-4096);
  });
  child.on('error', (err: NodeJS.ErrnoException) => {
    spawnError = err;
    if (child.pid === undefined) finish(null, null);
  });
  child.on('close', (code, signal) => finish(code, signal));

  function finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (done) return;
    done = true;
    h.exit({ code, signal, ...(spawnError ? { spawnError } : {}), stderr: stderr.trim() });
  }

  let killTimer: NodeJS.Timeout | undefined;
  return {
    child,
    get paused() {
      return paused;
    },
    pause() {
      if (!paused) {
        paused = true;
        child.stdout?.pause();
      }
    },
    resume() {
      if (paused) {
        paused = false;
        child.stdout?.resume();
      }
    },
    kill() {
      if (done || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      if (!killTimer) {
        killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
        killTimer.unref();
        child.once('close', () => clearTimeout(killTimer));
      }
    },
  };
}
