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
import { loadAgentConfig } from '../app/config.js';
import { memoryLogger } from '../lib/logger.js';
import type { Registry } from '../lib/registry.js';
import { syslogMonitorComponent } from '../sources/monitors/syslog/component.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { contractProblems, createEnv, declarationProblems, exampleDiagnostics, exercise } from '../testkit/componentHarness.js';
import { freePort, runMonitor, waitFor } from '../testkit/statusPeers.js';
import { startTestServer, parseAddEventsBody, type TestServer } from '../testkit/tlsServer.js';
import { startSyslogSender } from '../testkit/syslogPeer.js';
import { isolatedAgent } from './helpers/isolated.js';
import { AgentProcess } from '../reliability/agentProcess.js';
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
const pythonMissing = has('python3', ['-c', 'import socket']);
if (pythonMissing) console.warn(`skipping the flow-control test of syslog_monitor: it sends with python3 (a small SO_SNDBUF): ${pythonMissing}`);
const withPython = pythonMissing ? it.skip : it;

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
  const st = r.agent.status() as unknown as Record<string, unknown>;
  return `agent ${JSON.stringify({ pendingBytes: st.pendingBytes, creditsTotal: st.creditsTotal, creditsAvailable: st.creditsAvailable, sink: st.sink })}; status ${JSON.stringify(r.monitor())}; logs ${JSON.stringify(r.agent.status().logs)}; log: ${r.logger.records.map((x) => `${x.level} ${x.message}`).join(' | ')}`;
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

// --- faults, through the real monitor runner (no sink behind it) ----------------------------

function runSyslog(entry: Record<string, unknown>) {
  const m = runMonitor(syslogMonitorComponent, { module: 'syslog_monitor', id: 'f', sample_interval: 0.1, log_flush_delay: 0.02, ...entry }, dir);
  cleanup.push(() => m.stop());
  const file = path.join(dir, 'log', String(entry.message_log ?? 'agent_syslog.log'));
  return {
    ...m,
    file,
    fileLines: () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []),
    dropped: () => m.src.counters.dropped,
    listening: (port: number) => waitFor(() => m.logger.records.some((x) => x.message.includes('listening for syslog over') && x.message.includes(`:${port}`)), 8000),
    warnings: () => m.logger.records.filter((x) => x.level === 'warn').map((x) => x.message),
  };
}

test('malformed, oversized and binary TCP input: the listener survives, cuts what is too long into pieces (counted), and the messages after it arrive', async () => {
  const tcp = await freePort();
  const m = runSyslog({ protocols: `tcp:${tcp}`, tcp_buffer_size: 64 });
  expect(await m.listening(tcp)).toBe(true);
  const garbage = Buffer.alloc(4096);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
  await tcpSend(tcp, Buffer.concat([Buffer.from('<13>before garbage\n'), garbage, Buffer.from('\n')]));
  await tcpSend(tcp, `12abc not an octet count\n99999999999 too many digits\n${'L'.repeat(150)}\n200 ${'F'.repeat(200)}<13>after a long frame\n`);
  await tcpSend(tcp, '<13>still listening\n');
  expect(await waitFor(() => m.fileLines().includes('<13>still listening'), 5000)).toBe(true);
  const lines = m.fileLines();
  expect(lines).toContain('<13>before garbage');
  expect(lines).toContain('12abc not an octet count');
  expect(lines).toContain('99999999999 too many digits');
  // 150 bytes with a 64-byte buffer: 64 + 64 + 22; a 200-byte frame: 64 × 3 + 8, and the next frame where it starts.
  expect(lines.filter((l) => /^L+$/.test(l)).map((l) => l.length)).toEqual([64, 64, 22]);
  expect(lines.filter((l) => /^F+$/.test(l)).map((l) => l.length)).toEqual([64, 64, 64, 8]);
  expect(lines).toContain('<13>after a long frame');
  // Invalid UTF-8 is left out, as Scalyr decodes with errors="ignore": the file is valid UTF-8.
  expect(Buffer.from(fs.readFileSync(m.file, 'utf8'), 'utf8').equals(fs.readFileSync(m.file))).toBe(true);
  expect(m.dropped().oversized_split).toBeGreaterThanOrEqual(5);
  expect(m.dropped().bad_octet_count).toBeGreaterThanOrEqual(2);
  expect(m.src.status().errors).toBe(0);
  // One warning per kind of trouble, not one per message.
  expect(m.warnings().filter((w) => w.includes('in pieces'))).toHaveLength(1);
  expect(m.warnings().filter((w) => w.includes('octet count'))).toHaveLength(1);
});

