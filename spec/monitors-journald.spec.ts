/**
 * journald_monitor (issue 17) against real journal files: `systemd-journal-remote` writes them
 * from the journal export format in a temp dir (testkit/journalFiles.ts), the monitor reads
 * them with the real `journalctl`. No running journald is needed or used.
 *
 * - through the monitor runner: Scalyr's line (`details "<MESSAGE>"` + the mapped fields, parser
 *   `journald`), starting at the end, `journal_matches`, binary and multi-line messages, entries
 *   appended later, journalctl killed (restarted after the last written entry: nothing lost, no
 *   duplicate), a missing journal dir, a missing journalctl, a journalctl printing garbage;
 * - through a real agent: the lines arrive at the embedded sink with Scalyr's names; a restart
 *   resumes after the acknowledged cursor without duplicates; with an addEvents sink that
 *   answers 503, reading pauses at the backlog budget, the cursor stays at what was acknowledged,
 *   and after a restart with the sink up every entry arrives exactly once (shipped from the
 *   message log); with the message log deleted meanwhile, the entries after the acknowledged
 *   cursor are read again from the journal.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDefaultRegistry } from '../app/builtins.js';
import { createAgent, type Agent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { withDefaults } from '../lib/component.js';
import { DEFAULT_JOURNAL_FIELDS, journaldMonitorComponent, journaldMonitorStats } from '../sources/monitors/journald/component.js';
import { localDatetime } from '../sources/monitors/journald/entry.js';
import { readCursorFile } from '../sources/monitors/journald/cursor.js';
import { runMonitor, waitFor } from '../testkit/statusPeers.js';
import { contractProblems, createEnv, declarationProblems, exercise } from '../testkit/componentHarness.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { appendJournal, journalMissing, startExampleJournal, BOOT_ID, MACHINE_ID } from '../testkit/journalFiles.js';
import { isolatedAgent } from './helpers/isolated.js';
import { readNdjson } from './helpers/ndjson.js';
import { makeTestCa, parseAddEventsBody, startTestServer, type TestCa, type TestServer } from '../testkit/tlsServer.js';

const missing = journalMissing();
if (missing) console.warn(`skipping the real-journal tests of journald_monitor: ${missing}`);
const withJournal = missing ? it.skip : it;

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[journald_monitor\(\)\] details /;
const UUID = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;

let dir: string;
const cleanup: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-journald-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  fs.rmSync(dir, { recursive: true, force: true });
});

const readLines = (p: string): string[] => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean) : []);

/** Appends marker entries until the monitor has written one: the reader follows the journal's end from then on. */
async function untilFollowing(jdir: string, logPath: string, unit = 'a.service'): Promise<void> {
  for (let i = 0; i < 100; i++) {
    appendJournal(jdir, [{ _SYSTEMD_UNIT: unit, MESSAGE: `marker ${i}` }]);
    if (await waitFor(() => readLines(logPath).some((l) => l.includes('details "marker ')), 300)) return;
  }
  throw new Error(`the monitor never wrote a marker to ${logPath}`);
}

test('declares Scalyr\'s options and defaults; the check refuses malformed matches', () => {
  const d = withDefaults(journaldMonitorComponent, {});
  expect(d).toMatchObject({
    journal_path: '/var/log/journal',
    journal_poll_interval: 5,
    journal_fields: DEFAULT_JOURNAL_FIELDS,
    staleness_threshold_secs: 600,
    max_log_rotations: 2,
    max_log_size: 20 * 1024 * 1024,
  });
  expect(DEFAULT_JOURNAL_FIELDS).toEqual({ _SYSTEMD_UNIT: 'unit', _PID: 'pid', _MACHINE_ID: 'machine_id', _BOOT_ID: 'boot_id', _SOURCE_REALTIME_TIMESTAMP: 'timestamp' });
  expect(journaldMonitorComponent.aliases).toEqual(['scalyr_agent.builtin_monitors.journald_monitor']);
  expect(journaldMonitorComponent.check!({ journal_matches: ['_SYSTEMD_UNIT=a.service'] })).toEqual([]);
  expect(journaldMonitorComponent.check!({ journal_matches: ['nonsense'] })).toEqual([
    { key: 'journal_matches[0]', message: 'journal matchers expects the following format for each element: FIELD=value.  Found: nonsense' },
  ]);
  expect(journaldMonitorComponent.logs!({ module: 'journald_monitor' }, { agent_log_path: '/l' })).toEqual([{ path: '/l/journald_monitor.log', attributes: { parser: 'journald' }, copy_from_start: true }]);
  expect(localDatetime('1441459024944355')).toMatch(/^2015-09-0[56] \d\d:\d\d:04\.944355$/);
  expect(localDatetime('1441459024000000')).toMatch(/^2015-09-0[56] \d\d:\d\d:04$/);
});

