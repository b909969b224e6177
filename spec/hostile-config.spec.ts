/**
 * Mutated and truncated config files (fast-check, a small fixed-seed sample): `sluice validate`
 * and `createAgent(...).start()` must agree, never throw anything but a ConfigInvalidError, always
 * name where the problem is (file:line:col or at least the key path), and never leave a
 * half-started agent (a rejected start leaves no part running and no handle open).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { createAgent, ConfigInvalidError } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { parseArgs, type Output } from '../app/cli/main.js';
import { validate } from '../app/cli/validate.js';
import { waitFor } from './helpers/wait.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-hostile-cfg-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const BASE = `// a realistic agent.json
{
  agent_data_path: "${dir}/data",
  agent_log_path: "${dir}/log",
  implicit_metric_monitor: false,
  implicit_agent_process_metrics_monitor: false,
  implicit_agent_log_collection: false,
  max_line_size: 49900,
  server_attributes: { tier: "test", region: "eu" },
  logs: [
    {
      path: "${dir}/logs/*.log",
      copy_from_start: true,
      attributes: { parser: "appLog", service: "shop" },
      lineGroupers: [ { start: "^[^\\\\s]", continueThrough: "^[\\\\s]+at" } ],
      sampling_rules: [ { match_expression: "DEBUG", sampling_rate: 0.5 } ],
      redaction_rules: [ { match_expression: "password=([^& ]*)", replacement: "password=\\\\H1", hash_salt: "s" } ],
    },
    { path: "${dir}/other.log", parse_format: "json", rename_logfile: "/renamed/$BASENAME" },
  ],
}
`;

const NOISE = ['{', '}', '[', ']', '"', ':', ',', '/*', '//', '\\', '\n', 'true', '-1', '1e999', '"(?P<', 'null', '\u0000', '\u00ff', '+', '"""'];

/** One mutation of the text: truncate, delete a range, insert noise, or swap a value (printable in counterexamples). */
interface Mutation {
  (t: string): string;
  toString(): string;
}
const named = (desc: string, f: (t: string) => string): Mutation => Object.assign(f, { toString: () => desc });
const mutation = fc.oneof(
  fc.nat({ max: BASE.length }).map((n) => named(`truncate at ${n}`, (t) => t.slice(0, n))),
  fc.tuple(fc.nat({ max: BASE.length }), fc.integer({ min: 1, max: 40 })).map(([at, len]) => named(`delete ${len} at ${at}`, (t) => t.slice(0, at) + t.slice(at + len))),
  fc.tuple(fc.nat({ max: BASE.length }), fc.constantFrom(...NOISE)).map(([at, s]) => named(`insert ${JSON.stringify(s)} at ${at}`, (t) => t.slice(0, at) + s + t.slice(at))),
  fc.tuple(fc.constantFrom('0.5', '49900', 'true', '"DEBUG"', '"appLog"'), fc.constantFrom('"x"', '-5', '2', '"("', '{}', '[]', 'null', '"[a-"')).map(([from, to]) =>
    named(`replace ${from} by ${to}`, (t) => t.replace(from, to)),
  ),
);

function capture(): Output & { text: string } {
  const o = { text: '', out: (t: string) => void (o.text += t + '\n'), err: (t: string) => void (o.text += t + '\n') };
  return o;
}

let n = 0;
async function check(text: string): Promise<void> {
  const file = path.join(dir, `agent-${n++}.json`);
  fs.writeFileSync(file, text);
  const out = capture();
  const code = await validate(parseArgs(['validate', '--config', file]), out);
  expect([0, 1]).toContain(code);

  const handles = process.getActiveResourcesInfo().length;
  const agent = createAgent({ configPath: file, logger: memoryLogger(), watchConfig: false });
  let err: unknown;
  await agent.start().catch((e) => (err = e));
  try {
    await judge(file, code, out.text, err, agent);
  } finally {
    await agent.stop(2000);
  }
  await waitFor('no handle left behind', () => process.getActiveResourcesInfo().length <= handles, 3000);
}

async function judge(file: string, code: number, text: string, err: unknown, agent: ReturnType<typeof createAgent>): Promise<void> {
  const out = { text };
  if (code === 0) {
    expect(err).toBeUndefined();
    return;
  }
  const errorLines = out.text.split('\n').filter((l) => l && !l.startsWith('warning:') && !/error\(s\): configuration is not valid/.test(l));
  expect(errorLines.length).toBeGreaterThan(0);
  // The first error names where: file:line:col, or (for checks after parsing) a key path. (Later
  // lines may continue a message; see the known gap about raw characters in messages below.)
  for (const l of errorLines.slice(0, 1)) expect(l).toMatch(new RegExp(`^(${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+(:\\d+)?: |[A-Za-z_][\\w.\\[\\]]*: |logs\\[\\d+\\])`));
  // start() refuses the same config, with the same kind of error, and leaves nothing running.
  if (!(err instanceof ConfigInvalidError)) {
    const s = agent.status();
    throw new Error(`validate said invalid but start() ${err ? `threw ${String(err)}` : 'succeeded'}; running parts: ${JSON.stringify(s.logs.map((l) => [l.key, l.error]))}\nvalidate output:\n${out.text}`);
  }
  expect(agent.status().logs).toEqual([]);
}

describe('hostile config files', () => {
  it('the unmutated base config is valid', async () => {
    await check(BASE);
  });

  it('mutated and truncated configs: an error with a location, never a crash or a half-started agent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
        await check(ms.reduce((t, m) => m(t), BASE));
      }),
      { numRuns: 60, seed: 20261123, endOnFailure: true },
    );
  }, 60_000);

  // Gaps this property found with other seeds, now fixed and pinned.

  it('an unknown parse_format is refused by start() as by validate', async () => {
    await check(BASE.replace('parse_format: "json"', 'parse_format: "jsn"'));
  });

  // A NUL byte in a string option is a config error (Node would throw a raw TypeError on a path).
  it('a NUL byte in a path option is a config error with a location', async () => {
    await check(BASE.replace('/data"', '/da\\u0000ta"'));
  });

  // A control character quoted in a parse error is shown escaped: one error, one line.
  it('parse errors stay on one line', async () => {
    const file = path.join(dir, 'nl.json');
    fs.writeFileSync(file, '{\n  server_attributes: { a: "x\\\ny" }\n}\n');
    const out = capture();
    expect(await validate(parseArgs(['validate', '--config', file]), out)).toBe(1);
    expect(out.text.trim().split('\n')).toHaveLength(2);
  });
});
