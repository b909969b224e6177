/**
 * loadConfig / parseConfigObject: each class of bad config yields a precise diagnostic
 * (file:line:col and key path), and the loader's merging, env, path and default rules.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfigObject } from '../app/config.js';
import { formatConfigError, type ConfigError, type ConfigResult } from '../lib/config/errors.js';

let tmp: string;
let n = 0;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-config-load-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Writes agent.json (+ agent.d fragments) into a fresh dir and loads it. */
function load(main: string | Buffer, fragments: Record<string, string | Buffer> = {}, env: NodeJS.ProcessEnv = {}): ConfigResult & { dir: string; main: string } {
  const dir = path.join(tmp, `c${n++}`);
  fs.mkdirSync(path.join(dir, 'agent.d'), { recursive: true });
  const mainPath = path.join(dir, 'agent.json');
  fs.writeFileSync(mainPath, main);
  for (const [f, t] of Object.entries(fragments)) fs.writeFileSync(path.join(dir, 'agent.d', f), t);
  return { ...loadConfig({ path: mainPath, env, hostname: 'h1.example.com' }), dir, main: mainPath };
}

function onlyError(r: ConfigResult): ConfigError {
  if (r.ok) throw new Error('expected errors, got a config');
  expect(r.errors.length).toBeGreaterThanOrEqual(1);
  return r.errors[0];
}

function okConfig(r: ConfigResult) {
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'));
  return r.config;
}

