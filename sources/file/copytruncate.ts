/**
 * Finding the copy made by a copytruncate rotation (Scalyr §2.4): in the directory of the log,
 * a file that does not end in `.gz`, is not the log itself, changed status within the last
 * 300 s, and whose name is `<name>.<digits>…`, `<stem>.<digits><ext>`, `<stem>-<8 digits><ext>`
 * or `<name>-<8 digits>…`. The most recently created wins. sluice adds one guard: when a
 * fingerprint of the log's head is known, the copy must start with the same bytes.
 */
import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { fingerprintMatches } from './fingerprint.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** True when `candidate` (a basename) looks like a rotated copy of `logName`. */
export function looksLikeRotatedCopy(logName: string, candidate: string): boolean {
  if (candidate === logName || candidate.endsWith('.gz')) return false;
  const ext = path.extname(logName);
  const stem = ext ? logName.slice(0, -ext.length) : logName;
  const patterns = [
    new RegExp(`^${esc(logName)}\\.\\d+`),
    new RegExp(`^${esc(stem)}\\.\\d+${esc(ext)}$`),
    new RegExp(`^${esc(stem)}-\\d{8}${esc(ext)}$`),
    new RegExp(`^${esc(logName)}-\\d{8}`),
  ];
  return patterns.some((r) => r.test(candidate));
}

/** Regular files in the log's directory named like its rotated copies, with their stat and creation time. */
async function copyCandidates(logPath: string): Promise<{ p: string; st: Stats; born: number }[]> {
  const dir = path.dirname(logPath);
  const name = path.basename(logPath);
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const out: { p: string; st: Stats; born: number }[] = [];
  for (const n of names) {
    if (!looksLikeRotatedCopy(name, n)) continue;
    const p = path.join(dir, n);
    const st = await fsp.stat(p).catch(() => undefined);
    if (st?.isFile()) out.push({ p, st, born: st.birthtimeMs || st.ctimeMs });
  }
  return out;
}

/** The copy's path and an open handle on it, or undefined. The caller owns the handle. */
export async function findRotatedCopy(
  logPath: string,
  opts: { fingerprint?: string; minSize?: number; nowMs?: number; windowMs?: number; exclude?: (dev: number, ino: number) => boolean } = {},
): Promise<{ path: string; fh: fsp.FileHandle; dev: number; ino: number } | undefined> {
  const now = opts.nowMs ?? Date.now();
  const windowMs = opts.windowMs ?? 300_000;
  const cands = (await copyCandidates(logPath)).filter(
    ({ st }) => now - st.ctimeMs <= windowMs && (opts.minSize === undefined || st.size >= opts.minSize) && !opts.exclude?.(st.dev, st.ino),
  );
  cands.sort((a, b) => b.born - a.born);
  for (const c of cands) {
    const fh = await fsp.open(c.p, 'r').catch(() => undefined);
    if (!fh) continue;
    const st = await fh.stat().catch(() => undefined);
    if (st && (await fingerprintMatches(fh, opts.fingerprint).catch(() => false))) return { path: c.p, fh, dev: st.dev, ino: st.ino };
    await fh.close().catch(() => undefined);
  }
  return undefined;
}

/**
 * Every rotated copy of `logPath` (same naming rules as {@link findRotatedCopy}, no age window)
 * created after `sinceMs`, oldest first, each with an open handle the caller owns. For a file
 * that was empty when last checkpointed: with no head to compare, a copytruncate while sluice
 * was stopped is told from appends only by the copies it left.
 */
export async function findCopiesSince(
  logPath: string,
  sinceMs: number,
  exclude?: (dev: number, ino: number) => boolean,
): Promise<{ path: string; fh: fsp.FileHandle; dev: number; ino: number; size: number }[]> {
  const cands = (await copyCandidates(logPath)).filter(({ st, born }) => born > sinceMs && !exclude?.(st.dev, st.ino));
  cands.sort((a, b) => a.born - b.born);
  const found: { path: string; fh: fsp.FileHandle; dev: number; ino: number; size: number }[] = [];
  for (const c of cands) {
    const fh = await fsp.open(c.p, 'r').catch(() => undefined);
    const st = await fh?.stat().catch(() => undefined);
    if (fh && st && st.ino === c.st.ino) found.push({ path: c.p, fh, dev: st.dev, ino: st.ino, size: st.size });
    else await fh?.close().catch(() => undefined);
  }
  return found;
}

/**
 * Looks in `dir` for a file with the given inode (a file renamed while sluice was stopped), then
 * among this process's own open files (/proc/self/fd, Linux): a predecessor source of the same
 * entry (a reload) may still hold a file that was rotated away and deleted meanwhile.
 */
export async function findByInode(
  dir: string,
  ino: number,
  dev: number | undefined,
  fingerprint: string | undefined,
): Promise<{ path: string; fh: fsp.FileHandle; dev: number; ino: number } | undefined> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    const found = await openIfSame(path.join(dir, n), ino, dev, fingerprint);
    if (found) return found;
  }
  const fds = await fsp.readdir('/proc/self/fd').catch(() => [] as string[]);
  for (const fd of fds) {
    const link = `/proc/self/fd/${fd}`;
    const found = await openIfSame(link, ino, dev, fingerprint);
    if (found) {
      const target = await fsp.readlink(link).catch(() => link);
      return { ...found, path: target.replace(/ \(deleted\)$/, '') };
    }
  }
  return undefined;
}

/** Opens `p` when it is the regular file with that inode (and fingerprint). */
async function openIfSame(
  p: string,
  ino: number,
  dev: number | undefined,
  fingerprint: string | undefined,
): Promise<{ path: string; fh: fsp.FileHandle; dev: number; ino: number } | undefined> {
  const st = await fsp.stat(p).catch(() => undefined);
  if (!st?.isFile() || st.ino !== ino || (dev !== undefined && st.dev !== dev)) return undefined;
  const fh = await fsp.open(p, 'r').catch(() => undefined);
  if (!fh) return undefined;
  const st2 = await fh.stat().catch(() => undefined);
  if (st2 && st2.ino === ino && (await fingerprintMatches(fh, fingerprint).catch(() => false))) return { path: p, fh, dev: st2.dev, ino: st2.ino };
  await fh.close().catch(() => undefined);
  return undefined;
}
