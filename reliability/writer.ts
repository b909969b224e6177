/**
 * The writer: appends id-carrying events (see lines.ts) to several files at a steady rate and
 * rotates them the ways the agent promises to survive (scalyr-agent-behavior.md §2.4):
 *
 * - `rename`: the live file is renamed to `<name>.<n>` (n grows; a rotated file is never renamed
 *   again) and a new live file is created. Allowed only once the agent's checkpoint names the
 *   current incarnation (`agentKnows`), so no incarnation is rotated away before the agent saw
 *   and recorded it — with the agent down this allows exactly one rotation per file.
 * - `copytruncate`: the live file is copied to `<name>.<n>` and truncated in place (writes pause
 *   during the copy, as they would with logrotate's lock-free copy only by luck). Allowed only
 *   while the agent runs and holds the file open.
 * - deletion of rotated files beyond `keep`: only when every id in it was accepted, or the live
 *   agent holds it open (it must then drain it; the driver holds kills until it has).
 * - partial lines: some writes stop in the middle of an event and finish it 20–300 ms later
 *   (well under `line_completion_wait_time`), so the agent must hold the half line back.
 *
 * Everything written is reported to the {@link Ledger} (complete events only). `stop()` finishes
 * any half-written event first.
 */
import fs from 'node:fs';
import path from 'node:path';
import { eventText } from './lines.js';
import type { Ledger } from './ledger.js';
import type { Rng } from './rng.js';

export type RotationKind = 'rename' | 'copytruncate';

export interface WriterOptions {
  dir: string;
  /** Tags of the files; file i is `<dir>/<tag>.log`, rotated by `rotations[i % rotations.length]`. */
  tags: string[];
  rotations: RotationKind[];
  /** Events per second over all files. */
  rate: number;
  /** Rotate a file once it holds this many bytes. */
  rotateBytes: number;
  /** Rotated files kept before deletion is considered. */
  keep: number;
  rng: Rng;
  ledger: Ledger;
  /** Whether the running agent (if any) holds the file (dev, ino) open. */
  agentHolds: (dev: number, ino: number) => boolean;
  /** Whether the agent's checkpoint names the file at `live` (dev, ino, first bytes) as current, so a restart finds it by inode. */
  agentKnows: (live: string, dev: number, ino: number, needHead: boolean) => boolean;
  /** Whether an agent is running now. */
  agentUp: () => boolean;
  tickMs?: number;
  partialChance?: number;
}

interface Rotated {
  path: string;
  dev: number;
  ino: number;
  from: number;
  to: number;
  deleted: boolean;
  drained: boolean;
}

interface FileState {
  tag: string;
  live: string;
  fd: number;
  dev: number;
  ino: number;
  size: number;
  seq: number;
  /** Seq where the current incarnation began. */
  incStart: number;
  rotation: RotationKind;
  rotatedCount: number;
  rotated: Rotated[];
  /** Remaining bytes of a half-written event, and when to write them. */
  pending?: { rest: Buffer; at: number };
  lastCopyTruncateAt: number;
}

export class Writer {
  readonly stats = { events: 0, bytes: 0, renames: 0, copytruncates: 0, deletions: 0, deletedWhileOpen: 0, partialWrites: 0, rotationsDeferred: 0 };
  private readonly files: FileState[] = [];
  private timer?: NodeJS.Timeout;
  private carry = 0;
  private stopped = false;

  constructor(private readonly o: WriterOptions) {
    fs.mkdirSync(o.dir, { recursive: true });
    o.tags.forEach((tag, i) => {
      const live = path.join(o.dir, `${tag}.log`);
      const fd = fs.openSync(live, 'a');
      const st = fs.fstatSync(fd);
      this.files.push({
        tag,
        live,
        fd,
        dev: st.dev,
        ino: st.ino,
        size: st.size,
        seq: 0,
        incStart: 0,
        rotation: o.rotations[i % o.rotations.length],
        rotatedCount: 0,
        rotated: [],
        lastCopyTruncateAt: 0,
      });
      o.ledger.beginIncarnation(tag, 0, `${tag}.log`, 'created');
    });
  }

  start(): void {
    const tick = this.o.tickMs ?? 20;
    let last = Date.now();
    const step = () => {
      if (this.stopped) return;
      const now = Date.now();
      const due = ((now - last) / 1000) * this.o.rate + this.carry;
      last = now;
      const n = Math.floor(due);
      this.carry = due - n;
      try {
        this.write(n, now);
        this.housekeeping(now);
      } catch (err) {
        process.stderr.write(`reliability writer: ${(err as Error).message}\n`);
      }
      this.timer = setTimeout(step, tick);
    };
    this.timer = setTimeout(step, tick);
  }

  /** Time of the most recent copytruncate of any file (the driver waits a little before a kill). */
  get lastCopyTruncateAt(): number {
    return Math.max(0, ...this.files.map((f) => f.lastCopyTruncateAt));
  }

