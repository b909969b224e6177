/**
 * The per-file operator chain of one `logs[]` entry, built from its config, every stage through
 * the registry:
 *
 *   source ─▶ parser ─▶ groupLines ─▶ sample ─▶ redact ─▶ plugin operators ─▶ sink
 *
 * - the parser is `registry.component('parser', entry.parse_format)` (raw, json, cri or a
 *   plugin's); a parser whose operator is the identity (raw) is left out of the chain;
 * - the built-in line stages are the registered `groupLines`, `sample` and `redact` components,
 *   in that order, each present when its rule list is not empty;
 * - then the entry's `operators[]`, each item `{type, ...options}` built by
 *   `registry.component('operator', type)` from the item.
 *
 * Each stage gets its own counters (`EntryStats.stages[name]`) and the shared services
 * (`keepText`, sampling/redaction stats, seeded random, scheduler). A component that does not
 * count itself (a plugin's) is wrapped so it is counted at its boundary (lib/countAtBoundary.ts):
 * an operator that removes events shows them as dropped under `operator:<type>` (`parser:<type>`
 * for a parser), and `summarize` reads the counters of the real last stage.
 *
 * Tap points sit after each stage; those before the redaction stage show what a watcher sees
 * through the entry's redaction rules.
 */
import { type OperatorFunction, type MonoTypeOperatorFunction, type SchedulerLike, identity, of, pipe } from 'rxjs';
import type { AgentConfig, LogEntryConfig } from '../lib/config/types.js';
import type { Batch, ComponentCounters, Logger, Stream } from '../lib/types.js';
import type { Registry } from '../lib/registry.js';
import type { Component, ComponentContext, OptionDecl } from '../lib/component.js';
import { withDefaults } from '../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../lib/config/schema.js';
import type { Taps } from '../lib/pipeline/taps.js';
import type { Credits } from '../lib/pipeline/credits.js';
import { createCounters } from '../lib/counters.js';
import { countAtBoundary } from '../lib/countAtBoundary.js';
import { createSamplingStats, type SamplingStats } from '../operators/sample.js';
import { seededRandom } from '../lib/random.js';
import { createRedactionStats, type RedactionStats } from '../operators/redact.js';
import type { PerFileChain } from '../sources/file/logSource.js';

/** The keys of a `logs[]` entry the log part reads itself (the components declare the rest). */
export const LOG_PART_OPTIONS: OptionDecl[] = [
  s({ name: 'parse_lines_as_json', type: 'bool', description: 'true sets `parse_format` to `json`, false to `raw`.' }),
  s({ name: 'parse_format', type: 'string', default: 'raw', description: '`raw` (lines as they are), `json` (each line a JSON object; see `json_message_field`), `cri` (container runtime log lines), or the name of a parser registered by a plugin.' }),
  own({ name: 'operators', type: 'array', default: [], env: false, description: 'Operators registered by plugins, applied in order after the built-in stages: `[{type: "name", ...its options}]`.' }),
];

/** The built-in line stages, in chain order, each present when its rule list is not empty. */
export const LINE_STAGES: readonly (readonly [type: string, rules: keyof LogEntryConfig])[] = [
  ['groupLines', 'lineGroupers'],
  ['sample', 'sampling_rules'],
  ['redact', 'redaction_rules'],
];

/**
 * What one entry's stages counted. Each stage has its own counters (a shared object would count
 * every event once per stage); `summarize` folds them into the entry's figures.
 */
export interface EntryStats {
  /** By stage name (`parse`, `groupLines`, `sample`, `redact`, `operators[i]`), in chain order. */
  stages: Record<string, ComponentCounters>;
  sampling: SamplingStats;
  redaction: RedactionStats;
}

export function createEntryStats(): EntryStats {
  return { stages: {}, sampling: createSamplingStats(), redaction: createRedactionStats() };
}

/** The entry's figures: received by the source, sent by the last stage, drops and errors of all. */
export function summarize(source: ComponentCounters, stats: EntryStats): ComponentCounters {
  // Stages are recorded in chain order when the chain is built, so the last one is the real last stage.
  const stages = Object.values(stats.stages);
  const last = stages[stages.length - 1];
  const out = createCounters();
  out.receivedEvents = source.receivedEvents;
  out.receivedBytes = source.receivedBytes;
  out.sentEvents = last ? last.sentEvents : source.sentEvents || source.receivedEvents;
  out.sentBytes = last ? last.sentBytes : source.sentBytes || source.receivedBytes;
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
  /** Scheduler for the time-based stages (tests pass a TestScheduler). */
  scheduler?: SchedulerLike;
}

/** One stage of the chain: its name in status, the component, and the config it reads its own options from. */
export interface ChainStage {
  name: string;
  component: Component;
  own: Record<string, unknown>;
}

/**
 * The components an entry's chain is built from, in order (the parser first, raw included).
 * Throws naming the option when a type is not registered.
 */
