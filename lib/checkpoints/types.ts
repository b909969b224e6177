/**
 * The shape of sluice's checkpoint file (`<agent_data_path>/checkpoints.json`), kept close to
 * Scalyr's: `{time, checkpoints: {<path>: entry}}`. Positions here are ABSOLUTE byte offsets
 * that were acknowledged by a sink (Scalyr stores them relative to a mark; `normalizeEntry`
 * converts Scalyr's form when a file written by Scalyr Agent 2 is found).
 */

/** One file incarnation (device + inode + content fingerprint) and its acknowledged offset. */
export interface IncarnationCheckpoint {
  /** Acknowledged byte offset: resume reading here. */
  position: number;
  inode: number;
  /** Device number; absent in checkpoints converted from Scalyr (then only the inode is compared). */
  dev?: number;
  /** `<len>:<sha1 hex>` of the first `len` (≤ 256) bytes; guards against inode reuse. */
  fingerprint?: string;
  /** uuid kept across restarts so re-sent bytes carry the same `si`/`sn`. */
  sequence_id: string;
  /** Sequence number at `position` (sluice: equal to `position`). */
  sequence_number: number;
  /** Where the incarnation was last seen (a rotated copy may live under another name). */
  path?: string;
  /** Size last seen (diagnostics, loss accounting). */
  last_known_size?: number;
}

/** The entry stored for one matched path. */
export interface CheckpointEntry extends IncarnationCheckpoint {
  /** Epoch seconds of the last update. */
  time: number;
  /**
   * Older incarnations of the path (rotated away, being drained, not yet fully acknowledged),
   * oldest first. The top-level fields describe the file currently at the path.
   */
  pending_files?: (IncarnationCheckpoint & { is_log_file?: boolean })[];
  [extra: string]: unknown;
}

/** The whole file. */
export interface CheckpointFile {
  time: number;
  checkpoints: Record<string, CheckpointEntry>;
}
