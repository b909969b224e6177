/**
 * runCoreAgent: the stand-alone APM pipeline the `core-agent` command runs: the same APM part the
 * full agent runs (`app/parts/apmPipeline.ts`: span intake → aggregateSpans → minute batches, plus the Scout
 * check-in sink when `apm.ingest_url` is set), delivering to the command's own sinks (the
 * embedded NDJSON sink under `dataDir` unless `deliver` is given, plus `extraSinks`).
 *
 * Promises: resolves once listening (rejects with code `EADDRINUSE_LIVE` when another agent
 * answers on the socket); `stop()` closes the intake, flushes the open minute to every sink,
 * then stops the sinks, within the deadline; idempotent, never rejects.
 */
import os from 'node:os';
import path from 'node:path';
import type { ApmConfig } from '../../lib/config/types.js';
import type { Batch, Logger, Sink } from '../../lib/types.js';
import type { SpanIntake } from '../../sources/spanSocket/index.js';
import { createApmPart, type ApmPart } from '../parts/apmPipeline.js';
import { createNdjsonSink } from '../../sinks/ndjson/sink.js';
import { errorMessage } from '../../lib/counters.js';
import type { ApmMinute } from '../../lib/apm/types.js';

export interface RunCoreAgentOptions {
  apm: ApmConfig;
  logger: Logger;
  /** Where the NDJSON output goes (`events.ndjson`); not used when `deliver` is given. */
  dataDir?: string;
  /**
   * Hand each minute's batch to the caller (the full agent's hub) instead of the built-in NDJSON
   * sink. The check-in sink (when `apm.ingest_url` is set) and `extraSinks` still get them.
   */
  deliver?: (b: Batch) => void;
  /** Minute length (default `apm.minute_secs` or 60 s). */
  minuteMs?: number;
  /** Late-frame grace after a minute closes (default `apm.grace_secs` or 10 s). */
  graceMs?: number;
  /** HTTP proxy for the check-in sink. */
  proxy?: string;
  /** Called when a client sent CoreAgentShutdown (the CLI stops then). */
  onShutdownRequest?: () => void;
  /** More sinks to feed (tests, embedding). */
  extraSinks?: Sink[];
  /** Sees every emitted minute (tests). */
  onMinute?: (m: ApmMinute) => void;
}


export interface CoreAgentHandle {
  intake: SpanIntake;
  stop(deadlineMs?: number): Promise<void>;
  status(): Record<string, unknown>;
}

export async function runCoreAgent(o: RunCoreAgentOptions): Promise<CoreAgentHandle> {
  const log = o.logger;
  // The command's own sinks: the embedded NDJSON output unless a hub was given, plus extras.
  const sinks: Sink[] = [];
  if (!o.deliver) {
    const dir = o.dataDir ?? path.join(os.tmpdir(), 'sluice-apm');
    sinks.push(createNdjsonSink({ dir: path.resolve(dir) }, { logger: log, id: 'apm_ndjson' }));
  }
  sinks.push(...(o.extraSinks ?? []));
  let part: ApmPart;
  try {
    part = await createApmPart(
      { apm: o.apm, https_proxy: o.proxy ?? (o.apm.proxy as string | undefined) },
      {
        logger: log,
        deliver: (batch) => {
          o.deliver?.(batch);
          for (const s of sinks) s.write(batch);
        },
        onShutdownRequest: o.onShutdownRequest,
        holdShutdownClients: true,
        minuteMs: o.minuteMs,
        graceMs: o.graceMs,
        onMinute: o.onMinute,
      },
    );
  } catch (err) {
    await Promise.all(sinks.map((s) => s.stop(0)));
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    intake: part.intake,
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        const until = Date.now() + deadlineMs;
        // Stopping the part flushes the open minute through `deliver`.
        await part.stop(deadlineMs);
        log.debug('APM aggregation flushed; flushing sinks');
        await Promise.all(sinks.map((s) => s.flush(Math.max(0, until - Date.now())).catch(() => undefined)));
        await Promise.all(sinks.map((s) => s.stop(Math.max(0, until - Date.now())).catch(() => undefined)));
        part.intake.release(); // lets `core-agent shutdown` return: everything was flushed
      })().catch((err) => log.error('core agent stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => ({
      ...part.status(),
      sinks: Object.fromEntries(sinks.map((s) => [s.id, { counters: s.counters, ...s.status() }])),
    }),
  };
}
