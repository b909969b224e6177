/**
 * Follower: everything that happens at ONE matched path over time (Scalyr's LogFileIterator).
 *
 * It owns the path's incarnations (tailers), reads them strictly in order (a rotated-away file is
 * drained to its end before the new file at the path is read), detects rotation, truncation
 * and deletion by `stat`ing the path when the current reader is at its end, and checkpoints
 * the acknowledged offsets of every incarnation that still has unacknowledged bytes.
 *
 * Rotation cases (§2.4):
 * - rename + create: the path shows a new dev/inode → the old handle is drained (one more read
 *   after the rotation was seen), then the new file is read from byte 0;
 * - copytruncate: same inode, smaller (or different first bytes, checked at each look and after
 *   every read, so a file rewritten past our offset while we waited is not read as an append) →
 *   the copy is looked up with Scalyr's name/ctime heuristics (+ our fingerprint check); its
 *   unread tail is read through the SAME stream (same sequence id, offsets continue), then the
 *   truncated file from 0. No copy found: the unread bytes are counted as skipped
 *   (`copytruncate_copy_not_found`);
 * - truncation in place: as copytruncate without a copy; what was read is still delivered;
 * - deletion: the handle stays open and is read to its end; after `log_deletion_delay` the
 *   follower ends (and, once everything is acknowledged, its checkpoint is removed);
 * - replaced or rotated while sluice was stopped: resolved at start from the checkpoint (the
 *   old inode is searched for in the directory and drained first; fingerprints guard against
 *   inode reuse).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { SchedulerLike } from 'rxjs';
import type { Logger } from '../../lib/types.js';
import type { Credits } from '../../lib/pipeline/credits.js';
import type { ReadBuffers } from '../../lib/pipeline/readBuffers.js';
import type { CheckpointStore } from '../../lib/checkpoints/store.js';
import type { CheckpointEntry, IncarnationCheckpoint } from '../../lib/checkpoints/types.js';
import { errorMessage } from '../../lib/counters.js';
import { Tailer } from './tailer.js';
import { fingerprintMatches, sameHead } from './fingerprint.js';

import { findByInode, findCopiesSince, findRotatedCopy } from './copytruncate.js';

/** How long a watcher event waits for more writes before the file is read (see `sleep`). */
const WAKE_COALESCE_MS = 20;

/** Finished, not yet acknowledged incarnations whose handles a follower keeps open (see retire). */
const OPEN_RETIRED_MAX = 64;

export interface FollowerOptions {
  realPath: string;
  streamPath: string;
  attrs: Record<string, string>;
  credits: Credits;
  /** Reusable read pages shared by all files (optional). */
  readBuffers?: ReadBuffers;
  checkpoints: CheckpointStore;
  logger: Logger;
  readPageSize: number;
  maxLineSize: number;
  lineCompletionWaitMs: number;
  logDeletionDelayMs: number;
  /** Fallback poll interval while idle (events from the watcher wake earlier). */
  pollMs: number;
  /** Where to start without a checkpoint: 'end', 'start' or an offset. */
  startAt: 'end' | 'start' | number;
  /** `ignore_stale_files`: close the follower (keeping its checkpoint) once the file was not modified for this long and all is acknowledged. */
  staleMs?: number;
  /** Scalyr's "too far behind" skip (only when `skip_too_far_behind`). */
  maxNewBehind?: number;
  maxExistingBehind?: number;
  scheduler?: SchedulerLike;
  /** A new incarnation's batches are ready to subscribe. */
  onTailer: (t: Tailer) => void;
  /** Bytes skipped, with the reason. */
  onSkip: (reason: string, bytes: number) => void;
  /** A checkpointed incarnation was found again and is read on from its position (its sequence id). */
  onResumed?: (seqId: string) => void;
  /** The follower ended (deleted for longer than the delay, everything acknowledged). */
  onDone: () => void;
}

