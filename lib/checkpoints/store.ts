/**
 * The checkpoint store: acknowledged read positions of every tailed file, persisted in
 * `<agent_data_path>/checkpoints.json`.
 *
 * Promises:
 * - Only what callers `update()` is stored; the file source calls it from `stream.ack(end)`, so
 *   only ACKNOWLEDGED offsets are ever recorded.
 * - Writes are atomic and durable: write `checkpoints.json~`, fsync it, rename it over
 *   `checkpoints.json`, fsync the directory. A crash leaves the old or the new file, never a mix.
 * - Writes are coalesced: at most one per `flushIntervalMs` (1 s), plus `flush()`/`close()`.
 * - A write error (disk full, EIO, read-only fs) is counted and logged, never thrown; the previous
 *   file stays intact and the next update retries.
 * - A corrupt file (bad JSON, invalid UTF-8, wrong shape) is ignored with a warning and moved
 *   aside as `<name>.corrupt`; single bad entries are dropped with a warning.
 * - `maxAgeSecs` (`max_allowed_checkpoint_age`): 0 = never expire (sluice's default). When > 0,
 *   Scalyr's rule applies: a whole file older than that is ignored at open, and entries older
 *   than that are pruned when writing (entries without `time` are kept).
 * - Scalyr Agent 2's files in the same directory (`checkpoints-worker-*.json`,
 *   `active-checkpoints-worker-*.json`) are merged at open with Scalyr's rules (newest entry
 *   per path; an active file overrides its full file only when newer) and renamed `*.imported`.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ComponentCounters, Logger } from '../types.js';
import { countError, createCounters, errorMessage } from '../counters.js';
import { silentLogger } from '../logger.js';
import { normalizeEntry, parseCheckpointFile } from './normalize.js';
import type { CheckpointEntry, CheckpointFile } from './types.js';
import { fnmatchRegExp } from '../fnmatch.js';

export type { CheckpointEntry, CheckpointFile, IncarnationCheckpoint } from './types.js';

export interface CheckpointStoreOptions {
  logger?: Logger;
  /** `max_allowed_checkpoint_age` in seconds; 0 (default) = never expire. */
  maxAgeSecs?: number;
  /** Minimum milliseconds between two coalesced writes (default 1000). */
  flushIntervalMs?: number;
  /** File name inside the directory (default `checkpoints.json`). */
  fileName?: string;
  /** Clock in milliseconds (tests). */
  now?: () => number;
  /** fnmatch globs: entries for matching paths are dropped at open (`ignore_checkpoints_on_startup_path_globs`). */
  ignorePathGlobs?: string[];
}

/** Counters of the store itself (on top of the component counters' `errors`). */
export interface CheckpointStoreStats {
  writes: number;
  writeErrors: number;
  corruptFiles: number;
  lastWriteTime?: number;
}

interface LoadedFile {
  name: string;
  kind: 'main' | 'full' | 'active';
  session?: string;
  file: CheckpointFile;
}

export class CheckpointStore {
  readonly counters: ComponentCounters = createCounters();
  readonly stats: CheckpointStoreStats = { writes: 0, writeErrors: 0, corruptFiles: 0 };
  private readonly entries = new Map<string, CheckpointEntry>();
  private readonly owners = new Map<string, object>();
  private readonly logger: Logger;
  private readonly maxAgeSecs: number;
  private readonly flushIntervalMs: number;
  private readonly now: () => number;
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private closed = false;
  private writing: Promise<void> = Promise.resolve();
  private lastWrite = 0;

