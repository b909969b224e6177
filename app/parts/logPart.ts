/**
 * The log part: one `logs[]` entry, read by the registered file source through the entry's
 * chain (parser, line stages, plugin operators; `app/logPipeline.ts`). Its restart key is the
 * values of what those components declare, plus the keys the log part reads itself.
 */
import type { AgentConfig, LogEntryConfig } from '../../lib/config/types.js';
import type { Stream } from '../../lib/types.js';
import type { Registry } from '../../lib/registry.js';
import { createCounters, errorMessage } from '../../lib/counters.js';
import type { AgentStatus } from '../../lib/status/types.js';
import type { LogSource } from '../../sources/file/logSource.js';
import type { FileSourceServices } from '../../sources/file/component.js';
import { chainStages, entryChain, createEntryStats, summarize, type EntryStats } from '../logPipeline.js';
import { LOG_ENTRY_PART_OPTIONS, routeOf } from './routes.js';
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

/** The keys of a `logs[]` entry the log part reads itself (`parse_format`, `operators`…). */
const LOG_PART = declared('log', LOG_ENTRY_PART_OPTIONS);

/**
 * What the entry's part is built from: the file source, and the chain's stages (its parser, the
 * line stages present, its plugin operators, each with the object holding its own options).
 */
export function logPartComponents(id: string, entry: LogEntryConfig, registry: Registry): Built[] {
  const file = registry.component('source', 'file') ?? undeclared('source:file');
  let stages: ReturnType<typeof chainStages>;
  try {
    stages = chainStages(id, entry, registry);
  } catch {
    // A type that is not registered: building the part fails and says why; any change retries it.
    return [{ components: [LOG_PART, file, undeclared('log chain')], own: entry }];
  }
  const onEntry = [LOG_PART, file, ...stages.filter((st) => st.own === entry).map((st) => st.component)];
  return [{ components: onEntry, own: entry }, ...stages.filter((st) => st.own !== entry).map((st) => ({ components: [st.component], own: st.own }))];
}

export function logSpec(cfg: AgentConfig, entry: LogEntryConfig, index: number, startup: boolean, ctx: PartContext & { initialPositions?: Record<string, number> }): LogPartSpec {
  const id = `logs[${index}]`;
  const { logger, hub, stopDeadlineMs } = ctx;
  const { slice, live } = derive(logPartComponents(id, entry, ctx.registry), cfg);
  return {
    key: `log:${entry.path}`,
    kind: 'log',
    path: entry.path,
    slice,
    live,
    create: async () => {
      const stats = createEntryStats();
      // Its route and that route's read budget: a sink that is down holds back only what goes to it.
      const route = routeOf(entry); // undefined: every sink, whichever the config names later
      const credits = hub.budgets.of(route);
      const perFile = entryChain({ id, entry, agent: cfg, registry: ctx.registry, taps: ctx.taps, stats, logger, credits });
      const file = ctx.registry.component('source', 'file');
      if (!file) throw new Error('no file source registered');
      const services: FileSourceServices = {
        readBuffers: ctx.readBuffers,
        checkpoints: ctx.checkpoints,
        startup,
        perFile,
        initialPositions: entry.implicit ? ctx.initialPositions : undefined,
      };
      const source = file.create(entry as unknown as Record<string, unknown>, { id, logger, agent: cfg, credits, dataPath: cfg.agent_data_path, services }) as unknown as LogSource;
      // The streams this part delivered: a successor re-reads them, so their queued batches go.
      const streams = new WeakSet<Stream>();
      const sub = source.batches$.subscribe({
        next: (b) => {
          streams.add(b.stream);
          hub.deliver(b, route);
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
          await hub.flush(deadline, route);
          await source.detach();
        },
        async stop(deadline = stopDeadlineMs) {
          sub.unsubscribe();
          await hub.flush(deadline, route);
          await source.stop(deadline);
        },
        discardQueued(reread) {
          // After stop(): this source ignores acks now, and the successor reads these streams
          // again from their checkpoints (only those it found again), so nothing is lost.
          const n = hub.discard((s) => streams.has(s) && s.seqId !== undefined && reread.has(s.seqId));
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
