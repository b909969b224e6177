/**
 * Operations against a running agent (a child process of bin/sluice) uploading to a real local
 * HTTPS server whose CA is made in the test: the body the server receives decodes to the lines
 * written; `/metrics` parses as Prometheus text and its counters move; `status -H` and `/health`
 * turn unhealthy while the server fails and healthy again after it recovers; `sluice test` runs
 * config unit tests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeTestCa, startTestServer, parseAddEventsBody, type TestServer } from '../testkit/tlsServer.js';
import { waitFor } from './helpers/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sluice');
const API_KEY = 'test-key-0123456789-must-never-show';

function sluice(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** Parses Prometheus text exposition into `name{labels}` → value. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.eE+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    out.set(m[1], Number(m[2]));
  }
  return out;
}

describe('operations against a running agent', () => {
  let server: TestServer;
  let agent: ChildProcess | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ops-'));
  const log = path.join(dir, 'app.log');
  const configPath = path.join(dir, 'agent.json');
  let port = 0;

  beforeAll(async () => {
    const ca = makeTestCa();
    server = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
    fs.writeFileSync(log, '');
    // A free port for the HTTP endpoint.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    fs.writeFileSync(
      configPath,
      JSON.stringify({
        api_key: API_KEY,
        scalyr_server: server.url,
        ca_cert_path: ca.caPath,
        agent_data_path: './data',
        agent_log_path: './log',
        implicit_metric_monitor: false,
        implicit_agent_process_metrics_monitor: false,
        implicit_agent_log_collection: false,
        server_attributes: { serverHost: 'ops-host' },
        http_endpoint: { enabled: true, host: '127.0.0.1', port },
        upload: { retry_base_ms: 50, retry_max_ms: 200, linger_ms: 50 },
        logs: [
          {
            path: log,
            copy_from_start: true,
            lineGroupers: [{ start: '^[^\\s]', continueThrough: '^\\s+at' }],
            redaction_rules: [{ match_expression: 'password=\\S*', replacement: 'password=XXX' }],
          },
        ],
        tests: [
          { name: 'redacts', log: 0, input: ['login password=abc ok'], expected: [{ message: 'login password=XXX ok' }] },
          { name: 'groups a trace', log: 0, input: ['Boom', '  at x', 'next'], expected: [{ message: 'Boom\n  at x\n' }, { message: 'next\n' }] },
          { name: 'a failing case', log: 0, input: ['a'], no_output: true },
        ],
      }),
    );
    agent = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', configPath], { stdio: 'ignore' });
    await waitFor('agent running', () => sluice(['status', '--config', configPath]).code === 0, 20_000, 100);
  });

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      sluice(['stop', '--config', configPath]);
      if (agent.exitCode === null) agent.kill('SIGKILL');
    }
    await server?.close();
  });

  it('uploads the lines it reads, decoded byte for byte by the server', async () => {
    fs.appendFileSync(log, 'hello password=hunter2 there\nException\n  at a.b(C.java:1)\nbinary \xff\x00 end\n');
    await waitFor('events at the server', () => server.requests.reduce((n, r) => n + parseAddEventsBody(r.body).events.length, 0) >= 3, 15_000);
    const events = server.requests.flatMap((r) => parseAddEventsBody(r.body).events);
    const msgs = events.map((e) => e.message.toString('latin1'));
    expect(msgs.slice(0, 2)).toEqual(['hello password=XXX there\n', 'Exception\n  at a.b(C.java:1)\n']);
    const body = parseAddEventsBody(server.requests[0].body);
    expect(body.head.token).toBe(API_KEY);
    expect((body.head.sessionInfo as Record<string, string>).serverHost).toBe('ops-host');
  }, 30_000);

  it('serves /metrics as Prometheus text whose counters move', async () => {
    const before = parseProm((await get(`http://127.0.0.1:${port}/metrics`)).body);
    fs.appendFileSync(log, 'one more line\nand another\n');
    const sent = (m: Map<string, number>) => m.get('sluice_component_sent_events_total{component="sink"}') ?? 0;
    const after = await waitFor('counters moved', async () => {
      const m = parseProm((await get(`http://127.0.0.1:${port}/metrics`)).body);
      return sent(m) > sent(before) + 1 ? m : undefined;
    });
    expect(after.get('sluice_healthy')).toBe(1);
    expect([...after.keys()].some((k) => k.startsWith('sluice_process_'))).toBe(true);
    expect([...after.keys()].some((k) => k.startsWith('sluice_file_lag_bytes{'))).toBe(true);
    expect((await get(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  }, 30_000);

  it('status -H and /health flip to unhealthy while the server fails, and back after it recovers', async () => {
    // Fail every request for a while; the health window is shortened through the env of this test.
    for (let i = 0; i < 1000; i++) server.faults.push({ status: 503, body: '{"status":"error/server/backoff","message":"busy"}' });
    fs.appendFileSync(log, 'while failing\n');
    const h = await waitFor(
      'unhealthy',
      () => {
        const r = sluice(['status', '-H', '--config', configPath, '--max-secs', '1']);
        return r.code === 2 ? r : undefined;
      },
      20_000,
      200,
    );
    expect(h.stdout).toMatch(/^Health check: Upload failing: no success for \d+ seconds with \d+ bytes pending \(last response: error\/server\/backoff\)/);
    expect((await get(`http://127.0.0.1:${port}/health?max_secs=1`)).status).toBe(503);
    server.faults.length = 0;
    await waitFor('healthy again', () => sluice(['status', '-H', '--config', configPath, '--max-secs', '1']).code === 0, 20_000, 200);
    const events = server.requests.flatMap((r) => (r.fault.status ? [] : parseAddEventsBody(r.body).events));
    expect(events.some((e) => e.message.toString() === 'while failing\n')).toBe(true);
    // The key is never printed.
    const v = sluice(['status', '-v', '--config', configPath]);
    expect(v.stdout + v.stderr).not.toContain(API_KEY);
    expect(fs.readFileSync(path.join(dir, 'log', 'agent.log'), 'utf8')).not.toContain(API_KEY);
  }, 60_000);

  it('sluice test runs the config unit tests through the real operators', () => {
    const r = sluice(['test', '--config', configPath]);
    expect(r.stdout).toMatch(/PASS {2}redacts/);
    expect(r.stdout).toMatch(/PASS {2}groups a trace/);
    expect(r.stdout).toMatch(/FAIL {2}a failing case\n {6}expected no output/);
    expect(r.stdout).toMatch(/2 passed, 1 failed/);
    expect(r.code).toBe(1);
  });
});
