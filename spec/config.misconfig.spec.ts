/**
 * Misconfigurations users hit with real Scalyr configs: an api_key that is present but empty (or an
 * unsubstituted `$VAR`), `http://` servers, unclear booleans, and Scalyr monitors sluice does not run.
 */
import { BUILTIN_MONITORS } from '../sources/monitors/builtins.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfigObject, formatConfigError, type ConfigResult } from '../app/config.js';
import { buildCheck } from '../app/check.js';
import { createAgent, ConfigInvalidError } from '../app/index.js';
import { memoryLogger } from '../lib/logger.js';
import { renderStatusText } from '../lib/status/text.js';
import { isolatedAgent } from './helpers/isolated.js';
import { UNSUPPORTED_SCALYR_MONITORS } from '../lib/config/schema.js';

const text = (r: ConfigResult, which: 'errors' | 'warnings') => ((which === 'errors' ? (r.ok ? [] : r.errors) : r.warnings) ?? []).map(formatConfigError).join('\n');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-misconfig-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function loadText(name: string, body: string, env: NodeJS.ProcessEnv = {}): ConfigResult {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  const main = path.join(dir, 'agent.json');
  fs.writeFileSync(main, body);
  return loadConfig({ path: main, env, hostname: 'h' });
}

describe('api_key', () => {
  test('"$SCALYR_API_KEY" with the variable unset is an error naming the variable, with its location', () => {
    const r = loadText('unset', '{\n  import_vars: ["SCALYR_API_KEY"],\n  api_key: "$SCALYR_API_KEY"\n}\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = r.errors.find((x) => x.path === 'api_key')!;
    expect(e.code).toBe('emptyApiKey');
    expect(e.message).toContain('SCALYR_API_KEY');
    expect(e.message).toContain('not set');
    expect(e.file).toMatch(/agent\.json$/);
    expect(e.line).toBe(3);
  });

  test('the same config with the variable set loads and uploads with it', () => {
    const r = loadText('set', '{ import_vars: ["SCALYR_API_KEY"], api_key: "$SCALYR_API_KEY" }', { SCALYR_API_KEY: 'secret' });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.config.api_key).toBe('secret');
      expect(r.config.embedded_default).toBe(false);
    }
  });

  test('the variable set but empty is named as such', () => {
    const r = parseConfigObject({ import_vars: ['SCALYR_API_KEY'], api_key: '$SCALYR_API_KEY' }, { env: { SCALYR_API_KEY: '' } });
    expect(text(r, 'errors')).toMatch(/SCALYR_API_KEY is set but empty/);
  });

  test('an empty string is an error', () => {
    const r = parseConfigObject({ api_key: '' }, { env: {} });
    expect(r.ok).toBe(false);
    expect(text(r, 'errors')).toMatch(/^api_key: api_key is empty: it is set to an empty string/);
  });

  test('a $NAME that is not in import_vars is an error that says to import it', () => {
    const r = parseConfigObject({ api_key: '$SCALYR_API_KEY' }, { env: { SCALYR_API_KEY: 'x' } });
    expect(r.ok).toBe(false);
    expect(text(r, 'errors')).toMatch(/\$SCALYR_API_KEY.*import_vars: \["SCALYR_API_KEY"\]/);
  });

  test('SCALYR_API_KEY set to "" (no key in any file) is an error naming it', () => {
    const r = parseConfigObject({}, { env: { SCALYR_API_KEY: '' } });
    expect(r.ok).toBe(false);
    expect(text(r, 'errors')).toMatch(/environment variable SCALYR_API_KEY is set but empty/);
  });

  test('no api_key at all: the embedded default sink, one notice, no error', () => {
    const r = parseConfigObject({}, { env: {} });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.embedded_default).toBe(true);
    const notes = r.warnings.filter((w) => w.code === 'emptyApiKey');
    expect(notes).toHaveLength(1);
    expect(notes[0].message).toMatch(/embedded default sink/);
  });

  test('validate (buildCheck path) and start refuse it', async () => {
    const dir = path.join(tmp, 'start');
    const agent = createAgent({ logger: memoryLogger(), config: { ...isolatedAgent(dir), import_vars: ['SLUICE_TEST_UNSET_KEY'], api_key: '$SLUICE_TEST_UNSET_KEY' } });
    await expect(agent.start()).rejects.toThrow(ConfigInvalidError);
    await agent.stop();
  });
});

