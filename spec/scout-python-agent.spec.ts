/**
 * Integration with Scout's real Python agent (scout_apm_python from /work/shared/peers, run from
 * source): a Flask app (spec/fixtures/scout-python/app.py) instrumented by it talks to sluice's
 * `core-agent` in three ways — a Unix socket and TCP (sluice started by the test, the agent with
 * SCOUT_CORE_AGENT_LAUNCH=false), and launch mode (`core-agent install --dir`, then the agent finds
 * the manifest in SCOUT_CORE_AGENT_DIR and starts sluice itself). After `core-agent shutdown`
 * (which flushes the open minute) the check-ins a local receiver got are checked: endpoint names
 * and counts, the SQL span's naming and the error counts. Real child processes, loopback only.
 * Skips, printing why, when the peer checkout, python3 or one of its modules is missing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { get } from './helpers/http.js';
import net from 'node:net';
import { gunzipSync } from 'node:zlib';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { ensureCoreAgentBuilt, waitFor } from './apmHelpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'core-agent');
const APP = path.join(ROOT, 'spec', 'fixtures', 'scout-python', 'app.py');
const PEER = path.resolve(ROOT, '../shared/peers/scout_apm_python');
const MODULES = 'import flask, psutil, wrapt, asgiref, urllib3, certifi';

function findPython(): { python?: string; reason?: string } {
  if (!fs.existsSync(path.join(PEER, 'src', 'scout_apm', '__init__.py'))) return { reason: `no Scout Python agent checkout at ${PEER}` };
  const tried: string[] = [];
  for (const py of [process.env.SLUICE_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(py, ['-c', MODULES], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0) return { python: py };
    tried.push(`${py}: ${r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop()}`);
  }
  return { reason: `no python3 with flask, psutil, wrapt, asgiref, urllib3, certifi (${tried.join('; ')})` };
}

const found = findPython();
if (found.reason) console.log(`skipping the Scout Python agent spec: ${found.reason}`);
const describeIf = found.python ? describe : describe.skip;

interface Post { url: string; body: any }

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}


/** Runs bin/core-agent asynchronously (the receiver lives in this process, so never spawnSync). */
function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

