/**
 * The journald monitor's message log: an append-only file rotated like Python's
 * `RotatingFileHandler` (Scalyr's `LogConfigManager` uses one): before a write that would take
 * the file to `maxBytes` or more, `<path>.<n-1>` → `<path>.<n>` … `<path>` → `<path>.1`, the
 * oldest (`.<backups>`) deleted. `maxBytes` or `backups` 0: never rotated (Python's rule).
 *
 * The monitor lets it rotate only while the sink has acknowledged everything written (backlog
 * 0), so a file renamed or deleted by rotation never holds unshipped lines; a file may then grow
 * past `maxBytes` by what is unacknowledged (bounded by the monitor's budget) plus one chunk.
 *
 * Writes are synchronous appends of whole chunks (one `write` per batch of lines), so a line is
 * either in the file or not, and `written` (bytes appended by this writer, across rotations) is
 * exact: the monitor compares it with the sink's backlog on the file to know what is acknowledged.
 */
import fs from 'node:fs';
import path from 'node:path';

export class RotatingMessageLog {
  private fd: number | undefined;
  private size = 0;
  /** Bytes appended by this writer since it was opened, across rotations. */
  written = 0;
  /** Rotations done by this writer. */
  rotations = 0;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly backups: number,
  ) {}

  private open(): number {
    if (this.fd === undefined) {
      fs.mkdirSync(path.dirname(this.path), { recursive: true });
      this.fd = fs.openSync(this.path, 'a', 0o640);
      this.size = fs.fstatSync(this.fd).size;
    }
    return this.fd;
  }

  private rotate(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    const name = (i: number) => `${this.path}.${i}`;
    fs.rmSync(name(this.backups), { force: true });
    for (let i = this.backups - 1; i >= 1; i--) {
      if (fs.existsSync(name(i))) fs.renameSync(name(i), name(i + 1));
    }
    if (fs.existsSync(this.path)) fs.renameSync(this.path, name(1));
    this.rotations++;
  }

  /**
   * Appends `chunk` (whole lines); returns `written` after it. Throws on I/O errors (disk full…).
   * `mayRotate` false defers a due rotation (the caller's rule: not while lines are unshipped).
   */
  append(chunk: Buffer, mayRotate = true): number {
    let fd = this.open();
    if (mayRotate && this.maxBytes > 0 && this.backups > 0 && this.size > 0 && this.size + chunk.length >= this.maxBytes) {
      this.rotate();
      fd = this.open();
    }
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
    this.size += chunk.length;
    this.written += chunk.length;
    return this.written;
  }

  /** fsyncs the current file; returns its inode and size (undefined when nothing is open). */
  sync(): { inode: number; size: number } | undefined {
    if (this.fd === undefined) return undefined;
    fs.fsyncSync(this.fd);
    const st = fs.fstatSync(this.fd);
    return { inode: st.ino, size: st.size };
  }

  close(): void {
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already gone
      }
    }
    this.fd = undefined;
  }
}
