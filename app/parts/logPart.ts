/**
 * The log part: one `logs[]` entry, read by the registered file source through the entry's
 * chain (parser, line stages, plugin operators; `app/logPipeline.ts`). Its restart key is the
 * values of what those components declare, plus the keys the log part reads itself.
 */
import type { Component } from '../../lib/component.js';
import type { AgentConfig, LogEntryConfig } from '../../lib/config/types.js';
import type { Logger, Stream } from '../../lib/types.js';
import type { Registry } from '../../lib/registry.js';
import { createCounters, errorMessage } from '../../lib/counters.js';
import type { AgentStatus } from '../../lib/status/types.js';
import { renameLogfile } from '../../lib/renameLogfile.js';
import type { LogSource } from '../../sources/file/logSource.js';
import type { FileSourceServices } from '../../sources/file/component.js';
import { entryChain, createEntryStats, summarize, type EntryStats } from '../logPipeline.js';
import { declared, derive, undeclared, type Built, type KindSpec, type Listed, type Part, type PartContext } from './types.js';

type LogStatus = AgentStatus['logs'][number];

export interface LogPart extends Part<'log', LogStatus> {
  entry: LogEntryConfig;
  source: LogSource;
  stats: EntryStats;
  detach(deadlineMs?: number): Promise<void>;
  /** Drops this part's batches still queued in the sink whose streams a successor re-reads (`reread`: their sequence ids); after `stop()`. */
  discardQueued(reread: ReadonlySet<string>): void;
}

export interface LogPartSpec extends KindSpec<LogPart> {
  path: string;
}

/** The built-in line stages, in chain order, each present when its rule list is not empty. */
const LINE_STAGES: readonly [type: string, rules: keyof LogEntryConfig][] = [
  ['groupLines', 'lineGroupers'],
  ['sample', 'sampling_rules'],
  ['redact', 'redaction_rules'],
];

/** The keys of a `logs[]` entry the log part reads itself (`parse_format`, `operators`…). */
const LOG_PART = declared('log', []);

/** What the entry's part is built from: the file source, its parser, the stages present, its plugin operators. */
export function logPartComponents(entry: LogEntryConfig, registry: Registry): Built[] {
  const named = (kind: Component['kind'], type: string) => registry.component(kind, type) ?? undeclared(`${kind}:${type}`);
  const onEntry = [LOG_PART, named('source', 'file'), named('parser', entry.parse_format ?? 'raw')];
  for (const [type, rules] of LINE_STAGES) if (((entry[rules] as unknown[] | undefined) ?? []).length > 0) onEntry.push(named('operator', type));
  const operators = ((entry.operators as { type: string }[] | undefined) ?? []).map((op) => ({ components: [named('operator', op.type)], own: op }));
  return [{ components: onEntry, own: entry }, ...operators];
}

