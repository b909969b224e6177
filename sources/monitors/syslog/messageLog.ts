/**
 * The message log of `syslog_monitor`: every received message appended as one line to a file
 * the agent then tails and ships like any log file (the file is the buffer).
 *
 * - Buffered: `append` queues lines in memory; they are written in one `write` per batch, at
 *   the latest `flushDelayMs` after the first one was queued (Scalyr's `log_flush_delay`), or
 *   as soon as `flushBytes` are queued. One write is in flight at a time, in arrival order.
 * - Bounded: `queued` says how many bytes wait; the listener pauses TCP connections and drops
 *   UDP datagrams while it is over its limit (see listener.ts), so memory stays bounded when the
 *   disk is slow or failing.
 * - Rotating like Python's `RotatingFileHandler` (Scalyr's `AutoFlushingRotatingFileHandler`):
 *   before a batch that would take the file past `maxBytes`, `<path>.<n-1>` is renamed to
 *   `<path>.<n>` … `<path>` to `<path>.1`, keeping `backupCount` copies (the oldest is deleted),
 *   and a new `<path>` is started. Not while `canRotate` says no (the file then grows past
 *   `maxBytes` until it may). `maxBytes` 0, or `backupCount` 0, never rotates (as Python's
 *   handler, which only renames when it keeps backups). The agent's file tailer follows the
 *   rename and finishes the old file.
 * - Failing disks: an open, write or rename error is counted, logged once per state change and
 *   retried with backoff (the lines stay queued, bounded as above); the first write that works
 *   again is logged.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../../lib/counters.js';

export interface MessageLogOptions {
  path: string;
  /** Rotate before the file grows past this many bytes (0: never). */
  maxBytes: number;
  /** Rotated copies kept (0: never rotate). */
  backupCount: number;
  /** Longest a queued line waits before it is written, ms (0: at the next turn of the event loop). */
  flushDelayMs: number;
  /** Write at once when this many bytes are queued. */
  flushBytes?: number;
  /**
   * Whether the file may be rotated now (default: always). The monitor says no while the agent's
   * tailer may not know the current file yet (nothing of it acknowledged): a file renamed before
   * the tailer opened it would never be read.
   */
  canRotate?(size: number): boolean;
  /** Called after each successful write: lines and bytes written. */
  onWritten?(lines: number, bytes: number): void;
  /** An error of state change (first failure of a burst) or recovery (`error` undefined). */
  onFault?(error: Error | undefined, failures: number): void;
}

const MAX_RETRY_MS = 30_000;

