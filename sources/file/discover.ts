/**
 * Finding the files of a `logs[]` entry (Scalyr §2.2), and noticing new ones promptly.
 *
 * Promises:
 * - `matchPaths(pattern, excludes)` follows Python `glob.glob(recursive=True)`: `*` and `?` do
 *   not cross `/` and do not match names starting with `.`; `[...]` classes; `**` is zero or
 *   more directory levels (hidden directories excluded). A path without `*`, `?`, `[` is taken
 *   literally. Directories are skipped; `exclude` globs are fnmatch'ed against the full path
 *   (`*` crosses `/`). Results are sorted. Unreadable files, symlink loops and other errors are
 *   returned as `problems` (never thrown) so the caller can report them and retry next scan.
 * - The walk only descends as deep as the pattern needs, and never loops through symlinks.
 * - `FileDiscovery` watches only the directories the pattern involves (chokidar, fs.watch
 *   underneath; depth limited unless the pattern has `**`), rescans on directory events, and
 *   rescans every `rescanMs` as a safety net (`max_new_log_detection_time`). File change events
 *   are forwarded so tailers wake up without polling.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import micromatch from 'micromatch';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../../lib/types.js';
import { errorMessage } from '../../lib/counters.js';
import { fnmatchRegExp } from '../../lib/fnmatch.js';

/** True when Scalyr would treat the path as a glob. */
export function isGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

const MM_OPTS = { dot: false, nobrace: true, noextglob: true, noquantifiers: true, nonegate: true } as const;

