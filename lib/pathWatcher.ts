/**
 * A set of inotify watches (`fs.watch`) kept equal to a list of paths: directories (events name
 * the entry that changed) and single files. File discovery watches the directories a `logs[]`
 * pattern involves plus the symlinked files it matched (their writes land in the target's
 * directory); the config watcher watches the config file's directory and `agent.d/`.
 *
 * Promises:
 * - `sync(targets)` makes the set of watches equal to `targets`: new ones are added, those no
 *   longer named are closed. It returns how many were added, so the caller can scan once more
 *   for names created before the watch existed.
 * - Each event is handed over as it comes (`onEvent(target, kind, name)`), with no file system
 *   call of its own: a write to a followed file costs one callback, not a stat or a re-read of
 *   the directory. What an event means (wake a tailer, rescan) is the caller's business.
 * - A path that cannot be watched is skipped: gone or not a directory quietly (the next sync
 *   tries again), anything else (no inotify watches left, permission) logged once per path; the
 *   caller's periodic rescan and the tailers' polls cover what the missing watch would have seen.
 *   A watch that fails later is closed and reported as an event without a name, so the caller
 *   rescans; the next sync re-creates it.
 * - `close()` closes every watch; idempotent.
 *
 * Known limits: fs.watch is inotify on Linux, so events from other machines (NFS) do not arrive;
 * a directory reached through a symlink is watched at its target, so a symlink re-pointed
 * elsewhere is noticed at the next rescan.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from './types.js';
import { errorMessage } from './counters.js';

export interface WatchTarget {
  path: string;
  /** `dir`: the names in a directory; `file`: one file (a symlink, watched at its target). */
  kind: 'dir' | 'file';
}

/** `change`: content or metadata of `name` changed; `rename`: `name` appeared or went away; no name: rescan. */
export type WatchEvent = 'change' | 'rename';

export interface PathWatcherOptions {
  logger: Logger;
  onEvent: (target: WatchTarget, event: WatchEvent, name: string | undefined) => void;
}

export class PathWatcher {
  private readonly watches = new Map<string, { target: WatchTarget; w: FSWatcher }>();
  private readonly reported = new Set<string>();
  private closed = false;

  constructor(private readonly o: PathWatcherOptions) {}

  /** Number of live watches (status, tests). */
  get size(): number {
    return this.watches.size;
  }

  /** Watches exactly `targets`; returns how many watches were added. */
  sync(targets: WatchTarget[]): number {
    if (this.closed) return 0;
    const want = new Map<string, WatchTarget>();
    for (const t of targets) want.set(`${t.kind}:${t.path}`, t);
    for (const [key, { w }] of this.watches) {
      if (want.has(key)) continue;
      this.watches.delete(key);
      w.close();
    }
    let added = 0;
    for (const [key, target] of want) {
      if (this.watches.has(key)) continue;
      const w = this.open(key, target);
      if (!w) continue;
      this.watches.set(key, { target, w });
      added++;
    }
    return added;
  }

  private open(key: string, target: WatchTarget): FSWatcher | undefined {
    let w: FSWatcher;
    try {
      w = watch(target.path, { persistent: true, encoding: 'utf8' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && !this.reported.has(key)) {
        this.reported.add(key);
        this.o.logger.warn(`Cannot watch ${target.path}: ${errorMessage(err)} (changes there are found by the periodic rescan and polls).`);
      }
      return undefined;
    }
    this.reported.delete(key);
    w.on('change', (event: string, name: string | null) => {
      this.o.onEvent(target, event === 'change' ? 'change' : 'rename', name ?? undefined);
    });
    w.on('error', (err: unknown) => {
      // A watched directory removed, or inotify gave up on it: forget it, rescan; the next sync re-creates it.
      if (this.watches.get(key)?.w === w) this.watches.delete(key);
      w.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM') this.o.logger.warn(`Watching ${target.path} failed: ${errorMessage(err)} (periodic rescans continue).`);
      if (!this.closed) this.o.onEvent(target, 'rename', undefined);
    });
    return w;
  }

  /** Forgets one watch (its file was renamed away); the next sync re-creates it if still wanted. */
  drop(target: WatchTarget): void {
    const key = `${target.kind}:${target.path}`;
    const e = this.watches.get(key);
    if (!e) return;
    this.watches.delete(key);
    e.w.close();
  }

  /** Closes every watch. Idempotent. */
  close(): void {
    this.closed = true;
    for (const { w } of this.watches.values()) w.close();
    this.watches.clear();
  }
}