describe('scalyr_server', () => {
  test('http:// without allow_http is rewritten as Scalyr does, with a warning naming the rewrite and the fix', () => {
    const r = parseConfigObject({ api_key: 'k', scalyr_server: 'http://logs.example:8080' }, { env: {} });
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.scalyr_server).toBe('https://logs.example:8080');
    const w = r.warnings.find((x) => x.code === 'httpRewritten')!;
    expect(w.path).toBe('scalyr_server');
    expect(w.message).toContain('rewritten to "https://logs.example:8080"');
    expect(w.message).toContain('allow_http: true');
    expect(w.message).toContain('https://');
  });

  test('allow_http: true keeps http:// without a warning; https:// never warns', () => {
    const a = parseConfigObject({ api_key: 'k', scalyr_server: 'http://logs.example', allow_http: true }, { env: {} });
    expect(a.ok && a.config.scalyr_server).toBe('http://logs.example');
    expect(a.warnings.some((x) => x.code === 'httpRewritten')).toBe(false);
    const b = parseConfigObject({ api_key: 'k', scalyr_server: 'https://logs.example' }, { env: {} });
    expect(b.warnings.some((x) => x.code === 'httpRewritten')).toBe(false);
  });
});

describe('booleans', () => {
  const entry = (v: unknown) => parseConfigObject({ api_key: 'k', logs: [{ path: '/a', copy_from_start: v }] }, { env: {} });

  test.each([['no'], ['No'], ['off'], ['0'], ['False'], ['F']])(
    '%j is read as false, with a warning that the Scalyr Agent 2 reads it as true',
    (v) => {
      const r = entry(v);
      expect(r.ok && r.config.logs[0].copy_from_start).toBe(false);
      const w = r.warnings.filter((x) => x.code === 'boolDiffersFromScalyr');
      expect(w).toHaveLength(1);
      expect(w[0].path).toBe('logs[0].copy_from_start');
      expect(w[0].message).toContain('Scalyr Agent 2 reads it as true');
    },
  );

  test.each([
    ['false', false],
    ['f', false],
    ['yes', true],
    ['on', true],
    ['TRUE', true],
    ['t', true],
    ['1', true],
  ])('%j is read as %j without a warning', (v, want) => {
    const r = entry(v);
    expect(r.ok && r.config.logs[0].copy_from_start).toBe(want);
    expect(r.warnings.filter((w) => w.code === 'unclearBool' || w.code === 'boolDiffersFromScalyr')).toEqual([]);
  });

  test('"banana" keeps Scalyr\'s reading (true) and warns, naming the key path', () => {
    const r = entry('banana');
    expect(r.ok && r.config.logs[0].copy_from_start).toBe(true);
    const w = r.warnings.filter((x) => x.code === 'unclearBool');
    expect(w).toHaveLength(1);
    expect(w[0].path).toBe('logs[0].copy_from_start');
    expect(w[0].message).toMatch(/"banana".*read as true/);
  });

  test('an empty string is false (Scalyr) with a warning; top-level keys are named too', () => {
    const r = parseConfigObject({ api_key: 'k', implicit_metric_monitor: '' }, { env: {} });
    expect(r.ok && r.config.implicit_metric_monitor).toBe(false);
    expect(r.warnings.find((x) => x.code === 'unclearBool')?.path).toBe('implicit_metric_monitor');
  });

  test('JSON booleans and 0/1 never warn', () => {
    for (const v of [true, false, 0, 1]) expect(entry(v).warnings.filter((w) => w.code === 'unclearBool')).toEqual([]);
  });
});

