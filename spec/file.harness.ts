/**
 * Test harness for the file source: real files in temp dirs, a real checkpoint store, and a fake
 * sink that collects batches and acknowledges them (or not).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { OperatorFunction, Subscription } from 'rxjs';
import { CheckpointStore } from '../lib/checkpoints/store.js';
import { Credits } from '../lib/pipeline/credits.js';
import type { ReadBuffers } from '../lib/pipeline/readBuffers.js';
import { memoryLogger } from '../lib/logger.js';
import type { Batch, Stream } from '../lib/types.js';
import type { LogEntryConfig } from '../lib/config/types.js';
import { createLogSource, type LogSource, type LogSourceAgentOptions } from '../sources/file/logSource.js';

export const tmpDir = (p = 'sluice-file-') => fs.mkdtempSync(path.join(os.tmpdir(), p));

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function entryFor(p: string, extra: Partial<LogEntryConfig> = {}): LogEntryConfig {
  return {
    path: p,
    attributes: {},
    exclude: [],
    lineGroupers: [],
    sampling_rules: [],
    redaction_rules: [],
    copy_from_start: false,
    parse_format: 'raw',
    json_message_field: 'log',
    json_timestamp_field: 'time',
    ignore_stale_files: false,
    staleness_threshold_secs: 300,
    ...extra,
  };
}

export interface RunOptions {
  entry: LogEntryConfig;
  dataDir: string;
  agent?: LogSourceAgentOptions;
  /** Ack every batch (default true). A function decides per batch. */
  ack?: boolean | ((b: Batch) => boolean);
  budget?: number;
  credits?: Credits;
  /** Reusable read pages (the agent passes one); pages are then only valid until acked. */
  readBuffers?: ReadBuffers;
  startup?: boolean;
  watch?: boolean;
  pollIntervalMs?: number;
  initialPositions?: Record<string, number>;
  perFile?: (s: Stream) => OperatorFunction<Batch, Batch>;
  /** Replaces the default ack handling: the test decides when to ack. */
  onBatch?: (b: Batch) => void;
}

export interface Run {
  source: LogSource;
  store: CheckpointStore;
  credits: Credits;
  batches: Batch[];
  logger: ReturnType<typeof memoryLogger>;
  /** Lines (latin1) in arrival order, optionally only those of one stream path. */
  lines(): string[];
  /** Stops the source and closes the store. */
  stop(): Promise<void>;
  sub: Subscription;
}

export async function startRun(o: RunOptions): Promise<Run> {
  const store = await CheckpointStore.open(o.dataDir, { flushIntervalMs: 5 });
  const credits = o.credits ?? new Credits(o.budget ?? 64 * 1024 * 1024);
  const logger = memoryLogger();
  const source = createLogSource(o.entry, {
    credits,
    readBuffers: o.readBuffers,
    checkpoints: store,
    logger,
    agent: { max_line_size: 49900, read_page_size: 65536, line_completion_wait_time: 5, log_deletion_delay: 600, max_new_log_detection_time: 60, ...o.agent },
    startup: o.startup ?? true,
    streamAttrs: (p) => ({ logfile: p }),
    perFile: o.perFile ?? (() => (x) => x),
    pollIntervalMs: o.pollIntervalMs ?? 20,
    watch: o.watch,
    initialPositions: o.initialPositions,
  });
  const batches: Batch[] = [];
  const sub = source.batches$.subscribe((b) => {
    batches.push(b);
    if (o.onBatch) return o.onBatch(b);
    const ack = o.ack ?? true;
    if (ack === true || (typeof ack === 'function' && ack(b))) b.stream.ack(b.end);
  });
  await source.ready();
  return {
    source,
    store,
    credits,
    batches,
    logger,
    sub,
    lines: () => batches.flatMap((b) => b.events.map((e) => (Buffer.isBuffer(e.message) ? e.message.toString('latin1') : e.message))),
    async stop() {
      sub.unsubscribe();
      await source.stop(5000);
      await store.close();
    },
  };
}
