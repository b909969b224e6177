/** The config files shipped in the repo load without errors and without unknown-key warnings. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../app/config.js';
import { formatConfigError } from '../lib/config/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shipped = ['config.example.json', 'packaging/etc/sluice/agent.json'].map((p) => path.join(repoRoot, p)).filter((p) => fs.existsSync(p));

describe('shipped configs', () => {
  test.each(shipped.map((p) => [path.relative(repoRoot, p), p]))('%s loads', (_name, p) => {
    // The packaged agent.json takes its key from SCALYR_API_KEY (import_vars), as installed.
    const r = loadConfig({ path: p, env: { SCALYR_API_KEY: 'k' }, hostname: 'h' });
    expect(r.ok ? [] : r.errors.map(formatConfigError)).toEqual([]);
    expect(r.warnings.filter((w) => w.code === 'unknownKey').map(formatConfigError)).toEqual([]);
  });

  test('the packaged agent.json without SCALYR_API_KEY is an error naming the variable', () => {
    const p = path.join(repoRoot, 'packaging/etc/sluice/agent.json');
    if (!fs.existsSync(p)) return;
    const r = loadConfig({ path: p, env: {}, hostname: 'h' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.map(formatConfigError).join('\n')).toMatch(/api_key.*SCALYR_API_KEY/);
  });
});