const OWN_ENTRY_KEYS = new Set(MONITOR_ENTRY_OPTIONS.filter((o) => (o.scope ?? 'own') === 'own').map((o) => o.name));

withJournal('through the component harness, from its example pointed at a real journal: reads exactly what it declares, counts no error, stops in time', async () => {
  const journal = startExampleJournal(dir);
  cleanup.push(() => journal.stop());
  const c = { ...journaldMonitorComponent, example: journal.own(journaldMonitorComponent.example!) };
  const reg = createDefaultRegistry().add(c);
  const env = await createEnv(reg);
  try {
    const run = await exercise(c, { registry: reg, env, record: true });
    expect(declarationProblems(run, { own: OWN_ENTRY_KEYS })).toEqual([]);
    expect(run.counters?.errors).toBe(0);
    expect(run.stop.errors).toEqual([]);
    expect(Math.max(...run.stop.ms)).toBeLessThan(run.stop.deadlineMs + 500);
    // It emits no samples: its output is the message log (the harness counts samples; see the report).
    expect(contractProblems(run).filter((p) => !/samples in|received nothing|sent nothing/.test(p))).toEqual([]);
  } finally {
    await env.close();
  }
}, 30_000);

withJournal('starts at the end, writes Scalyr\'s line for new entries that match, binary and multi-line messages included, and keeps following', async () => {
  const jdir = path.join(dir, 'journal');
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'old entry, before the monitor started' }]);
  const m = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', journal_path: jdir, journal_poll_interval: 0.1, journal_matches: ['_SYSTEMD_UNIT=a.service'], sample_interval: 0.05 }, dir);
  cleanup.push(() => m.stop());
  const logPath = path.join(dir, 'log', 'journald_monitor.log');
  await untilFollowing(jdir, logPath);
  const src = String(BigInt(Date.UTC(2015, 8, 5, 13, 17, 4)) * 1000n + 944355n);
  appendJournal(jdir, [
    { _SYSTEMD_UNIT: 'a.service', _PID: '7733', _MACHINE_ID: MACHINE_ID, _SOURCE_REALTIME_TIMESTAMP: src, _TRANSPORT: 'journal', MESSAGE: 'hello "world" {key: value} !@#$%^&*()' },
    { _SYSTEMD_UNIT: 'b.service', _PID: '1', MESSAGE: 'from another unit' },
    { _SYSTEMD_UNIT: 'a.service', MESSAGE: Buffer.from([0x62, 0x69, 0x6e, 0xff, 0x00, 0x21]) },
    { _SYSTEMD_UNIT: 'a.service', MESSAGE: 'line one\nline two' },
  ]);
  expect(await waitFor(() => readLines(logPath).some((l) => l.includes('line one')), 5000)).toBe(true);
  // Appended later, in another run of systemd-journal-remote: still followed.
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'appended later' }]);
  expect(await waitFor(() => readLines(logPath).some((l) => l.includes('appended later')), 5000)).toBe(true);

  const lines = readLines(logPath).filter((l) => !l.includes('details "marker '));
  for (const l of lines) expect(l).toMatch(LINE);
  const body = lines.map((l) => l.replace(LINE, ''));
  expect(body).toEqual([
    `"hello \\"world\\" {key: value} !@#$%^&*()" boot_id="${UUID(BOOT_ID)}" machine_id="${UUID(MACHINE_ID)}" pid="7733" timestamp="${localDatetime(src)}" unit="a.service"`,
    `"bin\ufffd\\u0000!" boot_id="${UUID(BOOT_ID)}" unit="a.service"`,
    `"line one\\nline two" boot_id="${UUID(BOOT_ID)}" unit="a.service"`,
    `"appended later" boot_id="${UUID(BOOT_ID)}" unit="a.service"`,
  ]);
  expect(readLines(logPath).join('\n')).not.toContain('old entry');
  expect(readLines(logPath).join('\n')).not.toContain('another unit');
  expect(m.errors()).toEqual([]);
  // Without the agent's backlog service every written line counts as acknowledged: the cursor follows.
  const stats = journaldMonitorStats(m.src.id)!;
  expect(stats.cursorFile).toBe(path.join(dir, 'data', 'journald-journald_monitor.cursor'));
  const cursorOk = () => {
    const c = readCursorFile(stats.cursorFile);
    return c?.cursor !== undefined && c.cursor === c.written?.cursor;
  };
  expect(await waitFor(cursorOk, 3000)).toBe(true);
  expect(stats).toMatchObject({ state: 'reading', runs: 1, entriesWritten: readLines(logPath).length, paused: false });
}, 30_000);

