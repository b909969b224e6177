/**
 * docs/configuration.md is generated from lib/config/schema.ts; this spec fails when it is stale.
 * Regenerate with `npm run build && node dist/lib/config/docs.js > docs/configuration.md`, or run
 * this spec with SLUICE_UPDATE_DOCS=1 to rewrite the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../lib/config/docs.js';
import { configSchema } from '../lib/config/schema.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const docPath = path.join(repoRoot, 'docs', 'configuration.md');

describe('docs/configuration.md', () => {
  test('is up to date with the schema', () => {
    const fresh = renderConfigDocs();
    if (process.env.SLUICE_UPDATE_DOCS === '1') fs.writeFileSync(docPath, fresh);
    const committed = fs.existsSync(docPath) ? fs.readFileSync(docPath, 'utf8') : '';
    expect(committed === fresh ? 'up to date' : 'STALE: regenerate with `node dist/lib/config/docs.js > docs/configuration.md` after a build').toBe('up to date');
  });

  test('every option has a description and an origin, and names are unique per section', () => {
    for (const [section, options] of Object.entries(configSchema)) {
      const names = new Set<string>();
      for (const o of options) {
        expect({ section, name: o.name, ok: o.description.length > 10 }).toEqual({ section, name: o.name, ok: true });
        expect(['scalyr', 'sluice']).toContain(o.origin);
        expect(names.has(o.name)).toBe(false);
        names.add(o.name);
      }
    }
  });

  test('every global option appears in the generated reference', () => {
    const doc = renderConfigDocs();
    for (const o of configSchema.global) expect(doc).toContain('| `' + o.name + '` |');
  });
});