test('slow-loris and idle TCP clients are closed (counted), a connection limit refuses extra connections (counted), and others keep being served', async () => {
  const tcp = await freePort();
  const m = runSyslog({ protocols: `tcp:${tcp}`, tcp_incomplete_frame_timeout: 1, tcp_idle_timeout: 0.6, tcp_max_connections: 4 });
  expect(await m.listening(tcp)).toBe(true);
  const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: tcp }, () => resolve(s));
      s.on('error', () => undefined);
      s.once('error', reject);
    });
  // A slow-loris client: one byte every 100 ms, never a newline.
  const loris = await connect();
  const trickle = setInterval(() => !loris.destroyed && loris.write('x'), 100);
  cleanup.push(() => clearInterval(trickle));
  // An idle client: connects and sends nothing.
  const idle = await connect();
  const started = Date.now();
  await Promise.all([closed(loris), closed(idle)]);
  clearInterval(trickle);
  expect(Date.now() - started).toBeLessThan(4000);
  expect(m.dropped().incomplete_timeout).toBe(1);
  expect(m.dropped().idle_timeout).toBe(1);
  // What the slow client sent was written (Scalyr flushes an incomplete frame too).
  expect(await waitFor(() => m.fileLines().some((l) => /^x+$/.test(l)), 2000)).toBe(true);
  // The connection limit: 4 open, the 5th and 6th are refused.
  const held = await Promise.all([connect(), connect(), connect(), connect()]);
  await new Promise((r) => setTimeout(r, 100));
  const extra = await Promise.all([connect(), connect()]);
  await Promise.all(extra.map(closed));
  expect(m.dropped().too_many_connections).toBe(2);
  held[0].write('<13>served while at the limit\n');
  expect(await waitFor(() => m.fileLines().includes('<13>served while at the limit'), 3000)).toBe(true);
  for (const s of held) s.destroy();
  expect(m.src.status().errors).toBe(0);
});

test('a port in use: a clear error naming the protocol and port, logged once, counted per attempt, retried with backoff; the UDP listener works meanwhile; it binds once the port is free', async () => {
  const tcp = await freePort();
  const udp = await freeUdpPort();
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(tcp, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => squatter.close(() => r())));
  const m = runSyslog({ protocols: `tcp:${tcp}, udp:${udp}` });
  expect(await m.listening(udp)).toBe(true);
  await udpSend(udp, ['<13>udp while tcp cannot bind']);
  expect(await waitFor(() => m.fileLines().includes('<13>udp while tcp cannot bind'), 3000)).toBe(true);
  expect(await waitFor(() => m.src.counters.errors >= 2, 5000)).toBe(true);
  expect(m.errors()).toEqual([expect.stringMatching(new RegExp(`cannot listen for syslog over tcp on 127\\.0\\.0\\.1:${tcp}: EADDRINUSE`))]);
  await new Promise<void>((r) => squatter.close(() => r()));
  expect(await m.listening(tcp)).toBe(true);
  expect(m.logger.records.some((x) => /listening for syslog over tcp .*after \d+ failed attempts?/.test(x.message))).toBe(true);
  await tcpSend(tcp, '<13>tcp after the port was freed\n');
  expect(await waitFor(() => m.fileLines().includes('<13>tcp after the port was freed'), 3000)).toBe(true);
  expect(m.errors()).toHaveLength(1);
}, 20_000);