withJournal('journal_fields replaces the default map (Scalyr\'s test_write_to_disk_extra); an id adds monitor_id', async () => {
  const jdir = path.join(dir, 'journal');
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'start' }]);
  const m = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', id: 'extra', journal_path: jdir, journal_poll_interval: 0.05, sample_interval: 0.05, journal_fields: { _TRANSPORT: 'transport', _COMM: 'comm' } }, dir);
  cleanup.push(() => m.stop());
  const logPath = path.join(dir, 'log', 'journald_monitor_extra.log');
  await untilFollowing(jdir, logPath);
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', _PID: '7733', _TRANSPORT: 'journal', MESSAGE: 'testing 1,2,3' }]);
  expect(await waitFor(() => readLines(logPath).some((l) => l.includes('testing 1,2,3')), 5000)).toBe(true);
  const line = readLines(logPath).find((l) => l.includes('testing 1,2,3'))!;
  expect(line.replace(LINE, '')).toBe('"testing 1,2,3" monitor_id="extra" transport="journal"');
}, 20_000);

withJournal('a missing journal dir is one error, counted on every retry, and reading starts when it appears', async () => {
  const jdir = path.join(dir, 'later');
  const m = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', id: 'later', journal_path: jdir, journal_poll_interval: 0.05, sample_interval: 0.05 }, dir);
  cleanup.push(() => m.stop());
  expect(await waitFor(() => m.src.counters.errors >= 3, 5000)).toBe(true);
  expect(m.errors()).toEqual([expect.stringContaining(`journal_path '${jdir}' does not exist or is not a directory (retrying with backoff`)]);
  expect(m.src.status().alive).toBe(true); // the runner's sample is running: the monitor retries by itself
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'first' }]);
  const logPath = path.join(dir, 'log', 'journald_monitor_later.log');
  await untilFollowing(jdir, logPath);
  expect(m.logger.records.some((r) => r.level === 'info' && /reading the journal again/.test(r.message))).toBe(true);
  expect(readLines(logPath).every((l) => l.endsWith('monitor_id="later" unit="a.service"'))).toBe(true);
  expect(m.errors()).toHaveLength(1);
}, 30_000);

withJournal('journalctl missing: one error, counted, retried with backoff; the runner never fails', async () => {
  const m = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', journal_path: dir, journalctl_path: path.join(dir, 'no-such-journalctl'), journal_poll_interval: 0.02, sample_interval: 0.05 }, dir);
  cleanup.push(() => m.stop());
  expect(await waitFor(() => m.src.counters.errors >= 4, 5000)).toBe(true);
  expect(m.errors()).toEqual([expect.stringMatching(/cannot run journalctl ".*no-such-journalctl": not found/)]);
  const runs = journaldMonitorStats(m.src.id)!.runs;
  await new Promise((r) => setTimeout(r, 300));
  // Backoff: the delays double (20, 40, 80, 160… ms), so a few more runs, not one per 20 ms.
  const more = journaldMonitorStats(m.src.id)!.runs - runs;
  expect(more).toBeGreaterThanOrEqual(1);
  expect(more).toBeLessThan(8);
}, 15_000);

