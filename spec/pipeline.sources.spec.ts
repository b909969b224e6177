/**
 * Plugin sources (`sources: [{type, id?, ...options}]`, app/parts/pluginSource.ts): a real plugin module
 * written to a temp dir and loaded like any plugin; its source is built through the registry,
 * counted at its boundary and stopped within a deadline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRegistry } from '../lib/registry.js';
import { loadPlugin } from '../lib/plugins.js';
import { Credits } from '../lib/pipeline/credits.js';
import { silentLogger } from '../lib/logger.js';
import type { Batch } from '../lib/types.js';
import { createSourcePart, SOURCES_OPTION, sourceId } from '../app/parts/pluginSource.js';
import { tmpDir, waitFor } from './file.harness.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const PLUGIN = `
import { Observable } from 'rxjs';

function ticks(config) {
  return new Observable((sub) => {
    const stream = { id: 'ticker:' + (config.id ?? ''), kind: 'log', path: 'ticker', attrs: {}, ack() {} };
    let n = 0;
    const t = setInterval(() => {
      n++;
      const message = config.prefix + n + '\\n';
      sub.next({ stream, events: [{ message, end: n }], end: n });
    }, config.every_ms);
    return () => clearInterval(t);
  });
}

// The old shape: a bare factory returning an Observable of batches.
export const sources = { ticker: (config) => ticks({ prefix: 't', every_ms: 5, ...config }) };

// A component value: declared options (defaults), a SourceInstance whose own stop never ends.
export const components = [
  {
    kind: 'source',
    type: 'stuck',
    options: [
      { name: 'prefix', type: 'string', default: 's', origin: 'sluice', description: 'prefix' },
      { name: 'every_ms', type: 'int', default: 5, origin: 'sluice', description: 'period' },
    ],
    create: (config, ctx) => ({ batches$: ticks(config), counters: ctx.counters, stop: () => new Promise(() => {}) }),
  },
];
`;

async function pluginRegistry() {
  const dir = tmpDir('sluice-src-plugin-');
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  fs.writeFileSync(path.join(dir, 'ticker.mjs'), PLUGIN);
  const registry = createRegistry();
  await loadPlugin('./ticker.mjs', dir, registry);
  return { registry, dir };
}

const ctxOf = (registry: ReturnType<typeof createRegistry>, dir: string) => ({ registry, logger: silentLogger, agent: {}, credits: new Credits(1 << 20), dataPath: dir });
const text = (b: Batch) => b.events.map((e) => String(e.message));

describe('plugin sources', () => {
  it('a bare Observable source is wrapped: boundary counters, stop ends it', async () => {
    const { registry, dir } = await pluginRegistry();
    const part = createSourcePart({ type: 'ticker', id: 'a', prefix: 'x' }, ctxOf(registry, dir));
    expect(part.id).toBe('ticker(a)');
    const got: string[] = [];
    let completed = false;
    part.batches$.subscribe({ next: (b) => got.push(...text(b)), complete: () => (completed = true) });
    await waitFor(() => got.length >= 3);
    expect(got.slice(0, 3)).toEqual(['x1\n', 'x2\n', 'x3\n']);
    await part.stop(1000);
    expect(completed).toBe(true);
    const n = got.length;
    expect(part.counters.receivedEvents).toBe(n);
    expect(part.counters.sentEvents).toBe(n);
    expect(part.counters.sentBytes).toBe(got.reduce((s, m) => s + Buffer.byteLength(m), 0));
    await new Promise((r) => setTimeout(r, 30));
    expect(got.length).toBe(n); // nothing after stop
    await part.stop(1000); // idempotent
  });

  it('a component source gets its declared defaults; its hanging stop is bounded by the deadline', async () => {
    const { registry, dir } = await pluginRegistry();
    const part = createSourcePart({ type: 'stuck' }, ctxOf(registry, dir));
    const got: string[] = [];
    part.batches$.subscribe((b) => got.push(...text(b)));
    await waitFor(() => got.length >= 2);
    expect(got[0]).toBe('s1\n');
    const t0 = Date.now();
    await part.stop(100);
    expect(Date.now() - t0).toBeLessThan(1000);
    const n = got.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(got.length).toBe(n);
    expect(part.counters.receivedEvents).toBe(n);
    const t1 = Date.now();
    await part.stop(50);
    expect(Date.now() - t1).toBeLessThan(1000);
  });

  it('an unknown type is an error naming the option; the option is declared once, as sluice\'s own list', async () => {
    const { registry, dir } = await pluginRegistry();
    expect(() => createSourcePart({ type: 'nope' }, ctxOf(registry, dir))).toThrow(/sources: no source named "nope" \(registered: stuck, ticker/);
    expect(SOURCES_OPTION).toMatchObject({ name: 'sources', type: 'array', env: false, origin: 'sluice', scope: 'global' });
    expect(sourceId({ type: 't' })).toBe('t');
  });
});
