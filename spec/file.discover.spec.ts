import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileDiscovery, isGlob, matchPaths, splitPattern } from '../sources/file/discover.js';
import { PathWatcher } from '../lib/pathWatcher.js';
import { fnmatch } from '../lib/fnmatch.js';
import { findCopiesSince, looksLikeRotatedCopy } from '../sources/file/copytruncate.js';
import { sameHead } from '../sources/file/fingerprint.js';
import { silentLogger } from '../lib/logger.js';
import { tmpDir, waitFor } from './file.harness.js';

function tree(files: string[]): string {
  const dir = tmpDir('sluice-disc-');
  for (const f of files) {
    const p = path.join(dir, f);
    if (f.endsWith('/')) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, 'x\n');
    }
  }
  return dir;
}
const rel = (dir: string, files: string[]) => files.map((f) => path.relative(dir, f));

describe('glob matching (Python glob semantics)', () => {
  it('recognises globs and splits the static base', () => {
    expect(isGlob('/var/log/a.log')).toBe(false);
    expect(isGlob('/var/log/*.log')).toBe(true);
    expect(isGlob('/var/log/a[12].log')).toBe(true);
    expect(splitPattern('/var/log/*/x/*.log')).toEqual({ base: '/var/log', segments: ['*', 'x', '*.log'] });
    expect(splitPattern('/var/log/a.log')).toEqual({ base: '/var/log', segments: ['a.log'] });
    expect(splitPattern('/*.log')).toEqual({ base: '/', segments: ['*.log'] });
  });

  it('* and ? do not cross / nor match dot-files; [..] classes work; an explicit dot matches', async () => {
    const dir = tree(['a.log', 'b.log', 'ab.log', '.h.log', 'sub/c.log', 'a1.log', 'a2.log', 'a3.log']);
    expect(rel(dir, (await matchPaths(`${dir}/*.log`)).files)).toEqual(['a.log', 'a1.log', 'a2.log', 'a3.log', 'ab.log', 'b.log']);
    expect(rel(dir, (await matchPaths(`${dir}/?.log`)).files)).toEqual(['a.log', 'b.log']);
    expect(rel(dir, (await matchPaths(`${dir}/a[12].log`)).files)).toEqual(['a1.log', 'a2.log']);
    expect(rel(dir, (await matchPaths(`${dir}/a[!12].log`)).files)).toEqual(['a3.log', 'ab.log']);
    expect(rel(dir, (await matchPaths(`${dir}/.*.log`)).files)).toEqual(['.h.log']);
    expect(rel(dir, (await matchPaths(`${dir}/*/*.log`)).files)).toEqual(['sub/c.log']);
  });

  it('** matches zero or more directory levels, skipping hidden directories', async () => {
    const dir = tree(['top.log', 'a/one.log', 'a/b/two.log', '.hidden/no.log', 'a/dir.log/']);
    expect(rel(dir, (await matchPaths(`${dir}/**/*.log`)).files)).toEqual(['a/b/two.log', 'a/one.log', 'top.log']);
  });

  it('braces and extglobs are literal (Python has neither)', async () => {
    const dir = tree(['{a,b}.log', 'a.log']);
    expect(rel(dir, (await matchPaths(`${dir}/{a,b}.log`)).files)).toEqual(['{a,b}.log']);
  });

  it('exclude globs are fnmatch on the full path (* crosses /)', async () => {
    const dir = tree(['x/app.log', 'x/app.log.1', 'y/app.log']);
    const r = await matchPaths(`${dir}/*/app*`, ['*/y/*', '*.[0-9]*']);
    expect(rel(dir, r.files)).toEqual(['x/app.log']);
    expect(fnmatch('/a/b/c.log', '*.log')).toBe(true);
    expect(fnmatch('/a/.b', '/a/*')).toBe(true);
    expect(fnmatch('/a/b', '/a/[!b]')).toBe(false);
  });

  it('skips directories, reports dangling symlinks and symlink loops without hanging', async () => {
    const dir = tree(['d.log/', 'ok.log', 'loop/']);
    fs.symlinkSync(path.join(dir, 'missing'), path.join(dir, 'dangling.log'));
    fs.symlinkSync(path.join(dir, 'loop'), path.join(dir, 'loop', 'again'));
    const r = await matchPaths(`${dir}/*.log`);
    expect(rel(dir, r.files)).toEqual(['ok.log']);
    expect(r.problems.map((p) => path.basename(p.path))).toEqual(['dangling.log']);
    const r2 = await matchPaths(`${dir}/loop/**/*.log`);
    expect(r2.files).toEqual([]);
    expect(r2.problems.some((p) => /loop/.test(p.error))).toBe(true);
  });

  it('a literal path matches itself only if it is a readable regular file', async () => {
    const dir = tree(['a.log', 'd/']);
    expect((await matchPaths(`${dir}/a.log`)).files).toEqual([`${dir}/a.log`]);
    expect((await matchPaths(`${dir}/d`)).files).toEqual([]);
    expect((await matchPaths(`${dir}/none.log`)).files).toEqual([]);
    expect((await matchPaths(`${dir}/none/*.log`)).problems).toEqual([]);
  });
});