withJournal('a journalctl that prints garbage and dies: lines dropped as invalid_entry, one warning and one error for the whole burst', async () => {
  const fake = path.join(dir, 'fake-journalctl');
  fs.writeFileSync(fake, '#!/bin/sh\necho "this is not json"\necho \'{"MESSAGE":"no cursor"}\'\necho \'[1,2,3]\'\necho "Failed: broken" >&2\nexit 3\n', { mode: 0o755 });
  const m = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', journal_path: dir, journalctl_path: fake, journal_poll_interval: 0.02, sample_interval: 0.05 }, dir);
  cleanup.push(() => m.stop());
  expect(await waitFor(() => (m.src.counters.dropped.invalid_entry ?? 0) >= 9, 5000)).toBe(true);
  expect(m.errors()).toEqual([expect.stringContaining('journalctl exited (code 3): Failed: broken')]);
  expect(m.logger.records.filter((r) => r.level === 'warn' && /not a JSON journal entry/.test(r.message))).toHaveLength(1);
  expect(readLines(path.join(dir, 'log', 'journald_monitor.log'))).toEqual([]);
}, 15_000);

withJournal('journalctl killed: restarted after the last entry written, nothing lost and nothing twice', async () => {
  const jdir = path.join(dir, 'journal');
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'before' }]);
  const m = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', journal_path: jdir, journal_poll_interval: 0.05, sample_interval: 0.05 }, dir);
  cleanup.push(() => m.stop());
  const logPath = path.join(dir, 'log', 'journald_monitor.log');
  await untilFollowing(jdir, logPath);
  appendJournal(jdir, [1, 2, 3].map((i) => ({ _SYSTEMD_UNIT: 'a.service', MESSAGE: `entry ${i}` })));
  expect(await waitFor(() => readLines(logPath).some((l) => l.includes('"entry 3"')), 5000)).toBe(true);
  const stats = journaldMonitorStats(m.src.id)!;
  process.kill(stats.pid!, 'SIGKILL');
  // Written while journalctl is down: read by the next one, after the cursor of "entry 3".
  appendJournal(jdir, [4, 5].map((i) => ({ _SYSTEMD_UNIT: 'a.service', MESSAGE: `entry ${i}` })));
  expect(await waitFor(() => stats.runs >= 2 && readLines(logPath).some((l) => l.includes('"entry 5"')), 8000)).toBe(true);
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'entry 6' }]);
  expect(await waitFor(() => readLines(logPath).some((l) => l.includes('"entry 6"')), 5000)).toBe(true);
  const entries = readLines(logPath).map((l) => /details "(entry \d)"/.exec(l)?.[1]).filter(Boolean);
  expect(entries).toEqual(['entry 1', 'entry 2', 'entry 3', 'entry 4', 'entry 5', 'entry 6']);
  expect(m.errors()).toEqual([expect.stringContaining('journalctl exited (signal SIGKILL)')]);
  expect(await waitFor(() => stats.state === 'reading', 3000)).toBe(true);
}, 30_000);

withJournal('resuming from a stored cursor: a stale one skips to the end (Scalyr\'s staleness_threshold_secs), a bad one is warned and skipped', async () => {
  const jdir = path.join(dir, 'journal');
  const old = String(BigInt(Date.now() - 3600_000) * 1000n);
  appendJournal(jdir, [
    { _SYSTEMD_UNIT: 'a.service', MESSAGE: 'old 1', __REALTIME_TIMESTAMP: old },
    { _SYSTEMD_UNIT: 'a.service', MESSAGE: 'old 2', __REALTIME_TIMESTAMP: String(BigInt(old) + 1000n) },
  ]);
  const { execFileSync } = await import('node:child_process');
  const first = JSON.parse(execFileSync('journalctl', ['-D', jdir, '-o', 'json', '--no-pager', '-n', 'all'], { encoding: 'utf8' }).split('\n')[0]) as { __CURSOR: string };
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'journald-stale.cursor'), JSON.stringify({ cursor: first.__CURSOR }));
  fs.writeFileSync(path.join(dir, 'data', 'journald-bad.cursor'), JSON.stringify({ cursor: 's=nonsense;i=1' }));
  const stale = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', id: 'stale', journal_path: jdir, journal_poll_interval: 0.05, sample_interval: 0.05 }, dir);
  cleanup.push(() => stale.stop());
  const bad = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', id: 'bad', journal_path: jdir, journal_poll_interval: 0.05, sample_interval: 0.05 }, dir);
  cleanup.push(() => bad.stop());
  fs.writeFileSync(path.join(dir, 'data', 'journald-fresh.cursor'), JSON.stringify({ cursor: first.__CURSOR }));
  const fresh = runMonitor(journaldMonitorComponent, { module: 'journald_monitor', id: 'fresh', journal_path: jdir, journal_poll_interval: 0.05, sample_interval: 0.05, staleness_threshold_secs: 7200 }, dir);
  cleanup.push(() => fresh.stop());
  await untilFollowing(jdir, path.join(dir, 'log', 'journald_monitor_stale.log'));
  await untilFollowing(jdir, path.join(dir, 'log', 'journald_monitor_bad.log'));
  expect(stale.logger.records.some((r) => r.level === 'warn' && r.message.includes('Checkpoint is older than 600 seconds, skipping to end'))).toBe(true);
  expect(bad.logger.records.some((r) => r.level === 'warn' && /Error loading checkpoint: .*cursor.*Skipping to end\./.test(r.message))).toBe(true);
  for (const id of ['stale', 'bad']) expect(readLines(path.join(dir, 'log', `journald_monitor_${id}.log`)).join('\n')).not.toContain('"old ');
  // Within the threshold: read from after the cursor ("old 1" was the checkpointed one).
  expect(await waitFor(() => readLines(path.join(dir, 'log', 'journald_monitor_fresh.log')).some((l) => l.includes('"old 2"')), 5000)).toBe(true);
  expect(readLines(path.join(dir, 'log', 'journald_monitor_fresh.log')).join('\n')).not.toContain('"old 1"');
}, 30_000);