test('the message log rotates at max_log_size keeping max_log_rotations copies, as RotatingFileHandler', async () => {
  const tcp = await freePort();
  const m = runSyslog({ protocols: `tcp:${tcp}`, max_log_size: 2000, max_log_rotations: 2, log_flush_delay: 0 });
  expect(await m.listening(tcp)).toBe(true);
  const c = net.connect({ host: '127.0.0.1', port: tcp });
  for (let i = 0; i < 100; i++) {
    c.write(`<13>rotation message ${String(i).padStart(3, '0')} ${'r'.repeat(50)}\n`);
    await new Promise((r) => setTimeout(r, 3));
  }
  c.end();
  expect(await waitFor(() => m.fileLines().some((l) => l.includes('message 099')), 5000)).toBe(true);
  const files = fs.readdirSync(path.join(dir, 'log')).filter((f) => f.startsWith('agent_syslog.log')).sort();
  expect(files).toEqual(['agent_syslog.log', 'agent_syslog.log.1', 'agent_syslog.log.2']);
  for (const f of files) expect(fs.statSync(path.join(dir, 'log', f)).size).toBeLessThanOrEqual(2000);
  // The newest messages are in the current file, the ones before in .1, then .2 (oldest dropped by rotation).
  const read = (f: string) => fs.readFileSync(path.join(dir, 'log', f), 'utf8').split('\n').filter(Boolean).map((l) => Number(/message (\d+)/.exec(l)![1]));
  const [cur, one, two] = [read(files[0]), read(files[1]), read(files[2])];
  expect(Math.max(...two)).toBeLessThan(Math.min(...one));
  expect(Math.max(...one)).toBeLessThan(Math.min(...cur));
  expect(Math.max(...cur)).toBe(99);
});

// --- flow control: the sink down (503), then up -----------------------------------------------

function missingRanges(got: Set<string>, n: number): string[] {
  const out: string[] = [];
  let from = -1;
  for (let i = 0; i <= n; i++) {
    const miss = i < n && !got.has(String(i).padStart(6, '0'));
    if (miss && from < 0) from = i;
    if (!miss && from >= 0) {
      out.push(`${from}-${i - 1}`);
      from = -1;
    }
  }
  return out;
}

/** Bytes waiting unread in the receive queue of the established connections whose local port is `port` (/proc/net/tcp). */
function receiveQueue(port: number): number {
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(f)) continue;
    for (const l of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const c = l.trim().split(/\s+/);
      if (c.length < 5 || (c[3] !== '01' && c[3] !== '08')) continue; // ESTABLISHED, CLOSE_WAIT
      if (parseInt(c[1].split(':')[1], 16) !== port) continue;
      n += parseInt(c[4].split(':')[1], 16);
    }
  }
  return n;
}