export function chainStages(id: string, entry: LogEntryConfig, registry: Registry): ChainStage[] {
  const out: ChainStage[] = [];
  const format = entry.parse_format ?? 'raw';
  const parser = registry.component('parser', format);
  if (!parser) throw new Error(`${id}.parse_format: no parser named "${format}" (registered: ${registry.types('parser').join(', ')})`);
  out.push({ name: 'parse', component: parser, own: entry });
  for (const [type, rules] of LINE_STAGES) {
    if (((entry[rules] as unknown[] | undefined) ?? []).length === 0) continue;
    const c = registry.component('operator', type);
    if (!c) throw new Error(`${id}.${String(rules)}: the built-in "${type}" stage is not registered`);
    out.push({ name: type, component: c, own: entry });
  }
  const list = (entry.operators as { type: string }[] | undefined) ?? [];
  list.forEach((item, i) => {
    const c = registry.component('operator', item?.type);
    if (!c) throw new Error(`${id}.operators[${i}].type: no operator named "${item?.type}" (registered: ${registry.types('operator').join(', ')})`);
    out.push({ name: `operators[${i}]`, component: c, own: withDefaults(c, item as Record<string, unknown>) });
  });
  return out;
}

/** Applies the entry's redaction to a batch synchronously (for tap points before the redact stage). */
export function redactBatch(registry: Registry, entry: LogEntryConfig, batch: Batch, ctx: Omit<ComponentContext, 'counters' | 'services'>): Batch {
  const redact = registry.component('operator', 'redact');
  if (!redact || !entry.redaction_rules || entry.redaction_rules.length === 0) return batch;
  let out: Batch = batch;
  // Synchronous: `of` emits at once and redact holds nothing back.
  redact.create(entry as unknown as Record<string, unknown>, ctx)(of(batch)).subscribe((b) => (out = b));
  return out;
}

/**
 * Builds `(stream) => operator` for one entry. The stages are looked up (and a missing type
 * reported) now; each stream (file incarnation) gets fresh operator instances. The function's
 * `lineLimit` is the longest line the parser takes whole (its `readLineLimit`), for the reader.
 */
export function entryChain(ctx: EntryChainContext): PerFileChain {
  const { entry, agent, taps, id, registry } = ctx;
  const stages = chainStages(id, entry, registry);
  const base = { logger: ctx.logger, agent: agent as unknown as Record<string, unknown>, credits: ctx.credits, dataPath: agent.agent_data_path };
  const present = entry.redaction_rules?.length > 0 ? (b: Batch) => redactBatch(registry, entry, b, { ...base, id: `${id}.redact` }) : undefined;
  // Counters exist from the start, in chain order (so `summarize` finds the last stage before any file).
  const counters = (name: string) => (ctx.stats.stages[name] ??= createCounters());

  const parser = stages[0].component;
  const limit = parser.readLineLimit?.(entry, agent as unknown as Record<string, unknown>);
  const redactAt = stages.findIndex((st) => st.own === entry && st.component.kind === 'operator' && st.component.type === 'redact');
  for (const st of stages) counters(st.name);

  const build = (): MonoTypeOperatorFunction<Batch>[] => {
    const ops: MonoTypeOperatorFunction<Batch>[] = [taps.point(`${id}:source`, present)];
    // Each stream draws its own seeded sequence (repeatable per file in `sluice test`).
    const random = ctx.seed !== undefined ? seededRandom(ctx.seed) : undefined;
    stages.forEach((st, i) => {
      const c = counters(st.name);
      const services = {
        // A later built-in line stage decodes the text again: keep the decoded string.
        keepText: stages.slice(i + 1).some((later) => later.own === entry && later.component.kind === 'operator'),
        sampling: ctx.stats.sampling,
        redaction: ctx.stats.redaction,
        random,
        scheduler: ctx.scheduler,
      };
      const stageId = st.name === 'parse' ? `${id}.parse_format` : `${id}.${st.name}`;
      let op = (st.component.create as (own: Record<string, unknown>, x: ComponentContext) => OperatorFunction<Batch, Batch>)(st.own, { ...base, id: stageId, counters: c, services });
      if (op === identity) {
        // Nothing to do (the raw parser): no stage, and no counters that would pose as the last stage.
        delete ctx.stats.stages[st.name];
        return;
      }
      if (!st.component.countsItself) op = countAtBoundary(op, c, { reason: `${st.component.kind}:${st.component.type}` });
      // Tap points up to the redaction stage show the batch through the entry's redaction.
      ops.push(op, taps.point(`${id}:${st.name}`, redactAt >= 0 && i < redactAt ? present : undefined));
    });
    return ops;
  };

  const chain = ((_stream: Stream) => {
    const ops = build();
    return ops.length === 0 ? identity : (pipe as (...o: MonoTypeOperatorFunction<Batch>[]) => MonoTypeOperatorFunction<Batch>)(...ops);
  }) as PerFileChain;
  if (limit !== undefined) chain.lineLimit = limit;
  return chain;
}
