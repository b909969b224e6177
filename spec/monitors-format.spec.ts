/**
 * Metric line format, name sanitizing, monitor naming and shell_monitor output rules, checked
 * against Scalyr's vectors (`spec/fixtures/vectors/scalyr/monitors.json`) and edge cases.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  assignMonitorIds,
  encodeValue,
  formatMetricLine,
  formatMetricTime,
  monitorName,
  pythonFloatRepr,
  rewriteCollectorLine,
  sanitizeName,
  shortModuleName,
} from '../sources/monitors/metricLine.js';
import { shellOptions, shellOutputSample } from '../sources/monitors/shellMonitor.js';
import { CumulativeTracker, parsePidOption, type ProcessReading } from '../sources/monitors/linuxProcessMetrics.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr/monitors.json'), 'utf8')) as {
  cases: { name: string; kind: string; input: any; expected: any }[];
};
const byKind = (k: string) => vectors.cases.filter((c) => c.kind === k);

describe('monitors.json vectors', () => {
  test('every vector kind is covered by this file', () => {
    const kinds = new Set(vectors.cases.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['linux_system_metrics', 'metric_line', 'metric_name_sanitizing', 'shell_monitor']);
  });

  test.each(byKind('metric_name_sanitizing').map((c) => [c.name, c] as const))('%s', (_n, c) => {
    expect(sanitizeName(c.input.name, c.input.is_metric_name)).toBe(c.expected.name);
  });

  test.each(byKind('metric_line').map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const { metric_name, value, extra_fields, monitor_log_name, time } = c.input;
    // JSON cannot tell Python's 0.0 from 0: the expected line shows a float where the vector's
    // input lost it. Our monitors mark such values with `float: true` (app.nice does); we
    // take the float-ness from the expected text.
    const float = typeof value === 'number' && Number.isInteger(value) && /^\S+ \S+ \[[^\]]*\] \S+ -?\d+\.\d/.test(c.expected.log_line);
    const line = formatMetricLine(Date.parse(time), monitor_log_name, metric_name, value, extra_fields, float);
    expect(line).toBe(c.expected.log_line);
  });

  test.each(byKind('shell_monitor').map((c) => [c.name, c] as const))('%s (output rules)', (_n, c) => {
    const o = shellOptions(c.input.config);
    const got = shellOutputSample(o, { stdout: c.input.command_stdout, stderr: c.input.command_stderr, exitCode: c.input.exit_code });
    expect(c.expected.metric).toBe('output');
    expect(got.value).toBe(c.expected.value);
    expect(got.fields).toEqual(c.expected.extra_fields);
  });

  test.each(byKind('linux_system_metrics').map((c) => [c.name, c] as const))('%s', (_n, c) => {
    // sluice reads /proc directly instead of running tcollector scripts; the rewrite rule is
    // kept as a helper and checked here.
    expect(rewriteCollectorLine(c.input.collector_line)).toBe(c.expected.metric_log_message);
  });
});

describe('metric line details', () => {
  test('time is UTC with milliseconds', () => {
    expect(formatMetricTime(Date.UTC(2024, 0, 2, 3, 4, 5, 6))).toBe('2024-01-02 03:04:05.006Z');
  });

  test('fields are sorted by sanitized name and JSON-encoded', () => {
    const line = formatMetricLine(0, 'm()', 'x', 'a"b', { z: 1, b: true, 'a b': 'ü', value: 2.5 });
    expect(line).toBe('1970-01-01 00:00:00.000Z [m()] x "a\\"b" a_b="\\u00fc" b=true value_=2.5 z=1');
  });

  test('bad names are repaired, reserved field names suffixed, metric names not suffixed', () => {
    expect(sanitizeName('abc$#%^&123')).toBe('abc_____123');
    expect(sanitizeName('-x')).toBe('sa_-x');
    expect(sanitizeName('ok.name-1')).toBe('ok.name-1');
    expect(sanitizeName('logfile')).toBe('logfile_');
    expect(sanitizeName('severity')).toBe('severity_');
    expect(sanitizeName('value', true)).toBe('value');
  });

  test('floats print like Python repr', () => {
    expect(pythonFloatRepr(0.25)).toBe('0.25');
    expect(pythonFloatRepr(12)).toBe('12.0');
    expect(pythonFloatRepr(1e-5)).toBe('1e-05');
    expect(pythonFloatRepr(1.5e16)).toBe('1.5e+16');
    expect(pythonFloatRepr(123456789.125)).toBe('123456789.125');
    expect(pythonFloatRepr(-0.0001)).toBe('-0.0001');
    expect(encodeValue(3)).toBe('3');
    expect(encodeValue(3, true)).toBe('3.0');
    expect(encodeValue(false)).toBe('false');
    expect(() => encodeValue(NaN)).toThrow(/non-finite/);
    expect(() => encodeValue({})).toThrow(/unsupported/);
  });

  test('module names and ids', () => {
    expect(shortModuleName('scalyr_agent.builtin_monitors.shell_monitor')).toBe('shell_monitor');
    expect(shortModuleName('./plugins/my-mon.mjs')).toBe('my-mon');
    expect(monitorName('linux_system_metrics', '')).toBe('linux_system_metrics()');
    expect(monitorName('scalyr_agent.builtin_monitors.linux_process_metrics', 'agent')).toBe('linux_process_metrics(agent)');
    expect(
      assignMonitorIds([
        { module: 'scalyr_agent.builtin_monitors.shell_monitor' },
        { module: 'shell_monitor', id: 'k' },
        { module: 'shell_monitor' },
        { module: 'linux_system_metrics' },
      ]),
    ).toEqual(['1', 'k', '2', '']);
  });
});

describe('shell_monitor output rules (beyond the vectors)', () => {
  const o = (extra: Record<string, unknown> = {}) => shellOptions({ command: 'x', ...extra });
  test('first non-empty line, stripped; length counts the whole output', () => {
    expect(shellOutputSample(o(), { stdout: '\n\n  hi there  \nsecond\n', stderr: '', exitCode: 0 })).toEqual({
      value: 'hi there',
      fields: { command: 'x', length: 22, exit_code: 0 },
    });
  });
  test('extract without a match keeps the output', () => {
    expect(shellOutputSample(o({ extract: 'v=(\\d+)' }), { stdout: 'none\n', stderr: '', exitCode: 0 }).value).toBe('none');
  });
  test('max_characters 0 gives just the ellipsis', () => {
    expect(shellOutputSample(o({ max_characters: 0 }), { stdout: 'abc', stderr: '', exitCode: 0 }).value).toBe('...');
  });
  test('bad options are rejected with their name', () => {
    expect(() => shellOptions({})).toThrow(/command/);
    expect(() => shellOptions({ command: 'x', extract: 'no group' })).toThrow(/extract/);
    expect(() => shellOptions({ command: 'x', max_characters: 10001 })).toThrow(/max_characters/);
  });
});

describe('process metrics semantics', () => {
  const reading = (pid: number, starttime: number, utime: number, uptimeMs: number): ProcessReading => ({
    pid,
    stat: { pid, comm: 'x', state: 'S', ppid: 1, majflt: 0, utime, stime: 0, nice: 0, numThreads: 1, starttime, vsize: 0, rssPages: 0, delayacctBlkioTicks: 0 },
    status: new Map(),
    uptimeMs,
  });
  test('cumulative metrics are sums of deltas since the monitor started (first sample 0)', () => {
    const t = new CumulativeTracker();
    expect(t.update([reading(10, 5, 100, 50_000)]).uptime).toBe(0);
    expect(t.update([reading(10, 5, 130, 53_000)])).toMatchObject({ uptime: 3000, 'cpu.user': 30 });
    expect(t.update([reading(10, 5, 150, 56_000)])).toMatchObject({ uptime: 6000, 'cpu.user': 50 });
    // the process restarted with a new pid: its first reading is a new baseline
    expect(t.update([reading(11, 900, 7, 1_000)])).toMatchObject({ uptime: 6000, 'cpu.user': 50 });
    expect(t.update([reading(11, 900, 9, 4_000)])).toMatchObject({ uptime: 9000, 'cpu.user': 52 });
    // pid reused by another process (different start time): baseline again, no negative delta
    expect(t.update([reading(11, 1000, 1, 10)])).toMatchObject({ uptime: 9000, 'cpu.user': 52 });
  });
  test('pid option', () => {
    expect(parsePidOption('$$', 42)).toEqual([42]);
    expect(parsePidOption('1, 2,3')).toEqual([1, 2, 3]);
    expect(() => parsePidOption('abc')).toThrow(/pid/);
  });
});