withPython('a sink that is down: the backlog passes max_unacknowledged_bytes, TCP is paused (the sender waits), UDP is dropped (backlog_full); when the sink answers 200 again TCP resumes and every TCP message arrives', async () => {
  const server: TestServer = await startTestServer();
  cleanup.push(() => server.close());
  const down = () => server.faults.splice(0, server.faults.length, ...Array.from({ length: 100_000 }, () => ({ status: 503, body: '{"status":"error/server/backoff"}' })));
  down();
  const tcp = await freePort();
  const udp = await freeUdpPort();
  const BUDGET = 400_000;
  const r = await startAgent(
    { protocols: `tcp:${tcp}, udp:${udp}`, max_unacknowledged_bytes: BUDGET },
    { api_key: 'syslog-flow-key-0123456789', scalyr_server: server.url, allow_http: true, upload: { linger_ms: 10, retry_base_ms: 50, retry_max_ms: 200 } },
  );
  expect(await listening(r, tcp)).toBe(true);
  // One TCP sender with a small send buffer (so the kernel holds little), blocking in sendall
  // while the monitor does not read; it prints how many messages it has handed to the socket.
  const N = 12_000;
  const line = (i: number) => `<13>flow message ${String(i).padStart(6, '0')} ${'p'.repeat(60)}\n`;
  const py = `import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096); s.connect(("127.0.0.1", ${tcp}))
for i in range(${N}):
    s.sendall(("<13>flow message %06d " % i + "p"*60 + "\\n").encode())
    if i % 200 == 0: print(i, flush=True)
print("done", flush=True)
s.close()
`;
  const sender = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(() => void sender.kill('SIGKILL'));
  let progress = -1;
  let done = false;
  let senderErr = '';
  sender.stdout!.on('data', (b: Buffer) => {
    for (const l of b.toString().split('\n')) {
      if (l === 'done') done = true;
      else if (/^\d+$/.test(l)) progress = Number(l);
    }
  });
  sender.stderr!.on('data', (b: Buffer) => (senderErr += b.toString()));
  const fileSize = () => (fs.existsSync(r.messageLog) ? fs.statSync(r.messageLog).size : 0);
  expect(await waitFor(() => r.logger.records.some((x) => x.message.includes('pausing TCP connections')), 10_000)).toBe(true);
  // Paused: the file stops growing near the budget, and the sender has bytes it cannot send.
  await new Promise((res) => setTimeout(res, 300));
  const atPause = fileSize();
  await new Promise((res) => setTimeout(res, 1200));
  expect(fileSize()).toBe(atPause);
  expect(atPause).toBeLessThan(BUDGET + 200_000);
  // The monitor does not read the connection: what the sender sent waits in the kernel's receive
  // queue of the accepted socket (and, once that is full, in the sender: TCP flow control).
  expect(receiveQueue(tcp)).toBeGreaterThan(10_000);
  expect(fileSize()).toBe(atPause);
  expect(server.requests.length).toBeGreaterThan(0); // the sink is trying, and failing
  // UDP while over budget: dropped and counted by reason.
  await udpSend(udp, Array.from({ length: 50 }, (_, i) => `<13>udp during backlog ${i}`));
  expect(await waitFor(() => (r.monitor()?.counters?.dropped.backlog_full ?? 0) >= 50, 3000)).toBe(true);
  // The sink comes back: everything the TCP sender wrote arrives, in order, once acknowledged.
  // One clear message for the state change, none per datagram or per check.
  expect(r.logger.records.filter((x) => /pausing TCP|resuming TCP/.test(x.message)).map((x) => x.level)).toEqual(['warn']);
  expect(r.logger.records.filter((x) => x.message.includes('dropped a UDP syslog message'))).toHaveLength(1);
  server.faults.length = 0;
  const delivered = () => {
    const got = new Set<string>();
    for (const req of server.requests) {
      if (req.fault.status === 503) continue;
      for (const e of parseAddEventsBody(req.body).events) {
        const m = /flow message (\d+)/.exec(e.message.toString());
        if (m) got.add(m[1]);
      }
    }
    return got;
  };
  const all = await waitFor(() => delivered().size === N, 30_000, 200);
  if (!all) throw new Error(`delivered ${delivered().size} of ${N} (missing ${JSON.stringify(missingRanges(delivered(), N))}); sender at ${progress} ${senderErr}; ${explain(r)}`);
  expect(await waitFor(() => done, 5000)).toBe(true);
  expect(r.logger.records.some((x) => x.message.includes('resuming TCP connections'))).toBe(true);
  expect(r.monitor()!.counters!.dropped).toEqual({ backlog_full: 50 });
  const fileLines = fs.readFileSync(r.messageLog, 'utf8').split('\n').filter(Boolean);
  expect(fileLines).toHaveLength(N);
  expect(fileLines.every((l, i) => l === line(i).trimEnd())).toBe(true);
}, 60_000);

// --- kill -9 of a real agent process: nothing written to the message log is lost -----------

const DIST_COMPONENT = path.join(ROOT, 'dist', 'sources', 'monitors', 'syslog', 'component.js');
const distMissing = fs.existsSync(path.join(ROOT, 'dist', 'app', 'cli', 'main.js')) && fs.existsSync(DIST_COMPONENT) ? undefined : 'dist/ has no built syslog_monitor (run npm run build)';
if (distMissing) console.warn(`skipping the kill -9 test of syslog_monitor: ${distMissing}`);
const withDist = distMissing ? it.skip : it;

/** Sends `lines` over one TCP connection and waits until it is closed. */
function tcpLines(port: number, lines: string[]): Promise<void> {
  return tcpSend(port, lines.join(''));
}

