/**
 * redact: Scalyr's `redaction_rules` (behavior §3.3) as an rxjs operator on batches.
 *
 * Promises:
 * - Every rule, in config order, on the output of the previous one; each replaces ALL
 *   non-overlapping matches of its Python regex (Python `re.subn`).
 * - Replacement templates are Python's: `\1`..`\99`, `\g<name>`, `\g<1>`, escapes like `\n`;
 *   unmatched groups become empty; `$1` is literal text.
 * - A replacement containing `\H` takes Scalyr's hashing path: for every match and every group
 *   `i`, the first `\H<i>` in the replacement becomes the lowercase hex MD5 of (group text +
 *   `hash_salt`) (UTF-8), else the first `\<i>` becomes the group text; the rest is literal.
 * - With rules, messages are decoded as UTF-8 with replacement for the regexes. A message no rule
 *   matched whose bytes were valid UTF-8 stays the original Buffer (the same bytes, held once),
 *   and its event goes on as the same object (its kept text dropped unless a later stage decodes);
 *   a changed one, or one that needed replacement characters, is passed on as the new string in
 *   a new event.
 * - Redaction counts (Scalyr's "N redactions"): an event counts once if any rule matched. They go
 *   to the optional `stats` object ({@link RedactionStats}: `redactedLines` and per-rule
 *   `lines`/`matches`), because `ComponentCounters` has no slot for "changed but kept".
 *   `counters` count received/sent events and bytes (sent bytes are the post-redaction size).
 * - No rules → the operator is the identity (nothing decoded). Nothing is held; errors and
 *   completion pass through.
 *
 * Deliberate difference from the Python agent: an unmatched group under `\H` hashes the empty
 * string (+ salt) instead of raising and leaving the file stuck forever.
 */
import { createHash } from 'node:crypto';
import { map, type MonoTypeOperatorFunction } from 'rxjs';
import type { RedactionRuleConfig } from '../lib/config/types.js';
import type { Batch, ComponentCounters, Event } from '../lib/types.js';
import { compilePythonRegex, parsePythonReplacement, translatePythonRegex, type ReplacementPart } from '../lib/regex.js';
import { messageBytes } from '../lib/counters.js';
import { eventText, keepText, keptMessage, textEvent, type KeepTextOption } from '../lib/message.js';
import { defineComponent } from '../lib/component.js';
import { scalyrOption as s } from '../lib/config/schema.js';

/** Redaction numbers for status. */
export interface RedactionStats {
  /** Events changed by at least one rule (Scalyr's "redactions"). */
  redactedLines: number;
  /** Per rule, in config order: events it matched and the number of substitutions. */
  rules: { lines: number; matches: number }[];
}

export function createRedactionStats(): RedactionStats {
  return { redactedLines: 0, rules: [] };
}

export interface RedactOptions extends KeepTextOption {
  counters?: ComponentCounters;
  stats?: RedactionStats;
}

/** One compiled rule: `apply` returns the new text; `count` holds its substitutions. */
export interface CompiledRedactionRule {
  apply(text: string): string;
  count: number;
}

function md5hex(s: string): string {
  return createHash('md5').update(s, 'utf8').digest('hex');
}

/** Compiles one rule; throws a clear Error (pattern or replacement problem) naming the rule. */
export function compileRedactionRule(rule: RedactionRuleConfig, where = 'redaction_rule'): CompiledRedactionRule {
  if (!rule || typeof rule.match_expression !== 'string') throw new Error(`${where}.match_expression: a regular expression is required`);
  const replacement = rule.replacement === undefined || rule.replacement === null ? '' : String(rule.replacement);
  const salt = rule.hash_salt === undefined || rule.hash_salt === null ? '' : String(rule.hash_salt);
  let re: RegExp;
  let groupCount: number;
  let groupNames: Record<string, number>;
  try {
    const t = translatePythonRegex(rule.match_expression);
    groupCount = t.groupCount;
    groupNames = t.groupNames;
    re = compilePythonRegex(rule.match_expression, 'g');
  } catch (err) {
    throw new Error(`${where}.match_expression: ${(err as Error).message}`);
  }

  if (replacement.includes('\\H')) {
    // Scalyr's hashing path: plain string substitution of `\H<i>` / `\<i>` markers.
    const hashed: boolean[] = [];
    const markers: string[] = [];
    for (let g = 1; g <= groupCount; g++) {
      const h = `\\H${g}`;
      hashed[g] = replacement.includes(h);
      markers[g] = hashed[g] ? h : `\\${g}`;
    }
    const compiled: CompiledRedactionRule = {
      count: 0,
      apply(text: string): string {
        re.lastIndex = 0;
        let m: RegExpExecArray | null;
        let last = 0;
        let out = '';
        let matched = false;
        while ((m = re.exec(text)) !== null) {
          matched = true;
          let piece = replacement;
          for (let g = 1; g <= groupCount; g++) {
            const value = m[g] ?? '';
            const sub = hashed[g] ? md5hex(value + salt) : value;
            const at = piece.indexOf(markers[g]);
            if (at >= 0) piece = piece.slice(0, at) + sub + piece.slice(at + markers[g].length);
            compiled.count++;
          }
          out += text.slice(last, m.index) + piece;
          last = m.index + m[0].length;
          if (m[0].length === 0) re.lastIndex++;
        }
        if (!matched) return text;
        return out + text.slice(last);
      },
    };
    return compiled;
  }

  let parts: ReplacementPart[];
  try {
    parts = parsePythonReplacement(replacement, groupCount, groupNames);
  } catch (err) {
    throw new Error(`${where}.replacement: ${(err as Error).message}`);
  }
  const literal = parts.length === 0 ? '' : parts.length === 1 && typeof parts[0] === 'string' ? parts[0] : undefined;
  const compiled: CompiledRedactionRule = {
    count: 0,
    apply(text: string): string {
      // Most lines do not match: a test costs less than a replace with a function that finds nothing.
      re.lastIndex = 0;
      if (!re.test(text)) return text;
      re.lastIndex = 0;
      return text.replace(re, replacer);
    },
  };
  // One replacer per rule (no per-line closures). Arguments: match, groups 1..n, offset, …
  const replacer =
    literal !== undefined
      ? (): string => {
          compiled.count++;
          return literal;
        }
      : (...args: unknown[]): string => {
          compiled.count++;
          let s = '';
          for (const p of parts) s += typeof p === 'string' ? p : ((args[p] as string | undefined) ?? '');
          return s;
        };
  return compiled;
}

