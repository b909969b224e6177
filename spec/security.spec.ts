/**
 * Security: secrets never leave the places they belong; sockets are private; TLS is verified.
 *
 * - An agent child process (`sluice start --foreground`, debug_level 5) with an API key and
 *   redaction rules, a server that first answers errors ECHOING the API key: neither the key nor
 *   the redacted text appears in agent.log, stdout/stderr, `status -v`, `status --format json`,
 *   `status -H`, `tap` output, the data directory, or the uploaded events (the key only in the
 *   body's `token` field, where the API wants it).
 * - The control socket and the APM socket are mode 0600 (no group/other access).
 * - A shell monitor's command comes only from the config file: not from the control socket, not
 *   from the environment, not from log data.
 * - TLS: an untrusted server certificate is refused by default (no request reaches it); only
 *   `verify_server_certificate: false` turns the check off.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentProcess, runCli, repoRoot } from '../reliability/agentProcess.js';
import { call } from '../app/control/client.js';
import { createAgent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { makeTestCa, parseAddEventsBody, startTestServer, type TestCa, type TestServer } from '../testkit/tlsServer.js';
import { waitFor } from './helpers/wait.js';

const KEY = 'sk-SECURITY-0123456789abcdefXYZ';
const SECRET_PASSWORD = 'hunter2-SECRET-pw';
const SECRET_SSN = 'SSN-987654321';
const built = fs.existsSync(path.join(repoRoot(), 'dist', 'app', 'cli', 'main.js'));

let ca: TestCa;
let otherCa: TestCa;
beforeAll(() => {
  ca = makeTestCa('security CA');
  otherCa = makeTestCa('untrusted CA');
});
afterAll(() => {
  fs.rmSync(ca.dir, { recursive: true, force: true });
  fs.rmSync(otherCa.dir, { recursive: true, force: true });
});

/** Every file under `dir` (recursively), sockets and FIFOs skipped. */
function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('security', () => {
  let server: TestServer | undefined;
  let agent: AgentProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await agent?.kill9();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    server = agent = dir = undefined;
  });

  (built ? it : it.skip)(
    'the API key and redacted text appear nowhere; sockets are 0600; monitor commands only from config',
    async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-security-'));
      server = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
      // Hostile answers that echo the key back (a proxy or a buggy server might).
      server.faults.push(
        { status: 401, body: JSON.stringify({ status: 'error/client/badParam', message: `Invalid token ${KEY} for this account` }) },
        { status: 500, body: `<html>upstream said token=${KEY}</html>`, contentType: 'text/html' },
        { status: 200, body: JSON.stringify({ status: 'error/server/backoff', message: `slow down, ${KEY}` }) },
      );
      const app = path.join(dir, 'app.log');
      fs.writeFileSync(app, '');
      const pwned = path.join(dir, 'PWNED');
      const dataPath = path.join(dir, 'data');
      const logPath = path.join(dir, 'log');
      const configPath = path.join(dir, 'agent.json');
      fs.writeFileSync(
        configPath,
        JSON.stringify({
          api_key: KEY,
          scalyr_server: server.url,
          ca_cert_path: ca.caPath,
          agent_data_path: dataPath,
          agent_log_path: logPath,
          debug_level: 5,
          implicit_metric_monitor: false,
          implicit_agent_process_metrics_monitor: false,
          implicit_agent_log_collection: true,
          max_new_log_detection_time: 0.5,
          upload: { linger_ms: 20, retry_base_ms: 50, retry_max_ms: 300 },
          apm: { enabled: true, socket_path: path.join(dir, 'apm.sock') },
          logs: [
            {
              path: app,
              copy_from_start: true,
              redaction_rules: [
                { match_expression: 'password=[^ ]+', replacement: 'password=XXX' },
                { match_expression: 'SSN-\\d+', replacement: '<ssn>' },
              ],
            },
          ],
          monitors: [{ module: 'shell_monitor', id: 'sec', command: 'echo monitor-ok', sample_interval: 1 }],
        }),
      );
      // The environment must not be able to add monitors (or change the key shown anywhere).
      agent = new AgentProcess(configPath, dataPath, path.join(dir, 'agent.out'), {
        SCALYR_MONITORS: JSON.stringify([{ module: 'shell_monitor', id: 'env', command: `touch ${pwned}`, sample_interval: 1 }]),
      });
      await agent.start();

      // Sockets: private to the agent's user.
      for (const sock of [path.join(dataPath, 'sluice.sock'), path.join(dir, 'apm.sock')]) {
        await waitFor(`${sock} exists`, () => fs.existsSync(sock));
        expect({ sock, mode: (fs.statSync(sock).mode & 0o777).toString(8) }).toEqual({ sock, mode: '600' });
      }

      // Control socket: no command can run a shell command or swap the config.
      const replies = [
        await call(dataPath, { cmd: 'exec', command: `touch ${pwned}` }, 5000),
        await call(dataPath, { cmd: 'reload', config: { monitors: [{ module: 'shell_monitor', command: `touch ${pwned}` }] } }, 5000),
        await call(dataPath, { cmd: 'tap', component: `$(touch ${pwned})`, limit: 1 }, 1000).catch((e) => String(e)),
      ];
      expect(JSON.stringify(replies[0])).toMatch(/unknown command/);

      // Tap while the secrets flow (it must show them redacted).
      const tapRun = runCli(['tap', '--limit', '6', '--config', configPath], { timeoutMs: 15_000 });
      await new Promise((r) => setTimeout(r, 500));
      fs.appendFileSync(app, `login user=bob password=${SECRET_PASSWORD} ok\nrecord ${SECRET_SSN} stored\n$(touch ${pwned}) \`touch ${pwned}\`\n`);
      const bodies = () => server!.requests.map((r) => r.body.toString('latin1'));
      await waitFor('the redacted lines uploaded', () => bodies().some((b) => b.includes('password=XXX ok')) && bodies().some((b) => b.includes('record <ssn> stored')), 15_000);
      await waitFor('the configured monitor ran', () => bodies().some((b) => b.includes('monitor-ok')), 10_000);
      for (let i = 0; i < 4; i++) fs.appendFileSync(app, `filler ${i} password=${SECRET_PASSWORD}\n`);
      const tapOut = await tapRun;

      const outputs: Record<string, string> = {
        tap: tapOut.stdout + tapOut.stderr,
        replies: JSON.stringify(replies),
      };
      for (const args of [['status', '-v'], ['status', '--format', 'json'], ['status', '-H'], ['status'], ['validate']]) {
        const r = await runCli([...args, '--config', configPath]);
        outputs[args.join(' ')] = r.stdout + r.stderr;
      }
      expect(outputs['status --format json']).toMatch(/lastResponseStatus|sink/);
      expect(outputs.tap).toMatch(/password=XXX/);
      await agent.term(15_000);
      outputs['agent stdout/stderr'] = fs.readFileSync(path.join(dir, 'agent.out'), 'utf8');
      for (const f of [...allFiles(logPath), ...allFiles(dataPath)]) outputs[f] = fs.readFileSync(f, 'latin1');
      // The server messages that echoed the key must have been shown (redacted) somewhere.
      expect(Object.values(outputs).join('\n')).toMatch(/Invalid token|upload failed/);

      if (process.env.SLUICE_SECURITY_DEBUG) console.log(Object.entries(outputs).map(([k, v]) => `${k}: ${v.length} bytes: ${v.slice(0, 300)}`).join("\n---\n"));
      for (const [where, text] of Object.entries(outputs)) {
        expect({ where, key: text.includes(KEY) }).toEqual({ where, key: false });
        expect({ where, password: text.includes(SECRET_PASSWORD) }).toEqual({ where, password: false });
        expect({ where, ssn: text.includes(SECRET_SSN) }).toEqual({ where, ssn: false });
      }
      // Uploaded events: the key only as the body's token, never in events; no redacted text.
      for (const r of server.requests) {
        const parsed = parseAddEventsBody(r.body);
        expect(parsed.head.token).toBe(KEY);
        const rest = r.body.toString('latin1').split(JSON.stringify(KEY)).join('""');
        expect(rest.includes(KEY)).toBe(false);
        expect(rest.includes(SECRET_PASSWORD)).toBe(false);
        expect(rest.includes(SECRET_SSN)).toBe(false);
      }
      // No command came from anywhere but the config.
      expect(fs.existsSync(pwned)).toBe(false);
    },
    60_000,
  );

  it('refuses an untrusted server certificate by default; verify_server_certificate: false turns the check off', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-security-tls-'));
    server = await startTestServer({ certPem: otherCa.certPem, keyPem: otherCa.keyPem });
    const app = path.join(dir, 'app.log');
    fs.writeFileSync(app, 'hello\n');
    const mk = (extra: Record<string, unknown>) =>
      createAgent({
        logger: memoryLogger(),
        watchConfig: false,
        stopDeadlineMs: 2000,
        config: {
          api_key: KEY,
          scalyr_server: server!.url,
          ca_cert_path: ca.caPath, // trusts "security CA", not the server's CA
          agent_data_path: path.join(dir!, 'data'),
          agent_log_path: path.join(dir!, 'log'),
          implicit_metric_monitor: false,
          implicit_agent_process_metrics_monitor: false,
          implicit_agent_log_collection: false,
          upload: { linger_ms: 10, retry_base_ms: 50, retry_max_ms: 200 },
          logs: [{ path: app, copy_from_start: true }],
          ...extra,
        },
      });
    const strict = mk({});
    await strict.start();
    try {
      await waitFor('an upload attempt failed', () => strict.status().sink.lastResponseStatus !== undefined, 10_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(server.requests).toHaveLength(0);
      expect(String(strict.status().sink.lastResponseStatus)).not.toBe('success');
      expect(JSON.stringify(strict.status())).not.toContain(KEY);
    } finally {
      await strict.stop(1000);
    }
    const lax = mk({ verify_server_certificate: false });
    await lax.start();
    try {
      await waitFor('uploaded without verification', () => server!.requests.length > 0, 10_000);
    } finally {
      await lax.stop(1000);
    }
  }, 30_000);
});
