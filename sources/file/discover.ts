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
 * - `FileDiscovery` watches (inotify, `lib/pathWatcher.ts`) exactly the directories the last pass
 *   walked, plus the symlinked files it matched; it rescans when a name that can matter appears
 *   or goes away, and every `rescanMs` as a safety net (`max_new_log_detection_time`). A change
 *   to a matching file is forwarded at once, with no file system call, so its tailer wakes up.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import micromatch from 'micromatch';
import { PathWatcher, type WatchEvent, type WatchTarget } from '../../lib/pathWatcher.js';
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
  /** Every directory the walk looked into or through; `leaf` when only files it holds can match (not sub-directories). */
  dirs: { path: string; leaf: boolean }[];
  /** Matched files that are symlinks (their writes are seen in the target's directory). */
  links: string[];
}

/** One glob pass. Never rejects. */
export async function matchPaths(pattern: string, excludes: string[] = []): Promise<MatchResult> {
  const { base, segments } = splitPattern(pattern);
  const found = new Set<string>();
  const problems: MatchResult['problems'] = [];
  const visited = new Set<string>();
  const dirs = new Map<string, boolean>();
  const links: string[] = [];
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
      if ((await fsp.lstat(p)).isSymbolicLink()) links.push(p);
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
    const leaf = idx === segments.length - 1 && seg !== '**';
    dirs.set(dir, (dirs.get(dir) ?? true) && leaf);
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
  const kept = new Set(files);
  return { files, problems, dirs: [...dirs].map(([p, leaf]) => ({ path: p, leaf })), links: links.filter((l) => kept.has(l)) };
}

export interface FileDiscoveryOptions {
  pattern: string;
  excludes: string[];
  logger: Logger;
  /** Safety-net rescan interval in ms (`max_new_log_detection_time`). */
  rescanMs: number;
  /** Called with every match of a pass (`initial` for the first pass). */
  onMatches: (files: string[], initial: boolean) => void;
  /** Called when a matching file changed, appeared or vanished (wakes its tailer). */
  onFileEvent?: (file: string) => void;
  /** Called with the problems of a pass (unreadable files, loops…). */
  onProblems?: (problems: MatchResult['problems']) => void;
  /** Watch with inotify (default true; tests of the rescan path turn it off). */
  watch?: boolean;
}

/** Runs `matchPaths` on start, when a name that can match appears or goes away, and every `rescanMs`. */
export class FileDiscovery {
  private watcher?: PathWatcher;
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private again = false;
  private stopped = false;
  private passes = 0;
  /** Watched directories: true when only the files they hold can match. */
  private leaves = new Map<string, boolean>();
  private readonly matches: (file: string) => boolean;

  constructor(private readonly opts: FileDiscoveryOptions) {
    const resolved = path.resolve(opts.pattern);
    const ex = opts.excludes.map(fnmatchRegExp);
    const re = isGlob(resolved) ? micromatch.makeRe(resolved.replace(/\[!/g, '[^'), MM_OPTS) : undefined;
    this.matches = (p) => (re ? re.test(p) : p === resolved) && !ex.some((r) => r.test(p));
  }

  /** Number of scan passes done (status, tests). */
  get scans(): number {
    return this.passes;
  }

  /** First pass (awaited, with its watches in place), then the timer. */
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
    if (this.opts.watch === false) return;
    this.watcher ??= new PathWatcher({ logger: this.opts.logger, onEvent: (t, e, n) => this.onWatchEvent(t, e, n) });
    this.leaves = new Map(r.dirs.map((d) => [d.path, d.leaf]));
    const targets: WatchTarget[] = [...r.dirs.map((d) => ({ path: d.path, kind: 'dir' as const })), ...r.links.map((l) => ({ path: l, kind: 'file' as const }))];
    // Names created between this pass's listing and a new watch would go unseen: one more pass.
    if (this.watcher.sync(targets) > 0) this.again = true;
  }

  private onWatchEvent(t: WatchTarget, event: WatchEvent, name: string | undefined): void {
    if (this.stopped) return;
    if (t.kind === 'file') {
      this.opts.onFileEvent?.(t.path);
      if (event === 'rename') {
        // The link's target was renamed or removed: watch whatever the link names now.
        this.watcher?.drop(t);
        this.soon();
      }
      return;
    }
    if (name === undefined) return this.soon();
    const file = t.path === '/' ? `/${name}` : `${t.path}/${name}`;
    const matches = this.matches(file);
    if (matches) this.opts.onFileEvent?.(file);
    // A name appeared or went away: rescan if it can match, or if it may be a directory on the way.
    if (event === 'rename' && (matches || this.leaves.get(t.path) === false)) this.soon();
  }

  private soon(): void {
    if (this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.rescan();
    }, 20);
  }

  /** Stops watches and timers. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.timer = this.debounce = undefined;
    await this.scanning?.catch(() => undefined);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
