/**
 * Validation comes from the declarations: a component's declared options are checked where its
 * config lives (a monitor entry, a log entry's operators[] item, the sink object, a sources[]
 * item), for built-ins and plugins alike; a component that declares nothing keeps its keys
 * unchecked; `loadAgentConfig` loads the config's plugins once into the registry it is given.
 * Real plugin modules in a temp dir, real config files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAgentConfig, configSchemaOf, loadConfig } from '../app/config.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { buildCheck } from '../app/check.js';
import { configFor } from '../app/cli/args.js';
import type { ConfigResult } from '../lib/config/errors.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-declared-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const PLUGIN = `
globalThis.__sluiceDeclaredLoads = (globalThis.__sluiceDeclaredLoads ?? 0) + 1;
const opt = (name, type, extra = {}) => ({ name, type, origin: 'sluice', description: 'An option for the spec: ' + name + '.', ...extra });
export const components = [
  {
    kind: 'monitor', type: 'queue_depth', aliases: ['acme.monitors.queue_depth'],
    options: [opt('queue', 'string', { required: true }), opt('max_depth', 'int', { default: 100, min: 1 })],
    check: (own) => (own.queue === 'forbidden' ? [{ key: 'queue', message: 'this queue may not be sampled' }] : []),
    create: () => { throw new Error('not run by this spec'); },
  },
  {
    kind: 'operator', type: 'tag',
    options: [opt('field', 'string', { required: true }), opt('value', 'string', { default: 'x' })],
    create: () => (s) => s,
  },
  {
    kind: 'sink', type: 'blackhole',
    options: [opt('delay_ms', 'int', { default: 0, min: 0 })],
    check: (own) => (own.delay_ms > 1000 ? [{ key: 'delay_ms', message: 'at most a second' }] : []),
    create: () => ({ write() {}, async stop() {} }),
  },
  {
    kind: 'source', type: 'ticker',
    options: [opt('every_ms', 'int', { default: 1000, min: 1 })],
    create: () => ({ batches$: { subscribe() { return { unsubscribe() {} }; } }, counters: {}, async stop() {} }),
  },
];
// The old shape: a bare factory declares nothing.
export const monitors = { legacy_monitor: () => { throw new Error('not run'); } };
`;

function write(config: Record<string, unknown>): string {
  fs.writeFileSync(path.join(dir, 'plugin.mjs'), PLUGIN);
  const p = path.join(dir, 'agent.json');
  fs.writeFileSync(
    p,
    JSON.stringify(
      { agent_data_path: './data', agent_log_path: './log', implicit_metric_monitor: false, implicit_agent_process_metrics_monitor: false, implicit_agent_log_collection: false, plugins: ['./plugin.mjs'], ...config },
      null,
      2,
    ),
  );
  return p;
}

async function load(config: Record<string, unknown>, registry = createDefaultRegistry()): Promise<ConfigResult> {
  return loadAgentConfig({ configPath: write(config), env: {}, hostname: 'h', registry });
}

const errs = (r: ConfigResult) => (r.ok ? [] : r.errors.map((e) => ({ path: e.path, code: e.code, message: e.message })));
const warns = (r: ConfigResult, code = 'unknownKey') => r.warnings.filter((w) => w.code === code).map((w) => w.path);

describe('config validated from the declarations', () => {
  test("a plugin monitor's entry is read with its declared options: defaults, types, unknown keys, its check", async () => {
    const good = await load({ monitors: [{ module: 'queue_depth', queue: 'jobs' }, { module: 'acme.monitors.queue_depth', queue: 'mail', max_depth: '7' }] });
    if (!good.ok) throw new Error(JSON.stringify(errs(good)));
    expect(good.config.monitors.map((m) => [m.queue, m.max_depth])).toEqual([
      ['jobs', 100],
      ['mail', 7],
    ]);

    const bad = await load({ monitors: [{ module: 'queue_depth', max_depth: 0, qeue: 'x' }, { module: 'queue_depth', queue: 'forbidden' }] });
    expect(errs(bad)).toEqual([
      { path: 'monitors[0].queue', code: 'missingRequired', message: 'missing required option "queue"' },
      { path: 'monitors[0].max_depth', code: 'badValue', message: 'must be at least 1, got 0' },
      { path: 'monitors[1].queue', code: 'badValue', message: 'this queue may not be sampled' },
    ]);
    expect(bad.warnings.find((w) => w.path === 'monitors[0].qeue')?.message).toMatch(/unknown option "qeue" \(did you mean "queue"\?\)/);
    // The error points into the file.
    expect(bad.ok ? undefined : bad.errors[1]).toMatchObject({ file: path.join(dir, 'agent.json'), line: expect.any(Number), column: expect.any(Number) });
  });

  test('a component that declares nothing keeps its keys unchecked', async () => {
    const r = await load({ monitors: [{ module: 'legacy_monitor', anything: { goes: true }, depth: 'deep' }] });
    if (!r.ok) throw new Error(JSON.stringify(errs(r)));
    expect(r.config.monitors[0]).toMatchObject({ anything: { goes: true }, depth: 'deep' });
    expect(warns(r)).toEqual([]);
  });

  test('a built-in monitor: its declared keys, unknown ones warn, its check reports at the entry', async () => {
    const r = await load({ monitors: [{ module: 'scalyr_agent.builtin_monitors.shell_monitor', command: 'true', extract: 'no group', comand: 'x' }] });
    expect(errs(r)).toEqual([{ path: 'monitors[0].extract', code: 'badValue', message: 'must contain a group "(...)" whose text replaces the output' }]);
    expect(warns(r)).toEqual(['monitors[0].comand']);
  });

  test("operators[] items, the sink object and sources[] items are read with their type's options", async () => {
    const good = await load({
      logs: [{ path: path.join(dir, 'a.log'), operators: [{ type: 'tag', field: 'team' }] }],
      sink: { type: 'blackhole' },
      sources: [{ type: 'ticker', id: 't1' }],
    });
    if (!good.ok) throw new Error(JSON.stringify(errs(good)));
    expect(good.config.logs[0].operators).toEqual([{ type: 'tag', field: 'team', value: 'x' }]);
    expect(good.config.sink).toEqual({ type: 'blackhole', delay_ms: 0 });
    expect(good.config.sources).toEqual([{ type: 'ticker', id: 't1', every_ms: 1000 }]);

    const bad = await load({
      logs: [{ path: path.join(dir, 'a.log'), operators: [{ type: 'tag', vaule: 'y' }] }],
      sink: { type: 'blackhole', delay_ms: 5000 },
      sources: [{ type: 'ticker', every_ms: 'often' }],
    });
    expect(errs(bad).map((e) => [e.path, e.code])).toEqual([
      ['sink.delay_ms', 'badValue'],
      ['sources[0].every_ms', 'notNumber'],
      ['logs[0].operators[0].field', 'missingRequired'],
    ]);
    expect(warns(bad)).toEqual(['logs[0].operators[0].vaule']);
  });

  test('a sink object without a type configures the default sink (embedded without an api_key)', async () => {
    const r = await load({ sink: { dir: './out', dri: 'x' } });
    if (!r.ok) throw new Error(JSON.stringify(errs(r)));
    expect(r.config.sink).toMatchObject({ dir: './out' });
    expect(warns(r)).toEqual(['sink.dri']);
  });

  test('fragments append to every repeatable list the agent declares, sources[] included', async () => {
    const main = write({ sources: [{ type: 'ticker', id: 'a' }] });
    fs.mkdirSync(path.join(dir, 'agent.d'));
    fs.writeFileSync(path.join(dir, 'agent.d', 'more.json'), JSON.stringify({ sources: [{ type: 'ticker', id: 'b' }] }));
    const r = await loadAgentConfig({ configPath: main, env: {}, hostname: 'h', registry: createDefaultRegistry() });
    if (!r.ok) throw new Error(JSON.stringify(errs(r)));
    expect(r.config.sources).toEqual([
      { type: 'ticker', id: 'a', every_ms: 1000 },
      { type: 'ticker', id: 'b', every_ms: 1000 },
    ]);
  });

  test('a plugin that fails to load is an error at plugins[i] naming it; the rest is still validated', async () => {
    const r = await load({ plugins: ['./plugin.mjs', './missing.mjs'], debug_level: 9 });
    expect(errs(r).map((e) => [e.path, e.code])).toEqual([
      ['plugins[1]', 'pluginLoadError'],
      ['debug_level', 'badDebugLevel'],
    ]);
    expect(errs(r)[0].message).toMatch(/plugin "\.\/missing\.mjs": module not found/);
  });

  test('a plugin declaring a top-level option differently from a built-in is an error, not a crash', async () => {
    fs.writeFileSync(
      path.join(dir, 'clash.mjs'),
      `export const components = [{ kind: 'operator', type: 'clash', options: [{ name: 'max_line_size', type: 'int', scope: 'global', origin: 'sluice', description: 'My own idea of the line size.' }], create: () => (s) => s }];\n`,
    );
    const r = await load({ plugins: ['./clash.mjs'] });
    expect(errs(r)).toEqual([{ path: 'plugins', code: 'pluginLoadError', message: expect.stringMatching(/"max_line_size" of operator:clash is declared twice, differently/) }]);
  });

  test('plugins are loaded once per registry: a second load and the build check reuse them', async () => {
    const registry = createDefaultRegistry();
    const g = globalThis as { __sluiceDeclaredLoads?: number };
    const r1 = await load({ monitors: [{ module: 'queue_depth', queue: 'q' }] }, registry);
    const loads = g.__sluiceDeclaredLoads;
    const r2 = await loadAgentConfig({ configPath: path.join(dir, 'agent.json'), env: {}, hostname: 'h', registry });
    if (!r1.ok || !r2.ok) throw new Error('expected both to load');
    expect(registry.has('monitor', 'queue_depth')).toBe(true);
    expect(await buildCheck(r2.config, path.join(dir, 'agent.json'), registry)).toEqual([]);
    expect(g.__sluiceDeclaredLoads).toBe(loads);
  });

  test('objects with declared fields are always present with their defaults (absent, or given as a declared default)', () => {
    const r = loadConfig({ path: write({ plugins: [] }), env: {}, hostname: 'h' });
    if (!r.ok) throw new Error(JSON.stringify(errs(r)));
    expect(r.config.upload).toMatchObject({ max_in_flight: 1, linger_ms: 500 });
    expect(r.config.http_endpoint).toEqual({ enabled: false, host: '127.0.0.1', port: 5255 });
    expect(r.config.apm).toMatchObject({ enabled: false, max_frame_bytes: 64 * 1024 * 1024, socket_path: path.join(dir, 'data', 'core-agent.sock') });
    const partial = loadConfig({ path: write({ plugins: [], upload: { linger_ms: 20 } }), env: {}, hostname: 'h' });
    expect(partial.ok && partial.config.upload).toMatchObject({ max_in_flight: 1, linger_ms: 20 });
  });

  test("the commands that only find the agent (status, stop, tap…) check the agent's own options, not every component's", () => {
    const io = { out: () => {}, err: (t: string) => errors.push(t) };
    const errors: string[] = [];
    const args = (p: string) => ({ command: 'status', rest: [], flags: new Map<string, string | true>([['config', p]]) });
    const found = configFor(args(write({ plugins: [], max_line_size: 'long' })), io);
    expect(found?.agent_data_path).toBe(path.join(dir, 'data'));
    expect(errors).toEqual([]);
    expect(configFor(args(write({ plugins: [], agent_status_timeout: 'soon' })), io)).toBeUndefined();
    expect(errors.join('\n')).toMatch(/agent_status_timeout/);
  });

  test("without its plugin loaded, the built-in schema keeps a plugin monitor's keys unchecked", () => {
    const r = loadConfig({ path: write({ plugins: [], monitors: [{ module: 'queue_depth', max_depth: 0 }] }), env: {}, hostname: 'h' });
    if (!r.ok) throw new Error(JSON.stringify(errs(r)));
    expect(r.config.monitors[0]).toMatchObject({ module: 'queue_depth', max_depth: 0 });
    expect(configSchemaOf(createDefaultRegistry()).components.monitor.has('queue_depth')).toBe(false);
  });
});
