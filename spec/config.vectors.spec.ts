/**
 * Scalyr's configuration vectors (config_semantics) run against `loadConfig` with real files in a
 * temp dir. Where sluice differs on purpose, the expectation is adjusted here with the reason.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../app/config.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr/config.json'), 'utf8'));
const cases = vectors.cases.filter((c: { kind: string }) => c.kind === 'config_semantics');

const HOST = 'testhost';
const SCALYR_LOG_DIR = '/var/log/scalyr-agent-2';
const SLUICE_LOG_DIR = '/var/log/sluice';

/** Intentional differences, by vector value name. */
function adjustExpected(name: string, value: unknown): unknown {
  // sluice never expires checkpoints by default (Scalyr: 900 s, which loses data after long outages).
  if (name === 'max_allowed_checkpoint_age') return 0;
  if (name === 'log_paths') {
    // sluice's default log dir is /var/log/sluice, and it has no agent-worker-session logs to collect.
    return (value as string[])
      .filter((p) => !p.includes('agent-worker-session'))
      .map((p) => (p.startsWith(SCALYR_LOG_DIR) ? SLUICE_LOG_DIR + p.slice(SCALYR_LOG_DIR.length) : p));
  }
  if (name === 'server_attributes') {
    const o = { ...(value as Record<string, string>) };
    for (const k of Object.keys(o)) if (o[k] === '<local hostname>') o[k] = HOST;
    return o;
  }
  return value;
}

function actual(name: string, config: Record<string, any>): unknown {
  switch (name) {
    case 'full_checkpoint_interval':
      return config.full_checkpoint_interval_in_seconds;
    case 'network_proxies': {
      const o: Record<string, string> = {};
      if (config.https_proxy) o.https = config.https_proxy;
      if (config.http_proxy) o.http = config.http_proxy;
      return o;
    }
    case 'log_paths':
      return config.logs.map((l: { path: string }) => l.path);
    case 'log0':
      return config.logs[0];
    default:
      return config[name];
  }
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-config-vectors-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('config vectors (config_semantics)', () => {
  test.each(cases.map((c: { name: string }) => [c.name, c]))('%s', (name, c: any) => {
    const dir = path.join(tmp, String(name));
    fs.mkdirSync(path.join(dir, 'agent.d'), { recursive: true });
    const main = path.join(dir, 'agent.json');
    fs.writeFileSync(main, c.input.main_config);
    for (const [f, text] of Object.entries(c.input['agent.d'] ?? {})) fs.writeFileSync(path.join(dir, 'agent.d', f), text as string);
    const r = loadConfig({ path: main, env: c.input.env ?? {}, hostname: HOST });

    if (name === 'missing_api_key') {
      // sluice: no api_key is not an error; the embedded default sink is used and a warning says so.
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.config.embedded_default).toBe(true);
        expect(r.warnings.some((w) => w.code === c.expected.error_code && w.path === c.expected.field)).toBe(true);
      }
      return;
    }
    if (!c.expected.ok) {
      expect(r.ok).toBe(false);
      if (!r.ok) {
        const match = r.errors.find((e) => e.code === c.expected.error_code);
        expect(match).toBeDefined();
        expect(match!.path.endsWith(c.expected.field) || match!.message.includes(c.expected.field)).toBe(true);
        expect(match!.file).toBeDefined();
        expect(match!.line).toBeGreaterThan(0);
      }
      return;
    }
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    for (const [k, v] of Object.entries(c.expected.values)) {
      const want = adjustExpected(k, v);
      const got = actual(k, r.config as Record<string, any>);
      if (k === 'log0') expect(got).toMatchObject(want as object);
      else expect({ [k]: got }).toEqual({ [k]: want });
    }
  });
});