describe('bad configs: precise diagnostics', () => {
  test('syntax error', () => {
    const r = load('{\n  api_key: "k"\n  logs: [ { path: "/a" } { path: "/b" } ]\n}');
    const e = onlyError(r);
    expect(formatConfigError(e)).toBe(`${r.main}:3:26: Unexpected character [{] in array... are you missing a comma?`);
    expect([e.file, e.line, e.column, e.code]).toEqual([r.main, 3, 26, 'parseError']);
  });

  test('bad type', () => {
    const r = load('{\n  api_key: "k",\n  debug_level: "loud"\n}');
    const e = onlyError(r);
    expect(formatConfigError(e)).toBe(`${r.main}:3:16: debug_level: expected an integer, got the string "loud"`);
  });

  test('debug level out of range', () => {
    const e = onlyError(load('{ api_key: "k", debug_level: 9 }'));
    expect([e.path, e.code, e.line, e.column]).toEqual(['debug_level', 'badDebugLevel', 1, 30]);
  });

  test('bad regex', () => {
    const r = load('{\n api_key: "k",\n logs: [\n  { path: "/a" },\n  { path: "/b", redaction_rules: [ { match_expression: "(unclosed" } ] }\n ]\n}');
    const e = onlyError(r);
    expect(e.path).toBe('logs[1].redaction_rules[0].match_expression');
    expect([e.file, e.line, e.column, e.code]).toEqual([r.main, 5, 56, 'notRegexp']);
    expect(formatConfigError(e)).toMatch(new RegExp(`^${r.main.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:56: logs\\[1\\]\\.redaction_rules\\[0\\]\\.match_expression: invalid regular expression "\\(unclosed": `));
  });

  test('bad regex in a lineGrouper and a monitor commandline', () => {
    const r = load('{ api_key: "k", logs: [ { path: "/a", lineGroupers: [ { start: "[", haltWith: "x" } ] } ],\n monitors: [ { module: "linux_process_metrics", id: "x", commandline: "(?P<" } ] }');
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => e.path)).toEqual(['logs[0].lineGroupers[0].start', 'monitors[0].commandline']);
    expect(r.errors[1]).toMatchObject({ line: 2, column: 71, code: 'notRegexp' });
  });

  test('bad sampling rate', () => {
    const e = onlyError(load('{ api_key: "k", logs: [ { path: "/a", sampling_rules: [ { match_expression: "x", sampling_rate: 1.5 } ] } ] }'));
    expect(e).toMatchObject({ path: 'logs[0].sampling_rules[0].sampling_rate', code: 'notPercentage', line: 1, column: 97 });
    expect(e.message).toBe('must be at most 1, got 1.5');
  });

  test('sampling rate not a number', () => {
    const e = onlyError(load('{ api_key: "k", logs: [ { path: "/a", sampling_rules: [ { match_expression: "x", sampling_rate: "half" } ] } ] }'));
    expect(e).toMatchObject({ path: 'logs[0].sampling_rules[0].sampling_rate', code: 'notNumber' });
  });

  test('two continuation keys', () => {
    const r = load('{ api_key: "k", logs: [ { path: "/a", lineGroupers: [\n { start: "^x", continueThrough: "^ ", haltBefore: "^y" }\n] } ] }');
    const e = onlyError(r);
    expect(e).toMatchObject({ path: 'logs[0].lineGroupers[0]', code: 'missingRequired', line: 2, column: 40 });
    expect(e.message).toMatch(/exactly one of continueThrough, continuePast, haltBefore, haltWith \(found continueThrough and haltBefore\)/);
  });

  test('no continuation key', () => {
    const e = onlyError(load('{ api_key: "k", logs: [ { path: "/a", lineGroupers: [ { start: "^x" } ] } ] }'));
    expect(e).toMatchObject({ path: 'logs[0].lineGroupers[0]', code: 'missingRequired', column: 55 });
  });

  test('missing required path', () => {
    const e = onlyError(load('{ api_key: "k", logs: [ { attributes: {} } ] }'));
    expect(e).toMatchObject({ path: 'logs[0].path', code: 'missingRequired', line: 1, column: 25 });
  });

  test('repeated key across fragments names both files', () => {
    const r = load('{\n  api_key: "k"\n}', { 'a.json': '{ logs: [] }', 'b.json': '{\n\n   api_key: "other" }' });
    const e = onlyError(r);
    const frag = path.join(r.dir, 'agent.d', 'b.json');
    expect([e.file, e.line, e.column, e.code, e.path]).toEqual([frag, 3, 4, 'multipleKeys', 'api_key']);
    expect(e.message).toContain(`${r.main}:2:3`);
    expect(e.message).toContain(frag);
  });

  test('repeated key between two fragments', () => {
    const r = load('{}', { 'a.json': '{ scalyr_server: "a.example" }', 'b.json': '{ scalyr_server: "b.example" }' });
    expect(onlyError(r)).toMatchObject({ code: 'multipleKeys', file: path.join(r.dir, 'agent.d', 'b.json') });
  });

  test('fragment that is not an object', () => {
    const r = load('{ api_key: "k" }', { 'x.json': '[1]' });
    expect(onlyError(r)).toMatchObject({ code: 'invalidConfigFragmentType', file: path.join(r.dir, 'agent.d', 'x.json') });
  });

  test('unknown key is a warning with its location and a suggestion', () => {
    const r = load('{ api_key: "k",\n  debug_levle: 1,\n  logs: [ { path: "/a", sampling_rule: [] } ] }');
    const c = okConfig(r);
    expect(c.debug_levle).toBe(1);
    expect(r.warnings.filter((w) => w.code === 'unknownKey').map(formatConfigError)).toEqual([
      `${r.main}:2:3: debug_levle: unknown option "debug_levle" (did you mean "debug_level"?); kept but not used by sluice`,
      `${r.main}:3:25: logs[0].sampling_rule: unknown option "sampling_rule" (did you mean "sampling_rules"?); kept but not used by sluice`,
    ]);
  });

  test('non-UTF-8 file', () => {
    const r = load(Buffer.concat([Buffer.from('{ api_key: "k",\n  server_attributes: { a: "'), Buffer.from([0xc3, 0x28]), Buffer.from('" } }')]));
    const e = onlyError(r);
    expect(e).toMatchObject({ file: r.main, line: 2, column: 28, code: 'parseError' });
    expect(e.message).toMatch(/Invalid UTF-8/);
  });

  test('truncated file', () => {
    const r = load('{ api_key: "k",\n  logs: [ { path: "/a"');
    const e = onlyError(r);
    expect(e).toMatchObject({ file: r.main, line: 2, code: 'parseError' });
    expect(e.message).toBe("Need '}' for end of object");
  });

  test('missing file', () => {
    const r = loadConfig({ path: path.join(tmp, 'nope', 'agent.json'), env: {} });
    const e = onlyError(r);
    expect(e.code).toBe('readError');
    expect(formatConfigError(e)).toMatch(/nope\/agent\.json:1:1: cannot read config file: ENOENT/);
  });

  test('bad scalyr_server and proxy URLs', () => {
    const r = load('{ api_key: "k", scalyr_server: "https://x.example/path", https_proxy: "not a url" }');
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => e.path)).toEqual(['scalyr_server', 'https_proxy']);
  });

  test('all errors are collected, not just the first', () => {
    const r = load('{ api_key: "k", debug_level: 7, read_page_size: "big", logs: [ 3 ], monitors: [ { id: "x" } ] }');
    if (r.ok) throw new Error('expected errors');
    // Top-level problems in the order the file has the keys, then the entries'.
    expect(r.errors.map((e) => e.path)).toEqual(['debug_level', 'read_page_size', 'logs[0]', 'monitors[0].module']);
  });

  test('bad env value names the variable', () => {
    const r = load('{ api_key: "k" }', {}, { SCALYR_READ_PAGE_SIZE: 'lots' });
    expect(onlyError(r).message).toBe('environment variable SCALYR_READ_PAGE_SIZE: expected a number, got "lots"');
  });

  test('bad max_send_rate_enforcement', () => {
    expect(onlyError(load('{ api_key: "k", max_send_rate_enforcement: "2Mb/s" }')).path).toBe('max_send_rate_enforcement');
  });
});