describeIf('real Scout Python agent (Flask) against sluice core-agent', () => {
  let receiver: http.Server;
  let posts: Post[] = [];
  let ingestUrl = '';
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const shutdownTargets: string[][] = [];

  beforeAll(async () => {
    ensureCoreAgentBuilt(ROOT);
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          posts.push({ url: req.url!, body: JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) });
        } catch {
          posts.push({ url: req.url!, body: null });
        }
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    ingestUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const t of shutdownTargets) await runCli(['shutdown', ...t], 20_000);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await new Promise<void>((r) => receiver.close(() => r()));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test.each(['socket', 'tcp', 'launch'] as const)('Flask endpoints, SQL span and errors reach the check-in (%s mode)', async (mode) => {
    posts = [];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-py-${mode}-`));
    dirs.push(dir);
    const cfg = path.join(dir, 'core-agent.toml');
    fs.writeFileSync(cfg, `[debug]\ningest_url = "${ingestUrl}"\n`);
    const sock = path.join(dir, 'core-agent.sock');
    const app = `py-${mode}`;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      PYTHONPATH: path.join(PEER, 'src'),
      PYTHONDONTWRITEBYTECODE: '1',
      SCOUT_MONITOR: 'true',
      SCOUT_KEY: 'PythonKey0123456789a',
      SCOUT_NAME: app,
      SCOUT_ERRORS_ENABLED: 'false',
      SCOUT_LOG_LEVEL: 'warning',
      SCOUT_REVISION_SHA: 'abc123',
    };
    let address: string;
    let cliTarget: string[];
    let agent: ChildProcess | undefined;
    let agentOut = '';
    if (mode === 'launch') {
      const coreDir = path.join(dir, 'scout_apm_core');
      const inst = await runCli(['install', '--dir', coreDir]);
      expect(inst.code).toBe(0);
      address = sock;
      cliTarget = ['--socket', sock];
      Object.assign(env, {
        SCOUT_CORE_AGENT_DIR: coreDir,
        SCOUT_CORE_AGENT_DOWNLOAD: 'false',
        SCOUT_CORE_AGENT_LAUNCH: 'true',
        SCOUT_CORE_AGENT_SOCKET_PATH: sock,
        SCOUT_CORE_AGENT_CONFIG_FILE: cfg,
        SCOUT_CORE_AGENT_LOG_FILE: path.join(dir, 'core-agent.log'),
        SCOUT_CORE_AGENT_LOG_LEVEL: 'debug',
      });
    } else {
      const tcp = mode === 'tcp' ? `127.0.0.1:${await freePort()}` : undefined;
      address = tcp ? `tcp://${tcp}` : sock;
      cliTarget = tcp ? ['--tcp', tcp] : ['--socket', sock];
      agent = spawn(process.execPath, [BIN, 'start', '--daemonize', 'false', ...cliTarget, '--config-file', cfg, '--data-dir', path.join(dir, 'data'), '--log-level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(agent);
      agent.stdout!.on('data', (d) => (agentOut += d));
      agent.stderr!.on('data', (d) => (agentOut += d));
      await waitFor(() => /APM (socket|TCP) server bound/.test(agentOut), 15_000, () => `core-agent to listen (output: ${agentOut})`);
      Object.assign(env, { SCOUT_CORE_AGENT_LAUNCH: 'false', SCOUT_CORE_AGENT_DOWNLOAD: 'false', SCOUT_CORE_AGENT_SOCKET_PATH: address });
    }
    shutdownTargets.push(cliTarget);

    const py = spawn(found.python!, [APP], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(py);
    let pyOut = '';
    py.stdout!.on('data', (d) => (pyOut += d));
    py.stderr!.on('data', (d) => (pyOut += d));
    await waitFor(() => /PORT \d+/.test(pyOut), 20_000, () => `the Flask app to listen (output: ${pyOut})`);
    const port = Number(/PORT (\d+)/.exec(pyOut)![1]);
    const codes: number[] = [];
    for (const p of ['/hello', '/users/42', '/boom', '/hello', '/users/7', '/hello', '/boom']) codes.push(await get(port, p));
    expect(codes).toEqual([200, 200, 500, 200, 200, 200, 500]);
    if (mode === 'launch') {
      // The agent launched sluice itself (`start --daemonize true --socket …`).
      await waitFor(() => fs.existsSync(sock), 15_000, () => `the launched core agent's socket (app output: ${pyOut})`);
    }
    // SIGTERM → sys.exit → atexit: the agent drains its queue to the core agent (≤ 2 s).
    py.kill('SIGTERM');
    await exited(py);

    const down = await runCli(['shutdown', ...cliTarget]);
    expect(down).toMatchObject({ code: 0 });
    if (agent) await exited(agent);

    const mine = posts.filter((p) => p.url.includes(`name=${app}`));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((p) => p.url.startsWith('/apps/checkin.scout?key=PythonKey0123456789a&'))).toBe(true);
    const metrics = mine.flatMap((p) => p.body.metrics as { key: { bucket: string; name: string; scope: null | { bucket: string; name: string } }; call_count: number }[]);
    const count = (bucket: string, name: string, scope?: string) =>
      metrics.filter((m) => m.key.bucket === bucket && m.key.name === name && (scope ? m.key.scope?.name === scope : !m.key.scope)).reduce((n, m) => n + m.call_count, 0);
    const summary = () => JSON.stringify(metrics.map((m) => [m.key.bucket, m.key.name, m.key.scope?.name, m.call_count]));
    expect({ hello: count('Controller', '__main__.hello'), user: count('Controller', '__main__.user'), boom: count('Controller', '__main__.boom') }).toEqual({ hello: 3, user: 2, boom: 2 });
    // The SQL span as a child metric of its endpoint, named from the statement.
    expect(metrics.some((m) => m.key.bucket === 'SQL' && m.key.scope?.name === '__main__.user' && m.call_count === 2)).toBe(true);
    const db = mine.flatMap((p) => (p.body.db_metrics?.query ?? []) as { model_name: string; operation: string; call_count: number }[]);
    expect(db.filter((d) => d.model_name === 'User' && d.operation === 'select').reduce((n, d) => n + d.call_count, 0)).toBe(2);
    // Errors: per endpoint and in total; none on the others.
    expect(count('Errors', 'Controller/__main__.boom')).toBe(2);
    expect(count('Errors', 'Request')).toBe(2);
    expect(count('Errors', 'Controller/__main__.hello') + count('Errors', 'Controller/__main__.user')).toBe(0);
    expect(summary()).not.toContain('"Controller","__main__.missing"');
    // A slow-trace sample of the SQL endpoint carries the SQL span.
    type Trace = { identity: { transaction_id: string }; spans: { identity: { operation: string } }[] };
    const traces = mine.flatMap((p) => (p.body.span_traces ?? []) as Trace[]);
    expect(traces.length).toBeGreaterThan(0);
    const ops = traces.flatMap((t) => t.spans.map((s) => s.identity.operation));
    expect(ops).toEqual(expect.arrayContaining(['Controller/__main__.user', 'SQL/User/select']));
    expect(mine.some((p) => p.body.metadata?.platform === 'python' || JSON.stringify(p.body.metadata ?? {}).includes('python'))).toBe(true);
    if (mode === 'launch') {
      // Launched by the agent, with the agent's log file; SCOUT_LOG_LEVEL=warning became --log-level warning.
      const log = fs.readFileSync(path.join(dir, 'core-agent.log'), 'utf8'); // exists: sluice wrote it
      expect(log).not.toContain('unknown --log-level');
    }
  }, 50_000);
});