withDist('kill -9 of the agent process and a restart: every message that was written to the message log is delivered (at least once), and the listener serves again', async () => {
  const server: TestServer = await startTestServer();
  cleanup.push(() => server.close());
  // Down while the first half is received, so it is in the file and not acknowledged when killed.
  server.faults.push(...Array.from({ length: 100_000 }, () => ({ status: 503, body: '{"status":"error/server/backoff"}' })));
  const tcp = await freePort();
  const builtIn = createDefaultRegistry().component('monitor', 'syslog_monitor') !== undefined;
  const configPath = path.join(dir, 'agent.json');
  fs.writeFileSync(
    configPath,
    JSON.stringify({
      api_key: 'syslog-kill9-key-0123456789',
      scalyr_server: server.url,
      allow_http: true,
      ...isolatedAgent(dir),
      upload: { linger_ms: 10, retry_base_ms: 50, retry_max_ms: 200 },
      // The monitor runner delays a monitor's first sample by a jitter; a listener should not wait (see DESIGN.md).
      global_monitor_sample_interval_enable_jitter: false,
      ...(builtIn ? {} : { plugins: [path.join(ROOT, 'testkit', 'syslogPlugin.mjs')] }),
      monitors: [{ module: 'scalyr_agent.builtin_monitors.syslog_monitor', protocols: `tcp:${tcp}`, log_flush_delay: 0.02 }],
    }),
  );
  fs.mkdirSync(path.join(dir, 'log'), { recursive: true });
  const proc = new AgentProcess(configPath, path.join(dir, 'data'), path.join(dir, 'agent-process.out'));
  cleanup.push(() => proc.kill9());
  const messageLog = path.join(dir, 'log', 'agent_syslog.log');
  const fileLines = () => (fs.existsSync(messageLog) ? fs.readFileSync(messageLog, 'utf8').split('\n').filter(Boolean) : []);
  const msg = (i: number) => `<13>kill9 message ${String(i).padStart(4, '0')}\n`;
  const why = () => fs.readFileSync(path.join(dir, 'agent-process.out'), 'utf8').slice(-3000);

  await proc.start();
  expect(await waitFor(() => canConnect(tcp), 10_000)).toBe(true);
  await tcpLines(tcp, Array.from({ length: 300 }, (_, i) => msg(i)));
  if (!(await waitFor(() => fileLines().length === 300, 10_000))) throw new Error(`${fileLines().length} of 300 lines in the message log; ${why()}`);
  expect(server.requests.every((r) => r.fault.status === 503)).toBe(true);
  await proc.kill9();

  // The sink is up again; the restarted agent ships what the killed one had not.
  server.faults.length = 0;
  await proc.start();
  if (!(await waitFor(() => canConnect(tcp), 10_000))) throw new Error(`the restarted agent does not listen on ${tcp}: ${why()}`);
  await tcpLines(tcp, Array.from({ length: 300 }, (_, i) => msg(300 + i)));
  const delivered = () => {
    const got = new Set<string>();
    for (const req of server.requests) {
      if (req.fault.status === 503) continue;
      for (const e of parseAddEventsBody(req.body).events) got.add(e.message.toString().trimEnd());
    }
    return got;
  };
  const ok = await waitFor(() => fileLines().length === 600 && fileLines().every((l) => delivered().has(l)), 20_000, 100);
  if (!ok) throw new Error(`file ${fileLines().length} lines, delivered ${delivered().size}; missing ${fileLines().filter((l) => !delivered().has(l)).slice(0, 5).join(' | ')}; ${why()}`);
  expect(fileLines()).toEqual(Array.from({ length: 600 }, (_, i) => msg(i).trimEnd()));
  await proc.term(5000);
}, 60_000);

// --- the component harness (what the contract, options and reload specs run once it is registered)