  private constructor(
    readonly dir: string,
    readonly file: string,
    opts: CheckpointStoreOptions,
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.maxAgeSecs = Math.max(0, opts.maxAgeSecs ?? 0);
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Opens (creating the directory if needed) and loads the checkpoints in `dir`. Never rejects for bad content. */
  static async open(dir: string, opts: CheckpointStoreOptions = {}): Promise<CheckpointStore> {
    const store = new CheckpointStore(dir, path.join(dir, opts.fileName ?? 'checkpoints.json'), opts);
    await fsp.mkdir(dir, { recursive: true });
    await store.load(opts.ignorePathGlobs ?? []);
    return store;
  }

  /** The stored entry for a path, if any. */
  get(p: string): CheckpointEntry | undefined {
    return this.entries.get(p);
  }

  /**
   * Marks a path as tailed by `owner` (one log source). False when another live owner holds it:
   * two `logs[]` entries must not tail (and checkpoint) the same file (Scalyr matches a path once).
   */
  claim(p: string, owner: object): boolean {
    const cur = this.owners.get(p);
    if (cur && cur !== owner) return false;
    this.owners.set(p, owner);
    return true;
  }

  /** Gives up a claim (the follower ended or the source stopped). */
  release(p: string, owner: object): void {
    if (this.owners.get(p) === owner) this.owners.delete(p);
  }

  /** Every path with an entry. */
  paths(): string[] {
    return [...this.entries.keys()];
  }

  /** Records an entry (its `time` is set to now) and schedules a coalesced write. */
  update(p: string, entry: Omit<CheckpointEntry, 'time'> & { time?: number }): void {
    if (this.closed) return;
    this.entries.set(p, { ...entry, time: this.now() / 1000 } as CheckpointEntry);
    this.markDirty();
  }

  /** Forgets a path (file gone and fully acknowledged). */
  remove(p: string): void {
    if (this.closed) return;
    if (this.entries.delete(p)) this.markDirty();
  }

  /** Writes now if anything changed. Never rejects. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => this.writeIfDirty());
    return this.writing;
  }

  /** Final flush; later updates are ignored. Idempotent. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return this.writing;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private markDirty(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    const wait = Math.max(0, this.lastWrite + this.flushIntervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
    this.timer.unref?.();
  }

  private async writeIfDirty(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    this.lastWrite = this.now();
    const nowSecs = this.now() / 1000;
    if (this.maxAgeSecs > 0) {
      for (const [p, e] of this.entries) {
        if (typeof e.time === 'number' && e.time < nowSecs - this.maxAgeSecs) this.entries.delete(p);
      }
    }
    const body: CheckpointFile = { time: nowSecs, checkpoints: Object.fromEntries(this.entries) };
    try {
      await writeAtomic(this.file, JSON.stringify(body));
      this.stats.writes++;
      this.stats.lastWriteTime = nowSecs;
    } catch (err) {
      this.dirty = false;
      this.markDirty(); // retried after the interval (or with the next flush)
      this.stats.writeErrors++;
      countError(this.counters, err);
      this.logger.error(`Could not write checkpoints to ${this.file}: ${errorMessage(err)} (the previous file is kept).`);
    }
  }

  private async load(ignoreGlobs: string[]): Promise<void> {
    const loaded: LoadedFile[] = [];
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    const base = path.basename(this.file);
    for (const name of names.sort()) {
      let kind: LoadedFile['kind'] | undefined;
      let session: string | undefined;
      let m: RegExpMatchArray | null;
      if (name === base || name === `${base}~`) kind = 'main';
      else if ((m = name.match(/^active-checkpoints-worker-(.+)\.json$/))) [kind, session] = ['active', m[1]];
      else if ((m = name.match(/^checkpoints-worker-(.+)\.json$/))) [kind, session] = ['full', m[1]];
      if (!kind) continue;
      const full = path.join(this.dir, name);
      const file = await this.readOne(full);
      if (file) loaded.push({ name: full, kind, session, file });
    }
    const nowSecs = this.now() / 1000;
    const usable = loaded.filter((l) => {
      if (this.maxAgeSecs > 0 && l.file.time < nowSecs - this.maxAgeSecs) {
        this.logger.warn(`Ignoring checkpoint file ${l.name}: written more than max_allowed_checkpoint_age (${this.maxAgeSecs} s) ago.`);
        return false;
      }
      return true;
    });
    const take = (l: LoadedFile, override: boolean) => {
      for (const [p, raw] of Object.entries(l.file.checkpoints)) {
        const e = normalizeEntry(raw, l.file.time);
        if ('error' in e) {
          this.logger.warn(`Ignoring the checkpoint of ${p} in ${l.name}: ${e.error}.`);
          continue;
        }
        const old = this.entries.get(p);
        const t = (x: CheckpointEntry) => (typeof x.time === 'number' ? x.time : l.file.time);
        if (!old || override || t(e) > t(old)) this.entries.set(p, e);
      }
    };
    for (const l of usable.filter((x) => x.kind !== 'active')) take(l, false);
    for (const a of usable.filter((x) => x.kind === 'active')) {
      const full = usable.find((x) => x.kind === 'full' && x.session === a.session);
      if (!full || a.file.time > full.file.time) take(a, true);
    }
    for (const p of this.entries.keys()) {
      if (ignoreGlobs.some((g) => fnmatchRegExp(g).test(p))) this.entries.delete(p);
    }
    const imported = loaded.filter((l) => l.kind !== 'main');
    if (imported.length) {
      this.dirty = true;
      await this.flush();
      if (!this.dirty) {
        for (const l of imported) await fsp.rename(l.name, `${l.name}.imported`).catch(() => undefined);
      }
    }
  }

  private async readOne(file: string): Promise<CheckpointFile | undefined> {
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(file);
    } catch (err) {
      this.logger.warn(`Could not read checkpoint file ${file}: ${errorMessage(err)}; ignoring it.`);
      return undefined;
    }
    let text: string | undefined;
    let error: string | undefined;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      error = 'not valid UTF-8';
    }
    if (text !== undefined) {
      const r = parseCheckpointFile(text);
      if (r.file) return r.file;
      error = r.error;
    }
    this.stats.corruptFiles++;
    countError(this.counters, new Error(`corrupt checkpoint file ${file}: ${error}`));
    this.logger.warn(`Ignoring corrupt checkpoint file ${file} (${error}); kept as ${path.basename(file)}.corrupt.`);
    await fsp.rename(file, `${file}.corrupt`).catch(() => undefined);
    return undefined;
  }
}

/** write temp, fsync, rename, fsync directory. Throws on failure (the target is untouched). */
export async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}~`;
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'w', 0o600);
    await fh.chmod(0o600); // a leftover temp file keeps its old mode otherwise
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, file);
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  let dh: fsp.FileHandle | undefined;
  try {
    dh = await fsp.open(path.dirname(file), 'r');
    await dh.sync();
  } catch {
    // Some filesystems refuse a directory fsync; the rename itself already happened.
  } finally {
    await dh?.close().catch(() => undefined);
  }
}