export function logSpec(cfg: AgentConfig, entry: LogEntryConfig, index: number, startup: boolean, ctx: PartContext & { initialPositions?: Record<string, number> }): LogPartSpec {
  const id = `logs[${index}]`;
  const { logger, hub, stopDeadlineMs } = ctx;
  const { slice, live } = derive(logPartComponents(entry, ctx.registry), cfg);
  return {
    key: `log:${entry.path}`,
    kind: 'log',
    path: entry.path,
    slice,
    live,
    create: async () => {
      const stats = createEntryStats();
      const perFile = entryChain({ id, entry, agent: cfg, registry: ctx.registry, taps: ctx.taps, stats, logger, credits: ctx.credits });
      const file = ctx.registry.component('source', 'file');
      if (!file) throw new Error('no file source registered');
      const services: FileSourceServices = {
        readBuffers: ctx.readBuffers,
        checkpoints: ctx.checkpoints,
        startup,
        streamAttrs: (realPath: string) => streamAttrs(entry, realPath, logger),
        perFile,
        initialPositions: entry.implicit ? ctx.initialPositions : undefined,
      };
      const source = file.create(entry as unknown as Record<string, unknown>, { id, logger, agent: cfg, credits: ctx.credits, dataPath: cfg.agent_data_path, services }) as unknown as LogSource;
      // The streams this part delivered: a successor re-reads them, so their queued batches go.
      const streams = new WeakSet<Stream>();
      const sub = source.batches$.subscribe({
        next: (b) => {
          streams.add(b.stream);
          hub.deliver(b);
        },
        error: (err) => logger.error(`${id} (${entry.path}) stopped: ${errorMessage(err)}`),
      });
      // The first scan fixes where each existing file starts (its end, unless copy_from_start);
      // wait for it so that lines appended after start() resolves are never taken for old ones.
      await Promise.race([source.ready(), new Promise((r) => setTimeout(r, 5000).unref())]);
      return {
        kind: 'log',
        entry,
        source,
        stats,
        status: () => ({
          key: `log:${entry.path}`,
          path: entry.path,
          files: source.status(),
          counters: summarize(source.counters, stats),
          stages: stats.stages,
          redactions: stats.redaction.redactedLines,
          droppedBySampling: { lines: stats.sampling.droppedLines, bytes: stats.sampling.droppedBytes },
        }),
        async detach(deadline = stopDeadlineMs) {
          // Stop reading, let what is in flight be acknowledged, then checkpoint and give the
          // files up (handles stay open until stop()).
          sub.unsubscribe();
          if (hub.sink) await hub.sink.flush(deadline);
          await source.detach();
        },
        async stop(deadline = stopDeadlineMs) {
          sub.unsubscribe();
          if (hub.sink) await hub.sink.flush(deadline);
          await source.stop(deadline);
        },
        discardQueued(reread) {
          // After stop(): this source ignores acks now, and the successor reads these streams
          // again from their checkpoints (only those it found again), so nothing is lost.
          const n = hub.sink?.discard?.((s) => streams.has(s) && s.seqId !== undefined && reread.has(s.seqId)) ?? 0;
          if (n > 0) logger.info(`${id} (${entry.path}) restarted: ${n} queued events dropped from the sink; the restarted entry reads them again from its checkpoint.`);
        },
      };
    },
    // A changed entry: the successor resumes from the acknowledged checkpoints while the old
    // source still holds its files open, so a file rotated away and deleted in between is
    // still reachable (nothing acknowledged is re-sent, nothing unacknowledged is lost).
    async replace(old) {
      await old.detach();
      let next: LogPart | undefined;
      try {
        next = await this.create();
        return next;
      } finally {
        await old.stop(stopDeadlineMs);
        if (next) old.discardQueued(next.source.resumedSeqIds());
      }
    },
  };
}

/** The specs of the config's entries (a path listed twice: the first entry wins). */
export function logSpecs(cfg: AgentConfig, startup: boolean, ctx: PartContext & { initialPositions?: Record<string, number> }): LogPartSpec[] {
  const seen = new Set<string>();
  const specs: LogPartSpec[] = [];
  cfg.logs.forEach((entry, i) => {
    if (seen.has(entry.path)) {
      ctx.logger.warn(`logs[${i}]: path ${entry.path} is listed twice; the first entry wins.`);
      return;
    }
    seen.add(entry.path);
    specs.push(logSpec(cfg, entry, i, startup, ctx));
  });
  return specs;
}

/** One `logs` item of the status (an entry that failed to start: its error and zero counters). */
export function logStatus(p: Listed<LogPart, LogPartSpec>): LogStatus {
  if (p.part) return { ...p.part.status(), key: p.key, error: p.error };
  return { key: p.key, path: p.spec.path, files: [], counters: createCounters(), stages: undefined, redactions: 0, droppedBySampling: { lines: 0, bytes: 0 }, error: p.error };
}

/** The attributes every event of a file carries: the entry's attributes plus `logfile`. */
export function streamAttrs(entry: LogEntryConfig, realPath: string, logger: Logger): Record<string, string> {
  const attrs: Record<string, string> = { ...entry.attributes };
  if (attrs.logfile === undefined && attrs.filename === undefined) {
    if (entry.rename_logfile) {
      const r = renameLogfile(realPath, entry.rename_logfile);
      if (r.warning) logger.warn(`rename_logfile for ${realPath}: ${r.warning}`);
      attrs.logfile = r.logfile;
      if (r.logfile !== realPath) attrs.original_file = realPath;
    } else {
      attrs.logfile = realPath;
    }
  }
  return attrs;
}
