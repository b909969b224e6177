/**
 * `journald_monitor` (Scalyr's `scalyr_agent.builtin_monitors.journald_monitor`): reads the
 * systemd journal through the real `journalctl` and writes each entry as one line to its
 * message log (`<agent_log_path>/journald_monitor.log`, parser `journald`), which the agent
 * ships like any log file (declared through `logs`). See DESIGN.md for the promises and limits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../../lib/registry.js';
import { defineComponent, readDeclared, type LogBacklog, type MonitorLog, type OptionDecl, type OptionProblem } from '../../../lib/component.js';
import { scalyrOption as s, sluiceOption as sl } from '../../../lib/config/schema.js';
import { countDrop, countError, createCounters, errorMessage } from '../../../lib/counters.js';
import type { ComponentCounters } from '../../../lib/types.js';
import { MONITOR_ENTRY_OPTIONS } from '../monitorSource.js';
import { CursorTrail, readCursorFile, resumePoint, writeCursorFile, type StoredCursor } from './cursor.js';
import { formatEntry, realtimeMs, type JournalEntry } from './entry.js';
import { journalctlArgs, runJournalctl, type JournalctlRun } from './journalctl.js';
import { RotatingMessageLog } from './messageLog.js';

/** Scalyr's default `journal_fields`. */
export const DEFAULT_JOURNAL_FIELDS: Readonly<Record<string, string>> = {
  _SYSTEMD_UNIT: 'unit',
  _PID: 'pid',
  _MACHINE_ID: 'machine_id',
  _BOOT_ID: 'boot_id',
  _SOURCE_REALTIME_TIMESTAMP: 'timestamp',
};

/** The longest journalctl JSON line (one entry) read; a longer entry is skipped and counted (`entry_too_large`). */
export const MAX_ENTRY_BYTES = 4 * 1024 * 1024;
/** The longest wait between two restarts of journalctl. */
/** How long a journalctl must keep running, without writing an entry, to count as recovered. */
const HEALTHY_RUN_MS = 1000;
const MAX_RESTART_DELAY_MS = 60_000;

const AGENT_LOG_PATH = MONITOR_ENTRY_OPTIONS.find((o) => o.name === 'agent_log_path' && o.scope === 'global')!;
const AGENT_DATA_PATH = MONITOR_ENTRY_OPTIONS.find((o) => o.name === 'agent_data_path' && o.scope === 'global')!;

export const JOURNALD_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'journal_path', type: 'string', default: '/var/log/journal', description: 'Location on the filesystem of the journald logs: a directory of journal files (`journalctl -D`), or one journal file (`journalctl --file`); an empty string reads the local journal. sluice: while it does not exist the monitor reports it (once) and retries with backoff (Scalyr refuses to start the monitor).' }),
  s({ name: 'journal_poll_interval', type: 'float', default: 5, min: 0.01, description: 'Seconds between the monitor\'s checks of the journal reader. sluice follows the journal (`journalctl --follow`, entries arrive as they are written); every interval it stores the acknowledged cursor, pauses or resumes reading by the unacknowledged backlog, and it is the first delay before restarting a failed journalctl (doubling up to 60 s).' }),
  s({ name: 'journal_fields', type: 'stringMap', default: { ...DEFAULT_JOURNAL_FIELDS }, description: 'The journal fields to include with each message, and the attribute name each is written as (only fields an entry has are written). Default: `{"_SYSTEMD_UNIT": "unit", "_PID": "pid", "_MACHINE_ID": "machine_id", "_BOOT_ID": "boot_id", "_SOURCE_REALTIME_TIMESTAMP": "timestamp"}`.' }),
  s({ name: 'journal_matches', type: 'stringArray', default: [], description: 'Match strings `FIELD=value` filtering the entries (journalctl matches: the same field several times is an OR, different fields an AND), e.g. `["_SYSTEMD_UNIT=ssh.service"]`. Empty: no filtering.' }),
  s({ name: 'staleness_threshold_secs', type: 'int', default: 600, min: 0, description: 'When resuming from a stored cursor, if the first entry after it is older than this many seconds, skip to the end of the journal (warned).' }),
  s({ name: 'max_log_rotations', type: 'int', default: 2, min: 0, description: 'How many rotated message logs (`journald_monitor.log.1`…) to keep. 0: the message log is never rotated.' }),
  s({ name: 'max_log_size', type: 'int', default: 20 * 1024 * 1024, min: 0, description: 'Size in bytes at which the message log is rotated. 0: never rotated. sluice: rotation waits until the sink has acknowledged every line written (see `max_unacknowledged_bytes`).' }),
  sl({ name: 'max_unacknowledged_bytes', type: 'int', default: 4 * 1024 * 1024, min: 64 * 1024, description: 'Budget of message-log bytes not yet acknowledged by the sink: while the backlog is over it the monitor stops reading journalctl (the journal is the buffer). The message log rotates only when everything written is acknowledged, so rotation never deletes unshipped lines; a log can exceed `max_log_size` by about this budget.' }),
  sl({ name: 'journalctl_path', type: 'string', default: 'journalctl', description: 'The journalctl binary (a name looked up on PATH, or a path).' }),
  { ...AGENT_LOG_PATH },
  { ...AGENT_DATA_PATH },
];

