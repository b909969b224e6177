/**
 * The journal cursor, checkpointed like a file offset: a cursor is stored only once the line of
 * the entry that carried it has been acknowledged by the sink.
 *
 * - `CursorTrail` keeps, per chunk written to the message log, (end offset in the writer's
 *   `written` count → cursor of the chunk's last entry). With `acked` = bytes of this writer
 *   the sink has acknowledged, `take(acked)` drops the chunks that end at or before it and
 *   returns the newest of their cursors. Its length is bounded by the unacknowledged bytes
 *   (the monitor stops reading while they are over its budget).
 * - `readCursorFile` / `writeCursorFile`: `{ "cursor": … }` JSON in the agent's data dir,
 *   written atomically (temp file, fsync, rename, fsync of the directory).
 */
import fs from 'node:fs';
import path from 'node:path';

export class CursorTrail {
  private ends: number[] = [];
  private cursors: string[] = [];

  push(end: number, cursor: string): void {
    const n = this.ends.length;
    if (n > 0 && this.ends[n - 1] === end) this.cursors[n - 1] = cursor;
    else {
      this.ends.push(end);
      this.cursors.push(cursor);
    }
  }

  /** The newest cursor whose chunk ends at or before `acked`, removing the chunks up to it. */
  take(acked: number): string | undefined {
    let i = 0;
    while (i < this.ends.length && this.ends[i] <= acked) i++;
    if (i === 0) return undefined;
    const cursor = this.cursors[i - 1];
    this.ends.splice(0, i);
    this.cursors.splice(0, i);
    return cursor;
  }

  get length(): number {
    return this.ends.length;
  }

  /** The newest cursor written, acknowledged or not. */
  last(): string | undefined {
    return this.cursors[this.cursors.length - 1];
  }
}

/**
 * What the cursor file holds: `cursor`, the newest entry whose line the sink acknowledged, and
 * `written`, the newest entry whose line was written (and fsynced) to the message log, with the
 * log's inode and size then: while the log still has those bytes, they are shipped from it and
 * need not be read again.
 */
export interface StoredCursor {
  cursor?: string;
  written?: { cursor: string; path: string; inode: number; size: number };
}

export function readCursorFile(file: string): StoredCursor | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const out: StoredCursor = {};
    if (typeof v?.cursor === 'string' && v.cursor !== '') out.cursor = v.cursor;
    const w = v?.written as Record<string, unknown> | undefined;
    if (w && typeof w.cursor === 'string' && typeof w.path === 'string' && typeof w.inode === 'number' && typeof w.size === 'number') {
      out.written = { cursor: w.cursor, path: w.path, inode: w.inode, size: w.size };
    }
    return out.cursor !== undefined || out.written !== undefined ? out : undefined;
  } catch {
    return undefined;
  }
}

/** Where to resume: after `written` when the message log still holds its bytes, else after the acknowledged `cursor`. */
export function resumePoint(stored: StoredCursor | undefined, logPath: string): { cursor?: string; from: 'written' | 'acknowledged' | 'none' } {
  if (!stored) return { from: 'none' };
  const w = stored.written;
  if (w && w.path === logPath) {
    try {
      const st = fs.statSync(logPath);
      if (st.ino === w.inode && st.size >= w.size) return { cursor: w.cursor, from: 'written' };
    } catch {
      // the log is gone: read again from the acknowledged cursor
    }
  }
  return stored.cursor !== undefined ? { cursor: stored.cursor, from: 'acknowledged' } : { from: 'none' };
}

export function writeCursorFile(file: string, value: StoredCursor): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(value) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // directories cannot be fsynced everywhere; the rename is still atomic
  }
}