test('the component harness: declared = read (exactly its options, at create), and the contract (counted, stops twice in bounded time) with its example pointed at a sender', async () => {
  const sender = await startSyslogSender();
  cleanup.push(() => sender.stop());
  const c = { ...syslogMonitorComponent, example: sender.own(syslogMonitorComponent.example!) };
  const registry = createDefaultRegistry().with().add(c);
  const env = await createEnv(registry);
  try {
    const run = await exercise(c, { registry, env, record: true });
    expect([...contractProblems(run), ...declarationProblems(run, { own: OWN_ENTRY_KEYS })]).toEqual([]);
    expect(run.counters.receivedEvents).toBeGreaterThanOrEqual(2);
    // Its own example (Scalyr's module name, its ports) loads as a config without errors or warnings.
    expect(await exampleDiagnostics(syslogMonitorComponent, createDefaultRegistry().with().add(syslogMonitorComponent), dir)).toEqual([]);
    expect(syslogMonitorComponent.check!(syslogMonitorComponent.example!)).toEqual([]);
  } finally {
    await env.close();
  }
}, 30_000);

// --- a Scalyr agent.json ----------------------------------------------------------------------

test('a Scalyr agent.json syslog_monitor entry loads unchanged (Scalyr\'s options and names; docker and template options accepted, no effect) and adds the message log as a logs entry; mode "docker" is refused with the reason', async () => {
  const registry = registryWithSyslog();
  const scalyrEntry = {
    module: 'scalyr_agent.builtin_monitors.syslog_monitor',
    protocols: 'tcp:601, udp:514',
    accept_remote_connections: false,
    message_log: 'firewall.log',
    parser: 'firewall',
    tcp_buffer_size: 16384,
    message_size_can_exceed_tcp_buffer: false,
    max_log_size: 10485760,
    max_log_rotations: 3,
    log_flush_delay: 0.5,
    tcp_request_parser: 'batch',
    tcp_incomplete_frame_timeout: 5,
    tcp_message_delimiter: '\\n',
    mode: 'syslog',
    docker_regex: '^.*([a-z0-9]{12})\\[\\d+\\]: ?',
    docker_api_socket: '/var/scalyr/docker.sock',
    docker_use_daemon_to_resolve: true,
    expire_log: 300,
  };
  const base = { ...isolatedAgent(dir), implicit_agent_log_collection: false };
  const ok = await loadAgentConfig({ config: { ...base, monitors: [scalyrEntry] }, baseDir: dir, env: {}, hostname: 'h', registry });
  if (!ok.ok) throw new Error(ok.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  expect(ok.warnings.filter((w) => w.path !== 'api_key' && !/no effect|ignored/i.test(w.message))).toEqual([]);
  const entry = ok.config.logs.find((l) => l.path === path.join(dir, 'log', 'firewall.log'));
  expect(entry?.attributes).toEqual({ parser: 'firewall', monitor: 'agentSyslog' });
  const docker = await loadAgentConfig({ config: { ...base, monitors: [{ ...scalyrEntry, mode: 'docker' }] }, baseDir: dir, env: {}, hostname: 'h', registry });
  expect(docker.ok).toBe(false);
  expect(docker.ok ? [] : docker.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([expect.stringMatching(/^monitors\[0\]\.mode: .*"docker" is not supported.*containers.*parse_format: "json"/)]);
  // An absolute message_log is used as it is.
  const abs = await loadAgentConfig({ config: { ...base, monitors: [{ module: 'syslog_monitor', message_log: path.join(dir, 'elsewhere', 'sys.log') }] }, baseDir: dir, env: {}, hostname: 'h', registry });
  expect(abs.ok && abs.config.logs.map((l) => l.path)).toEqual([path.join(dir, 'elsewhere', 'sys.log')]);
});

/** Local addresses of the listening TCP sockets / bound UDP sockets on `port` (from /proc/net). */
function boundAddresses(port: number): { tcp: string[]; udp: string[] } {
  const read = (f: string, state: string) =>
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((c) => c.length > 4 && c[3] === state && parseInt(c[1].split(':')[1], 16) === port)
      .map((c) => c[1].split(':')[0]);
  return { tcp: read('/proc/net/tcp', '0A'), udp: read('/proc/net/udp', '07') };
}

test('binds 127.0.0.1 by default and all interfaces with accept_remote_connections: true', async () => {
  const [t1, u1, t2, u2] = [await freePort(), await freeUdpPort(), await freePort(), await freeUdpPort()];
  const local = runSyslog({ protocols: `tcp:${t1}, udp:${u1}` });
  const remote = runSyslog({ id: 'r', protocols: `tcp:${t2}, udp:${u2}`, accept_remote_connections: true, message_log: 'remote.log' });
  expect(await local.listening(t1)).toBe(true);
  expect(await local.listening(u1)).toBe(true);
  expect(await remote.listening(t2)).toBe(true);
  expect(await remote.listening(u2)).toBe(true);
  expect(boundAddresses(t1)).toEqual({ tcp: ['0100007F'], udp: [] });
  expect(boundAddresses(u1)).toEqual({ tcp: [], udp: ['0100007F'] });
  expect(boundAddresses(t2)).toEqual({ tcp: ['00000000'], udp: [] });
  expect(boundAddresses(u2)).toEqual({ tcp: [], udp: ['00000000'] });
});

test('message_size_can_exceed_tcp_buffer: a message longer than tcp_buffer_size is kept whole (up to max_message_size)', async () => {
  const tcp = await freePort();
  const m = runSyslog({ protocols: `tcp:${tcp}`, tcp_buffer_size: 2048, message_size_can_exceed_tcp_buffer: true, max_message_size: 100_000 });
  expect(await m.listening(tcp)).toBe(true);
  const long = `<13>${'w'.repeat(50_000)}`;
  const framed = `<13>${'o'.repeat(30_000)}`;
  await tcpSend(tcp, `${long}\n${framed.length} ${framed}<13>after\n`);
  expect(await waitFor(() => m.fileLines().includes('<13>after'), 5000)).toBe(true);
  expect(m.fileLines()).toEqual([long, framed, '<13>after']);
  expect(m.dropped()).toEqual({});
});

test('UDP: one message per datagram, trimmed, written as received (RFC 3164 and 5424), empty datagrams ignored', async () => {
  const udp = await freeUdpPort();
  const m = runSyslog({ protocols: `udp:${udp}` });
  expect(await m.listening(udp)).toBe(true);
  await udpSend(udp, ['<34>Oct 11 22:14:15 mymachine su: \'su root\' failed for lonvick on /dev/pts/8\n', '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event\n', '   ', '<13>two\nlines']);
  expect(await waitFor(() => m.fileLines().length === 4, 3000)).toBe(true);
  expect(m.fileLines()).toEqual([
    '<34>Oct 11 22:14:15 mymachine su: \'su root\' failed for lonvick on /dev/pts/8',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event',
    '<13>two',
    'lines',
  ]);
  expect(m.src.counters.receivedEvents).toBe(3);
  expect(m.src.counters.sentEvents).toBe(3);
});

withLogger('rotation in a real agent: a small max_log_size rotated many times while shipping loses nothing (rotation waits until the tailer has the file)', async () => {
  const tcp = await freePort();
  const r = await startAgent({ protocols: `tcp:${tcp}`, max_log_size: 4000, max_log_rotations: 2, log_flush_delay: 0 });
  expect(await listening(r, tcp)).toBe(true);
  const N = 600;
  const c = net.connect({ host: '127.0.0.1', port: tcp });
  c.on('error', () => undefined);
  for (let i = 0; i < N; i++) {
    if (!c.write(`<13>rotating ${String(i).padStart(4, '0')} ${'q'.repeat(40)}\n`)) await new Promise((res) => c.once('drain', res));
    if (i % 50 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  c.end();
  const got = () => new Set(r.events().map((e) => /rotating (\d+)/.exec(e.message)?.[1]).filter(Boolean));
  const all = await waitFor(() => got().size === N, 20_000, 100);
  if (!all) throw new Error(`delivered ${got().size} of ${N}; ${explain(r)}`);
  const rotated = fs.readdirSync(path.join(dir, 'log')).filter((f) => /^agent_syslog\.log\.\d+$/.test(f));
  expect(rotated.length).toBeGreaterThan(0);
  expect(rotated.length).toBeLessThanOrEqual(2);
}, 30_000);