const MATCH = /^([^=]+)=(.+)$/;

export function checkJournaldMonitor(own: Readonly<Record<string, unknown>>): OptionProblem[] {
  const c = readDeclared(JOURNALD_MONITOR_OPTIONS, own);
  const problems: OptionProblem[] = [];
  const matches = c.journal_matches;
  if (!Array.isArray(matches)) problems.push({ key: 'journal_matches', message: 'must be a list of "FIELD=value" strings' });
  else
    matches.forEach((m, i) => {
      if (typeof m !== 'string' || !MATCH.test(m)) problems.push({ key: `journal_matches[${i}]`, message: `journal matchers expects the following format for each element: FIELD=value.  Found: ${String(m)}` });
    });
  const fields = c.journal_fields;
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) problems.push({ key: 'journal_fields', message: 'must be an object of journal field → attribute name' });
  return problems;
}

function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/** The message log of a journald_monitor entry (Scalyr: `<agent_log_path>/journald_monitor.log`; sluice: one file per `id`). */
export function journaldMessageLog(own: Readonly<Record<string, unknown>>, agent: Readonly<Record<string, unknown>>): string {
  const g = readDeclared(JOURNALD_MONITOR_OPTIONS, agent, 'global');
  const id = own.id === undefined || own.id === null ? '' : String(own.id);
  return path.join(String(g.agent_log_path), id ? `journald_monitor_${fileSafe(id)}.log` : 'journald_monitor.log');
}

/** What a running journald monitor did (by monitor name, `journald_monitor(id)`), for status and specs. */
export interface JournaldStats {
  messageLog: string;
  cursorFile: string;
  state: string;
  entriesWritten: number;
  bytesWritten: number;
  /** journalctl runs started. */
  runs: number;
  /** The running journalctl's pid. */
  pid?: number;
  /** Whether reading is paused (backlog over budget). */
  paused: boolean;
  pauses: number;
  storedCursor?: string;
  lastError?: string;
  counters: ComponentCounters;
}

const live = new Map<string, JournaldStats>();
export function journaldMonitorStats(name: string): JournaldStats | undefined {
  return live.get(name);
}

type Fault = 'no_journal' | 'no_journalctl' | 'exited' | 'write_failed';