describe('copytruncate copy names (Scalyr heuristics)', () => {
  it.each([
    ['app.log', 'app.log.1', true],
    ['app.log', 'app.log.1.gz', false],
    ['app.log', 'app.1.log', true],
    ['app.log', 'app-20240101.log', true],
    ['app.log', 'app.log-20240101', true],
    ['app.log', 'app.log', false],
    ['app.log', 'other.log.1', false],
    ['app.log', 'app.log.old', false],
  ])('%s / %s -> %s', (log, cand, ok) => {
    expect(looksLikeRotatedCopy(log, cand)).toBe(ok);
  });
});

describe('copies made since a checkpoint', () => {
  it('lists rotated copies born after the time, oldest first, never the log itself or other files', async () => {
    const dir = tmpDir();
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(path.join(dir, 'app.log.1'), 'before\n');
    await new Promise((r) => setTimeout(r, 30));
    const since = Date.now();
    await new Promise((r) => setTimeout(r, 30));
    fs.writeFileSync(path.join(dir, 'app.log.3'), 'first copy\n');
    await new Promise((r) => setTimeout(r, 30));
    fs.writeFileSync(path.join(dir, 'app.log.2'), 'second copy\n');
    fs.writeFileSync(path.join(dir, 'app.log.4.gz'), 'compressed');
    fs.writeFileSync(path.join(dir, 'other.log.5'), 'another log');
    fs.writeFileSync(log, 'live\n');
    const found = await findCopiesSince(log, since);
    try {
      expect(found.map((f) => path.basename(f.path))).toEqual(['app.log.3', 'app.log.2']);
      expect(found.map((f) => f.size)).toEqual([11, 12]);
    } finally {
      await Promise.all(found.map((f) => f.fh.close()));
    }
  });

  it('sameHead compares the first bytes over the shorter file', async () => {
    const dir = tmpDir();
    const w = (n: string, c: string) => (fs.writeFileSync(path.join(dir, n), c), fs.promises.open(path.join(dir, n), 'r'));
    const [a, b, c] = await Promise.all([w('a', 'hello world\n'), w('b', 'hello'), w('c', 'help me\n')]);
    try {
      expect(await sameHead(a, b)).toBe(true);
      expect(await sameHead(a, c)).toBe(false);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});

describe('FileDiscovery', () => {
  it('reports the first pass as initial, finds new files by watcher events, and stops cleanly', async () => {
    const dir = tree(['a.log']);
    const seen: { files: string[]; initial: boolean }[] = [];
    const d = new FileDiscovery({ pattern: `${dir}/*.log`, excludes: [], logger: silentLogger, rescanMs: 3_600_000, onMatches: (files, initial) => seen.push({ files, initial }) });
    await d.start();
    expect(seen[0]).toEqual({ files: [`${dir}/a.log`], initial: true });
    fs.writeFileSync(path.join(dir, 'b.log'), '');
    await waitFor(() => seen.some((s) => s.files.includes(`${dir}/b.log`)));
    expect(seen.filter((s) => s.initial)).toHaveLength(1);
    await d.stop();
    await d.stop();
  });

  it('finds new files by periodic rescan when watching is off', async () => {
    const dir = tree([]);
    const seen: string[][] = [];
    const d = new FileDiscovery({ pattern: `${dir}/**/*.log`, excludes: [], logger: silentLogger, rescanMs: 30, watch: false, onMatches: (f) => seen.push(f) });
    await d.start();
    fs.mkdirSync(path.join(dir, 'x/y'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'x/y/new.log'), '');
    await waitFor(() => seen.some((s) => s.length === 1));
    expect(d.scans).toBeGreaterThan(1);
    await d.stop();
  });

  it('forwards writes to matching files only, with the path as matched (symlinks too), and follows new directories', async () => {
    const dir = tree(['a.log', 'other.txt', 'skip.log', 'target/real.data']);
    fs.symlinkSync(path.join(dir, 'target/real.data'), path.join(dir, 'link.log'));
    const events: string[] = [];
    const seen: string[][] = [];
    const d = new FileDiscovery({ pattern: `${dir}/*.log`, excludes: ['*/skip.log'], logger: silentLogger, rescanMs: 3_600_000, onMatches: (f) => seen.push(f), onFileEvent: (p) => events.push(p) });
    await d.start();
    expect(seen[0]).toEqual([`${dir}/a.log`, `${dir}/link.log`]);
    fs.appendFileSync(path.join(dir, 'other.txt'), 'x\n');
    fs.appendFileSync(path.join(dir, 'skip.log'), 'x\n');
    fs.appendFileSync(path.join(dir, 'a.log'), 'x\n');
    fs.appendFileSync(path.join(dir, 'target/real.data'), 'x\n');
    await waitFor(() => events.includes(`${dir}/a.log`) && events.includes(`${dir}/link.log`));
    expect(events.filter((e) => !e.endsWith('/a.log') && !e.endsWith('/link.log'))).toEqual([]);
    await d.stop();

    // A directory level of the pattern: a directory made later is watched once a pass found it.
    const root = tree([]);
    const seen2: string[][] = [];
    const events2: string[] = [];
    const d2 = new FileDiscovery({ pattern: `${root}/*/app.log`, excludes: [], logger: silentLogger, rescanMs: 3_600_000, onMatches: (f) => seen2.push(f), onFileEvent: (p) => events2.push(p) });
    await d2.start();
    fs.mkdirSync(path.join(root, 'svc'));
    await waitFor(() => d2.scans >= 3);
    fs.writeFileSync(path.join(root, 'svc/app.log'), 'one\n');
    await waitFor(() => seen2.some((f) => f.includes(`${root}/svc/app.log`)));
    fs.appendFileSync(path.join(root, 'svc/app.log'), 'two\n');
    await waitFor(() => events2.includes(`${root}/svc/app.log`));
    await d2.stop();
    await d2.stop();
  });
});

describe('PathWatcher', () => {
  it('skips what cannot be watched, reports how many watches it added, and closes idempotently', async () => {
    const dir = tree(['a.log']);
    const got: [string, string, string | undefined][] = [];
    const w = new PathWatcher({ logger: silentLogger, onEvent: (t, e, n) => got.push([t.path, e, n]) });
    expect(w.sync([{ path: dir, kind: 'dir' }, { path: path.join(dir, 'missing'), kind: 'dir' }])).toBe(1);
    expect(w.sync([{ path: dir, kind: 'dir' }])).toBe(0);
    expect(w.size).toBe(1);
    fs.appendFileSync(path.join(dir, 'a.log'), 'x\n');
    await waitFor(() => got.some(([, e, n]) => e === 'change' && n === 'a.log'));
    fs.renameSync(path.join(dir, 'a.log'), path.join(dir, 'a.log.1'));
    await waitFor(() => got.some(([, e, n]) => e === 'rename' && n === 'a.log.1'));
    expect(w.sync([])).toBe(0);
    expect(w.size).toBe(0);
    w.close();
    w.close();
    expect(w.sync([{ path: dir, kind: 'dir' }])).toBe(0);
  });
});