// Runs without Python: the layout `core-agent install` writes is what the agents' manifest check wants.
describe('core-agent install layout', () => {
  let dir: string;
  beforeAll(() => {
    ensureCoreAgentBuilt(ROOT);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-install-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('one verified manifest + executable wrapper per version and triple, plus the flat pair', async () => {
    const r = await runCli(['install', '--dir', path.join(dir, 'core'), '--version', 'v1.5.1,1.3.0']);
    expect(r.code).toBe(0);
    const triples = ['x86_64-unknown-linux-musl', 'aarch64-unknown-linux-musl', 'x86_64-unknown-linux-gnu', 'aarch64-unknown-linux-gnu', 'x86_64-apple-darwin', 'aarch64-apple-darwin'];
    const expected = ['v1.5.1', 'v1.3.0'].flatMap((v) => triples.map((t) => `scout_apm_core-${v}-${t}`)).concat(['.']);
    const { createHash } = await import('node:crypto');
    for (const sub of expected) {
      const d = path.join(dir, 'core', sub);
      const m = JSON.parse(fs.readFileSync(path.join(d, 'manifest.json'), 'utf8'));
      expect(m).toMatchObject({ core_agent_binary: 'core-agent', core_agent_version: '1.5.1', version: '1.5.1' });
      const bin = path.join(d, m.core_agent_binary);
      expect(createHash('sha256').update(fs.readFileSync(bin)).digest('hex')).toBe(m.core_agent_binary_sha256);
      expect(fs.statSync(bin).mode & 0o111).toBe(0o111);
    }
    // The wrapper runs this checkout's core-agent: nothing listens on this socket.
    const probe = spawnSync(path.join(dir, 'core', expected[0]!, 'core-agent'), ['probe', '--socket', path.join(dir, 'none.sock')], { encoding: 'utf8', timeout: 20_000 });
    expect(probe.status).toBe(1);
    expect(probe.stderr).toContain('No agent found');
    // Usage errors exit 2; install's options are ignored (with a warning) by the other modes.
    expect((await runCli(['install', '--version', 'nightly'])).code).toBe(2);
    expect((await runCli(['probe', '--version', 'x', '--socket', path.join(dir, 'none.sock')])).code).toBe(1);
    expect((await runCli(['install', '--help'])).out).toContain('core-agent install [--dir CORE_AGENT_DIR]');
  }, 30_000);
});
