/**
 * `snmp_monitor` against a real `snmpd` (Debian `snmpd`) started in a temp dir on a free loopback
 * UDP port (`rocommunity public 127.0.0.1`, `-C -r`: only our config, no root-only files), run
 * through the real monitor source and once through a real agent with its embedded sink: Scalyr's
 * module name and line shape (`<OID by name> "<value>" oid="…" poll_target="host:port"`), and the
 * fault cases of issue 17 (agent down then up, restarted on the same port, wrong community,
 * noSuchObject, a peer answering garbage, one that never answers): one error per fault state,
 * every failed sample counted, sampling goes on. Skips (with a printed reason) when snmpd is not
 * installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { snmpMonitorComponent, checkSnmpMonitor, prettyOid, prettyValue, resolveOid } from '../sources/monitors/snmpMonitor.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { contractProblems, createEnv, declarationProblems, exercise } from '../testkit/componentHarness.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { createAgent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { isolatedAgent } from './helpers/isolated.js';
import { readNdjson } from './helpers/ndjson.js';
import { runMonitor, waitFor } from '../testkit/statusPeers.js';
import type { MetricRecord } from '../lib/telemetry.js';
import { freeUdpPort, snmpdMissing, snmpEnv, startSnmpd as startRealSnmpd, type Snmpd } from '../testkit/snmpd.js';

const SNMPGET = ['/usr/bin/snmpget'].find((p) => fs.existsSync(p));
const missing = snmpdMissing();
if (missing) console.warn(`skipping the real-snmpd tests of snmp_monitor: ${missing}`);
const withSnmpd = missing ? it.skip : it;

const MODULE = 'scalyr_agent.builtin_monitors.snmp_monitor';
const GROUPS = { system: ['SNMPv2-MIB::sysUpTime.0', '1.3.6.1.2.1.1.1.0', 'SNMPv2-MIB::sysLocation.0'], interfaces: ['IF-MIB::ifNumber.0'] };

let dir: string;
const cleanup: Array<() => Promise<void>> = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-snmp-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** snmpd in this test's dir (stopped after the test, even on failure); checked with `snmpget` when installed. */
async function startSnmpd(port: number): Promise<Snmpd> {
  const agent = await startRealSnmpd(dir, port);
  cleanup.push(() => agent.stop());
  if (SNMPGET) {
    const out = execFileSync(SNMPGET, ['-On', '-v2c', '-c', 'public', '-t', '1', '-r', '2', `127.0.0.1:${port}`, '1.3.6.1.2.1.1.3.0'], { env: snmpEnv(dir) }).toString();
    expect(out).toMatch(/^\.1\.3\.6\.1\.2\.1\.1\.3\.0 = Timeticks: \(\d+\)/);
  }
  return agent;
}

function monitor(port: number, extra: Record<string, unknown> = {}, target: Record<string, unknown> = {}) {
  const m = runMonitor(
    snmpMonitorComponent,
    { module: MODULE, id: 'lab', sample_interval: 0.2, oid_groups: GROUPS, poll_targets: [{ targets: [{ host: '127.0.0.1', port, timeout: 0.2, retries: 0, ...target }], oids: ['system', 'interfaces'] }], ...extra },
    dir,
  );
  cleanup.push(() => m.stop());
  return m;
}

const metricLines = (lines: string[], id = 'lab') => lines.filter((l) => l.includes(`[snmp_monitor(${id})] `));

