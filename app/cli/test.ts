/**
 * `sluice test [--config PATH]`: configuration unit tests.
 *
 * Cases come from a `tests` array in the config, or from a sibling file `<config>.tests.json`
 * (lenient JSON too). A case:
 *   { name: "redacts passwords",
 *     log: "/var/log/app/*.log",          // the entry's path, or its index in `logs`
 *     input: ["login password=x\n", ...], // lines (a newline is added when missing) or one string
 *     expected: [{ message: "login password=<redacted>\n", attrs: { sample_rate: 0.5 } }],
 *     // or  no_output: true
 *     seed: 42 }                          // makes sampling rates other than 0 and 1 repeatable
 * The lines go through the entry's real operators (parse, grouping, sampling, redaction,
 * plugins), with the partial group flushed at the end. Each case prints PASS or FAIL with the
 * difference; exit 0 only when every case passes.
 */
import fs from 'node:fs';
import { Subject } from 'rxjs';
import { loadAgentConfig, formatConfigError } from '../config.js';
import { parseLenientJson } from '../../lib/config/lenientJson.js';
import type { AgentConfig, LogEntryConfig } from '../../lib/config/types.js';
import type { Batch, Event } from '../../lib/types.js';
import { entryChain, createEntryStats } from '../logPipeline.js';
import { Taps } from '../../lib/pipeline/taps.js';
import { Credits } from '../../lib/pipeline/credits.js';
import { silentLogger } from '../../lib/logger.js';
import { createDefaultRegistry } from '../builtins.js';
import { configPathOf, type CliArgs, type Output } from './args.js';
import os from 'node:os';
import path from 'node:path';

export interface ConfigTestCase {
  name?: string;
  log: string | number;
  input: string | string[];
  expected?: { message: string; attrs?: Record<string, unknown> }[];
  no_output?: boolean;
  seed?: number;
}

export interface CaseResult {
  name: string;
  pass: boolean;
  detail?: string;
}

/** Runs the lines of one case through the entry's chain and returns the events out. */
export function runCase(cfg: AgentConfig, entry: LogEntryConfig, index: number, lines: string[], seed: number | undefined, registry = createDefaultRegistry()): Event[] {
  const chain = entryChain({ id: `logs[${index}]`, entry, agent: cfg, registry, taps: new Taps(), stats: createEntryStats(), logger: silentLogger, credits: new Credits(1), seed });
  const stream = { id: 'test', kind: 'log', path: entry.path, attrs: { ...entry.attributes }, ack() {} };
  const input = new Subject<Batch>();
  const out: Event[] = [];
  const sub = chain(stream)(input).subscribe((b) => out.push(...b.events));
  let offset = 0;
  const events: Event[] = lines.map((l) => {
    const message = Buffer.from(l);
    offset += message.length;
    return { message, end: offset };
  });
  input.next({ stream, events, end: offset });
  input.complete(); // flushes held groups
  sub.unsubscribe();
  return out;
}

function asText(m: Buffer | string): string {
  return typeof m === 'string' ? m : m.toString('utf8');
}

export function runCases(cfg: AgentConfig, cases: ConfigTestCase[], registry = createDefaultRegistry()): CaseResult[] {
  return cases.map((c, i) => {
    const name = c.name ?? `tests[${i}]`;
    const index = typeof c.log === 'number' ? c.log : cfg.logs.findIndex((e) => e.path === c.log || path.basename(e.path) === c.log);
    const entry = cfg.logs[index];
    if (!entry) return { name, pass: false, detail: `no log entry ${JSON.stringify(c.log)}` };
    const lines = (Array.isArray(c.input) ? c.input : c.input.split(/(?<=\n)/)).map((l) => (l.endsWith('\n') ? l : l + '\n'));
    let got: Event[];
    try {
      got = runCase(cfg, entry, index, lines, c.seed, registry);
    } catch (err) {
      return { name, pass: false, detail: `error: ${(err as Error).message}` };
    }
    const actual = got.map((e) => ({ message: asText(e.message), attrs: e.attrs ?? {} }));
    if (c.no_output) {
      return actual.length === 0 ? { name, pass: true } : { name, pass: false, detail: `expected no output, got ${JSON.stringify(actual)}` };
    }
    const expected = c.expected ?? [];
    const problems: string[] = [];
    if (actual.length !== expected.length) problems.push(`expected ${expected.length} event(s), got ${actual.length}`);
    expected.forEach((exp, k) => {
      const a = actual[k];
      if (!a) return;
      const expMsg = exp.message.endsWith('\n') || !a.message.endsWith('\n') ? exp.message : exp.message + '\n';
      if (a.message !== expMsg) problems.push(`event ${k}: message ${JSON.stringify(a.message)} != expected ${JSON.stringify(expMsg)}`);
      for (const [k2, v] of Object.entries(exp.attrs ?? {})) {
        if (JSON.stringify(a.attrs[k2]) !== JSON.stringify(v)) problems.push(`event ${k}: attrs.${k2} ${JSON.stringify(a.attrs[k2])} != expected ${JSON.stringify(v)}`);
      }
    });
    return problems.length ? { name, pass: false, detail: problems.join('; ') } : { name, pass: true };
  });
}

export async function test(args: CliArgs, out: Output): Promise<number> {
  const configPath = configPathOf(args);
  const registry = createDefaultRegistry();
  const result = await loadAgentConfig({ configPath, env: process.env, hostname: os.hostname(), registry });
  if (!result.ok) {
    out.err(result.errors.map(formatConfigError).join('\n'));
    return 1;
  }
  let cases = (result.config.tests as ConfigTestCase[] | undefined) ?? [];
  const sibling = configPath.replace(/\.json$/, '') + '.tests.json';
  if (fs.existsSync(sibling)) {
    const r = parseLenientJson(fs.readFileSync(sibling));
    if (!r.ok) {
      out.err(`${sibling}:${r.error.line}:${r.error.column}: ${r.error.message}`);
      return 1;
    }
    const parsed = r.value as unknown;
    const list = Array.isArray(parsed) ? parsed : ((parsed as { tests?: unknown[] }).tests ?? []);
    cases = cases.concat(list as ConfigTestCase[]);
  }
  if (cases.length === 0) {
    out.err(`No tests: add a "tests" array to ${configPath} or write ${sibling}.`);
    return 1;
  }
  const results = runCases(result.config, cases, registry);
  for (const r of results) out.out(`${r.pass ? 'PASS' : 'FAIL'}  ${r.name}${r.detail ? `\n      ${r.detail}` : ''}`);
  const failed = results.filter((r) => !r.pass).length;
  out.out(`${results.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
