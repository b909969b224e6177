/** Property: whatever the bytes, loading a config returns a result (ok or errors) and never throws. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { loadConfig, parseConfigObject } from '../app/config.js';
import { parseLenientJson } from '../lib/config/lenientJson.js';
import type { ConfigResult } from '../lib/config/errors.js';

const BASE = `// sample config
{
  import_vars: [ "HOME", { var: "X", default: "d" } ],
  api_key: "abc$X",
  server_attributes: { serverHost: "h", tier: 3 },
  logs: [
    { path: "/var/log/a.log", attributes: { parser: "p" },
      lineGroupers: [ { start: "^\\\\S", continueThrough: "^\\\\s" } ],
      sampling_rules: [ { match_expression: "DEBUG", sampling_rate: 0.1 } ],
      redaction_rules: [ { match_expression: "pw=(\\\\w+)", replacement: "pw=\\\\H1" } ] }
    { path: "rel/" + "b.log", note: """multi
"line" end""", exclude: [ "*.gz", ], }
  ],
  monitors: [ { module: "shell_monitor", command: "date", extract: "(\\\\d+)" } ],
  debug_level: "2", compression_level: 12, /* c */ apm: { enabled: true },
  max_send_rate_enforcement: "2 MB/s",
}
`;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-config-prop-'));
  fs.mkdirSync(path.join(tmp, 'agent.d'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function wellFormed(r: ConfigResult): boolean {
  if (typeof r !== 'object' || r === null) return false;
  if (r.ok) return typeof r.config === 'object' && Array.isArray(r.config.logs) && Array.isArray(r.warnings);
  return r.errors.length > 0 && r.errors.every((e) => typeof e.path === 'string' && typeof e.message === 'string' && e.message.length > 0);
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('insertChar' as const), at: fc.nat(), ch: fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '/', '*', '\\', '\n', '+', '$', '-', ' ') }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
);

function apply(buf: Buffer, muts: fc.Infer<typeof mutation>[]): Buffer {
  let b = buf;
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    if (m.kind === 'truncate') b = b.subarray(0, at);
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'insertChar') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.ch), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
    else if (at < b.length) {
      b = Buffer.from(b);
      b[at] = m.byte;
    }
  }
  return b;
}

describe('config robustness', () => {
  test('the base config loads', () => {
    const file = path.join(tmp, 'base.json');
    fs.writeFileSync(file, BASE);
    const r = loadConfig({ path: file, env: {}, hostname: 'h' });
    expect(r.ok ? 'ok' : r.errors).toBe('ok');
  });

  test('mutated or truncated config text never throws from loadConfig', () => {
    const file = path.join(tmp, 'agent.json');
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
        fs.writeFileSync(file, apply(Buffer.from(BASE), muts));
        const r = loadConfig({ path: file, env: { X: 'x' }, hostname: 'h' });
        return wellFormed(r);
      }),
      { numRuns: 400, seed: 4242 },
    );
  });

  test('mutated fragments never throw either', () => {
    const main = path.join(tmp, 'agent.json');
    fs.writeFileSync(main, '{ api_key: "k" }');
    const frag = path.join(tmp, 'agent.d', 'f.json');
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (muts) => {
        fs.writeFileSync(frag, apply(Buffer.from(BASE), muts));
        return wellFormed(loadConfig({ path: main, env: {}, hostname: 'h' }));
      }),
      { numRuns: 200, seed: 99 },
    );
    fs.rmSync(frag);
  });

  test('arbitrary strings never throw from the lenient parser', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const r = parseLenientJson(s);
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  test('arbitrary values never throw from parseConfigObject', () => {
    const arb = fc.oneof(
      fc.anything(),
      fc.record({ logs: fc.anything(), monitors: fc.anything(), api_key: fc.anything(), apm: fc.anything(), debug_level: fc.anything() }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(arb, (v) => wellFormed(parseConfigObject(v, { env: {}, hostname: 'h', baseDir: '/x' }))),
      { numRuns: 400, seed: 11 },
    );
  });
});
