/**
 * The per-file operator chain of one `logs[]` entry, built from its config:
 *
 *   source ─▶ parse (json | cri | plugin parser) ─▶ groupLines ─▶ sample ─▶ redact ─▶ plugin operators ─▶ sink
 *
 * Each stage is an rxjs operator on batches of one file. Stages without rules are left out, so
 * a plain entry costs nothing but line splitting. Tap points sit after each stage; those before
 * the redaction stage show what a watcher sees through the entry's redaction rules.
 */
import { type OperatorFunction, type MonoTypeOperatorFunction, identity, of, pipe } from 'rxjs';
import type { AgentConfig, LogEntryConfig } from '../lib/config/types.js';
import type { Batch, ComponentCounters, Logger, Stream } from '../lib/types.js';
import type { Registry } from '../lib/registry.js';
import type { Taps } from '../lib/pipeline/taps.js';
import type { Credits } from '../lib/pipeline/credits.js';
import { groupLines } from '../operators/groupLines.js';
import { sample, seededRandom, createSamplingStats, type SamplingStats } from '../operators/sample.js';
import { redact, createRedactionStats, type RedactionStats } from '../operators/redact.js';
import { createCounters } from '../lib/counters.js';
import { parseJson } from '../operators/parseJson.js';
import { parseCri } from '../operators/parseCri.js';

/**
 * What one entry's stages counted. Each stage has its own counters (a shared object would count
 * every event once per stage); `summarize` folds them into the entry's figures.
 */
export interface EntryStats {
  stages: Record<string, ComponentCounters>;
  sampling: SamplingStats;
  redaction: RedactionStats;
}

export function createEntryStats(): EntryStats {
  return { stages: {}, sampling: createSamplingStats(), redaction: createRedactionStats() };
}

/** The entry's figures: received by the source, sent by the last stage, drops and errors of all. */
export function summarize(source: ComponentCounters, stats: EntryStats): ComponentCounters {
  const stages = Object.values(stats.stages);
  const last = stages[stages.length - 1] ?? source;
  const out = createCounters();
  out.receivedEvents = source.receivedEvents;
  out.receivedBytes = source.receivedBytes;
  out.sentEvents = last === source ? source.sentEvents || source.receivedEvents : last.sentEvents;
  out.sentBytes = last === source ? source.sentBytes || source.receivedBytes : last.sentBytes;
  for (const c of [source, ...stages]) {
    for (const [reason, n] of Object.entries(c.dropped)) out.dropped[reason] = (out.dropped[reason] ?? 0) + n;
    out.errors += c.errors;
    if (c.lastError && (!out.lastError || c.lastError.time > out.lastError.time)) out.lastError = c.lastError;
  }
  return out;
}

export interface EntryChainContext {
  id: string;
  entry: LogEntryConfig;
  agent: AgentConfig;
  registry: Registry;
  taps: Taps;
  stats: EntryStats;
  logger: Logger;
  credits: Credits;
  /** Seed for sampling (deterministic runs in `sluice test`). */
  seed?: number;
}

/** Applies the entry's redaction to a batch synchronously (for tap points before the redact stage). */
export function redactBatch(rules: LogEntryConfig['redaction_rules'], batch: Batch): Batch {
  if (!rules || rules.length === 0) return batch;
  let out: Batch = batch;
  // Synchronous: `of` emits at once and redact holds nothing back.
  redact(rules)(of(batch)).subscribe((b) => (out = b));
  return out;
}

/** Builds `(stream) => operator` for one entry. */
export function entryChain(ctx: EntryChainContext): (stream: Stream) => OperatorFunction<Batch, Batch> {
  const { entry, agent, taps, id } = ctx;
  const completionWaitMs = agent.line_completion_wait_time * 1000;
  const hasRedaction = entry.redaction_rules.length > 0;
  const hasSampling = entry.sampling_rules.length > 0;
  const present = hasRedaction ? (b: Batch) => redactBatch(entry.redaction_rules, b) : undefined;

  const counters = (stage: string) => (ctx.stats.stages[stage] ??= createCounters());
  return (_stream: Stream) => {
    const stages: MonoTypeOperatorFunction<Batch>[] = [taps.point(`${id}:source`, present)];
    const parser = parserStage(ctx, completionWaitMs, counters('parse'));
    if (parser) stages.push(parser, taps.point(`${id}:parse`, present));
    if (entry.lineGroupers.length > 0) {
      stages.push(
        groupLines(entry.lineGroupers, { maxLineSize: agent.max_line_size, completionWaitMs, counters: counters('groupLines'), keepText: hasSampling || hasRedaction }),
        taps.point(`${id}:groupLines`, present),
      );
    }
    if (hasSampling) {
      const random = ctx.seed !== undefined ? seededRandom(ctx.seed) : undefined;
      stages.push(sample(entry.sampling_rules, { random, counters: counters('sample'), stats: ctx.stats.sampling, keepText: hasRedaction }), taps.point(`${id}:sample`, present));
    }
    if (hasRedaction) {
      stages.push(redact(entry.redaction_rules, { counters: counters('redact'), stats: ctx.stats.redaction }), taps.point(`${id}:redact`));
    }
    for (const [i, op] of pluginOperators(ctx).entries()) {
      stages.push(op, taps.point(`${id}:operators[${i}]`));
    }
    return stages.length === 0 ? identity : (pipe as (...ops: MonoTypeOperatorFunction<Batch>[]) => MonoTypeOperatorFunction<Batch>)(...stages);
  };
}

function parserStage(ctx: EntryChainContext, completionWaitMs: number, counters: ComponentCounters): MonoTypeOperatorFunction<Batch> | undefined {
  const { entry, agent } = ctx;
  switch (entry.parse_format) {
    case 'raw':
    case undefined:
      return undefined;
    case 'json':
      return parseJson({
        messageField: entry.json_message_field,
        timestampField: entry.json_timestamp_field,
        maxLineSize: agent.max_line_size,
        counters,
      });
    case 'cri':
      return parseCri({ maxLineSize: agent.max_line_size, completionWaitMs, counters });
    default: {
      const factory = ctx.registry.get('parser', entry.parse_format);
      if (!factory) throw new Error(`${ctx.id}.parse_format: no parser named "${entry.parse_format}" (built-in: raw, json, cri; or a plugin's)`);
      return factory(entry as unknown as Record<string, unknown>, {
        id: ctx.id,
        logger: ctx.logger,
        agent: ctx.agent,
        credits: ctx.credits,
        dataPath: ctx.agent.agent_data_path,
      });
    }
  }
}

function pluginOperators(ctx: EntryChainContext): MonoTypeOperatorFunction<Batch>[] {
  const list = (ctx.entry.operators as { type: string }[] | undefined) ?? [];
  return list.map((opConfig, i) => {
    const factory = ctx.registry.get('operator', opConfig.type);
    if (!factory) throw new Error(`${ctx.id}.operators[${i}].type: no operator named "${opConfig.type}"`);
    return factory(opConfig as Record<string, unknown>, {
      id: `${ctx.id}.operators[${i}]`,
      logger: ctx.logger,
      agent: ctx.agent,
      credits: ctx.credits,
      dataPath: ctx.agent.agent_data_path,
    });
  });
}
