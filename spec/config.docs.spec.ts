/**
 * docs/configuration.md is generated from the option declarations (the agent's and every
 * built-in component's); this spec fails when it is stale. Regenerate with
 * `npm run build && bin/sluice config-docs > docs/configuration.md`, or run this spec with
 * SLUICE_UPDATE_DOCS=1 to rewrite the file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDocsOf, configSchemaOf, PART_DECLARATIONS } from '../app/config.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { main } from '../app/cli/main.js';
import type { OptionSpec } from '../lib/config/schema.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const docPath = path.join(repoRoot, 'docs', 'configuration.md');

function capture(): { out: string[]; err: string[]; io: { out(t: string): void; err(t: string): void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t) => out.push(t), err: (t) => err.push(t) } };
}

describe('docs/configuration.md', () => {
  test('is up to date with the declarations', () => {
    const fresh = configDocsOf(createDefaultRegistry());
    if (process.env.SLUICE_UPDATE_DOCS === '1') fs.writeFileSync(docPath, fresh);
    const committed = fs.existsSync(docPath) ? fs.readFileSync(docPath, 'utf8') : '';
    expect(committed === fresh ? 'up to date' : 'STALE: regenerate with `bin/sluice config-docs > docs/configuration.md` after a build').toBe('up to date');
  });

  test('every declared option has a description and an origin; names are unique per object', () => {
    const registry = createDefaultRegistry();
    const lists: [string, readonly OptionSpec[]][] = [
      ['agent', PART_DECLARATIONS.agent],
      ['logEntry', PART_DECLARATIONS.logEntry],
      ['monitorEntry', PART_DECLARATIONS.monitorEntry],
      ...registry.components().map((c) => [`${c.kind}:${c.type}`, c.options ?? []] as [string, readonly OptionSpec[]]),
    ];
    const walk = (where: string, options: readonly OptionSpec[]) => {
      const names = new Set<string>();
      for (const o of options) {
        expect({ where, name: o.name, ok: o.description.length > 10 }).toEqual({ where, name: o.name, ok: true });
        expect(['scalyr', 'sluice']).toContain(o.origin);
        // A component may read an option of one name both in its own object and at the top level.
        const key = `${(o as { scope?: string }).scope ?? ''}:${o.name}`;
        expect({ where, duplicate: names.has(key) ? o.name : undefined }).toEqual({ where, duplicate: undefined });
        names.add(key);
        if (o.fields) walk(`${where}.${o.name}`, o.fields);
      }
    };
    for (const [where, options] of lists) walk(where, options);
  });

  test('every option of the schema appears in the generated reference, with "no effect" where it has none', () => {
    const registry = createDefaultRegistry();
    const doc = configDocsOf(registry);
    const schema = configSchemaOf(registry);
    for (const o of [...schema.global, ...schema.logEntry, ...schema.monitorEntry]) {
      const row = doc.split('\n').find((l) => l.startsWith('| `' + o.name + '` |'));
      expect({ name: o.name, row: row !== undefined }).toEqual({ name: o.name, row: true });
      if (o.noEffect) expect({ name: o.name, noEffect: doc.split('\n').some((l) => l.startsWith('| `' + o.name + '` |') && l.includes('**no effect**')) }).toEqual({ name: o.name, noEffect: true });
    }
    for (const c of registry.components()) expect(doc).toContain(`\`${c.type}\``);
  });

  test('sluice config-docs prints the reference; with --config it adds the components of the plugins that config loads', async () => {
    const plain = capture();
    expect(await main(['config-docs'], plain.io)).toBe(0);
    expect(plain.out.join('')).toBe(configDocsOf(createDefaultRegistry()));

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-config-docs-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'plugin.mjs'),
        `export const components = [{
  kind: 'monitor', type: 'queue_depth', doc: 'Samples the depth of a work queue.',
  options: [{ name: 'queue', type: 'string', origin: 'sluice', required: true, description: 'Name of the queue to sample.' }],
  create: () => { throw new Error('not run here'); },
}];
`,
      );
      fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ plugins: ['./plugin.mjs'], agent_data_path: './data', agent_log_path: './log' }));
      const withPlugin = capture();
      expect(await main(['config-docs', '--config', path.join(dir, 'agent.json')], withPlugin.io)).toBe(0);
      const doc = withPlugin.out.join('');
      expect(doc).toContain('### Monitor `queue_depth` (plugin)');
      expect(doc).toMatch(/\| `queue` \| string \| \*\*required\*\* \| `monitors\[\]` entry \|.*Name of the queue to sample\. \|/);
      expect(doc.indexOf('`queue_depth` (plugin)')).toBeGreaterThan(doc.indexOf('### Source `file`'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
