/** The config files shipped in the repo load without errors and without unknown-key warnings. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../lib/config/load.js';
import { formatConfigError } from '../lib/config/errors.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shipped = ['config.example.json', 'packaging/etc/sluice/agent.json'].map((p) => path.join(repoRoot, p)).filter((p) => fs.existsSync(p));

describe('shipped configs', () => {
  test.each(shipped.map((p) => [path.relative(repoRoot, p), p]))('%s loads', (_name, p) => {
    const r = loadConfig({ path: p, env: {}, hostname: 'h' });
    expect(r.ok ? [] : r.errors.map(formatConfigError)).toEqual([]);
    expect(r.warnings.filter((w) => w.code === 'unknownKey').map(formatConfigError)).toEqual([]);
  });
});
