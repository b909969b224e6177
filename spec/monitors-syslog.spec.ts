/**
 * `syslog_monitor` against real senders: util-linux `logger` (TCP and UDP, RFC 3164 and 5424,
 * octet-counted and newline framing) and a real `rsyslogd` forwarding with `omfwd` (TCP octet-
 * counted and traditional framing, UDP), run through a real agent (the embedded sink in a temp
 * dir, or an addEvents sink pointed at a local HTTP server) and through the real monitor runner.
 * Checked by Scalyr's names: the messages are lines of the message log (`agent_syslog.log`
 * under `agent_log_path`), shipped with `parser: agentSyslog`, `monitor: agentSyslog` and the
 * message log as logfile; a user's `logs` entry on the same path keeps its redaction rules.
 *
 * Faults (issue 17): malformed and oversized frames, binary garbage, a slow-loris client, too
 * many connections, a port in use; flow control: a sink that is down (HTTP 503) makes the
 * backlog grow past `max_unacknowledged_bytes`: TCP is paused (the sender waits) and UDP is
 * dropped (counted `backlog_full`), and when the sink answers 200 again TCP resumes and every
 * TCP message arrives; `kill -9` of an agent process and a restart lose nothing of what was
 * written to the message log.
 *
 * Skips (printed) when `logger` or `rsyslogd` is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDefaultRegistry } from '../app/builtins.js';
import { createAgent, type Agent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import type { Registry } from '../lib/registry.js';
import { syslogMonitorComponent } from '../sources/monitors/syslog/component.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { contractProblems, createEnv, declarationProblems, exercise } from '../testkit/componentHarness.js';
import { freePort, runMonitor, waitFor } from '../testkit/statusPeers.js';
import { startTestServer, parseAddEventsBody, type TestServer } from '../testkit/tlsServer.js';
import { isolatedAgent } from './helpers/isolated.js';
import { readNdjson } from './helpers/ndjson.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OWN_ENTRY_KEYS = new Set(MONITOR_ENTRY_OPTIONS.filter((o) => (o.scope ?? 'own') === 'own').map((o) => o.name));

function has(bin: string, args: string[]): string | undefined {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? undefined : `${bin} ${args.join(' ')} failed: ${(r.stderr || String(r.error ?? '')).trim()}`;
}
const loggerMissing = has('logger', ['--help']);
if (loggerMissing) console.warn(`skipping the logger tests of syslog_monitor: util-linux logger is not usable (${loggerMissing}; apt-get install -y bsdutils)`);
const withLogger = loggerMissing ? it.skip : it;
const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => fs.existsSync(p));
const rsyslogMissing = RSYSLOGD ? has(RSYSLOGD, ['-v']) : 'rsyslogd is not installed';
if (rsyslogMissing) console.warn(`skipping the rsyslog forwarding tests of syslog_monitor: ${rsyslogMissing} (apt-get install -y rsyslog)`);
const withRsyslog = rsyslogMissing ? it.skip : it;

let dir: string;
const cleanup: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-syslog-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

function registryWithSyslog(): Registry {
  const r = createDefaultRegistry();
  if (!r.component('monitor', syslogMonitorComponent.type)) r.add(syslogMonitorComponent);
  return r;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function sendLogger(args: string[], message: string): void {
  const r = spawnSync('logger', [...args, message], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`logger ${args.join(' ')} failed: ${r.stderr}`);
}

function udpSend(port: number, msgs: (string | Buffer)[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  return new Promise<void>((resolve) => {
    let left = msgs.length;
    if (left === 0) return s.close(() => resolve());
    for (const m of msgs)
      s.send(m, port, '127.0.0.1', () => {
        if (--left === 0) s.close(() => resolve());
      });
  });
}

/** A TCP client: write, then end (resolves when the server closed or the socket ended). */
function tcpSend(port: number, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end(data));
    s.on('error', reject);
    s.on('close', () => resolve());
  });
}

interface Running {
  agent: Agent;
  logger: ReturnType<typeof memoryLogger>;
  messageLog: string;
  events(): ReturnType<typeof readNdjson>;
  monitor(): { status: unknown; counters?: { dropped: Record<string, number>; receivedEvents: number; sentEvents: number; errors: number } } | undefined;
}

