/**
 * The log source of one `logs[]` entry: discovery + one follower per matched path + the
 * integrator's per-file operator chain, merged into one Observable of batches.
 *
 * Promises:
 * - Subscribing starts it (first scan, watchers, rescans); unsubscribing stops reading (acks of
 *   batches already emitted still advance checkpoints until `stop()`).
 * - Start positions (§2.3): checkpoint → resume; else files of the FIRST scan start at their end
 *   unless `copy_from_start` (or at `initialPositions[path]`, the agent's own logs); files found
 *   by any later scan start at byte 0.
 * - Bytes are skipped only when `skip_too_far_behind` is true (then Scalyr's
 *   `max_log_offset_size` / `max_existing_log_offset_size` apply); every skip is counted with a
 *   reason (`counters.dropped[reason]` = occurrences, `status()[].skipped[reason]` = bytes).
 * - A per-file chain that errors is counted and logged; that file is restarted from its
 *   checkpoint at the next scan (nothing acknowledged is lost, nothing unacknowledged skipped).
 * - `stop()` is idempotent and bounded by `deadlineMs`: stops reading, closes handles, watchers
 *   and timers, returns unacknowledged credits, flushes the checkpoint store.
 */
import { promises as fsp } from 'node:fs';
import { Observable, type OperatorFunction, type SchedulerLike, type Subscriber, type Subscription, tap } from 'rxjs';
import type { Batch, ComponentCounters, Logger, Stream } from '../../lib/types.js';
import type { Credits } from '../../lib/pipeline/credits.js';
import type { ReadBuffers } from '../../lib/pipeline/readBuffers.js';
import type { CheckpointStore } from '../../lib/checkpoints/store.js';
import type { LogEntryConfig } from '../../lib/config/types.js';
import { countDrop, countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';
import { readDeclared } from '../../lib/component.js';
import { FileDiscovery } from './discover.js';
import { FILE_SOURCE_OPTIONS } from './options.js';
import { fileAttributes } from './streamAttrs.js';
import { Follower } from './follower.js';
import type { Tailer } from './tailer.js';

/** The agent options the source reads (Scalyr names; seconds where Scalyr uses seconds). */
export interface LogSourceAgentOptions {
  max_line_size?: number;
  read_page_size?: number;
  line_completion_wait_time?: number;
  log_deletion_delay?: number;
  max_new_log_detection_time?: number;
  skip_too_far_behind?: boolean;
  max_log_offset_size?: number;
  max_existing_log_offset_size?: number;
  copy_staleness_threshold?: number;
  [extra: string]: unknown;
}

export interface LogSourceContext {
  credits: Credits;
  /** Reusable read pages shared by all files (optional; lib/pipeline/readBuffers.ts). */
  readBuffers?: ReadBuffers;
  checkpoints: CheckpointStore;
  logger: Logger;
  /** Global options (`max_line_size`, `read_page_size`, `line_completion_wait_time`, `log_deletion_delay`, `max_new_log_detection_time`…). */
  agent: LogSourceAgentOptions;
  /**
   * True at agent start (and for entries present at start). Entries added by a reload pass
   * false; either way files of the entry's first scan start at their END unless
   * `copy_from_start` (Scalyr's rule), so the flag is informational.
   */
  startup: boolean;
  /**
   * File attributes incl. `logfile`, for a real path. Default: the entry's `attributes`,
   * `parser` and `rename_logfile` (streamAttrs.ts); a caller may replace it.
   */
  streamAttrs?: (realPath: string) => Record<string, string>;
  /**
   * The integrator's per-file chain (parsing, grouping, sampling, redaction…), applied per
   * incarnation. Its `lineLimit`, when set, is the longest line the chain takes whole (a json or
   * cri parser's `internal_parse_max_line_size`): lines are cut at the larger of it and
   * `max_line_size`.
   */
  perFile: PerFileChain;
  /** Start offsets for files without checkpoint (the agent's own logs start where they were at process start). */
  initialPositions?: Record<string, number>;
  /** Fallback stat poll of idle files in ms (default 10000 with watchers, whose events wake tailers at once; 1000 without). */
  pollIntervalMs?: number;
  /** Watch the pattern's directories with inotify (default true). */
  watch?: boolean;
  /** Scheduler for the partial-line timers (tests). */
  scheduler?: SchedulerLike;
}

/** The per-file chain, with the longest line it takes whole (see {@link LogSourceContext.perFile}). */
export type PerFileChain = ((stream: Stream) => OperatorFunction<Batch, Batch>) & { lineLimit?: number };

/** Status of one matched file (acknowledged progress). */
export interface FileStatus {
  path: string;
  /** Acknowledged bytes / lines since this source started. */
  copiedBytes: number;
  copiedLines: number;
  /** Bytes in the file(s) not yet acknowledged. */
  pendingBytes: number;
  /** Bytes skipped (all reasons) and by reason. */
  skippedBytes: number;
  skipped: Record<string, number>;
  /** Epoch ms of the last path check (0 = never). */
  lastChecked: number;
  /** Epoch ms of the last acknowledgement that moved the offset (0 = none since start). */
  lastAcked: number;
  /** Bytes are pending and nothing was acknowledged for `copy_staleness_threshold` seconds (reported, never skipped). */
  stalled: boolean;
  /** Open incarnations (current + rotated ones being drained or awaiting acks). */
  incarnations: number;
  error?: string;
}

export interface LogSource {
  batches$: Observable<Batch>;
  status(): FileStatus[];
  counters: ComponentCounters;
  stop(deadlineMs?: number): Promise<void>;
  /** Resolves after the first scan and the start positions of its files are settled. */
  ready(): Promise<void>;
  /** Runs a discovery pass now. */
  rescan(): Promise<void>;
  /**
   * Stops reading, writes every file's checkpoint and gives the files up (a successor source for
   * the same entry may claim them now), keeping handles open until `stop()`. Used when a reload
   * restarts the entry: the successor resumes from the checkpoints, and can still reach a file
   * rotated away and deleted in between through the still-open handle.
   */
  detach(): Promise<void>;
  /**
   * Sequence ids of the checkpointed incarnations this source found again and reads on from their
   * checkpoint (after a reload: the predecessor's queued batches of those streams are re-read).
   */
  resumedSeqIds(): ReadonlySet<string>;
}

/**
 * Every option the source reads, read here, once, at creation: exactly those declared in
 * options.ts (absent ones take the declared default, so a partial config works).
 */
function readOptions(entryConfig: LogEntryConfig, agentConfig: LogSourceAgentOptions) {
  const decl = { options: FILE_SOURCE_OPTIONS };
  const e = readDeclared(decl, entryConfig);
  const a = readDeclared(decl, agentConfig, 'global');
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);
  const skipBehind = a.skip_too_far_behind === true;
  return {
    path: String(e.path),
    exclude: (e.exclude as string[] | undefined) ?? [],
    copyFromStart: e.copy_from_start === true,
    staleMs: e.ignore_stale_files === true ? Math.max(0, num(e.staleness_threshold_secs)) * 1000 : undefined,
    attrs: { attributes: e.attributes as Record<string, string> | undefined, parser: e.parser, rename_logfile: e.rename_logfile as LogEntryConfig['rename_logfile'] },
    readPageSize: Math.max(1, num(a.read_page_size)),
    maxLineSize: Math.max(1, num(a.max_line_size)),
    lineCompletionWaitMs: Math.max(0, num(a.line_completion_wait_time)) * 1000,
    logDeletionDelayMs: Math.max(0, num(a.log_deletion_delay)) * 1000,
    rescanMs: Math.max(0.01, num(a.max_new_log_detection_time)) * 1000,
    stalledMs: Math.max(0, num(a.copy_staleness_threshold)) * 1000,
    maxNewBehind: skipBehind ? num(a.max_log_offset_size) || undefined : undefined,
    maxExistingBehind: skipBehind ? num(a.max_existing_log_offset_size) || undefined : undefined,
  };
}

