/**
 * What a started agent shares with all its parts (`PartContext`): the hub, the read budget, the
 * read pages, the checkpoint store. Made once at start from the options read only then.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../../lib/config/types.js';
import { CheckpointStore } from '../../lib/checkpoints/store.js';
import { ReadBuffers } from '../../lib/pipeline/readBuffers.js';
import { createHub } from './hub.js';
import type { PartContext } from './types.js';

export type Services = PartContext & {
  readBuffers: ReadBuffers;
  /** Start offsets of the agent's own log (collected from the size it had when this process started, as Scalyr does). */
  initialPositions: Record<string, number>;
};

/** What was read but is still undelivered (see `Agent.stop`). */
export interface StopOutcome {
  /** Bytes read but not acknowledged by the sink (the read credits still in use). */
  pendingBytes: number;
  /** The sink's own figures, when it reports them. */
  sinkPendingBytes?: number;
  batchesPending?: number;
}

export async function openServices(cfg: AgentConfig, base: Omit<PartContext, 'hub' | 'readBuffers' | 'checkpoints'>): Promise<Services> {
  const ownLog = path.join(cfg.agent_log_path, 'agent.log');
  const checkpoints = await CheckpointStore.open(cfg.agent_data_path, {
    logger: base.logger,
    maxAgeSecs: cfg.max_allowed_checkpoint_age,
    ignorePathGlobs: (cfg.ignore_checkpoints_on_startup_path_globs as string[] | undefined) ?? [],
  });
  return {
    ...base,
    // Each route (set of sinks) gets a read budget of max_pending_bytes (lib/pipeline/routeBudgets.ts).
    hub: createHub(base.taps, base.logger, cfg.max_pending_bytes),
    // Read pages reused across files once acknowledged (at most the read budget's worth kept).
    readBuffers: new ReadBuffers(cfg.read_page_size, Math.ceil(cfg.max_pending_bytes / cfg.read_page_size)),
    checkpoints,
    initialPositions: { [ownLog]: fileSize(ownLog) },
  };
}

export async function closeServices(s: Services | undefined): Promise<void> {
  await s?.checkpoints.close();
  s?.readBuffers.clear();
}

/** What is still read but undelivered: the read credits in use and the sinks' own figures (summed). */
export function leftBehind(s: Services | undefined): StopOutcome {
  const out: StopOutcome = { pendingBytes: s?.hub.budgets.inUse ?? 0 };
  for (const sink of s?.hub.lastSinks.values() ?? []) {
    const st = sink.status() as { bytesPending?: unknown; pendingBytes?: unknown; batchesPending?: unknown } | undefined;
    const sp = st?.bytesPending ?? st?.pendingBytes;
    if (typeof sp === 'number') out.sinkPendingBytes = (out.sinkPendingBytes ?? 0) + sp;
    if (typeof st?.batchesPending === 'number') out.batchesPending = (out.batchesPending ?? 0) + st.batchesPending;
  }
  return out;
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}
