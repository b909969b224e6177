/**
 * sample: Scalyr's `sampling_rules` (behavior §3.2) as an rxjs operator on batches.
 *
 * Promises:
 * - Rules in config order; the first whose Python regex is found anywhere in the (grouped)
 *   message decides. No rule matches → kept, no attribute.
 * - Rate 0 → dropped; rate 1 → kept without a random draw; otherwise kept iff `random() < rate`
 *   (`random` is injectable: `seededRandom(seed)` for deterministic runs, `Math.random` by default).
 * - Kept events whose deciding rate ≠ 1 get `attrs.sample_rate = rate` (a new attrs object).
 * - With rules, messages are decoded as UTF-8 with replacement (U+FFFD) for the regexes, as
 *   Scalyr re-encodes every line of a log that has sampling or redaction rules. A kept message
 *   whose bytes were valid UTF-8 stays the original Buffer (re-encoding would give the same
 *   bytes); only one that needed replacement characters is passed on as the decoded string. So
 *   pending lines are held once (the bytes read), not twice.
 * - Dropped events are counted (`counters.dropped.sampling`, plus `stats` lines/bytes); their
 *   bytes stay consumed: the batch `end` is unchanged, and a batch whose events were all dropped
 *   is still emitted (empty) so the sink acknowledges it.
 * - No rules → the operator is the identity (nothing decoded).
 * Errors/complete pass through; nothing is held, so there is nothing to flush or cancel.
 */
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { SamplingRuleConfig } from '../lib/config/types.js';
import type { Batch, ComponentCounters, Event } from '../lib/types.js';
import { compilePythonRegex } from '../lib/regex.js';
import { countDrop, messageBytes } from '../lib/counters.js';
import { eventText, keptMessage, textEvent, type KeepTextOption } from '../lib/message.js';
import { defineComponent } from '../lib/component.js';
import { scalyrOption as s } from '../lib/config/schema.js';

/** Status numbers Scalyr shows for sampling (`lines/bytes dropped by sampling`). */
export interface SamplingStats {
  droppedLines: number;
  droppedBytes: number;
}

export function createSamplingStats(): SamplingStats {
  return { droppedLines: 0, droppedBytes: 0 };
}

export interface SampleOptions extends KeepTextOption {
  /** Uniform random in [0, 1); defaults to Math.random. */
  random?: () => number;
  counters?: ComponentCounters;
  stats?: SamplingStats;
}

/** Repeatable draws (`sluice test`, seeds): see lib/random.ts. */
export { seededRandom } from '../lib/random.js';

interface Rule {
  re: RegExp;
  rate: number;
}

/** Compiles and checks the rules; throws a clear Error naming the rule. */
export function compileSamplingRules(rules: readonly SamplingRuleConfig[]): Rule[] {
  return rules.map((r, i) => {
    const where = `sampling_rules[${i}]`;
    if (!r || typeof r.match_expression !== 'string') throw new Error(`${where}.match_expression: a regular expression is required`);
    const rate = Number(r.sampling_rate);
    if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new Error(`${where}.sampling_rate: must be a number between 0 and 1 (got ${JSON.stringify(r.sampling_rate)})`);
    try {
      return { re: compilePythonRegex(r.match_expression), rate };
    } catch (err) {
      throw new Error(`${where}.match_expression: ${(err as Error).message}`);
    }
  });
}

/** The sampling operator (see the file header). Throws at creation on invalid rules. */
export function sample(rules: readonly SamplingRuleConfig[], opts: SampleOptions = {}): MonoTypeOperatorFunction<Batch> {
  if (!rules || rules.length === 0) return (source) => source;
  const compiled = compileSamplingRules(rules);
  const random = opts.random ?? Math.random;
  const { counters, stats } = opts;
  const keep = opts.keepText === true;
  const nRules = compiled.length;

  const process = (batch: Batch): Batch => {
    const events = batch.events;
    const out: Event[] = [];
    for (let k = 0; k < events.length; k++) {
      const ev = events[k];
      const raw = ev.message;
      const msg = eventText(ev);
      if (counters) {
        counters.receivedEvents++;
        counters.receivedBytes += messageBytes(raw);
      }
      let rate = 1;
      for (let r = 0; r < nRules; r++) {
        if (compiled[r].re.test(msg)) {
          rate = compiled[r].rate;
          break;
        }
      }
      if (rate === 1 || (rate > 0 && random() < rate)) {
        const e = textEvent(keptMessage(raw, msg), ev.end, msg, keep);
        if (ev.ts !== undefined) e.ts = ev.ts;
        if (rate !== 1) e.attrs = ev.attrs ? { ...ev.attrs, sample_rate: rate } : { sample_rate: rate };
        else if (ev.attrs !== undefined) e.attrs = ev.attrs;
        out.push(e);
        if (counters) {
          counters.sentEvents++;
          counters.sentBytes += messageBytes(e.message);
        }
      } else {
        if (counters) countDrop(counters, 'sampling');
        if (stats) {
          stats.droppedLines++;
          stats.droppedBytes += messageBytes(raw);
        }
      }
    }
    return { stream: batch.stream, events: out, end: batch.end };
  };

  // `map` sends an error thrown by `process` downstream as an error notification.
  return map(process);
}

export const SAMPLING_RULE_FIELDS = [
  s({ name: 'match_expression', type: 'regex', required: true, description: 'Lines (or line groups) this regular expression matches (searched anywhere in the message) are sampled by this rule; the first matching rule decides.' }),
  s({ name: 'sampling_rate', type: 'float', required: true, min: 0, max: 1, description: 'Fraction of matching messages kept: 0 drops all of them, 1 keeps all. Kept messages carry a `sample_rate` attribute when the rate is not 1.' }),
];

/** The sampling stage of a `logs[]` entry (present when it has `sampling_rules`). */
export const sampleComponent = defineComponent({
  kind: 'operator',
  type: 'sample',
  home: 'entry',
  countsItself: true,
  doc: 'Keeps only a fraction of the messages matching a pattern (after grouping); every message dropped is counted under `sampling`.',
  options: [
    s({ name: 'sampling_rules', type: 'array', default: [], fields: SAMPLING_RULE_FIELDS, description: 'Keep only a fraction of the messages matching a pattern. Applied after grouping.' }),
  ],
  example: { sampling_rules: [{ match_expression: 'DEBUG', sampling_rate: 0 }] },
  create: (c, ctx) =>
    sample(c.sampling_rules as SamplingRuleConfig[], {
      counters: ctx.counters,
      stats: ctx.services?.sampling as SamplingStats | undefined,
      random: ctx.services?.random as (() => number) | undefined,
      keepText: ctx.services?.keepText === true,
    }),
});