// --- a real agent -----------------------------------------------------------------------------

const MODULE = 'scalyr_agent.builtin_monitors.journald_monitor';
const registry = () => createDefaultRegistry().add(journaldMonitorComponent);

function monitorEntry(jdir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { module: MODULE, journal_path: jdir, journal_matches: ['_SYSTEMD_UNIT=a.service'], journal_poll_interval: 0.05, sample_interval: 0.05, ...extra };
}

const agentTiming = { global_monitor_sample_interval_enable_jitter: false, max_new_log_detection_time: 0.2, line_completion_wait_time: 0.2 };

async function started(config: Record<string, unknown>, logger = memoryLogger()): Promise<Agent> {
  const agent = createAgent({ logger, registry: registry(), watchConfig: false, stopDeadlineMs: 3000, config } as never);
  cleanup.push(async () => void (await agent.stop()));
  await agent.start();
  return agent;
}

const count = (messages: string[], text: string) => messages.filter((m) => m.includes(`details "${text}"`)).length;

withJournal('a real agent ships the entries to its embedded sink with Scalyr\'s names; a restart resumes after the acknowledged cursor, without duplicates', async () => {
  const jdir = path.join(dir, 'journal');
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'before the agent' }]);
  const config = { ...isolatedAgent(dir), ...agentTiming, monitors: [monitorEntry(jdir)] };
  const logPath = path.join(dir, 'log', 'journald_monitor.log');
  const out = path.join(dir, 'data', 'events');
  let agent = await started(config);
  await untilFollowing(jdir, logPath);
  appendJournal(jdir, [
    { _SYSTEMD_UNIT: 'a.service', _PID: '42', MESSAGE: 'one' },
    { _SYSTEMD_UNIT: 'b.service', MESSAGE: 'filtered out' },
    { _SYSTEMD_UNIT: 'a.service', _PID: '43', MESSAGE: 'two' },
  ]);
  expect(await waitFor(() => readNdjson(out).some((r) => r.message.includes('details "two"')), 10_000)).toBe(true);
  const rec = readNdjson(out).find((r) => r.message.includes('details "one"'))!;
  expect(rec.message).toMatch(new RegExp(`${LINE.source}"one" boot_id="${UUID(BOOT_ID)}" pid="42" unit="a\\.service"\\n?$`));
  expect(rec.attrs.parser).toBe('journald');
  expect(rec.logfile).toBe(logPath);
  expect(agent.status().monitors.map((m) => m.key)).toEqual([expect.stringMatching(/^journald_monitor/)]);
  // Everything acknowledged: the stored cursor reaches the last written entry.
  const cursorFile = path.join(dir, 'data', 'journald-journald_monitor.cursor');
  expect(await waitFor(() => {
    const c = readCursorFile(cursorFile);
    return c?.cursor !== undefined && c.cursor === c.written?.cursor;
  }, 5000)).toBe(true);
  await agent.stop();

  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'while stopped' }]);
  agent = await started(config);
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'three' }]);
  expect(await waitFor(() => readNdjson(out).some((r) => r.message.includes('details "three"')), 10_000)).toBe(true);
  const messages = readNdjson(out).map((r) => r.message);
  for (const m of ['one', 'two', 'while stopped', 'three']) expect({ m, n: count(messages, m) }).toEqual({ m, n: 1 });
  expect(count(messages, 'filtered out') + count(messages, 'before the agent')).toBe(0);
  const markers = messages.filter((m) => m.includes('details "marker '));
  expect(new Set(markers).size).toBe(markers.length);
}, 40_000);