export function journaldMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<never> {
  const problems = checkJournaldMonitor(config);
  if (problems.length > 0) throw new Error(`journald_monitor: ${problems.map((p) => `"${p.key}" ${p.message}`).join('; ')}`);
  const c = readDeclared(JOURNALD_MONITOR_OPTIONS, config);
  const g = readDeclared(JOURNALD_MONITOR_OPTIONS, ctx.agent, 'global');
  const id = config.id === undefined || config.id === null ? '' : String(config.id);
  const journalPath = String(c.journal_path ?? '');
  const pollMs = Math.max(10, Number(c.journal_poll_interval) * 1000);
  const fields = { ...(c.journal_fields as Record<string, string>) };
  const matches = (c.journal_matches as unknown[]).map(String);
  const stalenessMs = Number(c.staleness_threshold_secs) * 1000;
  const maxLogSize = Number(c.max_log_size);
  const rotations = Number(c.max_log_rotations);
  const budget = Number(c.max_unacknowledged_bytes);
  const bin = String(c.journalctl_path);
  const logPath = journaldMessageLog(config, ctx.agent);
  const dataPath = String(g.agent_data_path ?? ctx.dataPath);
  const cursorFile = path.join(dataPath, `journald-${id ? fileSafe(id) : 'journald_monitor'}.cursor`);
  const counters = ctx.counters ?? createCounters();
  const backlogOf = typeof ctx.services?.logBacklog === 'function' ? (ctx.services.logBacklog as LogBacklog) : undefined;
  const name = ctx.id;
  const logger = ctx.logger;

  return new Observable<never>(() => {
    const stats: JournaldStats = { messageLog: logPath, cursorFile, state: 'starting', entriesWritten: 0, bytesWritten: 0, runs: 0, paused: false, pauses: 0, counters };
    live.set(name, stats);
    const writer = new RotatingMessageLog(logPath, maxLogSize, rotations);
    const trail = new CursorTrail();
    let stopped = false;
    let run: JournalctlRun | undefined;
    let runStartedAt = 0;
    let restartTimer: NodeJS.Timeout | undefined;
    let failures = 0;
    let fault: Fault | undefined;
    let garbageBurst = false;
    let empty = false;
    let storeFailed = false;
    // Where the next journalctl starts: after the stored cursor, then after the last entry written.
    const stored: StoredCursor = readCursorFile(cursorFile) ?? {};
    const point = resumePoint(stored, logPath);
    let resumeCursor = point.cursor;
    let checkStale = resumeCursor !== undefined;
    stats.storedCursor = stored.cursor;
    // Resuming after the written entries: the last of them is acknowledged once the old bytes of the log are.
    if (point.from === 'written' && point.cursor !== undefined) trail.push(0, point.cursor);
    if (point.from === 'written') logger.info(`monitor ${name}: ${logPath} still holds the entries written before: resuming the journal after the last one (${cursorFile})`, { monitor: name });
    else if (point.from === 'acknowledged') logger.info(`monitor ${name}: resuming the journal after the last entry the sink acknowledged (${cursorFile})`, { monitor: name });

    const failed = (kind: Fault, message: string) => {
      countError(counters, message);
      stats.lastError = message;
      stats.state = kind;
      if (fault !== kind) {
        logger.error(`monitor ${name}: ${message} (retrying with backoff; repeats of this are not logged)`, { monitor: name });
        fault = kind;
      } else logger.debug(`monitor ${name}: ${message} (again)`, { monitor: name });
    };

    const recovered = () => {
      if (fault !== undefined) logger.info(`monitor ${name}: reading the journal again (after ${failures} failure(s))`, { monitor: name });
      fault = undefined;
      failures = 0;
      stats.state = 'reading';
    };

    const schedule = (delayMs?: number) => {
      if (stopped || restartTimer) return;
      failures++;
      const d = delayMs ?? Math.min(pollMs * 2 ** Math.min(failures - 1, 16), Math.max(MAX_RESTART_DELAY_MS, pollMs));
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        start();
      }, d);
    };

    const unacked = (): number => (backlogOf ? backlogOf(logPath) : 0);

    const checkBacklog = () => {
      if (!run || !backlogOf) return;
      const b = unacked();
      if (b > budget && !run.paused) {
        run.pause();
        stats.paused = true;
        stats.pauses++;
        logger.info(`monitor ${name}: ${b} bytes of ${logPath} not yet acknowledged (over max_unacknowledged_bytes ${budget}): reading the journal paused`, { monitor: name });
      } else if (b <= budget && run.paused) {
        run.resume();
        stats.paused = false;
        logger.info(`monitor ${name}: backlog ${b} bytes: reading the journal again`, { monitor: name });
      }
    };

    const storeCursor = () => {
      const acked = trail.take(writer.written - unacked());
      const next: StoredCursor = { ...stored };
      if (acked !== undefined) next.cursor = acked;
      try {
        if (resumeCursor !== undefined && resumeCursor !== stored.written?.cursor && writer.written > 0) {
          const st = writer.sync();
          if (st) next.written = { cursor: resumeCursor, path: logPath, ...st };
        }
        if (next.cursor === stored.cursor && next.written === stored.written) return;
        writeCursorFile(cursorFile, next);
        stored.cursor = next.cursor;
        stored.written = next.written;
        stats.storedCursor = stored.cursor;
        storeFailed = false;
      } catch (err) {
        const message = `cannot store the journal cursor in ${cursorFile}: ${errorMessage(err)}`;
        countError(counters, message);
        stats.lastError = message;
        if (!storeFailed) logger.error(`monitor ${name}: ${message}`, { monitor: name });
        storeFailed = true;
      }
    };

    const onLines = (current: JournalctlRun, lines: string[]) => {
      if (stopped || run !== current) return;
      // The component contract: entries in (received), lines written to the message log (sent), the rest dropped by reason.
      counters.receivedEvents += lines.length;
      for (const line of lines) counters.receivedBytes += Buffer.byteLength(line);
      const parts: string[] = [];
      let last: string | undefined;
      let bad = 0;
      const now = Date.now();
      for (const line of lines) {
        let entry: JournalEntry;
        try {
          const v = JSON.parse(line) as unknown;
          if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof (v as JournalEntry).__CURSOR !== 'string') throw new Error('not a journal entry (no __CURSOR)');
          entry = v as JournalEntry;
        } catch (err) {
          bad++;
          countDrop(counters, 'invalid_entry');
          countError(counters, `journalctl printed a line that is not a journal entry: ${errorMessage(err)}`);
          if (!garbageBurst) logger.warn(`monitor ${name}: journalctl printed a line that is not a JSON journal entry (${errorMessage(err)}: ${JSON.stringify(line.slice(0, 80))}); skipped (further ones of this burst are not logged)`, { monitor: name });
          garbageBurst = true;
          continue;
        }
        if (checkStale) {
          checkStale = false;
          const t = realtimeMs(entry);
          if (t !== undefined && now - t >= stalenessMs) {
            logger.warn(`monitor ${name}: Checkpoint is older than ${stalenessMs / 1000} seconds, skipping to end`, { monitor: name });
            // This batch is not written: journalctl starts again at the end.
            countDrop(counters, 'stale_cursor', lines.length - bad);
            resumeCursor = undefined;
            run = undefined;
            current.kill();
            start();
            return;
          }
        }
        parts.push(formatEntry(now, entry, fields, id));
        last = entry.__CURSOR as string;
      }
      if (bad === 0) garbageBurst = false;
      if (parts.length === 0 || last === undefined) return;
      const buf = Buffer.from(parts.join(''), 'utf8');
      try {
        // Rotate only when every line written so far is acknowledged: rotation never renames or deletes unshipped lines.
        const end = writer.append(buf, !backlogOf || unacked() === 0);
        trail.push(end, last);
        resumeCursor = last;
        stats.entriesWritten += parts.length;
        stats.bytesWritten += buf.length;
        counters.sentEvents += parts.length;
        counters.sentBytes += buf.length;
        if (fault !== undefined) recovered();
        empty = false;
      } catch (err) {
        // Not written: journalctl restarts after the last entry that was.
        countDrop(counters, 'write_failed', parts.length);
        run = undefined;
        current.kill();
        failed('write_failed', `cannot write ${logPath}: ${errorMessage(err)}`);
        schedule();
        return;
      }
      checkBacklog();
    };

    function start(): void {
      if (stopped) return;
      const journal: { dir?: string; file?: string } = {};
      if (journalPath !== '') {
        let st: fs.Stats;
        try {
          st = fs.statSync(journalPath);
        } catch {
          failed('no_journal', `journal_path '${journalPath}' does not exist or is not a directory`);
          schedule();
          return;
        }
        if (st.isDirectory()) journal.dir = journalPath;
        else journal.file = journalPath;
      }
      const args = journalctlArgs({ journal, matches, afterCursor: resumeCursor });
      const fromCursor = resumeCursor;
      stats.runs++;
      runStartedAt = Date.now();
      stats.state = fault ?? 'reading';
      const current: JournalctlRun = runJournalctl(bin, args, MAX_ENTRY_BYTES, {
        lines: (lines) => onLines(current, lines),
        oversized: (bytes) => {
          countDrop(counters, 'entry_too_large');
          logger.warn(`monitor ${name}: skipped a journal entry of ${bytes} bytes (over ${MAX_ENTRY_BYTES})`, { monitor: name });
        },
        exit: (info) => {
          if (stopped || run !== current) return;
          run = undefined;
          stats.paused = false;
          if (info.spawnError) {
            const why = info.spawnError.code === 'ENOENT' ? 'not found (install systemd\'s journalctl, or set journalctl_path)' : errorMessage(info.spawnError);
            failed('no_journalctl', `cannot run journalctl "${bin}": ${why}`);
          } else if (fromCursor !== undefined && /cursor/i.test(info.stderr)) {
            const message = `Error loading checkpoint: ${info.stderr}. Skipping to end.`;
            countError(counters, message);
            stats.lastError = message;
            logger.warn(`monitor ${name}: ${message}`, { monitor: name });
            resumeCursor = undefined;
            checkStale = false;
            schedule(0);
            return;
          } else if (info.code !== 0 && /No such boot ID in journal|No journal files were found/i.test(info.stderr)) {
            // journalctl --follow ends at once on a journal without entries: nothing to read yet, not a fault.
            if (!empty) logger.warn(`monitor ${name}: the journal at ${journalPath || 'the default location'} has no entries yet (journalctl: ${info.stderr}); looking again every few seconds`, { monitor: name });
            empty = true;
            stats.state = 'empty';
            failures = 0;
            schedule(Math.min(MAX_RESTART_DELAY_MS, pollMs * 4));
            return;
          } else {
            failed('exited', `journalctl exited (${info.signal ? `signal ${info.signal}` : `code ${info.code}`})${info.stderr ? `: ${info.stderr}` : ''}`);
          }
          schedule();
        },
      });
      run = current;
      stats.pid = current.child.pid;
    }

    const tick = setInterval(() => {
      if (stopped) return;
      checkBacklog();
      storeCursor();
      // A journalctl that has kept running for a second (or a poll interval, if longer) is healthy
      // again; one that starts and dies each time may take longer than a short interval to die.
      if (run && fault !== undefined && Date.now() - runStartedAt >= Math.max(pollMs, HEALTHY_RUN_MS)) recovered();
    }, pollMs);

    start();

    return () => {
      stopped = true;
      clearInterval(tick);
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = undefined;
      try {
        storeCursor();
      } catch {
        // counted inside
      }
      run?.kill();
      run = undefined;
      writer.close();
      stats.state = 'stopped';
      if (live.get(name) === stats) live.delete(name);
    };
  });
}

export const journaldMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'journald_monitor',
  aliases: ['scalyr_agent.builtin_monitors.journald_monitor'],
  longLived: true,
  doc: 'Reads the systemd journal (the real `journalctl`, following `journal_path`, filtered by `journal_matches`) and writes each entry as Scalyr does, `details "<MESSAGE>"` plus the `journal_fields` as attributes, to its message log `<agent_log_path>/journald_monitor.log` (parser `journald`), shipped like any log file. The journal cursor is stored only once the sink has acknowledged the entry\'s line, and reading pauses while more than `max_unacknowledged_bytes` are unacknowledged.',
  options: JOURNALD_MONITOR_OPTIONS,
  check: checkJournaldMonitor,
  example: { module: 'journald_monitor', journal_path: '/var/log/journal', journal_matches: ['_SYSTEMD_UNIT=ssh.service'] },
  logs(own, agent): MonitorLog[] {
    return [{ path: journaldMessageLog(own, agent), attributes: { parser: 'journald' }, copy_from_start: true }];
  },
  create: journaldMonitor,
});