export class MessageLog {
  readonly path: string;
  private fd: number | undefined;
  private size = 0;
  private queue: Buffer[] = [];
  private queueLines = 0;
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  private closed = false;
  private failures = 0;
  private retryAt = 0;
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly o: MessageLogOptions) {
    this.path = o.path;
  }

  /**
   * Creates the file (and its directory) now, so the agent's tailer finds it before the first
   * message; a failure is reported like a write failure and retried with the first write.
   */
  create(): void {
    try {
      this.open();
    } catch (err) {
      this.failures++;
      this.o.onFault?.(new Error(`cannot create the syslog message log ${this.path}: ${errorMessage(err)}`), this.failures);
    }
  }

  /** Bytes queued and not yet written. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Whether the last open or write failed (and is being retried). */
  get failing(): boolean {
    return this.failures > 0;
  }

  /** Queues messages, one line each (a `\n` is added). */
  append(messages: readonly Buffer[]): void {
    if (this.closed || messages.length === 0) return;
    for (const m of messages) {
      this.queue.push(m, NEWLINE);
      this.queuedBytes += m.length + 1;
    }
    this.queueLines += messages.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.writing || this.closed) return;
    const now = Date.now();
    if (now < this.retryAt) {
      this.arm(this.retryAt - now);
      return;
    }
    if (this.queuedBytes >= (this.o.flushBytes ?? 64 * 1024)) {
      this.clearTimer();
      void this.writeQueued();
      return;
    }
    this.arm(this.o.flushDelayMs);
  }

  private arm(ms: number): void {
    if (this.timer) return;
    const t = setTimeout(() => {
      this.timer = undefined;
      if (!this.writing && !this.closed) void this.writeQueued();
    }, Math.max(0, ms));
    t.unref?.();
    this.timer = t;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private open(): void {
    if (this.fd !== undefined) return;
    fs.mkdirSync(path.dirname(this.path), { recursive: true });
    this.fd = fs.openSync(this.path, 'a');
    this.size = fs.fstatSync(this.fd).size;
  }

  private rotate(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
    const n = this.o.backupCount;
    const name = (i: number) => `${this.path}.${i}`;
    if (fs.existsSync(name(n))) fs.rmSync(name(n), { force: true });
    for (let i = n - 1; i >= 1; i--) if (fs.existsSync(name(i))) fs.renameSync(name(i), name(i + 1));
    if (fs.existsSync(this.path)) fs.renameSync(this.path, name(1));
    this.open();
  }

  private async writeQueued(): Promise<void> {
    if (this.writing || this.queuedBytes === 0) {
      this.wakeDrain();
      return;
    }
    this.writing = true;
    // Take what is queued now; lines queued while this write is in flight wait for the next one.
    const parts = this.queue;
    const lines = this.queueLines;
    const bytes = this.queuedBytes;
    this.queue = [];
    const data = Buffer.concat(parts, bytes);
    try {
      this.open();
      if (this.o.maxBytes > 0 && this.o.backupCount > 0 && this.size > 0 && this.size + data.length > this.o.maxBytes && (this.o.canRotate?.(this.size) ?? true)) this.rotate();
      const fd = this.fd!;
      let done = 0;
      while (done < data.length) {
        done += await new Promise<number>((resolve, reject) => fs.write(fd, data, done, data.length - done, null, (err, n) => (err ? reject(err) : resolve(n))));
      }
      this.size += data.length;
      this.queueLines -= lines;
      this.queuedBytes -= bytes;
      if (this.failures > 0) this.o.onFault?.(undefined, this.failures);
      this.failures = 0;
      this.retryAt = 0;
      this.o.onWritten?.(lines, bytes);
    } catch (err) {
      // Nothing of it is known to be written (a partial write is written again: at least once).
      this.queue = parts.concat(this.queue);
      this.failures++;
      this.retryAt = Date.now() + Math.min(MAX_RETRY_MS, 100 * 2 ** Math.min(this.failures - 1, 10));
      if (this.fd !== undefined) {
        try {
          fs.closeSync(this.fd);
        } catch {
          /* already broken */
        }
        this.fd = undefined;
      }
      this.o.onFault?.(new Error(`cannot write the syslog message log ${this.path}: ${errorMessage(err)}`), this.failures);
    } finally {
      this.writing = false;
      if (this.closed && this.fd !== undefined) {
        try {
          fs.closeSync(this.fd);
        } catch {
          /* ignore */
        }
        this.fd = undefined;
      }
    }
    if (this.queuedBytes > 0 && !this.closed) this.schedule();
    else this.wakeDrain();
  }

  private wakeDrain(): void {
    if (this.queuedBytes > 0 && !this.closed) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Writes what is queued now (one attempt; resolves when the queue is empty or that failed). */
  async flush(): Promise<void> {
    this.clearTimer();
    if (this.queuedBytes === 0 && !this.writing) return;
    const drained = new Promise<void>((r) => this.drainWaiters.push(r));
    if (!this.writing) {
      this.retryAt = 0;
      await this.writeQueued();
      if (this.queuedBytes === 0 || this.failures > 0) return;
    }
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000).unref?.())]);
  }

  /** Flushes (bounded by `deadlineMs`) and closes; what could not be written is returned as a count. */
  async close(deadlineMs = 1000): Promise<{ lostLines: number }> {
    if (!this.closed) {
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, deadlineMs).unref?.())]);
    }
    this.closed = true;
    this.clearTimer();
    const lost = this.queueLines;
    this.queue = [];
    this.queueLines = 0;
    this.queuedBytes = 0;
    if (this.fd !== undefined && !this.writing) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* ignore */
      }
      this.fd = undefined;
    }
    this.wakeDrain();
    for (const w of this.drainWaiters.splice(0)) w();
    return { lostLines: lost };
  }
}

const NEWLINE = Buffer.from('\n');