test('OIDs and values printed as pysnmp prettyPrint does; Scalyr\'s config errors; SNMPv3 refused', () => {
  expect(resolveOid('1.3.6.1.2.1.1.3.0')).toBe('1.3.6.1.2.1.1.3.0');
  expect(resolveOid('SNMPv2-MIB::sysUpTime.0')).toBe('1.3.6.1.2.1.1.3.0');
  expect(resolveOid('IF-MIB::ifDescr')).toBe('1.3.6.1.2.1.2.2.1.2.1'); // Scalyr: a bare name is instance 1
  expect(() => resolveOid('FOO-MIB::fooBar')).toThrow(/unknown MIB variable "FOO-MIB::fooBar"/);
  expect(prettyOid('1.3.6.1.2.1.1.3.0')).toBe('SNMPv2-MIB::sysUpTime.0');
  expect(prettyOid('1.3.6.1.4.1.8072.3.2.10')).toBe('SNMPv2-SMI::enterprises.8072.3.2.10');
  expect(prettyValue(4, Buffer.from('Linux box'))).toBe('Linux box');
  expect(prettyValue(4, Buffer.from([0, 0x1b, 0xff]))).toBe('0x001bff');
  expect(prettyValue(70, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0]))).toBe('18446744073709551616');
  expect(prettyValue(67, 4711)).toBe('4711');
  const byName = Object.fromEntries(snmpMonitorComponent.options!.map((o) => [o.name, o]));
  expect(byName.error_repeat_interval.default).toBe(300);
  expect(byName.mib_path.noEffect).toBe(true);
  expect(byName.use_legacy_format.default).toBe(false);
  const problems = (c: Record<string, unknown>) => checkSnmpMonitor(c).map((p) => `${p.key}: ${p.message}`);
  expect(problems({ oid_groups: GROUPS, poll_targets: [{ targets: [{ host: 'h' }], oids: ['nope'] }] })).toEqual(["poll_targets[0].oids: 'nope' is not a valid oid group"]);
  expect(problems({ oid_groups: GROUPS, poll_targets: [{ oids: ['system'] }] })).toEqual(['poll_targets[0].targets: poll_target does not contain a "targets" list']);
  expect(problems({ oid_groups: GROUPS, poll_targets: [{ targets: [{ port: 1 }], oids: ['system'] }] })).toEqual(['poll_targets[0].targets[0]: each target must specify a "host"']);
  expect(problems({ oid_groups: GROUPS, poll_targets: [{ targets: [{ host: 'h', user: { username: 'u' } }], oids: ['system'] }] })).toEqual(['poll_targets[0].targets[0].version: SNMP version 3 is not supported yet (use SNMPv2 or SNMPv1)']);
  expect(problems({ oid_groups: GROUPS, poll_targets: [{ targets: [{ host: 'h', version: 'SNMPv1', user: {} }], oids: ['system'] }] })).toEqual(['poll_targets[0].targets[0].user: user authentication is only supported for SNMPv3']);
  expect(problems({ oid_groups: GROUPS, poll_targets: [{ targets: [{ host: 'h', version: 'SNMPv2c' }, { host: 'h', version: 'snmpv1' }], oids: ['system'] }] })).toEqual([]);
  expect(problems({ oid_groups: { g: ['x'] } })[0]).toMatch(/oid_groups\.g\[0\]: "x" is neither a numeric OID/);
});

test('the component: Scalyr\'s module name; its example passes the component contract against a real snmpd (testkit/snmpd.ts snmpExamplePeer) and reads exactly what it declares', async () => {
  expect(snmpMonitorComponent.aliases).toEqual(['scalyr_agent.builtin_monitors.snmp_monitor']);
  const registry = createDefaultRegistry().add(snmpMonitorComponent);
  const env = await createEnv(registry);
  // testkit/examplePeers.ts gives the example a real snmpd.
  try {
    const run = await exercise(snmpMonitorComponent, { registry, env, record: true });
    const own = new Set(MONITOR_ENTRY_OPTIONS.filter((o) => (o.scope ?? 'own') === 'own').map((o) => o.name));
    expect([...(missing ? [] : contractProblems(run)), ...declarationProblems(run, { own })]).toEqual([]);
  } finally {
    await env.close();
  }
}, 20_000);

withSnmpd('real snmpd: v2c and v1 values as Scalyr\'s metric lines, by OID name, with oid and poll_target; legacy format', async () => {
  const port = await freeUdpPort();
  await startSnmpd(port);
  const m = monitor(port);
  const v1 = monitor(port, { id: 'v1' }, { version: 'SNMPv1' });
  const legacy = monitor(port, { id: 'old', use_legacy_format: true });
  expect(await waitFor(() => metricLines(m.lines()).some((l) => l.includes('IF-MIB__ifNumber.0')) && metricLines(v1.lines(), 'v1').length >= 4 && metricLines(legacy.lines(), 'old').length >= 4, 8000)).toBe(true);
  const lines = metricLines(m.lines());
  const t = '^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z \\[snmp_monitor\\(lab\\)\\] ';
  const target = `poll_target="127\\.0\\.0\\.1:${port}"`;
  expect(lines.find((l) => l.includes('sysUpTime'))).toMatch(new RegExp(`${t}SNMPv2-MIB__sysUpTime\\.0 "\\d+" oid="SNMPv2-MIB::sysUpTime\\.0" ${target}\\n$`));
  expect(lines.find((l) => l.includes('sysDescr'))).toMatch(new RegExp(`${t}SNMPv2-MIB__sysDescr\\.0 "Linux [^"]+" oid="SNMPv2-MIB::sysDescr\\.0" ${target}\\n$`));
  expect(lines.find((l) => l.includes('sysLocation'))).toMatch(new RegExp(`${t}SNMPv2-MIB__sysLocation\\.0 "sluice-test-lab" oid="SNMPv2-MIB::sysLocation\\.0" ${target}\\n$`));
  expect(lines.find((l) => l.includes('ifNumber'))).toMatch(new RegExp(`${t}IF-MIB__ifNumber\\.0 "\\d+" oid="IF-MIB::ifNumber\\.0" ${target}\\n$`));
  expect(metricLines(v1.lines(), 'v1').find((l) => l.includes('sysLocation'))).toMatch(/SNMPv2-MIB__sysLocation\.0 "sluice-test-lab" /);
  expect(metricLines(legacy.lines(), 'old').find((l) => l.includes('sysLocation'))).toMatch(new RegExp(`\\[snmp_monitor\\(old\\)\\] poll-target "127\\.0\\.0\\.1:${port}" oid="SNMPv2-MIB::sysLocation\\.0" value_="sluice-test-lab"\\n$`));
  expect(m.batches[0].stream.attrs).toMatchObject({ parser: 'agent-metrics' });
  // sysUpTime grows between samples: each sample asks again.
  await waitFor(() => metricLines(m.lines()).filter((l) => l.includes('sysUpTime')).length >= 3, 3000);
  const ups = metricLines(m.lines()).filter((l) => l.includes('sysUpTime')).map((l) => Number(/sysUpTime\.0 "(\d+)"/.exec(l)![1]));
  expect(ups.length).toBeGreaterThanOrEqual(3);
  expect(ups[ups.length - 1]).toBeGreaterThan(ups[0]);
  expect(m.src.status().errors).toBe(0);
  expect(v1.src.status().errors).toBe(0);
}, 20_000);

