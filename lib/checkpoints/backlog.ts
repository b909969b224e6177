/**
 * How far the sink is behind on one log file: the bytes written to the file at a path, and to
 * its older incarnations still being read (rotated away), that no sink has acknowledged yet.
 * Read from the checkpoint store's in-memory entries (updated on every ack) and one `stat`.
 * A file the store has no entry for counts whole (nothing of it is acknowledged).
 */
import fs from 'node:fs';
import type { CheckpointStore } from './store.js';

export function logBacklog(store: Pick<CheckpointStore, 'get'>, p: string): number {
  let size = 0;
  let ino: number | undefined;
  try {
    const st = fs.statSync(p);
    size = st.size;
    ino = st.ino;
  } catch {
    // not there (yet, or rotated away): only its pending incarnations count
  }
  const entry = store.get(p);
  let backlog = 0;
  if (ino !== undefined) backlog += entry && entry.inode === ino ? Math.max(0, size - entry.position) : size;
  for (const f of entry?.pending_files ?? []) backlog += Math.max(0, (f.last_known_size ?? f.position) - f.position);
  return backlog;
}