withJournal('the message log rotates at max_log_size keeping max_log_rotations, and every entry still arrives once', async () => {
  const jdir = path.join(dir, 'journal');
  appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'start' }]);
  const SIZE = 40 * 1024;
  const config = { ...isolatedAgent(dir), ...agentTiming, monitors: [monitorEntry(jdir, { max_log_size: SIZE, max_log_rotations: 2, max_unacknowledged_bytes: 64 * 1024 })] };
  const logPath = path.join(dir, 'log', 'journald_monitor.log');
  const out = path.join(dir, 'data', 'events');
  const agent = await started(config);
  await untilFollowing(jdir, logPath);
  const N = 400;
  const msg = (i: number) => `rotating ${i} ${'y'.repeat(500)}`;
  for (let k = 0; k < 4; k++) appendJournal(jdir, Array.from({ length: N / 4 }, (_, j) => ({ _SYSTEMD_UNIT: 'a.service', MESSAGE: msg(k * (N / 4) + j) })));
  expect(await waitFor(() => readNdjson(out).some((r) => r.message.includes(`details "${msg(N - 1)}"`)), 20_000)).toBe(true);
  const messages = readNdjson(out).map((r) => r.message);
  const wrong = Array.from({ length: N }, (_, i) => i).filter((i) => count(messages, msg(i)) !== 1);
  expect(wrong).toEqual([]);
  // ~220 KB written: rotated, two backups kept; a file grows past max_log_size only by what was unacknowledged when it was due (≤ budget + one read).
  expect(fs.existsSync(`${logPath}.1`) && fs.existsSync(`${logPath}.2`)).toBe(true);
  expect(fs.existsSync(`${logPath}.3`)).toBe(false);
  for (const f of [`${logPath}.1`, `${logPath}.2`]) expect(fs.statSync(f).size).toBeLessThanOrEqual(SIZE + 64 * 1024 + 256 * 1024);
  expect(journaldMonitorStats(agent.status().monitors[0].key)!.entriesWritten).toBeGreaterThanOrEqual(N);
}, 40_000);