/** The redaction operator (see the file header). Throws at creation on invalid rules. */
export function redact(rules: readonly RedactionRuleConfig[], opts: RedactOptions = {}): MonoTypeOperatorFunction<Batch> {
  if (!rules || rules.length === 0) return (source) => source;
  const compiled = rules.map((r, i) => compileRedactionRule(r, `redaction_rules[${i}]`));
  const { counters, stats } = opts;
  const keep = opts.keepText === true;
  if (stats) while (stats.rules.length < compiled.length) stats.rules.push({ lines: 0, matches: 0 });
  const n = compiled.length;

  const process = (batch: Batch): Batch => {
    const events = batch.events;
    let out: Event[] | undefined; // allocated at the first event that changes
    for (let k = 0; k < events.length; k++) {
      const ev = events[k];
      const raw = ev.message;
      let msg = eventText(ev);
      if (counters) {
        counters.receivedEvents++;
        counters.receivedBytes += messageBytes(raw);
      }
      let any = false;
      for (let r = 0; r < n; r++) {
        const rule = compiled[r];
        const before = rule.count;
        msg = rule.apply(msg);
        const matches = rule.count - before;
        if (matches > 0) {
          any = true;
          if (stats) {
            stats.rules[r].lines++;
            stats.rules[r].matches += matches;
          }
        }
      }
      if (any && stats) stats.redactedLines++;
      const message = any ? msg : keptMessage(raw, msg);
      let e: Event;
      if (message === raw) {
        // Unchanged (and valid UTF-8): the very same event goes on, with its decoded text only
        // when a later stage decodes it too (events waiting in a sink never hold their text).
        e = ev;
        if (keep) keepText(ev, msg);
        else if (ev.textOf !== undefined) {
          ev.text = undefined;
          ev.textOf = undefined;
        }
        if (out) out[k] = e;
      } else {
        e = textEvent(message, ev.end, msg, keep);
        if (ev.ts !== undefined) e.ts = ev.ts;
        if (ev.attrs !== undefined) e.attrs = ev.attrs;
        if (!out) out = events.slice(0, k);
        out[k] = e;
      }
      if (counters) {
        counters.sentEvents++;
        counters.sentBytes += messageBytes(e.message);
      }
    }
    return { stream: batch.stream, events: out ?? events.slice(), end: batch.end };
  };

  // `map` sends an error thrown by `process` downstream as an error notification.
  return map(process);
}

/** Applies rules to one text (for `sluice test`, taps…): the new text and whether any matched. */
export function redactText(rules: readonly RedactionRuleConfig[], text: string): { text: string; redacted: boolean } {
  let any = false;
  for (const [i, r] of rules.entries()) {
    const c = compileRedactionRule(r, `redaction_rules[${i}]`);
    text = c.apply(text);
    if (c.count > 0) any = true;
  }
  return { text, redacted: any };
}

export const REDACTION_RULE_FIELDS = [
  s({ name: 'match_expression', type: 'regex', required: true, description: 'Every match of this regular expression in a message is replaced.' }),
  s({ name: 'replacement', type: 'string', default: '', description: 'Replacement text; `\\1` or `\\g<name>` insert groups, `\\H1` inserts the MD5 hash of group 1 plus `hash_salt`.' }),
  s({ name: 'hash_salt', type: 'string', default: '', description: 'Salt appended before hashing for `\\H<n>` replacements.' }),
];

/** The redaction stage of a `logs[]` entry (present when it has `redaction_rules`). */
export const redactComponent = defineComponent({
  kind: 'operator',
  type: 'redact',
  home: 'entry',
  countsItself: true,
  doc: 'Rewrites or removes parts of messages before they leave the host (after sampling).',
  options: [
    s({ name: 'redaction_rules', type: 'array', default: [], fields: REDACTION_RULE_FIELDS, description: 'Rewrite or remove parts of messages before they leave the host. Applied after sampling.' }),
  ],
  example: { redaction_rules: [{ match_expression: 'password=\\S+', replacement: 'password=***' }] },
  create: (c, ctx) =>
    redact(c.redaction_rules as RedactionRuleConfig[], {
      counters: ctx.counters,
      stats: ctx.services?.redaction as RedactionStats | undefined,
      keepText: ctx.services?.keepText === true,
    }),
});