describe('Scalyr monitors sluice does not run', () => {
  // Every Scalyr module sluice lists as not run (lib/config/schema.ts), each with its reason.
  const names = Object.keys(UNSUPPORTED_SCALYR_MONITORS);
  test('the list names Scalyr modules sluice really does not run', () => {
    expect(names).toEqual(expect.arrayContaining(['docker_monitor', 'windows_system_metrics', 'tomcat_monitor', 'jmx_monitor', 'garbage_monitor']));
    // Nothing built in is listed.
    for (const m of BUILTIN_MONITORS) expect(names).not.toContain(m);
  });

  test.each(names)('%s: a warning with the reason; skipped; the rest of the config runs', async (name) => {
    for (const module of [`scalyr_agent.builtin_monitors.${name}`, name]) {
      const r = parseConfigObject(
        { api_key: 'k', implicit_metric_monitor: false, monitors: [{ module, id: 'x' }, { module: 'shell_monitor', id: 'ok', command: 'echo hi' }] },
        { env: {} },
      );
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const w = r.warnings.filter((x) => x.code === 'unsupportedMonitor');
      expect(w).toHaveLength(1);
      expect(w[0].path).toBe('monitors[0].module');
      expect(w[0].message).toMatch(new RegExp(`${name}.*is skipped: .+`));
      expect(w[0].message).toMatch(/does not support|Windows|not implemented yet|does not carry/);
      expect(r.config.monitors.map((m) => m.module).filter((m) => m !== 'scalyr_agent.builtin_monitors.linux_process_metrics')).toEqual(['shell_monitor']);
      expect(await buildCheck(r.config, undefined)).toEqual([]);
    }
  });

  test('the docker and kubernetes reasons say what to use instead', () => {
    const r = parseConfigObject({ api_key: 'k', monitors: [{ module: 'scalyr_agent.builtin_monitors.docker_monitor' }, { module: 'kubernetes_monitor' }] }, { env: {} });
    const [d, k] = r.warnings.filter((x) => x.code === 'unsupportedMonitor');
    expect(d.message).toMatch(/needs Docker.*instead/);
    expect(k.message).toMatch(/needs Kubernetes.*\/var\/log\/containers.*instead/);
  });

  test('a module that is neither a Scalyr monitor nor loadable stays an error (validate and start)', async () => {
    for (const module of ['scalyr_agent.builtin_monitors.banana_monitor', 'banana_monitor']) {
      const r = parseConfigObject({ api_key: 'k', monitors: [{ module }] }, { env: {} });
      expect(r.warnings.some((x) => x.code === 'unsupportedMonitor')).toBe(false);
      expect(r.ok).toBe(true);
      if (r.ok) expect((await buildCheck(r.config, undefined)).join('\n')).toContain(module);
    }
    const agent = createAgent({ logger: memoryLogger(), config: { ...isolatedAgent(path.join(tmp, 'bad-mon')), monitors: [{ module: 'banana_monitor' }] } });
    await expect(agent.start()).rejects.toThrow(ConfigInvalidError);
    await agent.stop();
  });

  test('start: the warning is logged, shown by status -v, and the rest runs', async () => {
    const dir = path.join(tmp, 'start-docker');
    const logger = memoryLogger();
    const agent = createAgent({
      logger,
      config: {
        ...isolatedAgent(dir),
        monitors: [
          { module: 'scalyr_agent.builtin_monitors.docker_monitor' },
          { module: 'shell_monitor', id: 'hi', command: 'echo hi', sample_interval: 60 },
        ],
      },
    });
    await agent.start();
    try {
      const status = agent.status();
      expect(status.config.status).toBe('good');
      expect(status.config.warnings.join('\n')).toMatch(/docker_monitor.*is skipped/);
      expect(JSON.stringify(logger.records)).toMatch(/docker_monitor.*is skipped/);
      expect(renderStatusText(status, path.join(dir, 'log'))).toMatch(/Warning:.*docker_monitor.*is skipped/);
      expect(JSON.stringify(status.monitors)).not.toContain('docker_monitor');
      expect(JSON.stringify(status.monitors)).toContain('shell_monitor');
    } finally {
      await agent.stop();
    }
  });
});
