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
import { appendJournal, journalMissing, BOOT_ID, MACHINE_ID } from '../testkit/journalFiles.js';
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

test('declares Scalyr\'s options and defaults; the check refuses malformed matches and a budget rotation could outrun', () => {
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
  expect(journaldMonitorComponent.check!({ max_log_size: 100_000, max_log_rotations: 1, max_unacknowledged_bytes: 200_000 }).map((p) => p.key)).toEqual(['max_unacknowledged_bytes']);
  expect(journaldMonitorComponent.logs!({ module: 'journald_monitor' }, { agent_log_path: '/l' })).toEqual([{ path: '/l/journald_monitor.log', attributes: { parser: 'journald' } }]);
  expect(localDatetime('1441459024944355')).toMatch(/^2015-09-0[56] \d\d:\d\d:04\.944355$/);
  expect(localDatetime('1441459024000000')).toMatch(/^2015-09-0[56] \d\d:\d\d:04$/);
});

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
