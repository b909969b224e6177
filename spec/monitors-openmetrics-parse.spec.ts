/**
 * The exposition-format parser of `openmetrics_monitor` (sources/monitors/openmetricsParse.ts)
 * and the Scalyr conversions the monitor applies (names, values, globs).
 */
import { parseExposition } from '../sources/monitors/openmetricsParse.js';
import { globToRegExp, scalyrMetricName, scalyrMetricValue } from '../sources/monitors/openmetricsMonitor.js';

describe('parseExposition', () => {
  test('0.0.4: HELP/TYPE, labels, timestamps, comments, blank lines', () => {
    const r = parseExposition(
      [
        '# HELP http_requests_total The total number of HTTP requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400"}    3   1395066363000',
        '',
        '# a plain comment',
        'metric_without_timestamp_and_labels 12.47',
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
        'trailing_comma{a="1",} 2',
      ].join('\n'),
    );
    expect(r.invalidLines).toBe(0);
    expect(r.types.get('http_requests_total')).toBe('counter');
    expect(r.help.get('http_requests_total')).toBe('The total number of HTTP requests.');
    expect(r.samples.map((s) => [s.name, s.labels, s.value, s.timestamp])).toEqual([
      ['http_requests_total', { method: 'post', code: '200' }, '1027', '1395066363000'],
      ['http_requests_total', { method: 'post', code: '400' }, '3', '1395066363000'],
      ['metric_without_timestamp_and_labels', {}, '12.47', undefined],
      ['msdos_file_access_time_seconds', { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' }, '1.458255915e9', undefined],
      ['trailing_comma', { a: '1' }, '2', undefined],
    ]);
  });

  test('histograms and summaries, +Inf/-Inf/NaN, OpenMetrics exemplars and # EOF', () => {
    const r = parseExposition(
      [
        '# TYPE rpc_duration_seconds summary',
        'rpc_duration_seconds{quantile="0.5"} 4773',
        'rpc_duration_seconds_sum 1.7560473e+07',
        'rpc_duration_seconds_count 2693',
        '# TYPE req histogram',
        'req_bucket{le="0.05"} 24054 # {trace_id="KOO5S4vxi0o"} 0.67 1600000000.123',
        'req_bucket{le="+Inf"} 144320',
        'req_sum 53423',
        'req_count 144320',
        'g_nan NaN',
        'g_minf -Inf',
        'label_with_brace{v="a}b,c"} 1',
        '# EOF',
      ].join('\n'),
    );
    expect(r.invalidLines).toBe(0);
    expect(r.types.get('req')).toBe('histogram');
    expect(r.samples.find((s) => s.name === 'req_bucket')).toMatchObject({ labels: { le: '0.05' }, value: '24054' });
    expect(r.samples.find((s) => s.name === 'req_bucket')?.timestamp).toBeUndefined();
    expect(r.samples.filter((s) => s.name === 'req_bucket')[1].labels.le).toBe('+Inf');
    expect(r.samples.find((s) => s.name === 'g_nan')?.value).toBe('NaN');
    expect(r.samples.find((s) => s.name === 'g_minf')?.value).toBe('-Inf');
    expect(r.samples.find((s) => s.name === 'label_with_brace')?.labels).toEqual({ v: 'a}b,c' });
  });

  test('garbage is counted with reasons, never thrown', () => {
    const r = parseExposition(['<html><body>502 Bad Gateway</body></html>', 'ok 1', 'x{a="unterminated} 1', 'y{a=1} 2', 'z 1 2 3', 'w notanumber', '\u0000\u0001binary', '# TYPE', 'v{a="1",a="2"} 1'].join('\n'));
    expect(r.samples.map((s) => s.name)).toEqual(['ok']);
    expect(r.invalidLines).toBe(8);
    expect(r.reasons).toHaveLength(5);
    expect(r.reasons[0]).toMatch(/line 1: not a metric name/);
    const random = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256)).toString('latin1');
    expect(() => parseExposition(random)).not.toThrow();
  });

  test('maxSamples bounds what is returned; the rest are counted', () => {
    const body = Array.from({ length: 100 }, (_, i) => `m${i} ${i}`).join('\n');
    const r = parseExposition(body, { maxSamples: 10 });
    expect(r.samples).toHaveLength(10);
    expect(r.droppedSamples).toBe(90);
  });
});

describe('Scalyr conversions', () => {
  test('metric names', () => {
    expect(scalyrMetricName('Foo-Bar')).toBe('foo_bar');
    expect(scalyrMetricName('node_load1')).toBe('node_load1');
  });
  test('values: float with ".", int of the float with e+/e-, "+Inf" kept, ints, others skipped', () => {
    expect(scalyrMetricValue('12.47')).toEqual({ value: 12.47, float: true });
    expect(scalyrMetricValue('1.0')).toEqual({ value: 1, float: true });
    expect(scalyrMetricValue('1.7560473e+07')).toEqual({ value: 17560473, float: true });
    expect(scalyrMetricValue('2e+06')).toEqual({ value: 2000000, float: false });
    expect(scalyrMetricValue('5e-05')).toEqual({ value: 0, float: false });
    expect(scalyrMetricValue('+Inf')).toEqual({ value: '+Inf', float: false });
    expect(scalyrMetricValue('42')).toEqual({ value: 42, float: false });
    expect(scalyrMetricValue('NaN')).toBeUndefined();
    expect(scalyrMetricValue('-Inf')).toBeUndefined();
  });
  test('globs are fnmatch', () => {
    expect(globToRegExp('node_*').test('node_load1')).toBe(true);
    expect(globToRegExp('node_load?').test('node_load15')).toBe(false);
    expect(globToRegExp('a[!b]c').test('axc')).toBe(true);
    expect(globToRegExp('a[!b]c').test('abc')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});
