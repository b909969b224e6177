/**
 * The hub: every source writes here, the current sink takes it. A sink change makes the new
 * sink current before the old one hands over its queue (see `sinkPart.ts`).
 */
import type { Batch, Logger, Sink } from '../../lib/types.js';
import type { Taps } from '../../lib/pipeline/taps.js';

/** A sink as the agent uses it; live options go to `reconfigure`, or `setServerAttributes` for `server_attributes`. */
export type AgentSink = Sink & {
  setServerAttributes?(attrs: Record<string, string>): void;
  reconfigure?(live: Readonly<Record<string, unknown>>): void;
};

export interface Hub {
  deliver(batch: Batch): void;
  /** The sink batches go to now (undefined while none runs). */
  sink: AgentSink | undefined;
}

export function createHub(taps: Taps, logger: Logger): Hub {
  let noSinkLogged = false;
  const hub: Hub = {
    sink: undefined,
    deliver(batch) {
      taps.observe('sink', batch);
      if (hub.sink) {
        hub.sink.write(batch);
        noSinkLogged = false;
      } else if (!noSinkLogged) {
        // Not acked, so not checkpointed: the data is read again once a sink runs (or after a restart).
        noSinkLogged = true;
        logger.error('No sink is running (see status for why); reading pauses until one starts.');
      }
    },
  };
  return hub;
}
