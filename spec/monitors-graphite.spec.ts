/**
 * `graphite_monitor` (Scalyr's `scalyr_agent.builtin_monitors.graphite_monitor`) with real
 * clients on loopback ports, run through the real monitor source and once through a real agent
 * with its embedded sink: plaintext lines from OpenBSD `nc` and from Node sockets, pickle frames
 * built by real Python (`pickle.dumps`, protocols 0, 1, 2, 4, 5, and a Python 2 style protocol 0
 * pickle), collectd's `write_graphite` when collectd is installed. Lines are checked by Scalyr's
 * format (`[graphite_monitor(id)] <path> <float value> orig_time=<timestamp>`).
 *
 * Fault cases (issue 17): malformed lines and pickles, a hostile pickle (GLOBAL + REDUCE of
 * `os.system`: refused and never executed), oversized requests (`max_request_size`), slow-loris
 * clients (`max_connection_idle_time`), many connections and `max_connections`, loopback only
 * unless `only_accept_local: false`, and a port in use (one error, counted, retried until it
 * binds). Every drop is counted by reason in the runner's counters; each reason is warned about
 * once per state change.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { graphiteMonitorComponent, parsePlaintextLine, pickleSamples } from '../sources/monitors/graphiteMonitor.js';
import { decodePickle, PickleError } from '../sources/monitors/pickle.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { createAgent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { contractProblems, createEnv, declarationProblems, exercise } from '../testkit/componentHarness.js';
import { freePort, runMonitor, waitFor } from '../testkit/statusPeers.js';
import { graphiteExamplePeer } from '../testkit/graphitePeer.js';
import { isolatedAgent } from './helpers/isolated.js';
import { readNdjson } from './helpers/ndjson.js';

const MODULE = 'scalyr_agent.builtin_monitors.graphite_monitor';

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
const NC = which('nc');
const PYTHON = which('python3');
const COLLECTD = ['/usr/sbin/collectd', '/usr/bin/collectd'].find((p) => fs.existsSync(p));
const WRITE_GRAPHITE = ['/usr/lib/collectd/write_graphite.so', '/usr/lib/x86_64-linux-gnu/collectd/write_graphite.so'].find((p) => fs.existsSync(p));
const TYPES_DB = '/usr/share/collectd/types.db';
const collectdMissing = !COLLECTD ? 'collectd is not installed (apt-get install -y --no-install-recommends collectd-core)' : !WRITE_GRAPHITE ? 'collectd has no write_graphite plugin' : !fs.existsSync(TYPES_DB) ? `${TYPES_DB} is missing` : undefined;
if (!NC) console.warn('skipping the nc tests of graphite_monitor: nc is not installed (apt-get install -y netcat-openbsd)');
if (!PYTHON) console.warn('skipping the Python pickle tests of graphite_monitor: python3 is not installed');
if (collectdMissing) console.warn(`skipping the collectd test of graphite_monitor: ${collectdMissing}`);
const withNc = NC ? it : it.skip;
const withPython = PYTHON ? it : it.skip;
const withCollectd = collectdMissing ? it.skip : it;

let dir: string;
const cleanup: Array<() => Promise<void> | void> = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-graphite-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Python's `pickle.dumps(<expr>, protocol)` of a Graphite payload, as a 4-byte length-prefixed frame (what carbon's senders write). */
function pyFrame(expr: string, protocol: number): Buffer {
  const r = spawnSync(PYTHON!, ['-c', `import pickle,struct,sys\nd=pickle.dumps(${expr}, protocol=${protocol})\nsys.stdout.buffer.write(struct.pack('!L', len(d))+d)`], { timeout: 10_000 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout;
}
const payload = (frame: Buffer) => frame.subarray(4);

async function ports(): Promise<{ plaintext: number; pickle: number }> {
  const plaintext = await freePort();
  let pickle = await freePort();
  while (pickle === plaintext) pickle = await freePort();
  return { plaintext, pickle };
}

type Mon = ReturnType<typeof runMonitor>;

/** The monitor through the real monitor source, waiting until its listeners are up. */
async function listening(extra: Record<string, unknown> = {}, id = 'g'): Promise<{ m: Mon; plaintext: number; pickle: number }> {
  const p = await ports();
  const m = runMonitor(graphiteMonitorComponent, { module: MODULE, id, plaintext_port: p.plaintext, pickle_port: p.pickle, ...extra }, dir);
  cleanup.push(() => m.stop());
  const want = [extra.accept_plaintext !== false && 'plaintext', extra.accept_pickle !== false && 'pickle'].filter(Boolean) as string[];
  const up = await waitFor(() => want.every((k) => m.logger.records.some((r) => r.message.includes(`listening for graphite ${k} on`))), 5000);
  if (!up) throw new Error(`not listening: ${m.logger.records.map((r) => `${r.level} ${r.message}`).join(' | ')}`);
  return { m, ...p };
}

const metricLines = (m: Mon, id = 'g') => m.lines().filter((l) => l.includes(` [graphite_monitor(${id})] `));
const LINE = (metric: string, value: string, ts: string, id = 'g') =>
  new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z \\[graphite_monitor\\(${id}\\)\\] ${metric.replace(/\./g, '\\.')} ${value.replace(/[.+]/g, '\\$&')} orig_time=${ts.replace(/\./g, '\\.')}\\n$`);
const dropped = (m: Mon) => m.src.counters.dropped;
const warnings = (m: Mon, re: RegExp) => m.logger.records.filter((r) => r.level === 'warn' && re.test(r.message));

/** A Node client on 127.0.0.1:`port` (or `host`); resolves once connected. */
async function client(port: number, host = '127.0.0.1'): Promise<net.Socket & { gone: Promise<void>; isClosed(): boolean }> {
  const s = net.connect({ host, port }) as net.Socket & { gone: Promise<void>; isClosed(): boolean };
  let closed = false;
  s.gone = new Promise<void>((r) => s.once('close', () => ((closed = true), r())));
  s.isClosed = () => closed;
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  cleanup.push(() => void s.destroy());
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('close', () => reject(new Error(`connection to ${host}:${port} closed before it opened`)));
  });
  return s;
}
const send = (s: net.Socket, data: string | Buffer) => new Promise<void>((r) => s.write(data, () => r()));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `nc` sending `text` to 127.0.0.1:`port` and closing when its input ends (OpenBSD nc: -N). */
function nc(port: number, text: string | Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(NC!, ['-N', '127.0.0.1', String(port)], { stdio: ['pipe', 'ignore', 'ignore'] });
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => (clearTimeout(t), resolve(code)));
    child.stdin.end(text);
  });
}

// --- units --------------------------------------------------------------------------------------

test('plaintext lines as carbon and Scalyr parse them: path, float value, float timestamp; anything else is malformed', () => {
  expect(parsePlaintextLine('a.b.c 1.5 1700000000\r\n')).toMatchObject({ metric: 'a.b.c', value: 1.5, float: true, fields: { orig_time: 1700000000 } });
  expect(parsePlaintextLine('  x  -2e3\t1700000000.5 ')).toMatchObject({ metric: 'x', value: -2000, fields: { orig_time: 1700000000.5 } });
  for (const bad of ['a.b 1.5', 'a.b 1.5 17 extra', 'a.b one 1700000000', 'a.b 1 yesterday', 'a.b nan 1', 'a.b 1e999 1', '']) expect(parsePlaintextLine(bad)).toBeUndefined();
});

withPython('pickles from real Python, protocols 0 to 5, decode to the (path, (timestamp, value)) samples', () => {
  const expr = "[('a.b', (1700000000, 1.5)), ('c.d', (1700000001.25, 7)), ('big', (12345678901234567890, True)), ('s', ('1700000002', '3.5')), ('bytes.name', (1, 2.0))]";
  for (const protocol of [0, 1, 2, 3, 4, 5]) {
    const { samples, bad } = pickleSamples(decodePickle(payload(pyFrame(expr, protocol))));
    expect({ protocol, bad, got: samples.map((s) => [s.metric, s.value, s.fields.orig_time]) }).toEqual({
      protocol,
      bad: 0,
      got: [
        ['a.b', 1.5, 1700000000],
        ['c.d', 7, 1700000001.25],
        ['big', 1, 12345678901234567890],
        ['s', 3.5, 1700000002],
        ['bytes.name', 2, 1],
      ],
    });
  }
  // Python 2 senders (protocol 0 `str`: the STRING opcode with a quoted repr) and lists instead of tuples.
  const py2 = Buffer.from("(lp0\n(S'py2.metric\\x41'\np1\n(I1700000000\nF0.25\ntp2\ntp3\na(lp4\nS\"q'uote\"\np5\na(lp6\nL12L\naI2\naaa.", 'latin1');
  expect(pickleSamples(decodePickle(py2)).samples.map((s) => [s.metric, s.value, s.fields.orig_time])).toEqual([
    ['py2.metricA', 0.25, 1700000000],
    ["q'uote", 2, 12],
  ]);
  // Entries of another shape are counted, the rest kept.
  const mixed = pickleSamples(decodePickle(payload(pyFrame("[('ok', (1, 2)), ('short', (1,)), (3, (1, 2)), 'x', ('none', (None, 1))]", 2))));
  expect({ n: mixed.samples.length, bad: mixed.bad }).toEqual({ n: 1, bad: 4 });
});

withPython('a hostile pickle (GLOBAL os.system + REDUCE) is refused and never executed; other objects are refused too', () => {
  const marker = path.join(dir, 'pwned');
  const evil = pyFrame(`type('E', (), {'__reduce__': lambda self: (__import__('os').system, ('touch ${marker}',))})()`, 2);
  expect(() => decodePickle(payload(evil))).toThrow(PickleError);
  expect(() => decodePickle(payload(evil))).toThrow(/refused pickle opcode 0x63 \("c"\)/);
  for (const protocol of [0, 4]) expect(() => decodePickle(payload(pyFrame(`[('a', (1, 2)), __import__('collections').OrderedDict()]`, protocol)))).toThrow(PickleError);
  expect(() => decodePickle(payload(pyFrame("{'a': 1}", 2)))).toThrow(/refused pickle opcode 0x7d/);
  expect(() => decodePickle(Buffer.from('\x80\x02]q\x00(X\x03\x00\x00', 'latin1'))).toThrow(/truncated/);
  expect(fs.existsSync(marker)).toBe(false);
});

test('the component: Scalyr\'s module name, options and defaults; its check refuses what Scalyr refuses', () => {
  expect(graphiteMonitorComponent.aliases).toEqual([MODULE]);
  const byName = Object.fromEntries(graphiteMonitorComponent.options!.map((o) => [o.name, o.default]));
  expect(byName).toMatchObject({ only_accept_local: true, accept_plaintext: true, accept_pickle: true, plaintext_port: 2003, pickle_port: 2004, max_connection_idle_time: 300, max_request_size: 102400, buffer_size: 102400 });
  const decl = (n: string) => graphiteMonitorComponent.options!.find((o) => o.name === n)!;
  expect([decl('max_request_size').min, decl('buffer_size').min, decl('max_connection_idle_time').min, decl('plaintext_port').max]).toEqual([1000, 10240, 1, 65535]);
  expect(decl('monitor_log_flush_delay')).toMatchObject({ noEffect: true, default: 1 });
  expect(decl('max_connections').origin).toBe('sluice');
  const check = graphiteMonitorComponent.check!;
  expect(check({ module: MODULE })).toEqual([]);
  expect(check({ module: MODULE, accept_plaintext: false, accept_pickle: false }).map((p) => p.key)).toEqual(['accept_plaintext']);
  expect(check({ module: MODULE, max_request_size: 20000, buffer_size: 10240 })[0].message).toBe('the max_request_size of 20000 cannot be greater than the buffer size of 10240');
});

test('the example passes the component contract with a real sender and reads exactly the options it declares', async () => {
  const env = await createEnv(createDefaultRegistry().add(graphiteMonitorComponent));
  // The harness has no graphite sender (testkit/examplePeers.ts): run the example pointed at free ports with one.
  const peer = await graphiteExamplePeer.start(dir);
  const example = graphiteMonitorComponent.example!;
  const pointed = { ...graphiteMonitorComponent, example: peer.own(example) };
  try {
    const run = await exercise(pointed, { registry: createDefaultRegistry().add(pointed), env, record: true });
    expect([...contractProblems(run), ...declarationProblems(run, { own: new Set(MONITOR_ENTRY_OPTIONS.filter((o) => (o.scope ?? 'own') === 'own').map((o) => o.name)) })]).toEqual([]);
    expect(run.counters!.receivedEvents).toBeGreaterThan(0);
  } finally {
    await peer.stop();
    await env.close();
  }
});

// --- real clients through the monitor source ----------------------------------------------------

withNc('nc: plaintext lines become Scalyr metric lines (float value, orig_time), also a last line without newline', async () => {
  const { m, plaintext } = await listening();
  expect(await nc(plaintext, 'servers.web1.cpu.user 42 1700000000.5\nservers.web1.load -0.25 1700000001.75\n')).toBe(0);
  expect(await nc(plaintext, 'no.newline 3.5 1700000002.5')).toBe(0);
  expect(await waitFor(() => metricLines(m).length >= 3, 5000)).toBe(true);
  const lines = metricLines(m);
  expect(lines.find((l) => l.includes(' servers.web1.cpu.user '))).toMatch(LINE('servers.web1.cpu.user', '42.0', '1700000000.5'));
  expect(lines.find((l) => l.includes(' servers.web1.load '))).toMatch(LINE('servers.web1.load', '-0.25', '1700000001.75'));
  expect(lines.find((l) => l.includes(' no.newline '))).toMatch(LINE('no.newline', '3.5', '1700000002.5'));
  expect(m.batches.every((b) => b.stream.attrs.parser === 'agent-metrics')).toBe(true);
  expect(m.src.status()).toMatchObject({ alive: true, errors: 0 });
});

// Scalyr writes orig_time as a Python float: `orig_time=1700000000.0` for the usual integral timestamp.
// The runner's line formatter prints integral field values without `.0` (ScalyrMonitorSample has
// `float` for the value only); the sample marks the field in `floatFields`.
test('an integral timestamp is written as Scalyr\'s float: orig_time=1700000000.0', async () => {
  const { m, plaintext } = await listening();
  const s = await client(plaintext);
  await send(s, 'int.ts 1 1700000000\n');
  expect(await waitFor(() => metricLines(m).length >= 1, 5000)).toBe(true);
  expect(metricLines(m)[0]).toMatch(LINE('int.ts', '1.0', '1700000000.0'));
});

test('Node sockets: lines split across writes, CRLF, several connections; malformed lines counted, warned once per state change', async () => {
  const { m, plaintext } = await listening();
  const a = await client(plaintext);
  const b = await client(plaintext);
  await send(a, 'split.me 1');
  await pause(50);
  await send(a, '.5 1700000000.5\r\n');
  await send(b, 'other.conn 2.5 1700000003.5\n');
  expect(await waitFor(() => metricLines(m).length >= 2, 5000)).toBe(true);
  expect(metricLines(m).find((l) => l.includes(' split.me '))).toMatch(LINE('split.me', '1.5', '1700000000.5'));
  expect(metricLines(m).find((l) => l.includes(' other.conn '))).toMatch(LINE('other.conn', '2.5', '1700000003.5'));
  await send(a, 'bad line here\nalso bad\n');
  await send(b, 'third bad line with too many fields\n');
  expect(await waitFor(() => dropped(m).bad_plaintext_line === 3, 5000)).toBe(true);
  // Three bad lines in a burst: one warning.
  expect(warnings(m, /could not parse incoming metric line from graphite plaintext/)).toHaveLength(1);
  // Good input, then bad again: a new state, a new warning.
  await send(a, 'good.again 1 1700000004.5\n');
  expect(await waitFor(() => metricLines(m).length >= 3, 5000)).toBe(true);
  await send(a, 'bad again\n');
  expect(await waitFor(() => dropped(m).bad_plaintext_line === 4, 5000)).toBe(true);
  expect(warnings(m, /could not parse incoming metric line from graphite plaintext/)).toHaveLength(2);
  // Malformed input does not close the connection.
  expect(a.isClosed()).toBe(false);
  expect(m.src.status().alive).toBe(true);
});

withPython('pickle frames from real Python (protocols 0, 1, 2, 4) over a socket, a frame split across writes; bad entries counted', async () => {
  const { m, pickle } = await listening();
  const s = await client(pickle);
  for (const protocol of [0, 1, 2, 4]) await send(s, pyFrame(`[('pickle.p${protocol}', (1700000000.5, ${protocol}.5))]`, protocol));
  const split = pyFrame("[('split.frame', (1700000010.5, 9.75)), ('bad.entry', ('x', 1))]", 2);
  await send(s, split.subarray(0, 3));
  await pause(50);
  await send(s, split.subarray(3, 20));
  await pause(50);
  await send(s, split.subarray(20));
  expect(await waitFor(() => metricLines(m).length >= 5, 5000)).toBe(true);
  for (const protocol of [0, 1, 2, 4]) expect(metricLines(m).find((l) => l.includes(` pickle.p${protocol} `))).toMatch(LINE(`pickle.p${protocol}`, `${protocol}.5`, '1700000000.5'));
  expect(metricLines(m).find((l) => l.includes(' split.frame '))).toMatch(LINE('split.frame', '9.75', '1700000010.5'));
  expect(dropped(m).bad_pickle_entry).toBe(1);
  expect(s.isClosed()).toBe(false);
});

withPython('a hostile pickle sent to the listener is refused (counted bad_pickle), never executed, and the connection goes on', async () => {
  const { m, pickle } = await listening();
  const marker = path.join(dir, 'pwned-listener');
  const s = await client(pickle);
  await send(s, pyFrame(`type('E', (), {'__reduce__': lambda self: (__import__('os').system, ('touch ${marker}',))})()`, 0));
  await send(s, pyFrame(`type('E', (), {'__reduce__': lambda self: (__import__('os').system, ('touch ${marker}',))})()`, 2));
  await send(s, Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('zzz')]));
  await send(s, pyFrame("[('after.evil', (1700000000.5, 1))]", 2));
  expect(await waitFor(() => metricLines(m).length >= 1 && dropped(m).bad_pickle === 3, 5000)).toBe(true);
  expect(metricLines(m)[0]).toMatch(LINE('after.evil', '1.0', '1700000000.5'));
  expect(fs.existsSync(marker)).toBe(false);
  expect(warnings(m, /graphite pickle server, ignoring: refused pickle opcode/)).toHaveLength(1);
});

test('max_request_size: an oversized line or pickle frame closes its connection (counted request_too_large); the limit counts the newline, as Scalyr\'s', async () => {
  const { m, plaintext, pickle } = await listening({ max_request_size: 1000, buffer_size: 10240 });
  // Exactly 1000 bytes with the newline: accepted. 1001 (1000 without the newline): too large.
  const sized = (name: string, n: number) => `${name}.${'x'.repeat(n - `${name}. 1 1700000000.5\n`.length)} 1 1700000000.5\n`;
  expect([sized('ok', 1000).length, sized('big', 1001).length]).toEqual([1000, 1001]);
  const a = await client(plaintext);
  await send(a, sized('ok', 1000));
  expect(await waitFor(() => metricLines(m).length === 1, 5000)).toBe(true);
  await send(a, sized('big', 1001));
  await a.gone;
  expect(metricLines(m)).toHaveLength(1);
  expect(dropped(m).request_too_large).toBe(1);
  // An unfinished line that is already too long: closed without waiting for its newline.
  const b = await client(plaintext);
  await send(b, 'z'.repeat(1500));
  await b.gone;
  expect(dropped(m).request_too_large).toBe(2);
  // A pickle frame whose length prefix is over the limit: closed before its payload is buffered.
  const c = await client(pickle);
  await send(c, Buffer.from([0, 0, 0x07, 0xd0]));
  await c.gone;
  expect(dropped(m).request_too_large).toBe(3);
  expect(warnings(m, /exceeds max_request_size \(1000\)/)).toHaveLength(1);
  // The listeners go on.
  const d = await client(plaintext);
  await send(d, 'after.big 2 1700000000.5\n');
  expect(await waitFor(() => metricLines(m).some((l) => l.includes(' after.big ')), 5000)).toBe(true);
});

test('slow-loris: a client that trickles bytes without finishing a request is closed after max_connection_idle_time; one sending requests stays', async () => {
  const { m, plaintext, pickle } = await listening({ max_connection_idle_time: 1 });
  const loris = await client(plaintext);
  const lorisPickle = await client(pickle);
  const steady = await client(plaintext);
  const t0 = Date.now();
  let i = 0;
  const trickle = setInterval(() => {
    if (!loris.isClosed()) loris.write('s');
    if (!lorisPickle.isClosed()) lorisPickle.write(i++ === 0 ? Buffer.from([0, 0, 1, 0]) : Buffer.from('x'));
    if (!steady.isClosed()) steady.write(`steady.metric ${i} 1700000000.5\n`);
  }, 150);
  cleanup.push(() => clearInterval(trickle));
  await Promise.all([loris.gone, lorisPickle.gone]);
  const took = Date.now() - t0;
  await pause(400);
  clearInterval(trickle);
  expect(took).toBeGreaterThanOrEqual(900);
  expect(took).toBeLessThan(3000);
  expect(dropped(m).idle_timeout).toBe(2);
  expect(steady.isClosed()).toBe(false);
  expect(metricLines(m).filter((l) => l.includes(' steady.metric ')).length).toBeGreaterThan(5);
  expect(warnings(m, /no complete request within max_connection_idle_time \(1s\)/).length).toBeGreaterThanOrEqual(1);
});

test('many connections at once are all served; over max_connections a connection is closed at once and counted', async () => {
  const { m, plaintext } = await listening();
  const N = 200;
  const socks = await Promise.all(Array.from({ length: N }, () => client(plaintext)));
  await Promise.all(socks.map((s, i) => send(s, `many.conn${i} ${i} 1700000000.5\n`)));
  expect(await waitFor(() => metricLines(m).length === N, 10_000)).toBe(true);
  expect(new Set(metricLines(m).map((l) => l.split(' ')[3])).size).toBe(N);
  for (const s of socks) s.destroy();

  const limited = await listening({ max_connections: 5 }, 'lim');
  const open = await Promise.all(Array.from({ length: 5 }, () => client(limited.plaintext)));
  await pause(100);
  const extra = net.connect({ host: '127.0.0.1', port: limited.plaintext });
  extra.on('error', () => undefined);
  cleanup.push(() => void extra.destroy());
  await new Promise<void>((r) => extra.once('close', () => r()));
  expect(limited.m.src.counters.dropped.too_many_connections).toBe(1);
  for (const s of open) await send(s, 'still.served 1 1700000000.5\n');
  expect(await waitFor(() => metricLines(limited.m, 'lim').length === 5, 5000)).toBe(true);
  // A freed slot is usable again.
  open[0].destroy();
  await open[0].gone;
  await pause(50);
  const again = await client(limited.plaintext);
  await send(again, 'slot.freed 1 1700000000.5\n');
  expect(await waitFor(() => metricLines(limited.m, 'lim').some((l) => l.includes(' slot.freed ')), 5000)).toBe(true);
});

test('binds loopback only (127.0.0.1): another loopback address is refused; only_accept_local: false accepts it', async () => {
  const local = await listening({ accept_pickle: false }, 'local');
  await expect(client(local.plaintext, '127.0.0.2')).rejects.toThrow();
  const any = await listening({ accept_pickle: false, only_accept_local: false }, 'any');
  expect(any.m.logger.records.some((r) => r.message.includes(`listening for graphite plaintext on *:${any.plaintext}`))).toBe(true);
  const s = await client(any.plaintext, '127.0.0.2');
  await send(s, 'remote.ok 1 1700000000.5\n');
  expect(await waitFor(() => metricLines(any.m, 'any').length === 1, 5000)).toBe(true);
});

test('port in use: one clear error, every failed bind counted, retried with backoff until the port is free; never thrown into the agent', async () => {
  const p = await ports();
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(p.pickle, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => squatter.close(() => r())));
  const m = runMonitor(graphiteMonitorComponent, { module: MODULE, id: 'busy', plaintext_port: p.plaintext, pickle_port: p.pickle, sample_interval: 0.1 }, dir);
  cleanup.push(() => m.stop());
  expect(await waitFor(() => m.src.status().errors >= 3, 8000)).toBe(true);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(new RegExp(`graphite_monitor\\(busy\\): sample failed: graphite_monitor: cannot listen for pickle on 127\\.0\\.0\\.1:${p.pickle}: .*EADDRINUSE`));
  expect(m.src.status().lastError).toMatch(/EADDRINUSE/);
  // While it fails, the plaintext port it also binds is released again (no half-started monitor).
  await new Promise<void>((r) => squatter.close(() => r()));
  expect(await waitFor(() => m.logger.records.some((r) => r.message.includes('listening for graphite pickle on')), 10_000)).toBe(true);
  const s = await client(p.pickle);
  const frame = Buffer.from('\x80\x02]q\x00X\x05\x00\x00\x00freedq\x01G?\xf8\x00\x00\x00\x00\x00\x00K\x02\x86q\x02\x86q\x03a.', 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(frame.length);
  await send(s, Buffer.concat([len, frame]));
  expect(await waitFor(() => metricLines(m, 'busy').length === 1, 5000)).toBe(true);
  expect(metricLines(m, 'busy')[0]).toMatch(LINE('freed', '2.0', '1.5', 'busy'));
  expect(m.errors()).toHaveLength(1);
});

// Scalyr's graphite_monitor does not rate limit its metric log by default (its _initialize reads
// monitor_log_write_rate and monitor_log_max_write_burst with a default of -1, and a negative
// value turns the limiter off), so a burst of received metrics is written in full: the component's
// `monitorLogDefaults` replace the top-level 2000 B/s, 100000 B burst.
test('no write-rate limit by default, as Scalyr\'s graphite_monitor (monitor_log_write_rate -1)', async () => {
  const { m, plaintext } = await listening();
  const N = 3000; // about 190 kB of metric lines: over the 100000 B burst
  const s = await client(plaintext);
  await send(s, Array.from({ length: N }, (_, i) => `burst.m${i} ${i} 1700000000.5\n`).join(''));
  await waitFor(() => metricLines(m).length + (dropped(m).rate_limit ?? 0) >= N, 10_000);
  expect(dropped(m).rate_limit ?? 0).toBe(0);
  expect(metricLines(m)).toHaveLength(N);
});

test('an explicit monitor_log_write_rate on the entry limits the lines, counted as rate_limit drops', async () => {
  const { m, plaintext } = await listening({ monitor_log_write_rate: 100, monitor_log_max_write_burst: 2000 });
  const s = await client(plaintext);
  await send(s, Array.from({ length: 200 }, (_, i) => `limited.m${i} ${i} 1700000000.5\n`).join(''));
  expect(await waitFor(() => metricLines(m).length + (dropped(m).rate_limit ?? 0) >= 200, 5000)).toBe(true);
  expect(dropped(m).rate_limit).toBeGreaterThan(100);
  expect(metricLines(m).length).toBeLessThan(60);
});

// After a failed bind the runner stays in its failure burst (status alive: false) until a sample
// completes, which a listener never does: the monitor calls ctx.healthy() once it listens.
test('after the port is freed and the monitor listens, status is alive again', async () => {
  const p = await ports();
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(p.plaintext, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => squatter.close(() => r())));
  const m = runMonitor(graphiteMonitorComponent, { module: MODULE, id: 'heal', plaintext_port: p.plaintext, pickle_port: p.pickle, sample_interval: 0.1 }, dir);
  cleanup.push(() => m.stop());
  expect(await waitFor(() => m.src.status().errors >= 1, 5000)).toBe(true);
  await new Promise<void>((r) => squatter.close(() => r()));
  expect(await waitFor(() => m.logger.records.some((r) => r.message.includes('listening for graphite plaintext on')), 10_000)).toBe(true);
  expect(await waitFor(() => m.src.status().alive, 2000)).toBe(true);
  expect(m.logger.records.some((r) => r.message.includes('recovered after'))).toBe(true);
});

// --- a real agent ---------------------------------------------------------------------------------

withNc('a real agent with a Scalyr agent.json graphite entry ships the metric lines to its embedded sink', async () => {
  const p = await ports();
  const registry = createDefaultRegistry().add(graphiteMonitorComponent);
  const logger = memoryLogger();
  const agent = createAgent({
    logger,
    registry,
    watchConfig: false,
    config: {
      ...isolatedAgent(dir),
      global_monitor_sample_interval_enable_jitter: false,
      monitors: [{ module: MODULE, id: 'agent', plaintext_port: p.plaintext, pickle_port: p.pickle }],
    },
  });
  cleanup.push(async () => void (await agent.stop()));
  await agent.start();
  const up = await waitFor(() => logger.records.some((r) => r.message.includes(`listening for graphite plaintext on 127.0.0.1:${p.plaintext}`)), 10_000);
  if (!up) throw new Error(`not listening; log: ${logger.records.map((r) => `${r.level} ${r.message}`).join(' | ')}`);
  expect(await nc(p.plaintext, 'agent.graphite.metric 12.5 1700000000.5\n')).toBe(0);
  const out = path.join(dir, 'data', 'events');
  const has = () => readNdjson(out).find((r) => r.message.includes('[graphite_monitor(agent)] agent.graphite.metric '));
  const arrived = await waitFor(() => has() !== undefined, 15_000);
  if (!arrived) throw new Error(`no metric line in the embedded sink; status ${JSON.stringify(agent.status().monitors)}; log: ${logger.records.map((r) => `${r.level} ${r.message}`).join(' | ')}`);
  const rec = has()!;
  expect(rec.message).toMatch(LINE('agent.graphite.metric', '12.5', '1700000000.5', 'agent'));
  expect(rec.attrs.parser).toBe('agent-metrics');
  expect(agent.status().monitors.map((mm) => mm.key)).toEqual(['graphite_monitor(agent)']);
}, 40_000);

// --- collectd -----------------------------------------------------------------------------------

withCollectd('collectd (Debian collectd-core) with write_graphite sends its metrics to the plaintext listener', async () => {
  const { m, plaintext } = await listening({ accept_pickle: false }, 'collectd');
  const conf = path.join(dir, 'collectd.conf');
  fs.writeFileSync(
    conf,
    `Hostname "sluicetest"
FQDNLookup false
BaseDir "${dir}"
PIDFile "${path.join(dir, 'collectd.pid')}"
PluginDir "${path.dirname(WRITE_GRAPHITE!)}"
TypesDB "${TYPES_DB}"
Interval 1
LoadPlugin load
LoadPlugin memory
LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "sluice">
    Host "127.0.0.1"
    Port "${plaintext}"
    Protocol "tcp"
    Prefix "collectd."
    StoreRates true
    AlwaysAppendDS false
  </Node>
</Plugin>
`,
  );
  let stderr = '';
  const child: ChildProcess = spawn(COLLECTD!, ['-f', '-C', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  cleanup.push(async () => {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  });
  const got = await waitFor(() => metricLines(m, 'collectd').some((l) => / collectd\.sluicetest\.load\.load\.shortterm /.test(l)), 15_000, 100);
  if (!got) throw new Error(`no collectd metric arrived; collectd said: ${stderr}; monitor: ${m.logger.records.map((r) => r.message).join(' | ')}`);
  const line = metricLines(m, 'collectd').find((l) => / collectd\.sluicetest\.load\.load\.shortterm /.test(l))!;
  expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[graphite_monitor\(collectd\)\] collectd\.sluicetest\.load\.load\.shortterm -?\d+(\.\d+)?(e[+-]\d+)? orig_time=\d+(\.\d+)?\n$/);
  expect(metricLines(m, 'collectd').some((l) => l.includes(' collectd.sluicetest.memory.memory-used '))).toBe(true);
  expect(m.src.counters.dropped.bad_plaintext_line ?? 0).toBe(0);
}, 30_000);