withSnmpd('real snmpd: Counter32 (ifInOctets) and Counter64 (ifHCInOctets) values are counters with one start per series; TimeTicks and Integer values are gauges', async () => {
  const port = await freeUdpPort();
  await startSnmpd(port);
  const m = monitor(port, { id: 'ctr', oid_groups: { g: ['IF-MIB::ifInOctets.1', 'IF-MIB::ifHCInOctets.1', 'SNMPv2-MIB::sysUpTime.0', 'IF-MIB::ifNumber.0'] }, poll_targets: [{ targets: [{ host: '127.0.0.1', port, timeout: 0.2, retries: 0 }], oids: ['g'] }] });
  const records = () => m.batches.flatMap((b) => b.events.map((e) => e.record as MetricRecord | undefined)).filter((r): r is MetricRecord => r !== undefined);
  const of = (name: string) => records().filter((r) => r.name === name);
  expect(await waitFor(() => of('IF-MIB::ifInOctets.1').length >= 3, 8000)).toBe(true);
  for (const name of ['IF-MIB::ifInOctets.1', 'IF-MIB::ifHCInOctets.1']) {
    const rs = of(name);
    expect([name, rs.length >= 3, rs.every((r) => r.monotonic === true && typeof r.value === 'number'), new Set(rs.map((r) => r.startNs)).size]).toEqual([name, true, true, 1]);
  }
  for (const name of ['SNMPv2-MIB::sysUpTime.0', 'IF-MIB::ifNumber.0']) expect([name, of(name).length > 0, of(name).some((r) => r.monotonic !== undefined)]).toEqual([name, true, false]);
  expect(m.src.status().errors).toBe(0);
}, 20_000);

withSnmpd('real snmpd down, up, then restarted on the same port: one error per outage, every failure counted, values again after the restart', async () => {
  const port = await freeUdpPort();
  const m = monitor(port);
  expect(await waitFor(() => m.src.status().errors >= 3, 6000)).toBe(true);
  expect(m.lines()).toEqual([]);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(new RegExp(`No SNMP response received before timeout from 127\\.0\\.0\\.1:${port}`));
  let agent = await startSnmpd(port);
  expect(await waitFor(() => metricLines(m.lines()).some((l) => l.includes('sysUpTime')), 8000)).toBe(true);
  expect(m.logger.records.some((r) => r.level === 'info' && /recovered/.test(r.message))).toBe(true);
  await agent.stop();
  const before = m.src.status().errors;
  const linesBefore = metricLines(m.lines()).length;
  expect(await waitFor(() => m.src.status().errors >= before + 2, 8000)).toBe(true);
  expect(m.errors()).toHaveLength(2);
  agent = await startSnmpd(port);
  expect(await waitFor(() => metricLines(m.lines()).length > linesBefore, 8000)).toBe(true);
  expect(m.src.status().alive).toBe(true);
  void agent;
}, 30_000);

