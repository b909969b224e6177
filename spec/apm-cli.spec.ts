/**
 * The core-agent launch contract in real child processes (bin/core-agent → dist/):
 * start --daemonize true returns 0 promptly, a second start exits 3, probe prints the version,
 * shutdown stops it after flushing the open minute to the NDJSON output.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { FrameClient, ensureCoreAgentBuilt, waitFor } from './apmHelpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'core-agent');

function run(args: string[], timeout = 15_000) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const children: import('node:child_process').ChildProcess[] = [];

describe('core-agent CLI', () => {
  let dir: string;
  beforeAll(() => {
    ensureCoreAgentBuilt(ROOT);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ca-'));
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    run(['shutdown', '--socket', path.join(dir, 'a.sock')]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('start --daemonize true, exit 3 when live, probe, shutdown flushes', async () => {
    const sock = path.join(dir, 'a.sock');
    const data = path.join(dir, 'data');
    const cfg = path.join(dir, 'config.toml');
    fs.writeFileSync(cfg, '[debug]\n# no ingest_url: the NDJSON output only\n');
    const first = run(['start', '--daemonize', 'true', '--socket', sock, '--log-file', path.join(dir, 'agent.log'), '--log-level', 'debug', '--config-file', cfg, '--data-dir', data]);
    expect(first).toMatchObject({ code: 0 });
    expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
    expect(run(['start', '--daemonize', 'true', '--socket', sock, '--log-file', '/dev/null']).code).toBe(3);
    const probe = run(['probe', '--socket', sock]);
    expect(probe.code).toBe(0);
    expect(probe.stdout).toMatch(/^Agent found: CoreAgentVersion \{ raw: "\d+\.\d+\.\d+" \}\n$/);

    // One request, then shutdown: the open minute must reach the output before the agent exits.
    const c = await FrameClient.connect(sock);
    expect(await c.request({ Register: { app: 'cli-app', key: 'k', api_version: '1.0' } })).toEqual({ Register: { id: null, result: 'Success' } });
    const now = new Date().toISOString();
    const reply = await c.request({
      BatchCommand: {
        commands: [
          { StartRequest: { request_id: 'r1', timestamp: now } },
          { StartSpan: { request_id: 'r1', span_id: 's1', operation: 'Controller/cli', timestamp: now } },
          { StopSpan: { request_id: 'r1', span_id: 's1', timestamp: now } },
          { FinishRequest: { request_id: 'r1', timestamp: now } },
        ],
      },
    });
    expect(reply).toEqual({ BatchCommand: { result: 'Success' } });
    await c.close();
    const down = run(['shutdown', '--socket', sock]);
    expect(down.code).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
    const lines = fs.readFileSync(path.join(data, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const endpoint = lines.find((l) => l.attrs?.apm_type === 'endpoint');
    expect(endpoint.attrs).toMatchObject({ endpoint: 'Controller/cli', scout_app: 'cli-app', call_count: 1 });
    expect(JSON.stringify(lines)).not.toContain('"k"'); // the org key never leaves in events
    expect(run(['probe', '--socket', sock]).code).toBe(1);
    const log = fs.readFileSync(path.join(dir, 'agent.log'), 'utf8');
    expect(log).toMatch(/\[core_agent\]\[INFO\] Starting ScoutApm CoreAgent version/);
  });

  test('SIGTERM on a foreground agent flushes and exits 0; a stale socket file is replaced', async () => {
    const sock = path.join(dir, 'b.sock');
    fs.writeFileSync(path.join(dir, 'placeholder'), '');
    // A stale socket file: bound by a process that is gone.
    const stale = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`]);
    expect(stale.status).toBe(0);
    expect(fs.existsSync(sock)).toBe(true);
    const data = path.join(dir, 'data-b');
    const child = spawn(process.execPath, [BIN, 'start', '--daemonize', 'false', '--socket', sock, '--data-dir', data, '--tcp', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('APM socket server bound') && out.includes('APM TCP server bound'), 10_000, 'listening');
    const c = await FrameClient.connect(sock);
    await c.request({ Register: { app: 'sig', key: 'k2', api_version: '1.0' } });
    await c.request({ ApplicationEvent: { event_type: 'Memory/Physical', event_value: 12.5, source: 'Pid: 1', timestamp: new Date().toISOString() } });
    await c.close();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = fs.readFileSync(path.join(data, 'events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.find((l) => l.attrs?.apm_type === 'sampler')?.attrs).toMatchObject({ sampler: 'Memory/Physical', call_count: 1, total: 12.5 });
  });

  test('probe and shutdown exit 1 when nothing answers; usage errors exit 2', () => {
    const missing = path.join(dir, 'nothing.sock');
    const p = run(['probe', '--socket', missing]);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain('No agent found');
    expect(run(['shutdown', '--socket', missing]).code).toBe(1);
    expect(run(['start', '--daemonize', 'maybe']).code).toBe(2);
    expect(run([]).code).toBe(2);
  });

  test('--config-file [debug] ingest_url: minutes are posted to the check-in endpoint', async () => {
    const posts: { url: string; body: any }[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        posts.push({ url: req.url!, body: JSON.parse(gunzipSync(Buffer.concat(chunks)).toString()) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const cfg = path.join(dir, 'ingest.toml');
    fs.writeFileSync(cfg, `[debug]\ningest_url = "http://127.0.0.1:${(server.address() as AddressInfo).port}"\n`);
    const sock = path.join(dir, 'c.sock');
    const child = spawn(process.execPath, [BIN, 'start', '--socket', sock, '--config-file', cfg, '--data-dir', path.join(dir, 'data-c'), '--minute-secs', '1', '--grace-secs', '0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('APM socket server bound'), 10_000, 'listening');
    const c = await FrameClient.connect(sock);
    await c.request({ Register: { app: 'posted app', key: 'PostKey', api_version: '1.0' } });
    await c.request({ BatchCommand: { commands: [
      { StartRequest: { request_id: 'p1' } },
      { StartSpan: { request_id: 'p1', span_id: 's', operation: 'Controller/posted' } },
      { StopSpan: { request_id: 'p1', span_id: 's' } },
      { FinishRequest: { request_id: 'p1' } },
    ] } });
    await c.close();
    await waitFor(() => posts.length > 0, 5000, 'a check-in POST');
    expect(posts[0]!.url).toBe('/apps/checkin.scout?key=PostKey&name=posted%20app');
    expect(posts[0]!.body.metrics[0].key).toMatchObject({ bucket: 'Controller', name: 'posted' });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    await new Promise<void>((r) => server.close(() => r()));
  });
});