describe('with an addEvents sink that is down, then up', () => {
  let ca: TestCa;
  beforeAll(() => {
    ca = makeTestCa();
  });
  afterAll(() => fs.rmSync(ca.dir, { recursive: true, force: true }));

  const KEY = 'journald-key-0123456789';
  async function server(): Promise<TestServer> {
    const s = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
    cleanup.push(() => s.close());
    return s;
  }
  /** Messages of the requests the server accepted. */
  const accepted = (s: TestServer): string[] =>
    s.requests.filter((r) => !r.fault || Object.keys(r.fault).length === 0).flatMap((r) => parseAddEventsBody(r.body).events.map((e) => String(e.message)));
  const down = (s: TestServer) => {
    for (let i = 0; i < 100_000; i++) s.faults.push({ status: 503, body: '{"status":"error/server/backoff","message":"busy"}' });
  };

  const BUDGET = 64 * 1024;
  const ENTRIES = 300;
  const big = (i: number) => `entry ${i} ${'x'.repeat(400)}`;

  withJournal('reading pauses at the backlog budget, the cursor stays at what was acknowledged, and after a restart every entry arrives exactly once', async () => {
    const s = await server();
    down(s);
    const jdir = path.join(dir, 'journal');
    appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'start' }]);
    const config = {
      ...isolatedAgent(dir),
      ...agentTiming,
      api_key: KEY,
      scalyr_server: s.url,
      ca_cert_path: ca.caPath,
      upload: { linger_ms: 20, retry_base_ms: 50, retry_max_ms: 200 },
      monitors: [monitorEntry(jdir, { max_unacknowledged_bytes: BUDGET })],
    };
    const logPath = path.join(dir, 'log', 'journald_monitor.log');
    const cursorFile = path.join(dir, 'data', 'journald-journald_monitor.cursor');
    let agent = await started(config);
    await untilFollowing(jdir, logPath);
    appendJournal(jdir, Array.from({ length: ENTRIES }, (_, i) => ({ _SYSTEMD_UNIT: 'a.service', MESSAGE: big(i) })));
    const name = agent.status().monitors[0].key;
    expect(await waitFor(() => journaldMonitorStats(name)?.paused === true, 10_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const stats = journaldMonitorStats(name)!;
    // Paused: far fewer than all entries written, the log bounded by the budget plus what one read brought.
    expect(stats.entriesWritten).toBeLessThan(ENTRIES);
    expect(fs.statSync(logPath).size).toBeLessThan(BUDGET + 256 * 1024);
    expect(s.requests.length).toBeGreaterThan(0);
    expect(accepted(s)).toEqual([]);
    await agent.stop();
    // Nothing was acknowledged: no acknowledged cursor; the written one is kept with the log's identity.
    const stored = readCursorFile(cursorFile)!;
    expect(stored.cursor).toBeUndefined();
    expect(stored.written).toMatchObject({ path: logPath, inode: fs.statSync(logPath).ino, size: fs.statSync(logPath).size });

    s.faults.length = 0;
    agent = await started(config);
    expect(await waitFor(() => count(accepted(s), big(ENTRIES - 1)) > 0, 20_000)).toBe(true);
    const messages = accepted(s);
    const missing: number[] = [];
    const twice: number[] = [];
    for (let i = 0; i < ENTRIES; i++) {
      const n = count(messages, big(i));
      if (n === 0) missing.push(i);
      if (n > 1) twice.push(i);
    }
    expect({ missing, twice }).toEqual({ missing: [], twice: [] });
    expect(await waitFor(() => {
      const c = readCursorFile(cursorFile);
      return c?.cursor !== undefined && c.cursor === c.written?.cursor;
    }, 5000)).toBe(true);
  }, 60_000);
  withJournal('the message log deleted while the agent was down: the entries after the acknowledged cursor are read again from the journal', async () => {
    const s = await server();
    const jdir = path.join(dir, 'journal');
    appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'start' }]);
    const config = {
      ...isolatedAgent(dir),
      ...agentTiming,
      api_key: KEY,
      scalyr_server: s.url,
      ca_cert_path: ca.caPath,
      upload: { linger_ms: 20, retry_base_ms: 50, retry_max_ms: 200 },
      monitors: [monitorEntry(jdir)],
    };
    const logPath = path.join(dir, 'log', 'journald_monitor.log');
    const cursorFile = path.join(dir, 'data', 'journald-journald_monitor.cursor');
    let agent = await started(config);
    await untilFollowing(jdir, logPath);
    appendJournal(jdir, [{ _SYSTEMD_UNIT: 'a.service', MESSAGE: 'acknowledged' }]);
    expect(await waitFor(() => count(accepted(s), 'acknowledged') === 1, 10_000)).toBe(true);
    expect(await waitFor(() => readCursorFile(cursorFile)?.cursor !== undefined && readCursorFile(cursorFile)?.cursor === readCursorFile(cursorFile)?.written?.cursor, 5000)).toBe(true);
    down(s);
    appendJournal(jdir, [1, 2, 3].map((i) => ({ _SYSTEMD_UNIT: 'a.service', MESSAGE: `unacknowledged ${i}` })));
    expect(await waitFor(() => readLines(logPath).some((l) => l.includes('"unacknowledged 3"')), 5000)).toBe(true);
    await agent.stop();
    const stored = readCursorFile(cursorFile)!;
    expect(stored.cursor).not.toBe(stored.written?.cursor);
    fs.rmSync(logPath);
    s.faults.length = 0;
    agent = await started(config);
    expect(await waitFor(() => [1, 2, 3].every((i) => count(accepted(s), `unacknowledged ${i}`) >= 1), 15_000)).toBe(true);
    expect(count(accepted(s), 'acknowledged')).toBe(1);
  }, 60_000);
});
