/**
 * Integration with the real `@scout_apm/scout-apm` npm package: an express app instrumented by
 * it runs in a child process and talks to our core agent (runCoreAgent) over a Unix socket; the
 * per-minute metrics and traces that come out are checked.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { get } from './helpers/http.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { runCoreAgent, type CoreAgentHandle } from '../app/cli/runCoreAgent.js';
import { silentLogger } from '../lib/logger.js';
import type { ApmMinute, CompletedRequest } from '../lib/apm/types.js';
import { waitFor } from './apmHelpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const req = createRequire(path.join(ROOT, 'package.json'));

const APP = (scoutPath: string, expressPath: string) => `
const scout = require(${JSON.stringify(scoutPath)});
const express = require(${JSON.stringify(expressPath)});
const app = express();
app.use(scout.expressMiddleware());
app.get('/hello', (req, res) => res.send('hello'));
app.get('/users/:id', (req, res) => {
  scout.api.instrument('Custom/outer', (doneOuter) => {
    scout.api.instrument('SQL/Query', (doneSql, { span }) => {
      span.addContextSync('db.statement', 'SELECT * FROM users WHERE id = ' + Number(req.params.id));
      setTimeout(() => { doneSql(); setTimeout(() => { doneOuter(); res.send('user'); }, 2); }, 5);
    });
  });
});
app.get('/ignored', (req, res) => { scout.api.ignoreTransactionSync(); res.send('ignored'); });
scout.install({ monitor: true, allowShutdown: false }).then(() => {
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + server.address().port + '\\n'));
});
process.on('SIGTERM', () => process.exit(0));
`;


describe('real @scout_apm/scout-apm client against our core agent', () => {
  let dir: string;
  let agent: CoreAgentHandle | undefined;
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await agent?.stop(2000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each(['unix', 'tcp'])('express app with nested spans, SQL and an ignored route (%s)', async (transport) => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-scout-'));
    const sock = path.join(dir, 'core-agent.sock');
    const minutes: ApmMinute[] = [];
    const completed: CompletedRequest[] = [];
    agent = await runCoreAgent({
      apm: { enabled: true, socket_path: transport === 'unix' ? sock : '', tcp: transport === 'tcp' ? '127.0.0.1:0' : undefined, max_frame_bytes: 1 << 24, request_timeout_secs: 30 },
      logger: silentLogger,
      dataDir: path.join(dir, 'data'),
      minuteMs: 1000, // short 'minutes' so the timed emission (minute close + grace) is exercised
      graceMs: 300,
      onMinute: (m) => minutes.push(m),
    });
    agent.intake.completed$.subscribe((b) => completed.push(...b));
    const tcpPort = (agent.intake.status().listening as { port?: number }[]).find((a) => a && typeof a === 'object' && 'port' in a)?.port;
    const address = transport === 'unix' ? sock : `tcp://127.0.0.1:${tcpPort}`;
    const appFile = path.join(dir, 'app.cjs');
    fs.writeFileSync(appFile, APP(req.resolve('@scout_apm/scout-apm'), req.resolve('express')));
    child = spawn(process.execPath, [appFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        SCOUT_MONITOR: 'true',
        SCOUT_KEY: 'IntegrationKey012345',
        SCOUT_NAME: 'scout-it',
        SCOUT_CORE_AGENT_LAUNCH: 'false',
        SCOUT_CORE_AGENT_DOWNLOAD: 'false',
        SCOUT_ERRORS_ENABLED: 'false',
        SCOUT_SOCKET_PATH: address,
        SCOUT_LOG_LEVEL: 'error',
      },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => /PORT \d+/.test(out), 10_000, `the app to listen (output: ${out})`);
    const port = Number(/PORT (\d+)/.exec(out)![1]);
    // Wait for registration before sending traffic (the client connects asynchronously).
    await waitFor(() => (agent!.intake.status().registrations as number) > 0, 10_000, 'Register');
    for (const p of ['/hello', '/users/42', '/hello', '/ignored', '/users/7', '/hello', '/ignored']) expect(await get(port, p)).toBe(200);
    const endpointsSeen = () => completed.filter((r) => r.spans.some((s) => s.operation.startsWith('Controller/'))).length;
    await waitFor(() => endpointsSeen() >= 5, 10_000, 'five finished requests');

    const mine = () => minutes.filter((m) => m.appName === 'scout-it');
    const sum = (name: string) => mine().flatMap((m) => m.endpoints).filter((e) => e.name === name).reduce((n, e) => n + e.callCount, 0);
    // Emitted by the minute timers, before any stop/flush.
    await waitFor(() => sum('Controller/GET /hello') === 3 && sum('Controller/GET /users/:id') === 2, 25_000, () =>
      `timed minute emission (minutes: ${JSON.stringify(minutes.map((m) => [m.appName, m.endpoints.map((e) => [e.name, e.callCount])]))}; ` +
      `completed: ${JSON.stringify(completed.map((r) => [r.appName, r.start, r.stop, r.receivedAt, r.spans.map((s) => s.operation), r.tags]))}; status: ${JSON.stringify(agent!.status())}; now ${Date.now()})`);
    const gone = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await gone;
    await agent.stop(5000);

    const all = mine();
    expect(all.every((m) => m.appKey === 'IntegrationKey012345')).toBe(true);
    expect(sum('Controller/GET /hello')).toBe(3);
    expect(sum('Controller/GET /users/:id')).toBe(2);
    expect(all.flatMap((m) => m.endpoints).map((e) => e.name).filter((n) => /ignored/.test(n))).toEqual([]);
    const users = all.flatMap((m) => m.endpoints).filter((e) => e.name === 'Controller/GET /users/:id');
    const children = users.flatMap((e) => Object.keys(e.children));
    expect(children).toEqual(expect.arrayContaining(['Custom/all', 'SQL/all']));
    expect(users.every((e) => e.totalCallTime > 0.005 && e.totalExclusiveTime < e.totalCallTime)).toBe(true);
    const db = all.flatMap((m) => m.dbQueries);
    expect(db.reduce((n, d) => n + d.callCount, 0)).toBe(2);
    expect(db[0]).toMatchObject({ model: 'User', operation: 'select', scope: 'Controller/GET /users/:id' });
    const traces = all.flatMap((m) => m.traces);
    const userTrace = traces.find((t) => t.endpoint === 'Controller/GET /users/:id')!;
    expect(userTrace.spans.map((s) => s.operation)).toEqual(expect.arrayContaining(['Controller/GET /users/:id', 'Custom/outer', 'SQL/User/select']));
    expect(userTrace.spans.find((s) => s.operation === 'SQL/User/select')!.tags.desc).toBe('SELECT * FROM users WHERE id = ?');
    expect(userTrace.uri).toMatch(/^\/users\/\d+$/);
    expect(all.some((m) => m.metadata && (m.metadata.value as { language?: string }).language === 'nodejs')).toBe(true);
    // Every frame got a reply: nothing was refused.
    expect(agent.intake.counters.dropped).toEqual({});
    // The NDJSON output carries the endpoint metrics.
    const ndjson = fs.readFileSync(path.join(dir, 'data', 'events.ndjson'), 'utf8');
    expect(ndjson).toContain('Controller/GET /users/:id');
  }, 45_000);
});