describe('loading rules', () => {
  test('fragments append lists and merge server_attributes in sorted order', () => {
    const r = load('{ api_key: "k", implicit_agent_log_collection: false, server_attributes: { a: "1", b: "1" }, logs: [ { path: "/m" } ] }', {
      'b.json': '{ logs: [ { path: "/b" } ], server_attributes: { b: "b" } }',
      'a.json': '{ logs: [ { path: "/a" } ], server_attributes: { b: "a", c: 3 } }',
      'skip.txt': '{ logs: [ { path: "/no" } ] }',
    });
    const c = okConfig(r);
    expect(c.logs.map((l) => l.path)).toEqual(['/m', '/a', '/b']);
    expect(c.server_attributes).toEqual({ a: '1', b: 'b', c: '3', serverHost: 'h1.example.com' });
    expect(r.files).toEqual([r.main, path.join(r.dir, 'agent.d', 'a.json'), path.join(r.dir, 'agent.d', 'b.json')]);
  });

  test('each fragment uses only its own import_vars', () => {
    const r = load('{ import_vars: ["V"], api_key: "$V" }', { 'a.json': '{ server_attributes: { x: "$V" } }' }, { V: 'val' });
    const c = okConfig(r);
    expect(c.api_key).toBe('val');
    expect(c.server_attributes.x).toBe('$V');
  });

  test('config_directory may point elsewhere (relative to the main file)', () => {
    const r = load('{ api_key: "k", config_directory: "conf.d" }');
    fs.mkdirSync(path.join(r.dir, 'conf.d'));
    fs.writeFileSync(path.join(r.dir, 'conf.d', 'x.json'), '{ logs: [ { path: "/x" } ] }');
    const c = okConfig(loadConfig({ path: r.main, env: {}, hostname: 'h' }));
    expect(c.logs[0].path).toBe('/x');
  });

  test('relative data/log paths resolve against the main file; relative log paths join agent_log_path', () => {
    const r = load('{ api_key: "k", agent_data_path: "data", agent_log_path: "./logs", logs: [ { path: "app/*.log" } ] }');
    const c = okConfig(r);
    expect(c.agent_data_path).toBe(path.join(r.dir, 'data'));
    expect(c.agent_log_path).toBe(path.join(r.dir, 'logs'));
    expect(c.logs.map((l) => l.path)).toEqual([path.join(r.dir, 'logs', 'app/*.log'), path.join(r.dir, 'logs', 'agent.log')]);
    expect(c.embedded_output).toBe(path.join(r.dir, 'data', 'events'));
    expect(c.apm?.socket_path).toBe(path.join(r.dir, 'data', 'core-agent.sock'));
  });

  test('implicit parts come after user entries, marked implicit', () => {
    const c = okConfig(load('{ api_key: "k", logs: [ { path: "/a" } ], monitors: [ { module: "shell_monitor", command: "date" } ] }'));
    expect(c.logs[1]).toMatchObject({ path: '/var/log/sluice/agent.log', attributes: { parser: 'scalyrAgentLog' }, implicit: true });
    expect(c.logs[0].implicit).toBeUndefined();
    expect(c.monitors.map((m) => [m.module, m.implicit ?? false])).toEqual([
      ['shell_monitor', false],
      ['scalyr_agent.builtin_monitors.linux_system_metrics', true],
      ['scalyr_agent.builtin_monitors.linux_process_metrics', true],
    ]);
    expect(c.monitors[2]).toMatchObject({ pid: '$$', id: 'agent' });
    expect(c.monitors[0].sample_interval).toBe(30);
  });

  test('implicit parts can be turned off (also from env strings)', () => {
    const c = okConfig(
      load('{ api_key: "k", implicit_agent_log_collection: "false" }', {}, { SCALYR_IMPLICIT_METRIC_MONITOR: 'FALSE', SCALYR_IMPLICIT_AGENT_PROCESS_METRICS_MONITOR: 'no' }),
    );
    expect(c.logs).toEqual([]);
    expect(c.monitors).toEqual([]); // env bools are true only for "true"
  });

  test('parser shortcut and parse_lines_as_json', () => {
    const c = okConfig(load('{ api_key: "k", logs: [ { path: "/a", parser: "p", attributes: { x: 1 }, parse_lines_as_json: true } ] }'));
    expect(c.logs[0]).toMatchObject({ attributes: { parser: 'p', x: '1' }, parse_format: 'json' });
  });

  test('env overrides: numbers, lists, objects; file wins with a warning', () => {
    const r = load('{ api_key: "k", debug_level: 1 }', {}, {
      SCALYR_DEBUG_LEVEL: '3',
      SCALYR_READ_PAGE_SIZE: '131072',
      SCALYR_IGNORE_CHECKPOINTS_ON_STARTUP_PATH_GLOBS: '["/a/*", "/b"] ',
      SCALYR_SERVER: 'http://scalyr.example',
      SLUICE_MAX_PENDING_BYTES: '1048576',
    });
    const c = okConfig(r);
    expect(c.debug_level).toBe(1);
    expect(c.read_page_size).toBe(131072);
    expect(c.ignore_checkpoints_on_startup_path_globs).toEqual(['/a/*', '/b']);
    expect(c.scalyr_server).toBe('https://scalyr.example');
    expect(c.max_pending_bytes).toBe(1048576);
    expect(r.warnings.some((w) => w.path === 'debug_level' && /Conflicting values/.test(w.message))).toBe(true);
  });

  test('rate enforcement overrides warn about user values they replace', () => {
    const r = load('{ api_key: "k", max_allowed_request_size: 2000000, max_send_rate_enforcement: "2MiB/s" }');
    const c = okConfig(r);
    expect(c.max_allowed_request_size).toBe(5900000);
    expect(c.max_send_rate_bytes_per_second).toBe(2 * 1024 * 1024);
    expect(r.warnings.find((w) => w.path === 'max_allowed_request_size')?.message).toBe(
      'Configured option max_allowed_request_size is being overridden due to max_send_rate_enforcement setting.',
    );
  });

  test('sluice options and their defaults', () => {
    const c = okConfig(load('{ api_key: "k", apm: { enabled: true, tcp: "127.0.0.1:6590" }, http_endpoint: { enabled: "true" }, plugins: ["./p.js", "pkg"] }'));
    expect(c.max_pending_bytes).toBe(6 * 1024 * 1024);
    expect(c.max_allowed_checkpoint_age).toBe(0);
    expect(c.skip_too_far_behind).toBe(false);
    expect(c.max_no_success_secs).toBe(0);
    expect(c.apm).toMatchObject({ enabled: true, tcp: '127.0.0.1:6590', max_frame_bytes: 64 * 1024 * 1024, request_timeout_secs: 300 });
    expect(c.http_endpoint).toEqual({ enabled: true, host: '127.0.0.1', port: 5255 });
    expect(c.plugins[0]).toMatch(/\/p\.js$/);
    expect(c.plugins[1]).toBe('pkg');
    expect(c.embedded_default).toBe(false);
  });

  test('a user-set max_allowed_checkpoint_age is honoured', () => {
    expect(okConfig(load('{ api_key: "k", max_allowed_checkpoint_age: 900 }')).max_allowed_checkpoint_age).toBe(900);
  });

  test('compression types other than deflate/none warn', () => {
    const r = load('{ api_key: "k", compression_type: "zstandard" }');
    okConfig(r);
    expect(r.warnings.find((w) => w.path === 'compression_type')?.message).toMatch(/sluice sends deflate/);
    expect(onlyError(load('{ api_key: "k", compression_type: "gzip" }')).path).toBe('compression_type');
  });

  test('a missing ca_cert_path is an error before anything starts', () => {
    const e = onlyError(load('{ api_key: "k", ca_cert_path: "certs/none.pem" }'));
    expect(e).toMatchObject({ path: 'ca_cert_path', line: 1, column: 31 });
    expect(e.message).toMatch(/file not found: .*certs\/none\.pem$/);
  });

  test('Scalyr options sluice ignores load with a warning when set', () => {
    const r = load('{ api_key: "k", use_requests_lib: true, workers: [ { id: "w", api_key: "x" } ] }');
    okConfig(r);
    expect(r.warnings.filter((w) => w.code === 'noEffect').map((w) => w.path)).toEqual(['workers', 'use_requests_lib']);
  });

  test('huge integers in pass-through values become numbers (JSON-serialisable config)', () => {
    const c = okConfig(load('{ api_key: "k", monitors: [ { module: "m", big: 123456789012345678901234 } ] }'));
    expect(typeof c.monitors[0].big).toBe('number');
    expect(() => JSON.stringify(c)).not.toThrow();
  });

  test('absurdly deep nesting is an error, not a crash', () => {
    const r = load('{ api_key: "k", x: ' + '['.repeat(200000) + ']'.repeat(200000) + ' }');
    expect(onlyError(r)).toMatchObject({ line: 1, column: 1019, message: 'nesting too deep (more than 1000 levels)' });
  });

  test('strip_domain_from_default_server_host', () => {
    expect(okConfig(load('{ api_key: "k", strip_domain_from_default_server_host: true }')).server_attributes.serverHost).toBe('h1');
  });
});

