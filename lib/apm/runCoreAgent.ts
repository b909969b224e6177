/**
 * runCoreAgent: the standalone APM pipeline the `core-agent` command runs until `createAgent`
 * (lib/agent.ts) takes over: span intake → aggregateSpans → minute batches → sinks (the embedded
 * NDJSON sink under `dataDir`, plus the Scout check-in sink when `apm.ingest_url` is set).
 *
 * Promises: resolves once listening (rejects with code `EADDRINUSE_LIVE` when another agent
 * answers on the socket); `stop()` closes the intake, flushes the open minute to every sink,
 * then stops the sinks, within the deadline; idempotent, never rejects.
 */
import os from 'node:os';
import path from 'node:path';
import { merge, type Subscription } from 'rxjs';
import type { ApmConfig } from '../config/types.js';
import type { Batch, Logger, Sink } from '../types.js';
import { createSpanIntake, type SpanIntake } from '../../sources/spanSocket/index.js';
import { aggregateSpans } from '../../operators/aggregateSpans.js';
import { createApmBatcher } from './toBatches.js';
import { createNdjsonSink } from '../../sinks/ndjson/sink.js';
import { createCheckinSink } from '../../sinks/checkin/index.js';
import { createCounters, countError, errorMessage } from '../counters.js';
import type { ApmMinute } from './types.js';

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

const secs = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : d);

export interface CoreAgentHandle {
  intake: SpanIntake;
  stop(deadlineMs?: number): Promise<void>;
  status(): Record<string, unknown>;
}

export async function runCoreAgent(o: RunCoreAgentOptions): Promise<CoreAgentHandle> {
  const log = o.logger;
  const intake = createSpanIntake(o.apm, { logger: log, onShutdown: o.onShutdownRequest, holdShutdownClients: true });
  const batcher = createApmBatcher();
  const sinks: Sink[] = [];
  if (!o.deliver) {
    const dir = o.dataDir ?? path.join(os.tmpdir(), 'sluice-apm');
    sinks.push(createNdjsonSink({ dir: path.resolve(dir) }, { logger: log, id: 'apm_ndjson' }));
  }
  if (o.apm.ingest_url) {
    sinks.push(
      createCheckinSink(
        { ingest_url: o.apm.ingest_url, key: o.apm.key, proxy: o.proxy ?? (o.apm.proxy as string | undefined) },
        { logger: log, keyring: batcher.keyring },
      ),
    );
  }
  sinks.push(...(o.extraSinks ?? []));
  const aggCounters = createCounters();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sub: Subscription = merge(intake.completed$, intake.appEvents$)
    .pipe(aggregateSpans({ graceMs: o.graceMs ?? secs(o.apm.grace_secs, 10) * 1000, minuteMs: o.minuteMs ?? secs(o.apm.minute_secs, 60) * 1000, counters: aggCounters }))
    .subscribe({
      next: (m) => {
        try {
          o.onMinute?.(m);
          const batch = batcher.toBatch(m);
          o.deliver?.(batch);
          for (const s of sinks) s.write(batch);
        } catch (err) {
          countError(aggCounters, err);
        }
      },
      error: (err) => {
        log.error('APM aggregation failed', { error: errorMessage(err) });
        done();
      },
      complete: () => done(),
    });
  try {
    await intake.listen();
  } catch (err) {
    sub.unsubscribe();
    await intake.stop(0);
    await Promise.all(sinks.map((s) => s.stop(0)));
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    intake,
    stop(deadlineMs = 10_000) {
      stopping ??= (async () => {
        const until = Date.now() + deadlineMs;
        await intake.stop(Math.min(2000, deadlineMs));
        log.debug('APM intake stopped; flushing the open minute');
        // The intake completing flushes the open minute through aggregateSpans.
        await Promise.race([finished, new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())).unref())]);
        sub.unsubscribe();
        log.debug('APM aggregation flushed; flushing sinks');
        await Promise.all(sinks.map((s) => s.flush(Math.max(0, until - Date.now())).catch(() => undefined)));
        await Promise.all(sinks.map((s) => s.stop(Math.max(0, until - Date.now())).catch(() => undefined)));
        intake.release(); // lets `core-agent shutdown` return: everything was flushed
      })().catch((err) => log.error('core agent stop failed', { error: errorMessage(err) }));
      return stopping;
    },
    status: () => ({
      intake: { ...intake.status(), counters: intake.counters },
      aggregation: aggCounters,
      sinks: Object.fromEntries(sinks.map((s) => [s.id, { counters: s.counters, ...s.status() }])),
    }),
  };
}