async function startAgent(entry: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Running> {
  const logger = memoryLogger();
  // agent_log_path exists, as it does where the agent writes agent.log (see DESIGN.md, "limits").
  fs.mkdirSync(path.join(dir, 'log'), { recursive: true });
  const agent = createAgent({
    logger,
    registry: registryWithSyslog(),
    watchConfig: false,
    stopDeadlineMs: 3000,
    config: {
      ...isolatedAgent(dir),
      global_monitor_sample_interval_enable_jitter: false,
      monitors: [{ module: 'scalyr_agent.builtin_monitors.syslog_monitor', id: 'sys', sample_interval: 0.2, log_flush_delay: 0.05, ...entry }],
      ...extra,
    },
  });
  cleanup.push(async () => void (await agent.stop(3000)));
  await agent.start();
  return {
    agent,
    logger,
    messageLog: path.join(dir, 'log', String(entry.message_log ?? 'agent_syslog.log')),
    events: () => readNdjson(path.join(dir, 'data', 'events')),
    monitor: () => agent.status().monitors.find((m) => m.key === 'syslog_monitor(sys)') as never,
  };
}

const listening = (r: Running, port: number) => waitFor(() => r.logger.records.some((x) => x.message.includes(`listening for syslog over`) && x.message.includes(`:${port}`)), 5000);

function explain(r: Running): string {
  return `status ${JSON.stringify(r.monitor())}; logs ${JSON.stringify(r.agent.status().logs)}; log: ${r.logger.records.map((x) => `${x.level} ${x.message}`).join(' | ')}`;
}

// --- util-linux logger through a real agent -------------------------------------------------

withLogger('logger over TCP and UDP, RFC 3164 and 5424, octet-counted and newline framing: every message is a line of agent_syslog.log, shipped with parser agentSyslog', async () => {
  const tcp = await freePort();
  const udp = await freeUdpPort();
  const r = await startAgent({ protocols: `tcp:${tcp}, udp:${udp}` });
  expect(await listening(r, tcp)).toBe(true);
  expect(await listening(r, udp)).toBe(true);
  const sends: Array<[string[], string]> = [
    [['--tcp', '--rfc3164'], 'tcp-3164 hello'],
    [['--tcp', '--rfc5424'], 'tcp-5424 hello'],
    [['--tcp', '--rfc5424', '--octet-count'], 'tcp-5424-octet hello'],
    [['--tcp', '--rfc3164', '--octet-count'], 'tcp-3164-octet hello'],
    [['--udp', '--rfc3164'], 'udp-3164 hello'],
    [['--udp', '--rfc5424'], 'udp-5424 hello'],
  ];
  for (const [args, msg] of sends) sendLogger(['--server', '127.0.0.1', '--port', String(args[0] === '--udp' ? udp : tcp), '-t', 'sluicetest', '-p', 'user.notice', ...args], msg);
  const arrived = await waitFor(() => sends.every(([, m]) => r.events().some((e) => e.message.includes(m))), 15_000);
  if (!arrived) throw new Error(`not every message arrived: ${JSON.stringify(r.events().map((e) => e.message))}; ${explain(r)}`);
  const byMsg = (m: string) => r.events().find((e) => e.message.includes(m))!;
  for (const [, m] of sends) {
    const e = byMsg(m);
    expect(e.attrs.parser).toBe('agentSyslog');
    expect(e.attrs.monitor).toBe('agentSyslog');
    expect(e.logfile).toBe(r.messageLog);
  }
  // Written as received: the priority (user.notice = <13>) kept, no octet count, one line each.
  expect(byMsg('tcp-3164 hello').message).toMatch(/^<13>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ sluicetest(\[\d+\])?: tcp-3164 hello\n?$/);
  expect(byMsg('tcp-5424 hello').message).toMatch(/^<13>1 \d{4}-\d\d-\d\dT\S+ \S+ sluicetest \S+ - \[.*\] tcp-5424 hello\n?$/);
  expect(byMsg('tcp-5424-octet hello').message).toMatch(/^<13>1 /);
  expect(byMsg('tcp-3164-octet hello').message).toMatch(/^<13>[A-Z]/);
  expect(byMsg('udp-5424 hello').message).toMatch(/^<13>1 /);
  const file = fs.readFileSync(r.messageLog, 'utf8').split('\n').filter(Boolean);
  expect(file).toHaveLength(sends.length);
  for (const l of file) expect(l).toMatch(/^<13>/);
  const c = r.monitor()!.counters!;
  expect(c.receivedEvents).toBe(sends.length);
  expect(c.sentEvents).toBe(sends.length);
  expect(c.errors).toBe(0);
}, 40_000);

withLogger('a user logs entry on the message log path wins: its redaction rules apply, the monitor\'s parser stays', async () => {
  const tcp = await freePort();
  const messageLog = path.join(dir, 'log', 'agent_syslog.log');
  const r = await startAgent(
    { protocols: `tcp:${tcp}` },
    { logs: [{ path: messageLog, attributes: { team: 'ops' }, redaction_rules: [{ match_expression: 'password=\\S+', replacement: 'password=XXX' }] }] },
  );
  expect(await listening(r, tcp)).toBe(true);
  sendLogger(['--server', '127.0.0.1', '--port', String(tcp), '--tcp', '-t', 'auth'], 'login user=bob password=hunter2 ok');
  expect(await waitFor(() => r.events().some((e) => e.message.includes('login user=bob')), 15_000)).toBe(true);
  const e = r.events().find((x) => x.message.includes('login user=bob'))!;
  expect(e.message).toContain('password=XXX ok');
  expect(e.message).not.toContain('hunter2');
  expect(e.attrs).toMatchObject({ parser: 'agentSyslog', monitor: 'agentSyslog', team: 'ops' });
  // The file holds the message as received; only what is shipped is redacted.
  expect(fs.readFileSync(messageLog, 'utf8')).toContain('password=hunter2');
  expect(r.events().filter((x) => x.message.includes('login user=bob'))).toHaveLength(1);
}, 30_000);

// --- rsyslog forwarding (omfwd) -------------------------------------------------------------

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A real rsyslogd (foreground, its own config, work dir and pid file in the temp dir) with one imtcp input per forwarding action. */
async function startRsyslog(inputs: { port: number; action: string }[]): Promise<{ log(): string }> {
  const rs = path.join(dir, 'rsyslog');
  fs.mkdirSync(rs, { recursive: true });
  const conf = path.join(rs, 'rsyslog.conf');
  const rulesets = inputs
    .map(
      (inp, i) => `ruleset(name="fwd${i}") {
  ${inp.action}
}
input(type="imtcp" port="${inp.port}" address="127.0.0.1" ruleset="fwd${i}")`,
    )
    .join('\n');
  fs.writeFileSync(
    conf,
    `global(workDirectory="${rs}")
module(load="imtcp")
${rulesets}
`,
  );
  let out = '';
  const child: ChildProcess = spawn(RSYSLOGD!, ['-n', '-f', conf, '-i', path.join(rs, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  let exited = false;
  const exitedP = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  cleanup.push(async () => {
    if (exited) return;
    child.kill('SIGKILL');
    await exitedP;
  });
  const up = await waitFor(async () => exited || (await Promise.all(inputs.map((i) => canConnect(i.port)))).every(Boolean), 10_000, 50);
  if (!up || exited) throw new Error(`rsyslogd did not start: ${out}`);
  return { log: () => out };
}

withRsyslog('rsyslog forwarding with omfwd: TCP octet-counted (RFC 5424 template), TCP traditional framing and UDP all arrive, one event per message', async () => {
  const tcp = await freePort();
  const udp = await freeUdpPort();
  const r = await startAgent({ protocols: `tcp:${tcp}, udp:${udp}` });
  expect(await listening(r, tcp)).toBe(true);
  expect(await listening(r, udp)).toBe(true);
  const ins = [await freePort(), await freePort(), await freePort()];
  const rs = await startRsyslog([
    { port: ins[0], action: `action(type="omfwd" target="127.0.0.1" port="${tcp}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")` },
    { port: ins[1], action: `action(type="omfwd" target="127.0.0.1" port="${tcp}" protocol="tcp" TCP_Framing="traditional")` },
    { port: ins[2], action: `action(type="omfwd" target="127.0.0.1" port="${udp}" protocol="udp")` },
  ]);
  const kinds = ['octet', 'traditional', 'udp'];
  const N = 20;
  for (let k = 0; k < kinds.length; k++) {
    for (let i = 0; i < N; i++) sendLogger(['--server', '127.0.0.1', '--port', String(ins[k]), '--tcp', '-t', 'rsfwd', '-p', 'local3.warning'], `via-${kinds[k]} n=${i}`);
  }
  const got = (kind: string) => new Set(r.events().filter((e) => e.message.includes(`via-${kind} `)).map((e) => e.message));
  const arrived = await waitFor(() => kinds.every((k) => got(k).size === N), 20_000, 100);
  if (!arrived) throw new Error(`arrived ${kinds.map((k) => `${k}: ${got(k).size}`).join(', ')} of ${N} each; rsyslog: ${rs.log()}; ${explain(r)}`);
  // local3.warning = 19*8+4 = <156>; the RFC 5424 template starts "<156>1 ".
  for (const m of got('octet')) expect(m).toMatch(/^<156>1 \d{4}-\d\d-\d\dT\S+ \S+ rsfwd \S+ \S+ (-|\[.*\]) via-octet n=\d+\n?$/);
  for (const m of got('traditional')) expect(m).toMatch(/^<156>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ rsfwd(\[\d+\])?:? via-traditional n=\d+\n?$/);
  for (const m of got('udp')) expect(m).toMatch(/^<156>[A-Z][a-z]{2} .* via-udp n=\d+\n?$/);
  const all = r.events().filter((e) => /via-(octet|traditional|udp) /.test(e.message));
  expect(all).toHaveLength(3 * N);
  for (const e of all) expect(e.attrs.parser).toBe('agentSyslog');
  expect(r.monitor()!.counters!.dropped).toEqual({});
}, 40_000);