export class Follower {
  /** Incarnations in reading order; the last one is the file currently at the path. */
  readonly incs: Tailer[] = [];
  /** Finished incarnations still waiting for acknowledgements. */
  readonly retired: Tailer[] = [];
  lastChecked = 0;
  error?: string;
  /** What is at the path when it is not a regular file (a directory…); cleared once a file is back. */
  pathProblem?: string;
  skippedBytes = 0;
  copiedBytesBefore = 0;
  copiedLinesBefore = 0;
  private lastAckTime = 0;
  done = false;
  private deletedAt?: number;
  private stopped = false;
  /** Set by `detach()`: a successor owns the checkpoint now. */
  private detached = false;
  /** inode:size:mtime of the path at the last check (see checkPath). */
  private lastSig?: string;
  private halted = false;
  private wakeUp?: () => void;
  private running?: Promise<void>;
  private readonly usedIds = new Set<string>();
  private doneSignalled = false;
  private keepCheckpoint = false;
  private wokenEarly = false;
  /** Sleeps since the last activity: polls back off from 50 ms to pollMs (events may coalesce a create and its first write). */
  private idleSleeps = 0;
  private readySignal!: () => void;
  /** Resolves once the start position is decided (or the loop ended). */
  readonly ready = new Promise<void>((r) => (this.readySignal = r));

  constructor(readonly o: FollowerOptions) {}

  /** Starts the read loop (resolves when it ends). */
  start(): Promise<void> {
    this.running ??= this.run()
      .catch((err) => {
        this.error = errorMessage(err);
        this.o.logger.error(`Reading ${this.o.realPath} failed: ${this.error}`);
      })
      .finally(() => this.readySignal());
    return this.running;
  }