/** One path segment of a Python glob as a micromatch pattern (`[!x]` is written `[^x]` there). */
const segmentMatcher = (seg: string) => {
  const re = micromatch.makeRe(seg.replace(/\[!/g, '[^'), MM_OPTS);
  return (name: string) => re.test(name);
};

/** The leading directory of a pattern that holds no glob characters, and the remaining segments. */
export function splitPattern(pattern: string): { base: string; segments: string[] } {
  const abs = path.resolve(pattern);
  const parts = abs.split('/').filter((s, i) => i === 0 || s !== '');
  let i = 1;
  while (i < parts.length - 1 && !isGlob(parts[i])) i++;
  if (!isGlob(abs)) i = parts.length - 1;
  const base = parts.slice(0, i).join('/') || '/';
  return { base, segments: parts.slice(i) };
}

export interface MatchResult {
  files: string[];
  problems: { path: string; error: string }[];
}

/** One glob pass. Never rejects. */
export async function matchPaths(pattern: string, excludes: string[] = []): Promise<MatchResult> {
  const { base, segments } = splitPattern(pattern);
  const found = new Set<string>();
  const problems: MatchResult['problems'] = [];
  const visited = new Set<string>();
  // A path named without wildcards that is not a regular file is reported; what a glob matches
  // among directories, fifos and sockets is skipped quietly (`/var/log/*` matches directories).
  const literal = !segments.some(isGlob);
  const candidate = async (p: string) => {
    try {
      const st = await fsp.stat(p);
      if (!st.isFile()) {
        if (literal) problems.push({ path: p, error: `not a regular file (${st.isDirectory() ? 'a directory' : 'a fifo, socket or device'})` });
        return;
      }
      await fsp.access(p, fsc.R_OK);
      found.add(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !(await fsp.lstat(p).then(() => true, () => false))) return; // vanished or never there
      problems.push({ path: p, error: code === 'ENOENT' ? 'dangling symlink' : errorMessage(err) });
    }
  };
  const listDir = async (dir: string) => {
    try {
      const st = await fsp.stat(dir);
      if (!st.isDirectory()) return undefined;
      const key = `${st.dev}:${st.ino}`;
      return { key, names: (await fsp.readdir(dir)).sort() };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') problems.push({ path: dir, error: errorMessage(err) });
      return undefined;
    }
  };
  const walk = async (dir: string, idx: number, seen: Set<string>): Promise<void> => {
    if (idx === segments.length) return candidate(dir);
    const seg = segments[idx];
    if (!isGlob(seg)) return walk(path.join(dir, seg), idx + 1, seen);
    const listing = await listDir(dir);
    if (!listing) return;
    if (seen.has(listing.key)) {
      problems.push({ path: dir, error: 'symlink loop' });
      return;
    }
    const inner = new Set(seen).add(listing.key);
    if (seg === '**') {
      await walk(dir, idx + 1, seen); // zero levels
      for (const name of listing.names) {
        if (name.startsWith('.')) continue;
        const sub = path.join(dir, name);
        const isDir = await fsp.stat(sub).then((s) => s.isDirectory(), () => false);
        if (isDir) await walk(sub, idx, inner);
      }
      return;
    }
    const matches = segmentMatcher(seg);
    for (const name of listing.names) {
      if (matches(name)) await walk(path.join(dir, name), idx + 1, inner);
    }
  };
  await walk(base, 0, visited);
  const ex = excludes.map(fnmatchRegExp);
  const files = [...found].filter((f) => !ex.some((r) => r.test(f))).sort();
  return { files, problems };
}

export interface FileDiscoveryOptions {
  pattern: string;
  excludes: string[];
  logger: Logger;
  /** Safety-net rescan interval in ms (`max_new_log_detection_time`). */
  rescanMs: number;
  /** Called with every match of a pass (`initial` for the first pass). */
  onMatches: (files: string[], initial: boolean) => void;
  /** Called when a watched file changed or vanished (wakes its tailer). */
  onFileEvent?: (file: string) => void;
  /** Called with the problems of a pass (unreadable files, loops…). */
  onProblems?: (problems: MatchResult['problems']) => void;
  /** Use chokidar (default true; tests of the rescan path turn it off). */
  watch?: boolean;
}

/** Runs `matchPaths` on start, on directory events, and every `rescanMs`. */
export class FileDiscovery {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private again = false;
  private stopped = false;
  private passes = 0;
  private readonly base: string;
  private readonly depth: number | undefined;

  constructor(private readonly opts: FileDiscoveryOptions) {
    const { base, segments } = splitPattern(opts.pattern);
    this.base = base;
    this.depth = segments.includes('**') ? undefined : Math.max(0, segments.length - 1);
  }

  /** Number of scan passes done (status, tests). */
  get scans(): number {
    return this.passes;
  }

  /** First pass (awaited), then watcher and timer. */
  async start(): Promise<void> {
    await this.rescan();
    if (this.stopped) return;
    this.timer = setInterval(() => void this.rescan(), Math.max(10, this.opts.rescanMs));
  }

  /** One pass now (concurrent calls coalesce into one extra pass). */
  rescan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    const r = await matchPaths(this.opts.pattern, this.opts.excludes);
    if (this.stopped) return;
    const initial = this.passes++ === 0;
    if (r.problems.length) this.opts.onProblems?.(r.problems);
    this.opts.onMatches(r.files, initial);
    if (this.opts.watch !== false && !this.watcher) await this.startWatcher();
  }

  private async startWatcher(): Promise<void> {
    const exists = await fsp.stat(this.base).then((s) => s.isDirectory(), () => false);
    if (!exists || this.stopped) return;
    // Only files the pattern can match are watched (directories always, to follow new ones).
    const fileMatches = isGlob(this.opts.pattern)
      ? ((re) => (p: string) => re.test(p))(micromatch.makeRe(path.resolve(this.opts.pattern).replace(/\[!/g, '[^'), MM_OPTS))
      : (p: string) => p === path.resolve(this.opts.pattern);
    const w = watch(this.base, {
      ignored: (p: string, stats?: { isFile(): boolean }) => stats?.isFile() === true && !fileMatches(p),
      ignoreInitial: true,
      persistent: true,
      atomic: false,
      depth: this.depth,
      followSymlinks: true,
      ignorePermissionErrors: true,
    });
    this.watcher = w;
    const soon = () => {
      if (this.debounce || this.stopped) return;
      this.debounce = setTimeout(() => {
        this.debounce = undefined;
        void this.rescan();
      }, 20);
    };
    w.on('add', (p: string) => {
      this.opts.onFileEvent?.(p);
      soon();
    });
    w.on('addDir', soon);
    w.on('change', (p: string) => this.opts.onFileEvent?.(p));
    w.on('unlink', (p: string) => {
      this.opts.onFileEvent?.(p);
      soon();
    });
    w.on('error', (err: unknown) => this.opts.logger.warn(`Watching ${this.base} failed: ${errorMessage(err)} (periodic rescans continue).`));
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      w.once('ready', () => {
        clearTimeout(t);
        resolve();
      });
    });
    // Files created while the watcher was starting: one more pass.
    this.again = true;
  }

  /** Stops watcher and timers. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.timer = this.debounce = undefined;
    const w = this.watcher;
    this.watcher = undefined;
    await this.scanning?.catch(() => undefined);
    await w?.close().catch(() => undefined);
  }
}
