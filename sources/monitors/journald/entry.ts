/**
 * One journal entry as `journalctl -o json --all` prints it, turned into Scalyr's line.
 *
 * journalctl's JSON: every value is a string; a value that is not valid UTF-8 (or has control
 * characters) is an array of byte numbers; a field with several values is an array of those.
 * Scalyr reads entries through python-systemd, whose converters turn `_BOOT_ID`, `_MACHINE_ID`
 * and `MESSAGE_ID` into UUIDs (printed with dashes), the `*_TIMESTAMP` realtime fields into local
 * `datetime`s (printed `YYYY-MM-DD HH:MM:SS.ffffff`) and the numeric fields into ints; the
 * attribute is `str()` of that. `valueOf` does the same for those fields.
 *
 * The line (Scalyr's `JournaldMonitor.format_msg` with `JournaldLogFormatter`):
 *
 * ```
 * 2026-12-03 16:00:00.123Z [journald_monitor()] details "the message" boot_id="…" pid="42" unit="a.service"
 * ```
 *
 * the time of writing (UTC, milliseconds), `details` and the JSON-encoded MESSAGE, then
 * ` name=<JSON string>` for each configured journal field the entry has, sorted by name, and
 * `monitor_id` when the monitor has an `id`. JSON encoding keeps the line one line.
 */
import { formatMetricTime } from '../metricLine.js';

export type JournalValue = string | number[] | (string | number[])[] | null;
export type JournalEntry = Record<string, JournalValue>;

const UUID_FIELDS = new Set(['MESSAGE_ID', '_MACHINE_ID', '_BOOT_ID']);
const TIME_FIELDS = new Set(['__REALTIME_TIMESTAMP', '_SOURCE_REALTIME_TIMESTAMP', 'COREDUMP_TIMESTAMP']);
const INT_FIELDS = new Set([
  'PRIORITY', 'LEADER', 'SESSION_ID', 'USERSPACE_USEC', 'INITRD_USEC', 'KERNEL_USEC', '_UID', '_GID', '_PID',
  'SYSLOG_FACILITY', 'SYSLOG_PID', '_AUDIT_SESSION', '_AUDIT_LOGINUID', '_SYSTEMD_SESSION', '_SYSTEMD_OWNER_UID',
  'CODE_LINE', 'ERRNO', 'EXIT_STATUS', 'COREDUMP_PID', 'COREDUMP_UID', 'COREDUMP_GID', 'COREDUMP_SESSION', 'COREDUMP_SIGNAL',
]);

const utf8 = new TextDecoder('utf-8', { fatal: false });

function bytesToString(v: number[]): string {
  return utf8.decode(Uint8Array.from(v, (b) => b & 0xff));
}

/** One raw value as text (a byte array decoded as UTF-8, invalid bytes replaced). */
function text(v: string | number[]): string {
  return typeof v === 'string' ? v : bytesToString(v);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Python's `str(datetime.fromtimestamp(us / 1e6))`: local time, microseconds only when not 0. */
export function localDatetime(usText: string): string | undefined {
  if (!/^\d+$/.test(usText)) return undefined;
  const us = BigInt(usText);
  const ms = Number(us / 1000n);
  const frac = Number(us % 1_000_000n);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return undefined;
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return frac === 0 ? base : `${base}.${pad(frac, 6)}`;
}

function convert(field: string, raw: string): string {
  if (UUID_FIELDS.has(field) && /^[0-9a-f]{32}$/i.test(raw)) {
    const h = raw.toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (TIME_FIELDS.has(field)) return localDatetime(raw) ?? raw;
  if (INT_FIELDS.has(field) && /^-?\d+$/.test(raw)) return BigInt(raw).toString();
  return raw;
}

/** The attribute value of a journal field, as Scalyr's `str(entry[field])` prints it. */
export function valueOf(field: string, v: JournalValue): string | undefined {
  if (v === null || v === undefined) return undefined;
  // Several values: a list of strings (a list of byte arrays is several values; a list of numbers one binary value).
  if (Array.isArray(v) && v.length > 0 && typeof v[0] !== 'number') {
    const parts = (v as (string | number[])[]).map((x) => `'${convert(field, text(x)).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
    return `[${parts.join(', ')}]`;
  }
  return convert(field, text(v as string | number[]));
}

/** The MESSAGE: its text (several values: joined by newlines); '' when it has none. */
export function messageOf(v: JournalValue | undefined): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v) && v.length > 0 && typeof v[0] !== 'number') return (v as (string | number[])[]).map(text).join('\n');
  return text(v as string | number[]);
}

/** Scalyr's line for one entry (with its newline). `fields`: journal field → attribute name. */
export function formatEntry(now: number, entry: JournalEntry, fields: Readonly<Record<string, string>>, monitorId: string): string {
  const attrs: Record<string, string> = {};
  for (const [field, name] of Object.entries(fields)) {
    if (!Object.prototype.hasOwnProperty.call(entry, field)) continue;
    const v = valueOf(field, entry[field]);
    if (v !== undefined) attrs[name] = v;
  }
  if (monitorId && !Object.prototype.hasOwnProperty.call(attrs, 'monitor_id')) attrs.monitor_id = monitorId;
  let line = `${formatMetricTime(now)} [journald_monitor()] details ${JSON.stringify(messageOf(entry.MESSAGE))}`;
  for (const name of Object.keys(attrs).sort()) line += ` ${name}=${JSON.stringify(attrs[name])}`;
  return line + '\n';
}

/** The entry's realtime timestamp in ms since the epoch, if it has one. */
export function realtimeMs(entry: JournalEntry): number | undefined {
  const v = entry.__REALTIME_TIMESTAMP;
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(BigInt(v) / 1000n) : undefined;
}