describe('parseConfigObject', () => {
  test('validates a plain object without touching it', () => {
    const input = { import_vars: ['X'], api_key: '$X', logs: [{ path: 'rel.log', attributes: { a: 1 } }], agent_log_path: 'logs' };
    const snapshot = JSON.stringify(input);
    const r = parseConfigObject(input, { baseDir: '/srv/app', env: { X: 'key' }, hostname: 'h' });
    const c = okConfig(r);
    expect(JSON.stringify(input)).toBe(snapshot);
    expect(c.api_key).toBe('key');
    expect(c.logs[0].path).toBe('/srv/app/logs/rel.log');
    expect(r.files).toEqual([]);
  });

  test('errors have a key path but no file', () => {
    const r = parseConfigObject({ logs: [{ path: '/a', sampling_rules: [{ match_expression: '(', sampling_rate: 1 }] }] }, { env: {} });
    const e = onlyError(r);
    expect(e.file).toBeUndefined();
    expect(formatConfigError(e)).toMatch(/^logs\[0\]\.sampling_rules\[0\]\.match_expression: invalid regular expression/);
  });

  test('no api key: embedded default sink', () => {
    const r = parseConfigObject({}, { env: {} });
    expect(okConfig(r).embedded_default).toBe(true);
    expect(r.warnings.map((w) => w.code)).toContain('emptyApiKey');
  });

  test('non-objects and cycles are errors, not exceptions', () => {
    expect(parseConfigObject([1]).ok).toBe(false);
    const cyclic: Record<string, unknown> = { api_key: 'k' };
    cyclic.self = cyclic;
    expect(parseConfigObject(cyclic).ok).toBe(false);
  });
});