  /** Rotated files that were deleted while the agent held them and are not yet fully delivered. */
  undrainedDeleted(): string[] {
    const out: string[] = [];
    for (const f of this.files) {
      for (const r of f.rotated) {
        if (!r.deleted || r.drained) continue;
        if (this.o.ledger.allDelivered(f.tag, r.from, r.to)) r.drained = true;
        else out.push(r.path);
      }
    }
    return out;
  }

  private write(n: number, now: number): void {
    if (this.files.length === 0) return;
    // Finish due half-written events first.
    for (const f of this.files) {
      if (f.pending && f.pending.at <= now) this.finishPending(f);
    }
    const per = Math.floor(n / this.files.length);
    let extra = n - per * this.files.length;
    for (const f of this.files) {
      let k = per + (extra-- > 0 ? 1 : 0);
      if (k === 0 || f.pending) continue;
      const parts: string[] = [];
      while (k-- > 0) parts.push(eventText(f.tag, f.seq + parts.length));
      let buf = Buffer.from(parts.join(''));
      const count = parts.length;
      if (this.o.rng.chance(this.o.partialChance ?? 0.05)) {
        // Stop in the middle of the last event; the rest comes shortly.
        const lastLen = Buffer.byteLength(parts[parts.length - 1]);
        const cut = buf.length - lastLen + this.o.rng.int(1, lastLen - 1);
        f.pending = { rest: buf.subarray(cut), at: now + this.o.rng.int(20, 300) };
        buf = buf.subarray(0, cut);
        this.stats.partialWrites++;
        this.append(f, buf);
        f.seq += count - 1;
        this.stats.events += count - 1;
        this.o.ledger.wrote(f.tag, f.seq);
        f.seq += 1; // the pending event's seq is reserved; reported once finished
        continue;
      }
      this.append(f, buf);
      f.seq += count;
      this.o.ledger.wrote(f.tag, f.seq);
      this.stats.events += count;
    }
  }

  private finishPending(f: FileState): void {
    if (!f.pending) return;
    this.append(f, f.pending.rest);
    f.pending = undefined;
    this.stats.events++;
    this.o.ledger.wrote(f.tag, f.seq);
  }

  private append(f: FileState, buf: Buffer): void {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(f.fd, buf, off, buf.length - off);
    f.size += buf.length;
    this.stats.bytes += buf.length;
  }

  private housekeeping(now: number): void {
    for (const f of this.files) {
      if (f.size >= this.o.rotateBytes && !f.pending) this.maybeRotate(f, now);
      this.maybeDelete(f);
    }
  }

  private maybeRotate(f: FileState, now: number): void {
    const up = this.o.agentUp();
    const holds = up && this.o.agentHolds(f.dev, f.ino);
    // rename: the agent must have persisted the incarnation (a restart then finds it by inode);
    // copytruncate: the agent must also be running and hold the file (a copy made while it is
    // down is only found by name heuristics, which sluice does not promise after a restart).
    const knows = this.o.agentKnows(f.live, f.dev, f.ino, f.rotation === 'copytruncate');
    const ok = f.rotation === 'rename' ? knows : holds && knows;
    if (!ok) {
      this.stats.rotationsDeferred++;
      return;
    }
    const target = path.join(this.o.dir, `${f.tag}.log.${++f.rotatedCount}`);
    if (f.rotation === 'rename') {
      fs.closeSync(f.fd);
      fs.renameSync(f.live, target);
      f.fd = fs.openSync(f.live, 'a');
      this.stats.renames++;
    } else {
      fs.copyFileSync(f.live, target);
      fs.ftruncateSync(f.fd, 0);
      f.lastCopyTruncateAt = now;
      this.stats.copytruncates++;
    }
    const rst = fs.statSync(target);
    f.rotated.push({ path: target, dev: rst.dev, ino: rst.ino, from: f.incStart, to: f.seq, deleted: false, drained: false });
    const st = fs.fstatSync(f.fd);
    f.dev = st.dev;
    f.ino = st.ino;
    f.size = st.size;
    f.incStart = f.seq;
    this.o.ledger.beginIncarnation(f.tag, f.seq, `${f.tag}.log (after ${f.rotation} #${f.rotatedCount})`, f.rotation);
  }

  private maybeDelete(f: FileState): void {
    const live = f.rotated.filter((r) => !r.deleted);
    if (live.length <= this.o.keep) return;
    const r = live[0];
    const delivered = this.o.ledger.allDelivered(f.tag, r.from, r.to);
    const held = !delivered && this.o.agentUp() && this.o.agentHolds(r.dev, r.ino);
    if (!delivered && !held) return;
    fs.rmSync(r.path, { force: true });
    r.deleted = true;
    r.drained = delivered;
    this.stats.deletions++;
    if (held) this.stats.deletedWhileOpen++;
  }

  /** Finishes half-written events and stops writing. Files stay in place. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const f of this.files) {
      this.finishPending(f);
      fs.closeSync(f.fd);
    }
    this.files.forEach((f) => this.o.ledger.wrote(f.tag, f.seq));
  }

  /** Events written so far (complete ones). */
  get written(): number {
    return this.files.reduce((n, f) => n + f.seq - (f.pending ? 1 : 0), 0);
  }
}