  /** Wakes the loop (a watcher saw a change). */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    if (w) w();
    else this.wokenEarly = true; // busy: the next sleep returns at once
  }

  /** Stops reading (acks still count). Resolves when the loop has ended. */
  async halt(): Promise<void> {
    this.halted = true;
    for (const t of this.incs) t.cancel();
    this.wake();
    await this.running;
  }

  /**
   * Halts and writes the checkpoint, then stops recording: a successor (the same entry restarted
   * by a reload) takes the file over from the checkpoint. Handles stay open until `stop()`, so
   * the successor can still reach a file that was rotated away and deleted meanwhile (through
   * /proc/self/fd, see `findByInode`).
   */
  async detach(): Promise<void> {
    await this.halt();
    this.writeCheckpoint();
    this.detached = true;
  }

  /** Halts, writes the final checkpoint, returns held credits, closes every handle. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.halt();
    this.writeCheckpoint();
    this.stopped = true;
    for (const t of [...this.retired, ...this.incs]) await t.close(true);
  }

  /** Sum over live incarnations (status). */
  copied(): { bytes: number; lines: number; pending: number; lastAckTime: number } {
    let bytes = this.copiedBytesBefore;
    let lines = this.copiedLinesBefore;
    let pending = 0;
    let lastAckTime = this.lastAckTime;
    for (const t of [...this.retired, ...this.incs]) {
      bytes += t.acked - t.startPos;
      lines += t.ackedLines;
      pending += Math.max(0, Math.max(t.size, t.readPos) - t.acked);
      lastAckTime = Math.max(lastAckTime, t.lastAckTime);
    }
    return { bytes, lines, pending, lastAckTime };
  }

  private async run(): Promise<void> {
    await this.init();
    this.writeCheckpoint();
    this.readySignal();
    let justChecked = false;
    while (!this.halted) {
      const t = this.incs[0];
      if (!t) {
        await this.checkPath();
        if (this.incs[0]) continue;
        if (this.deletionExpired()) return this.end();
        await this.sleep();
        continue;
      }
      if (t.frozen) {
        this.retire(t);
        continue;
      }
      let r;
      try {
        r = await t.readOnce();
      } catch (err) {
        const msg = `read: ${errorMessage(err)}`;
        if (this.error !== msg) this.o.logger.warn(`Reading ${t.path} failed: ${errorMessage(err)}; retrying.`);
        this.error = msg;
        await this.sleep();
        continue;
      }
      if (r === 'stopped' || this.halted) break;
      this.error = undefined;
      if (r === 'replaced') {
        // Truncated and rewritten under the reader: the copy (if any) holds the rest.
        justChecked = false;
        this.lastSig = undefined;
        await this.handleShrink(t, t === this.incs[this.incs.length - 1] && !t.rotatedAway);
        continue;
      }
      if (r === 'data') {
        justChecked = false;
        this.idleSleeps = 0;
        this.checkBehind(t, this.o.maxExistingBehind);
        continue;
      }
      if (t.rotatedAway) {
        this.retire(t);
        continue;
      }
      if (!justChecked) await this.checkPath();
      justChecked = false;
      if (this.incs[0] !== t || t.rotatedAway || t.frozen || t.unread > 0) continue;
      if (this.deletionExpired()) {
        this.retire(t);
        return this.end();
      }
      if (this.o.staleMs && t.fullyAcked && this.incs.length === 1 && this.retired.length === 0) {
        const st = await fsp.stat(this.o.realPath).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs > this.o.staleMs) {
          this.o.logger.info(`${this.o.realPath} is stale (not modified for ${Math.round(this.o.staleMs / 1000)} s); closing it.`);
          this.keepCheckpoint = true;
          this.retire(t);
          return this.end();
        }
      }
      await this.sleep();
      // Look at the path before reading again: a truncate-and-rewrite must not be read as an append.
      if (!this.halted) await this.checkPath();
      justChecked = true;
    }
  }

  private deletionExpired(): boolean {
    return this.deletedAt !== undefined && Date.now() - this.deletedAt >= this.o.logDeletionDelayMs;
  }

  private end(): void {
    this.done = true;
    this.maybeForget();
  }

  /**
   * Waits at the end of the file: for the poll interval (growing while idle), or until a watcher
   * event. An event is followed by a short coalescing wait (`WAKE_COALESCE_MS`), so a file that
   * receives thousands of small writes a second is read, and its path checked, once per window
   * instead of once per write (the cost per event of a live tail; at most that much latency).
   */
  private sleep(): Promise<void> {
    if (this.halted) return Promise.resolve();
    if (this.wokenEarly) {
      this.wokenEarly = false;
      return this.coalesce();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, Math.min(this.o.pollMs, 50 * 2 ** Math.min(this.idleSleeps++, 16)));
      timer.unref?.();
      this.wakeUp = () => {
        clearTimeout(timer);
        void this.coalesce().then(resolve);
      };
    });
  }

  /** The coalescing wait after a watcher event (none while halting). */
  private coalesce(): Promise<void> {
    if (this.halted) return Promise.resolve();
    return new Promise<void>((resolve) => setTimeout(resolve, WAKE_COALESCE_MS).unref?.());
  }

  private checkBehind(t: Tailer, limit: number | undefined): void {
    if (limit === undefined || limit <= 0) return;
    const behind = t.size - t.readPos;
    if (behind > limit) {
      this.skip(t, 'too_far_behind', behind);
      this.o.logger.warn(`Skipped copying ${behind} bytes in '${this.o.realPath}' due to: Too far behind end of log (limit ${limit} bytes).`);
      t.skipTo(t.size);
    }
  }

  private skip(_t: Tailer | undefined, reason: string, bytes: number): void {
    bytes = Math.max(0, bytes);
    this.skippedBytes += bytes;
    this.o.onSkip(reason, bytes);
  }

  /** Creates a tailer on an open handle and announces it. */
  private async addTailer(
    file: { path: string; fh: fsp.FileHandle; dev: number; ino: number },
    start: number,
    seqId: string,
    rotatedAway: boolean,
  ): Promise<Tailer> {
    let id = `file:${this.o.realPath}#${file.dev}:${file.ino}`;
    if (this.usedIds.has(id)) {
      let n = 1;
      while (this.usedIds.has(`${id}~${n}`)) n++;
      id = `${id}~${n}`;
    }
    this.usedIds.add(id);
    const t = new Tailer({
      ...file,
      start,
      seqId,
      streamId: id,
      streamPath: this.o.streamPath,
      attrs: this.o.attrs,
      credits: this.o.credits,
      readBuffers: this.o.readBuffers,
      readPageSize: this.o.readPageSize,
      maxLineSize: this.o.maxLineSize,
      lineCompletionWaitMs: this.o.lineCompletionWaitMs,
      scheduler: this.o.scheduler,
      onAck: (x) => this.onAck(x),
    });
    await t.init();
    t.rotatedAway = rotatedAway;
    this.incs.push(t);
    this.o.onTailer(t);
    return t;
  }

  private async openPath(): Promise<{ path: string; fh: fsp.FileHandle; dev: number; ino: number; size: number } | undefined> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.o.realPath, 'r');
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        this.notAFile(st);
        return undefined;
      }
      this.pathProblem = undefined;
      return { path: this.o.realPath, fh, dev: st.dev, ino: st.ino, size: st.size };
    } catch (err) {
      await fh?.close().catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'EPERM') this.error = errorMessage(err);
      return undefined;
    }
  }

  /** The path holds a directory, fifo or socket: reported once (log and status), looked at again at each check. */
  private notAFile(st: { isDirectory(): boolean }): void {
    const msg = `not a regular file (${st.isDirectory() ? 'a directory' : 'a fifo, socket or device'}); waiting for a file at this path`;
    if (this.pathProblem !== msg) this.o.logger.warn(`${this.o.realPath}: ${msg}.`);
    this.pathProblem = msg;
  }

  /** Where reading starts: checkpoint, else the start rule. */
  private async init(): Promise<void> {
    const entry = this.o.checkpoints.get(this.o.realPath);
    if (entry) return this.resume(entry);
    const f = await this.openPath();
    if (!f) {
      this.deletedAt = Date.now();
      return;
    }
    const s = this.o.startAt;
    const start = s === 'end' ? f.size : s === 'start' ? 0 : Math.min(s, f.size);
    const t = await this.addTailer(f, start, randomUUID(), false);
    this.checkBehind(t, this.o.maxNewBehind);
  }

  private async resume(entry: CheckpointEntry): Promise<void> {
    const dir = path.dirname(this.o.realPath);
    const resumeAt = async (f: { path: string; fh: fsp.FileHandle; dev: number; ino: number }, position: number, seqId: string, rotatedAway: boolean) => {
      await this.addTailer(f, position, seqId, rotatedAway);
      this.o.onResumed?.(seqId);
    };
    const taken = new Set<string>();
    const reopen = async (c: IncarnationCheckpoint) => {
      if (c.path) {
        const fh = await fsp.open(c.path, 'r').catch(() => undefined);
        if (fh) {
          const st = await fh.stat().catch(() => undefined);
          if (st && st.ino === c.inode && (c.dev === undefined || st.dev === c.dev) && (await fingerprintMatches(fh, c.fingerprint).catch(() => false))) {
            return { path: c.path, fh, dev: st.dev, ino: st.ino, size: st.size };
          }
          await fh.close().catch(() => undefined);
        }
      }
      const found = await findByInode(dir, c.inode, c.dev, c.fingerprint);
      if (!found) return undefined;
      const st = await found.fh.stat();
      return { ...found, size: st.size };
    };
    for (const p of entry.pending_files ?? []) {
      const f = await reopen(p);
      if (!f || f.size < p.position) {
        await f?.fh.close();
        this.skip(undefined, 'rotated_file_not_found', Math.max(0, (p.last_known_size ?? 0) - p.position));
        this.o.logger.warn(`A rotated file of ${this.o.realPath} (inode ${p.inode}) could not be found again; its unread bytes are lost.`);
        continue;
      }
      taken.add(`${f.dev}:${f.ino}`);
      await resumeAt(f, p.position, p.sequence_id, true);
    }
    const cur = await this.openPath();
    const same = cur && cur.ino === entry.inode && (entry.dev === undefined || cur.dev === entry.dev);
    if (cur && same && !entry.fingerprint && (await this.resumeFromCopiesSince(entry, cur, taken, resumeAt))) return;
    if (cur && same) {
      const fpOk = await fingerprintMatches(cur.fh, entry.fingerprint).catch(() => false);
      if (fpOk && cur.size >= entry.position) {
        await resumeAt(cur, entry.position, entry.sequence_id, false);
        return;
      }
      // Truncated (or rewritten) while stopped: copytruncate's copy may hold the tail.
      const copy = await findRotatedCopy(this.o.realPath, { fingerprint: entry.fingerprint, minSize: entry.position, exclude: (d, i) => d === cur.dev && i === cur.ino });
      if (copy) await resumeAt(copy, entry.position, entry.sequence_id, true);
      else {
        const lost = Math.max(0, (entry.last_known_size ?? entry.position) - entry.position);
        if (fpOk) this.skip(undefined, 'truncated_while_stopped', lost);
        else {
          this.skip(undefined, 'inode_reused', lost);
          this.o.logger.warn(`${this.o.realPath}: inode ${entry.inode} now holds different content (inode reuse or rewrite); reading it as a new file.`);
        }
      }
      await this.addTailer(cur, 0, randomUUID(), false);
      return;
    }
    // The file at the path is another one (rotated/replaced while stopped), or gone.
    const old = taken.has(`${entry.dev}:${entry.inode}`) ? undefined : await reopen(entry);
    if (old && old.size >= entry.position) await resumeAt(old, entry.position, entry.sequence_id, true);
    else {
      await old?.fh.close();
      this.skip(undefined, 'rotated_file_not_found', Math.max(0, (entry.last_known_size ?? entry.position) - entry.position));
      this.o.logger.warn(`${this.o.realPath} was replaced while sluice was stopped and the previous file (inode ${entry.inode}) was not found; its unread bytes are lost.`);
    }
    if (cur) await this.addTailer(cur, 0, randomUUID(), false);
    else this.deletedAt = Date.now();
  }

  /**
   * The file was empty when last checkpointed (no fingerprint), so its head cannot tell a
   * copytruncate while sluice was stopped from appends. Rotated copies of it made since then
   * hold what was written meanwhile: when the newest does not start like the file at the path
   * (it was truncated after the copy, not merely copied), they are read first, oldest first — the
   * first from the checkpoint on, the others as new incarnations — then the file from 0. True
   * when that was done.
   */
  private async resumeFromCopiesSince(
    entry: CheckpointEntry,
    cur: { path: string; fh: fsp.FileHandle; dev: number; ino: number; size: number },
    taken: ReadonlySet<string>,
    resumeAt: (f: { path: string; fh: fsp.FileHandle; dev: number; ino: number }, position: number, seqId: string, rotatedAway: boolean) => Promise<void>,
  ): Promise<boolean> {
    const copies = await findCopiesSince(this.o.realPath, entry.time * 1000, (d, i) => (d === cur.dev && i === cur.ino) || taken.has(`${d}:${i}`));
    const newest = copies[copies.length - 1];
    const truncated = newest !== undefined && (cur.size < newest.size || !(await sameHead(newest.fh, cur.fh)));
    if (!truncated) {
      await Promise.all(copies.map((c) => c.fh.close().catch(() => undefined)));
      return false;
    }
    let first = true;
    for (const c of copies) {
      if (first && c.size >= entry.position) {
        this.o.logger.info(`${this.o.realPath} was rotated by copytruncate while sluice was stopped; reading the rest from ${c.path}.`);
        await resumeAt(c, entry.position, entry.sequence_id, true);
        first = false;
      } else if (!first) await this.addTailer(c, 0, randomUUID(), true);
      else await c.fh.close().catch(() => undefined);
    }
    if (first) {
      // Truncated while stopped and no copy is long enough to hold the checkpointed incarnation.
      const lost = Math.max(0, (entry.last_known_size ?? entry.position) - entry.position);
      this.skip(undefined, 'truncated_while_stopped', lost);
      this.o.logger.warn(`${this.o.realPath} was truncated while sluice was stopped and no copy holds its unread bytes (${lost} bytes lost).`);
    }
    await this.addTailer(cur, 0, randomUUID(), false);
    return true;
  }

  /** Stat the path and react to rotation, truncation, deletion. */
  private async checkPath(): Promise<void> {
    this.lastChecked = Date.now();
    const last = this.incs[this.incs.length - 1];
    let st;
    try {
      st = await fsp.stat(this.o.realPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (this.deletedAt === undefined) {
        this.deletedAt = Date.now();
        this.o.logger.info(`${this.o.realPath} is gone (${code}); reading what is left, closing after ${this.o.logDeletionDelayMs / 1000} s.`);
      }
      return;
    }
    if (!st.isFile()) {
      // The file is gone from the path as surely as if deleted: what is left of it is read, and
      // it is closed after log_deletion_delay unless a file comes back.
      this.notAFile(st);
      this.deletedAt ??= Date.now();
      return;
    }
    this.deletedAt = undefined;
    this.pathProblem = undefined;
    if (!last || last.rotatedAway || st.ino !== last.ino || st.dev !== last.dev) {
      const f = await this.openPath();
      if (!f) return;
      if (last && !last.rotatedAway && f.ino === last.ino && f.dev === last.dev) {
        await f.fh.close(); // raced: same file after all
        return;
      }
      if (last && !last.rotatedAway) {
        // Truncated (copytruncate) and then renamed away before we looked: recover from the copy first.
        if (await last.shrunk().catch(() => false)) await this.handleShrink(last, false);
        else this.o.logger.info(`${this.o.realPath} was rotated (new inode ${f.ino}); draining the old file first.`);
        last.rotatedAway = true;
      }
      await this.addTailer(f, 0, randomUUID(), false);
      this.idleSleeps = 0;
      return;
    }
    // The head is re-read (rewrite check) only when size or mtime moved since the last look: an
    // idle file costs one stat per poll.
    const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
    const changed = sig !== this.lastSig;
    this.lastSig = sig;
    if (st.size < last.readPos || (changed && st.size > 0 && !(await last.headUnchanged().catch(() => true)))) {
      this.lastSig = undefined;
      await this.handleShrink(last);
    } else {
      if (st.size > last.size) last.size = st.size;
      last.sizeFresh = true;
    }
  }

  /** Same inode, content shrank or was replaced: copytruncate or truncation in place. */
  private async handleShrink(t: Tailer, openNew = true): Promise<void> {
    const unread = Math.max(0, t.size - t.readPos);
    const copy = await findRotatedCopy(this.o.realPath, {
      fingerprint: t.fingerprint,
      minSize: t.readPos,
      exclude: (d, i) => d === t.dev && i === t.ino,
    });
    if (copy) {
      await t.switchTo(copy);
      t.rotatedAway = true;
      this.o.logger.info(`${this.o.realPath} was rotated by copytruncate; reading the rest from ${copy.path}.`);
    } else {
      t.frozen = true;
      t.rotatedAway = true;
      if (unread > 0) {
        this.skip(t, 'copytruncate_copy_not_found', unread);
        this.o.logger.warn(
          `It appears that ${this.o.realPath} was rotated using copy-truncate but the copied file could not be found; ${unread} unread bytes are lost.`,
        );
      } else {
        // A copy that holds less than what was read: logrotate copied, the writer went on, then
        // the file was truncated. Whatever was written between the copy and the truncation and
        // not read yet is gone with the truncation (copytruncate's own window); say so.
        // (No fingerprint check: a copy shorter than the head we fingerprinted cannot match it.)
        const smaller = await findRotatedCopy(this.o.realPath, { exclude: (d, i) => d === t.dev && i === t.ino });
        if (smaller) {
          const size = (await smaller.fh.stat().catch(() => undefined))?.size ?? 0;
          await smaller.fh.close().catch(() => undefined);
          this.skip(t, 'copytruncate_window', 0); // counted (the number of bytes is unknown)
          this.o.logger.warn(
            `${this.o.realPath} was rotated by copytruncate to ${smaller.path} (${size} bytes), which holds less than the ${t.readPos} bytes already read: lines written between the copy and the truncation and not read yet are lost (logrotate's copytruncate window).`,
          );
        } else {
          this.o.logger.info(`${this.o.realPath} was truncated; reading it again from the start.`);
        }
      }
    }
    if (!openNew) return;
    const f = await this.openPath();
    if (f) await this.addTailer(f, 0, randomUUID(), false);
  }

  private retire(t: Tailer): void {
    const i = this.incs.indexOf(t);
    if (i >= 0) this.incs.splice(i, 1);
    t.finish();
    if (t.fullyAcked) {
      void t.close();
      this.absorb(t);
    } else {
      // The handle stays open until the bytes are acknowledged: if the file is deleted meanwhile,
      // a successor of this source (a reload) can still read it again (findByInode looks through
      // /proc/self/fd). At most OPEN_RETIRED_MAX such handles per path; the oldest closes first.
      this.retired.push(t);
      const open = this.retired.filter((x) => !x.closed);
      if (open.length > OPEN_RETIRED_MAX) void open[0].close();
    }
    this.writeCheckpoint();
  }

  /** Keeps the totals of a tailer that leaves the lists. */
  private absorb(t: Tailer): void {
    this.lastAckTime = Math.max(this.lastAckTime, t.lastAckTime);
    this.copiedBytesBefore += t.acked - t.startPos;
    this.copiedLinesBefore += t.ackedLines;
  }

  private onAck(t: Tailer): void {
    if (this.stopped || this.detached) return;
    const i = this.retired.indexOf(t);
    if (i >= 0 && t.fullyAcked) {
      this.retired.splice(i, 1);
      void t.close();
      this.absorb(t);
    }
    this.writeCheckpoint();
    this.maybeForget();
  }

  private maybeForget(): void {
    if (this.done && !this.doneSignalled && this.retired.length === 0 && this.incs.length === 0) {
      this.doneSignalled = true;
      if (!this.keepCheckpoint) this.o.checkpoints.remove(this.o.realPath);
      this.o.onDone();
    }
  }

  /** Entry = the newest incarnation + older ones that still have unacknowledged bytes. */
  writeCheckpoint(): void {
    if (this.stopped || this.detached) return;
    const live = [...this.retired, ...this.incs];
    const cur = live[live.length - 1];
    if (!cur) return;
    const pending = live.slice(0, -1).map((t) => ({ ...t.checkpoint(), is_log_file: false }));
    const entry: Omit<CheckpointEntry, 'time'> = { ...cur.checkpoint() };
    if (pending.length) entry.pending_files = pending;
    this.o.checkpoints.update(this.o.realPath, entry);
  }
}