export function createLogSource(entryConfig: LogEntryConfig, ctx: LogSourceContext): LogSource {
  const counters = createCounters();
  const o = readOptions(entryConfig, ctx.agent);
  const entry = { path: o.path, exclude: o.exclude };
  const { readPageSize, lineCompletionWaitMs, logDeletionDelayMs, rescanMs, stalledMs, maxNewBehind, maxExistingBehind, staleMs } = o;
  // A chain whose parser takes longer whole lines (json/cri) gets them; what it emits is cut to max_line_size.
  const lineLimit = ctx.perFile.lineLimit;
  const maxLineSize = lineLimit !== undefined && Number.isFinite(lineLimit) && lineLimit > o.maxLineSize ? Math.floor(lineLimit) : o.maxLineSize;
  const attrsOf = ctx.streamAttrs ?? fileAttributes(o.attrs, ctx.logger);
  const startedAt = Date.now();

  const followers = new Map<string, Follower>();
  const resumed = new Set<string>();
  const skippedByPath = new Map<string, Record<string, number>>();
  const problems = new Map<string, string>();
  const innerSubs = new Set<Subscription>();
  const pendingReady: Promise<void>[] = [];
  const adding = new Set<string>();
  let subscriber: Subscriber<Batch> | undefined;
  let discovery: FileDiscovery | undefined;
  let firstScan: Promise<void> | undefined;
  let halted = false;
  let lastEventScan = 0;
  let haltDone: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  const subscribeTailer = (realPath: string, t: Tailer) => {
    if (!subscriber || halted) return;
    let chain: Observable<Batch>;
    try {
      chain = t.batches$.pipe(
        tap((b) => {
          counters.receivedEvents += b.events.length;
          for (const e of b.events) counters.receivedBytes += messageBytes(e.message);
        }),
        ctx.perFile(t.stream),
      );
    } catch (err) {
      return chainFailed(realPath, err);
    }
    const sub: Subscription = chain.subscribe({
      next: (b) => {
        counters.sentEvents += b.events.length;
        for (const e of b.events) counters.sentBytes += messageBytes(e.message);
        subscriber?.next(b);
      },
      error: (err) => {
        innerSubs.delete(sub);
        chainFailed(realPath, err);
      },
      complete: () => innerSubs.delete(sub),
    });
    if (!sub.closed) innerSubs.add(sub);
  };

  const chainFailed = (realPath: string, err: unknown) => {
    countError(counters, err);
    ctx.logger.error(`Processing ${realPath} failed: ${errorMessage(err)}; it restarts from its checkpoint at the next scan.`);
    const f = followers.get(realPath);
    if (f) {
      followers.delete(realPath);
      void f.stop().finally(() => ctx.checkpoints.release(realPath, owner));
    }
  };

  const owner = {};
  const addFollower = (realPath: string, initial: boolean) => {
    if (!ctx.checkpoints.claim(realPath, owner)) {
      if (!problems.has(realPath)) ctx.logger.warn(`Skipping ${realPath} (${entry.path}): already tailed by another logs[] entry; retried at the next scan.`);
      problems.set(realPath, 'already tailed by another logs[] entry');
      return;
    }
    problems.delete(realPath);
    let attrs: Record<string, string>;
    try {
      attrs = attrsOf(realPath);
    } catch (err) {
      countError(counters, err);
      attrs = { logfile: realPath };
    }
    const init = ctx.initialPositions?.[realPath];
    const startAt = init !== undefined ? init : initial && !o.copyFromStart ? 'end' : 'start';
    const f: Follower = new Follower({
      realPath,
      streamPath: attrs.logfile ?? realPath,
      attrs,
      credits: ctx.credits,
      readBuffers: ctx.readBuffers,
      checkpoints: ctx.checkpoints,
      logger: ctx.logger,
      readPageSize,
      maxLineSize,
      lineCompletionWaitMs,
      logDeletionDelayMs,
      pollMs: ctx.pollIntervalMs ?? (ctx.watch === false ? 1000 : 30_000),
      startAt,
      maxNewBehind,
      maxExistingBehind,
      staleMs,
      scheduler: ctx.scheduler,
      onTailer: (t) => subscribeTailer(realPath, t),
      onResumed: (seqId) => resumed.add(seqId),
      onSkip: (reason, bytes) => {
        countDrop(counters, reason);
        const s = skippedByPath.get(realPath) ?? {};
        s[reason] = (s[reason] ?? 0) + bytes;
        skippedByPath.set(realPath, s);
      },
      onDone: () => {
        if (followers.get(realPath) === f) followers.delete(realPath);
        void f.stop().finally(() => ctx.checkpoints.release(realPath, owner));
      },
    });
    followers.set(realPath, f);
    void f.start();
    if (initial) pendingReady.push(f.ready);
  };

  const halt = (): Promise<void> => {
    if (haltDone) return haltDone;
    halted = true;
    haltDone = (async () => {
      await discovery?.stop();
      await Promise.all([...followers.values()].map((f) => f.halt()));
      for (const s of innerSubs) s.unsubscribe();
      innerSubs.clear();
    })();
    return haltDone;
  };

  const batches$ = new Observable<Batch>((sub) => {
    if (subscriber || halted) {
      sub.error(new Error(`log source ${entry.path}: already started (subscribe once)`));
      return;
    }
    subscriber = sub;
    discovery = new FileDiscovery({
      pattern: entry.path,
      excludes: entry.exclude,
      logger: ctx.logger,
      rescanMs,
      watch: ctx.watch,
      onMatches: (files, initial) => {
        if (halted) return;
        for (const f of files) {
          if (followers.has(f) || adding.has(f)) continue;
          if (staleMs === undefined) addFollower(f, initial);
          else {
            // ignore_stale_files: files not modified within staleness_threshold_secs are not opened.
            adding.add(f);
            const check = fsp.stat(f).then(
              (st) => {
                adding.delete(f);
                if (!halted && !followers.has(f) && Date.now() - st.mtimeMs <= staleMs) addFollower(f, initial);
              },
              () => {
                adding.delete(f);
              },
            );
            if (initial) pendingReady.push(check);
          }
        }
      },
      onFileEvent: (p) => {
        const f = followers.get(p);
        if (f) return f.wake();
        // A matching file we do not follow changed (closed as stale, or not seen yet): rescan soon, at most once a second.
        const now = Date.now();
        if (now - lastEventScan >= 1000) {
          lastEventScan = now;
          void discovery?.rescan();
        }
      },
      onProblems: (list) => {
        for (const p of list) {
          if (!problems.has(p.path)) ctx.logger.warn(`Skipping ${p.path} (${entry.path}): ${p.error}; retried at the next scan.`);
          problems.set(p.path, p.error);
        }
      },
    });
    firstScan = discovery.start().catch((err) => {
      countError(counters, err);
      ctx.logger.error(`Scanning ${entry.path} failed: ${errorMessage(err)}`);
    });
    return () => void halt();
  });

  return {
    batches$,
    counters,
    async ready() {
      while (!firstScan) await new Promise((r) => setTimeout(r, 5));
      await firstScan;
      for (let n = -1; n !== pendingReady.length; ) {
        n = pendingReady.length;
        await Promise.all(pendingReady.slice());
      }
    },
    rescan: () => discovery?.rescan() ?? Promise.resolve(),
    status(): FileStatus[] {
      const out: FileStatus[] = [];
      const now = Date.now();
      for (const [p, f] of followers) {
        const c = f.copied();
        out.push({
          path: p,
          copiedBytes: c.bytes,
          copiedLines: c.lines,
          pendingBytes: c.pending,
          skippedBytes: f.skippedBytes,
          skipped: { ...(skippedByPath.get(p) ?? {}) },
          lastChecked: f.lastChecked,
          lastAcked: c.lastAckTime,
          stalled: c.pending > 0 && now - Math.max(c.lastAckTime, startedAt) > stalledMs,
          incarnations: f.incs.length + f.retired.length,
          ...(f.error || f.pathProblem ? { error: f.error ?? f.pathProblem } : {}),
        });
      }
      for (const [p, error] of problems) {
        if (!followers.has(p)) out.push({ path: p, copiedBytes: 0, copiedLines: 0, pendingBytes: 0, skippedBytes: 0, skipped: {}, lastChecked: 0, lastAcked: 0, stalled: false, incarnations: 0, error });
      }
      return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    },
    resumedSeqIds: () => resumed,
    async detach(): Promise<void> {
      await halt();
      await Promise.all([...followers.values()].map((f) => f.detach()));
      for (const p of followers.keys()) ctx.checkpoints.release(p, owner);
    },
    stop(deadlineMs = 5000): Promise<void> {
      stopping ??= (async () => {
        await halt();
        await Promise.all([...followers.values()].map((f) => f.stop()));
        for (const p of followers.keys()) ctx.checkpoints.release(p, owner);
        await ctx.checkpoints.flush();
        subscriber?.complete();
      })().catch((err) => {
        countError(counters, err);
        ctx.logger.error(`Stopping ${entry.path}: ${errorMessage(err)}`);
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((r) => {
        timer = setTimeout(r, Math.max(0, deadlineMs));
        timer.unref?.();
      });
      return Promise.race([stopping, deadline]).finally(() => clearTimeout(timer));
    },
  };
}
