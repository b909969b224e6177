/**
 * Validation of checkpoint data read from disk. Promises: whatever the bytes, the result is
 * either a well-formed entry or `undefined` with a reason; nothing here throws. Entries written
 * by Scalyr Agent 2 (relative positions in `pending_files[].position_start`) are converted to
 * sluice's absolute form so a drop-in replacement resumes where Scalyr stopped.
 */
import { randomUUID } from 'node:crypto';
import type { CheckpointEntry, CheckpointFile, IncarnationCheckpoint } from './types.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses a checkpoint file's text. Returns an error message instead of throwing. */
export function parseCheckpointFile(text: string): { file?: CheckpointFile; error?: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { error: `not valid JSON (${(err as Error).message})` };
  }
  if (!isObj(raw) || !isObj(raw.checkpoints)) return { error: 'missing "checkpoints" object' };
  const time = typeof raw.time === 'number' && Number.isFinite(raw.time) ? raw.time : 0;
  return { file: { time, checkpoints: raw.checkpoints as Record<string, CheckpointEntry> } };
}

function normalizeIncarnation(v: unknown): IncarnationCheckpoint | undefined {
  if (!isObj(v) || !isOffset(v.position) || typeof v.inode !== 'number' || typeof v.sequence_id !== 'string') return undefined;
  const out: IncarnationCheckpoint = {
    position: v.position,
    inode: v.inode,
    sequence_id: v.sequence_id,
    sequence_number: isOffset(v.sequence_number) ? v.sequence_number : v.position,
  };
  if (typeof v.dev === 'number') out.dev = v.dev;
  if (typeof v.fingerprint === 'string') out.fingerprint = v.fingerprint;
  if (typeof v.path === 'string') out.path = v.path;
  if (isOffset(v.last_known_size)) out.last_known_size = v.last_known_size;
  return out;
}

/** Converts one Scalyr-format entry (`position` relative, `pending_files[].position_start`). */
function fromScalyr(v: Record<string, unknown>, time: number): CheckpointEntry | { error: string } {
  const base = typeof v.position === 'number' ? v.position : 0;
  const files = (v.pending_files as unknown[]).filter(isObj);
  const conv = files.map((f) => ({
    position: base - Number(f.position_start),
    inode: Number(f.inode),
    last_known_size: isOffset(f.last_known_size) ? f.last_known_size : undefined,
    isLog: f.is_log_file !== false,
  }));
  if (conv.some((c) => !isOffset(c.position) || !Number.isFinite(c.inode))) return { error: 'bad Scalyr pending_files' };
  const current = conv.filter((c) => c.isLog).pop();
  if (!current) return { error: 'Scalyr entry without a current file' };
  // Scalyr's sequence numbers count bytes across rotations; ours are file offsets, so a fresh
  // sequence id keeps the server from mistaking new data for duplicates.
  const mk = (c: (typeof conv)[number]): IncarnationCheckpoint => ({
    position: c.position,
    inode: c.inode,
    sequence_id: randomUUID(),
    sequence_number: c.position,
    ...(c.last_known_size !== undefined ? { last_known_size: c.last_known_size } : {}),
  });
  const entry: CheckpointEntry = { ...mk(current), time };
  const older = conv.filter((c) => c !== current).map((c) => ({ ...mk(c), is_log_file: false }));
  if (older.length) entry.pending_files = older;
  return entry;
}

/**
 * Checks (and if needed converts) one entry. `fileTime` is used when the entry has no `time`
 * (entries without time are kept, as Scalyr does).
 */
export function normalizeEntry(v: unknown, fileTime: number): CheckpointEntry | { error: string } {
  if (!isObj(v)) return { error: 'entry is not an object' };
  const time = typeof v.time === 'number' && Number.isFinite(v.time) ? v.time : undefined;
  if (v.inode === undefined && Array.isArray(v.pending_files)) return fromScalyr(v, time ?? fileTime);
  const cur = normalizeIncarnation(v);
  if (!cur) return { error: 'entry lacks position/inode/sequence_id' };
  const entry: CheckpointEntry = { ...cur, time: time ?? Number.NaN };
  if (time === undefined) delete (entry as { time?: number }).time;
  if (Array.isArray(v.pending_files)) {
    const pend: NonNullable<CheckpointEntry['pending_files']> = [];
    for (const p of v.pending_files) {
      const n = normalizeIncarnation(p);
      if (n) pend.push({ ...n, is_log_file: false });
    }
    if (pend.length) entry.pending_files = pend;
  }
  return entry;
}