withSnmpd('wrong community (snmpd drops the request: a timeout) and noSuchObject: counted, logged once each; the values that exist still arrive', async () => {
  const port = await freeUdpPort();
  await startSnmpd(port);
  const wrong = monitor(port, { id: 'wrong' }, { community: 'not-public' });
  const partial = monitor(port, { id: 'partial', oid_groups: { g: ['1.3.6.1.2.1.1.5.0', '1.3.6.1.2.1.99.0'] }, poll_targets: [{ targets: [{ host: '127.0.0.1', port, timeout: 0.3, retries: 0 }], oids: ['g'] }] });
  expect(await waitFor(() => wrong.src.status().errors >= 3 && partial.src.status().errors >= 3, 8000)).toBe(true);
  expect(wrong.lines()).toEqual([]);
  expect(wrong.errors()).toHaveLength(1);
  expect(wrong.errors()[0]).toMatch(/No SNMP response received before timeout from 127\.0\.0\.1:\d+ .*community "not-public"/);
  expect(partial.errors()).toHaveLength(1);
  expect(partial.errors()[0]).toMatch(/has no value for SNMPv2-SMI::mib-2\.99\.0: NoSuchObject/);
  expect(metricLines(partial.lines(), 'partial').some((l) => / SNMPv2-MIB__sysName\.0 "[^"]*" oid="SNMPv2-MIB::sysName\.0" /.test(l))).toBe(true);
  expect(metricLines(partial.lines(), 'partial').some((l) => l.includes('99.0'))).toBe(false);
  expect(partial.src.counters.dropped.snmp_no_such_object).toBeGreaterThanOrEqual(3);
}, 20_000);

test('garbage: a UDP peer answering bytes that are not SNMP, and one that never answers: counted, logged once each, sampling goes on', async () => {
  const junk = dgram.createSocket('udp4');
  junk.on('message', (_msg, rinfo) => junk.send(Buffer.from('\x30\x03garbage that is not BER'), rinfo.port, rinfo.address));
  await new Promise<void>((r) => junk.bind(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => junk.close(() => r())));
  const m = monitor(junk.address().port);
  expect(await waitFor(() => m.src.status().errors >= 3, 6000)).toBe(true);
  expect(m.lines()).toEqual([]);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(/answered with something that is not SNMP/);

  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => silent.close(() => r())));
  const m2 = monitor(silent.address().port, { id: 'silent' }, { timeout: 0.1, retries: 1 });
  expect(await waitFor(() => m2.src.status().errors >= 3, 6000)).toBe(true);
  expect(m2.errors()).toHaveLength(1);
  expect(m2.errors()[0]).toMatch(/No SNMP response received before timeout .*0\.1s, 1 retries/);
}, 20_000);

// Config validation accepts the module once the registry holds the component, even while
// lib/config/schema.ts still lists snmp_monitor as not implemented.
withSnmpd('a real agent with a Scalyr agent.json monitors entry ships the SNMP metric lines to its embedded sink', async () => {
  const port = await freeUdpPort();
  await startSnmpd(port);
  const registry = createDefaultRegistry().add(snmpMonitorComponent);
  const logger = memoryLogger();
  const agent = createAgent({
    logger,
    registry,
    watchConfig: false,
    config: {
      ...isolatedAgent(dir),
      global_monitor_sample_interval_enable_jitter: false,
      monitors: [{ module: MODULE, id: 'agent', sample_interval: 0.2, oid_groups: GROUPS, poll_targets: [{ targets: [{ host: '127.0.0.1', port }], oids: ['system', 'interfaces'] }] }],
    },
  });
  cleanup.push(async () => void (await agent.stop()));
  await agent.start();
  const out = path.join(dir, 'data', 'events');
  const want = ['SNMPv2-MIB__sysUpTime.0', 'SNMPv2-MIB__sysDescr.0', 'IF-MIB__ifNumber.0'];
  const arrived = await waitFor(() => want.every((w) => readNdjson(out).some((r) => r.message.includes(`[snmp_monitor(agent)] ${w} `))), 15_000);
  if (!arrived) throw new Error(`no SNMP metric lines in the embedded sink; status ${JSON.stringify(agent.status().monitors)}; log: ${logger.records.map((r) => `${r.level} ${r.message}`).join(' | ')}`);
  const rec = readNdjson(out).find((r) => r.message.includes('[snmp_monitor(agent)] IF-MIB__ifNumber.0 '))!;
  expect(rec.message).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z \\[snmp_monitor\\(agent\\)\\] IF-MIB__ifNumber\\.0 "\\d+" oid="IF-MIB::ifNumber\\.0" poll_target="127\\.0\\.0\\.1:${port}"\\n$`));
  expect(rec.attrs.parser).toBe('agent-metrics');
  expect(agent.status().monitors.map((m) => m.key)).toEqual(['snmp_monitor(agent)']);
}, 30_000);
