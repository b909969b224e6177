/**
 * `mysql_monitor` (Scalyr's `scalyr_agent.builtin_monitors.mysql_monitor`): at each sample it
 * asks a MySQL or MariaDB server (TCP `database_hostport`, or the Unix socket `database_socket`)
 * with the pure-JS `mysql2` driver for what Scalyr's monitor reports, in Scalyr's order and with
 * Scalyr's names:
 *
 * - `SHOW GLOBAL VARIABLES`: `mysql.vars.max_connections`, `mysql.vars.open_files_limit`;
 * - `SHOW GLOBAL STATUS` (servers >= 5.1): every row as `mysql.global.<name, lower case>`,
 *   except the `com_*` counters other than `com_select`, `com_update`, `com_delete`,
 *   `com_replace` and `com_insert`;
 * - `SHOW ENGINE INNODB STATUS` (when the status has `innodb*` rows): the lines Scalyr matches,
 *   as `mysql.innodb.oswait_array.reservation_count` / `.signal_count`,
 *   `mysql.innodb.locks.spin_waits` / `.rounds` / `.os_waits`, `mysql.innodb.ibuf.size` /
 *   `.free_list_len` / `.seg_size` / `.inserts` / `.merged_recs` / `.merges`,
 *   `mysql.innodb.queries_queued`, `mysql.innodb.opened_read_views`,
 *   `mysql.innodb.history_list_length` (a server that prints a line differently, e.g. MariaDB
 *   10.2+ without "Mutex spin waits", simply has no such metric, as with Scalyr);
 * - `SHOW SLAVE STATUS` (`collect_replica_metrics`, on a replica): `mysql.slave.seconds_behind_master`
 *   (when not NULL), `mysql.slave.bytes_executed`, `mysql.slave.bytes_relayed`,
 *   `mysql.slave.thread_io_running`, `mysql.slave.thread_sql_running` (1/0). sluice addition: a
 *   server without `SHOW SLAVE STATUS` (MySQL 8.4) is asked `SHOW REPLICA STATUS`;
 * - `SHOW PROCESSLIST`: threads per command as `mysql.process.<command, lower case, spaces as _>`
 *   (`mysql.process.query`, `mysql.process.sleep`, `mysql.process.daemon`…);
 * - derived: `mysql.derived.slow_query_percentage`, `connections_used_percentage`,
 *   `aborted_connections_percentage`, `aborted_clients_percentage`, `read_percentage`,
 *   `write_percentage`, `query_cache_efficiency`, `joins_without_indexes`,
 *   `table_cache_hit_rate`, `open_file_percentage`, `immediate_table_lock_percentage`,
 *   `thread_cache_hit_rate` (Scalyr's formula: `100 - threads_created / connections`),
 *   `tmp_disk_table_percentage`, all floats but `joins_without_indexes`.
 *
 * Values are read as Scalyr does: a value with a `.` is a float (printed with a decimal point),
 * an integer otherwise, else a string (`mysql.global.rpl_status "AUTH_MASTER"`). Like Scalyr's
 * output (its `extra fields` key is never read), the lines carry no extra fields: the InnoDB
 * lock lines of the mutex / rw-shared / rw-exclusive kinds share their names.
 *
 * The connection is kept open between samples as Scalyr does (the monitor's own thread shows in
 * `mysql.process.*`, `mysql.global.connections` does not grow per sample), re-made once within a
 * sample when the server dropped it, and closed when no sample used it for two intervals (a
 * stopped or reloaded monitor leaves nothing open for long).
 *
 * Faults (server down, slow, wrong password, a peer that does not speak the MySQL protocol, a
 * bad socket path) fail the sample: the monitor source counts each, logs the first of a burst
 * (and here each change of fault within a burst), retries with backoff, and logs the recovery.
 * A server restart is warned once (uptime went down). A query refused for lack of a privilege
 * (`SHOW SLAVE STATUS` without REPLICATION CLIENT / SLAVE MONITOR, `SHOW ENGINE INNODB STATUS`
 * without PROCESS) fails only its part: the other metrics are written, the error is counted
 * (`errors`) each sample and warned once per change, naming the grant or the option that avoids it.
 * sluice addition: `timeout` bounds each sample (connect and queries).
 */
import fs from 'node:fs';
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, readDeclared, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { countDrop, countError, errorMessage } from '../../lib/counters.js';
import type { ScalyrMonitorSample } from './metricLine.js';

export const MYSQL_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'database_socket', type: 'string', description: 'Location of the socket file, e.g. `/var/run/mysqld_instance2/mysqld.sock`, or `default`: the first socket of `/tmp/mysql.sock`, `/var/lib/mysql/mysql.sock`, `/var/run/mysqld/mysqld.sock`. Set `database_socket` or `database_hostport`, not both.' }),
  s({ name: 'database_hostport', type: 'string', description: 'Host name (or IP address) and port of the MySQL server, e.g. `dbserver:3306`; a host alone means port 3306, `default` means `localhost:3306`, and a number alone (`3306`) a port on the local machine. Set `database_socket` or `database_hostport`, not both.' }),
  s({ name: 'database_username', type: 'string', required: true, description: 'Username to connect to MySQL (needs the PROCESS grant, and REPLICATION CLIENT / SLAVE MONITOR for the replica metrics).' }),
  s({ name: 'database_password', type: 'string', required: true, description: 'Password to connect to MySQL (use `import_vars` and `$NAME` to take it from the environment).' }),
  s({ name: 'use_ssl', type: 'bool', default: false, description: 'Connect with TLS. Without `ca_file` the server certificate is not verified (warned once).' }),
  s({ name: 'ca_file', type: 'string', description: 'CA certificate file (PEM) to verify the server certificate (and its host name) with; none by default (no verification).' }),
  s({ name: 'key_file', type: 'string', description: 'Client private key file (PEM) for the TLS connection; none by default.' }),
  s({ name: 'cert_file', type: 'string', description: 'Client certificate file (PEM) for the TLS connection; none by default.' }),
  s({ name: 'collect_replica_metrics', type: 'bool', default: true, description: 'Ask `SHOW SLAVE STATUS` for the `mysql.slave.*` metrics of a replica. `false`: not asked, and the user needs only the PROCESS grant.' }),
  own({ name: 'timeout', type: 'float', min: 0.001, defaultText: 'min(`sample_interval`, 30)', description: 'Seconds one sample (connect and queries) may take; a slower server fails the sample (counted, logged once per fault).' }),
];

const DEFAULT_SOCKETS = ['/tmp/mysql.sock', '/var/lib/mysql/mysql.sock', '/var/run/mysqld/mysqld.sock'];
const COMS_TO_REPORT = new Set(['com_select', 'com_update', 'com_delete', 'com_replace', 'com_insert']);

/**
 * The cumulative counters among the metrics (running totals since the server started or since
 * `FLUSH STATUS`; a drop is a reset): the `SHOW GLOBAL STATUS` variables the MySQL reference
 * manual and the MariaDB knowledge base ("Server Status Variables") describe as "the number of …"
 * events or time spent (bytes, statements, connections, handler calls, rows, reads, writes,
 * waits, temporary tables, sorts, cache hits…; some exist in one of the two servers only);
 * `SHOW ENGINE INNODB STATUS`'s OS-wait reservation/signal counts and insert-buffer inserts,
 * merged records and merges; and `joins_without_indexes` (a sum of two counters). Everything else
 * is a gauge: current values (`threads_connected`, `open_tables`, buffer pool pages…), high-water
 * marks (`max_used_connections`), `uptime`, replica positions, the process list, the derived
 * percentages, and `mysql.innodb.locks.*`, whose mutex and rw-lock lines share one name (Scalyr's
 * names), so no single series of them is one counter.
 */
export const MYSQL_COUNTERS: readonly string[] = [
  ...[
    'aborted_clients',
    'aborted_connects',
    'aborted_connects_preauth',
    'access_denied_errors',
    'binlog_bytes_written',
    'binlog_cache_disk_use',
    'binlog_cache_use',
    'binlog_commits',
    'binlog_group_commits',
    'binlog_stmt_cache_disk_use',
    'binlog_stmt_cache_use',
    'bytes_received',
    'bytes_sent',
    'com_*',
    'connection_errors_*',
    'connections',
    'created_tmp_disk_tables',
    'created_tmp_files',
    'created_tmp_tables',
    'delete_scan',
    'empty_queries',
    'executed_events',
    'executed_triggers',
    'feature_*',
    'handler_*',
    'innodb_buffer_pool_pages_flushed',
    'innodb_buffer_pool_read_ahead',
    'innodb_buffer_pool_read_ahead_evicted',
    'innodb_buffer_pool_read_ahead_rnd',
    'innodb_buffer_pool_read_requests',
    'innodb_buffer_pool_reads',
    'innodb_buffer_pool_wait_free',
    'innodb_buffer_pool_write_requests',
    'innodb_data_fsyncs',
    'innodb_data_read',
    'innodb_data_reads',
    'innodb_data_writes',
    'innodb_data_written',
    'innodb_dblwr_pages_written',
    'innodb_dblwr_writes',
    'innodb_deadlocks',
    'innodb_ibuf_discarded_*',
    'innodb_ibuf_merged_*',
    'innodb_ibuf_merges',
    'innodb_log_waits',
    'innodb_log_write_requests',
    'innodb_log_writes',
    'innodb_os_log_fsyncs',
    'innodb_os_log_written',
    'innodb_pages_created',
    'innodb_pages_read',
    'innodb_pages_written',
    'innodb_row_lock_time',
    'innodb_row_lock_waits',
    'innodb_rows_deleted',
    'innodb_rows_inserted',
    'innodb_rows_read',
    'innodb_rows_updated',
    'key_read_requests',
    'key_reads',
    'key_write_requests',
    'key_writes',
    'max_statement_time_exceeded',
    'opened_files',
    'opened_table_definitions',
    'opened_tables',
    'qcache_hits',
    'qcache_inserts',
    'qcache_lowmem_prunes',
    'qcache_not_cached',
    'queries',
    'questions',
    'rows_read',
    'rows_sent',
    'rows_tmp_read',
    'select_full_join',
    'select_full_range_join',
    'select_range',
    'select_range_check',
    'select_scan',
    'slow_launch_threads',
    'slow_queries',
    'sort_merge_passes',
    'sort_priority_queue_sorts',
    'sort_range',
    'sort_rows',
    'sort_scan',
    'ssl_accepts',
    'ssl_finished_accepts',
    'subquery_cache_hit',
    'subquery_cache_miss',
    'syncs',
    'table_locks_immediate',
    'table_locks_waited',
    'table_open_cache_hits',
    'table_open_cache_misses',
    'table_open_cache_overflows',
    'threads_created',
    'update_scan',
  ].map((n) => `mysql.global.${n}`),
  'mysql.innodb.oswait_array.reservation_count',
  'mysql.innodb.oswait_array.signal_count',
  'mysql.innodb.ibuf.inserts',
  'mysql.innodb.ibuf.merged_recs',
  'mysql.innodb.ibuf.merges',
  'mysql.derived.joins_without_indexes',
];

export type MysqlTarget = { kind: 'socket'; path?: string } | { kind: 'tcp'; host: string; port: number };

const present = (v: unknown) => v !== undefined && v !== null;

/** Scalyr's reading of `database_hostport`, or why it is wrong. */
export function parseHostport(raw: unknown): { host: string; port: number } | string {
  const v = String(raw);
  if (v.length === 0) return "A value for 'database_hostport' must be specified.  To use default value, use the string 'default'";
  if (v.toLowerCase() === 'default') return { host: 'localhost', port: 3306 };
  // Scalyr's docs: "or simply `3306` when connecting to the local machine".
  if (/^\d+$/.test(v)) return { host: 'localhost', port: Number(v) };
  const parts = v.split(':');
  const bad = 'database_hostport specified is incorrect.  The format should be host:port, where port is an integer.';
  if (parts.length > 2) return bad;
  if (parts.length === 1) return { host: parts[0], port: 3306 };
  if (!/^\s*\d+\s*$/.test(parts[1])) return bad;
  const port = Number(parts[1]);
  if (port < 1 || port > 65535) return bad;
  return { host: parts[0], port };
}

export function checkMysqlMonitor(own: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const sock = own.database_socket;
  const hp = own.database_hostport;
  if (present(sock) && present(hp)) problems.push({ key: 'database_socket', message: "Either 'database_socket' or 'database_hostport' can be specified.  Not both." });
  else if (!present(sock) && !present(hp)) problems.push({ key: 'database_hostport', message: "Must specify either 'database_socket' or 'database_hostport' for connection type." });
  else if (present(sock) && String(sock).length === 0) problems.push({ key: 'database_socket', message: "A value for 'database_socket' must be specified.  To use default value, use the string 'default'" });
  else if (present(hp)) {
    const p = parseHostport(hp);
    if (typeof p === 'string') problems.push({ key: 'database_hostport', message: p });
  }
  for (const k of ['database_username', 'database_password']) {
    if (!present(own[k])) problems.push({ key: k, message: `missing required option "${k}" (database_username and database_password must be specified in the configuration)` });
  }
  return problems;
}

// --- values and metrics ----------------------------------------------------------------------

const PY_INT = /^\s*[+-]?\d+(_\d+)*\s*$/;
const PY_FLOAT = /^\s*[+-]?(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+(_\d+)*)?\s*$/;

/** Scalyr's `_parse_value`: a float when the text has a `.`, else an int, else the string. NULL: undefined. */
export function parseValue(v: unknown): { value: number | string; float: boolean } | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? { value: v, float: !Number.isInteger(v) } : undefined;
  if (typeof v === 'bigint') return { value: Number(v), float: false };
  const t = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  if (t.includes('.')) {
    if (PY_FLOAT.test(t)) {
      const n = Number(t.replace(/_/g, '').trim());
      if (Number.isFinite(n)) return { value: n, float: true };
    }
    return { value: t, float: false };
  }
  if (PY_INT.test(t)) return { value: Number(t.replace(/_/g, '').trim()), float: false };
  return { value: t, float: false };
}

function metric(name: string, p: { value: number | string; float: boolean }): ScalyrMonitorSample {
  return p.float && typeof p.value === 'number' ? { metric: name, value: p.value, float: true } : { metric: name, value: p.value };
}

type Rows = unknown[][];

/** `mysql.vars.*` from `SHOW GLOBAL VARIABLES` rows (only the two Scalyr keeps). */
export function variableSamples(rows: Rows): ScalyrMonitorSample[] {
  const out: ScalyrMonitorSample[] = [];
  for (const [name, value] of rows) {
    const n = String(name).toLowerCase();
    if (n !== 'max_connections' && n !== 'open_files_limit') continue;
    const p = parseValue(value);
    if (p) out.push(metric(`mysql.vars.${n}`, p));
  }
  return out;
}

/** `mysql.global.*` from `SHOW GLOBAL STATUS` rows (no `com_*` but Scalyr's five). */
export function statusSamples(rows: Rows): ScalyrMonitorSample[] {
  const out: ScalyrMonitorSample[] = [];
  for (const [name, value] of rows) {
    const n = String(name).toLowerCase();
    if (n.startsWith('com_') && !COMS_TO_REPORT.has(n)) continue;
    const p = parseValue(value);
    if (p) out.push(metric(`mysql.global.${n}`, p));
  }
  return out;
}

/** The `SHOW ENGINE INNODB STATUS` lines Scalyr reads: a regex at the start of a line, and its groups' metric names. */
const INNODB_LINES: ReadonlyArray<readonly [RegExp, readonly string[]]> = [
  [/^OS WAIT ARRAY INFO: reservation count (\d+), signal count (\d+)/, ['oswait_array.reservation_count', 'oswait_array.signal_count']],
  [/^Mutex spin waits (\d+), rounds (\d+), OS waits (\d+)/, ['locks.spin_waits', 'locks.rounds', 'locks.os_waits']],
  [/^RW-shared spins (\d+), OS waits (\d+); RW-excl spins (\d+), OS waits (\d+)/, ['locks.spin_waits', 'locks.os_waits', 'locks.spin_waits', 'locks.os_waits']],
  [/^Ibuf: size (\d+), free list len (\d+), seg size (\d+),/, ['ibuf.size', 'ibuf.free_list_len', 'ibuf.seg_size']],
  [/^(\d+) inserts, (\d+) merged recs, (\d+) merges/, ['ibuf.inserts', 'ibuf.merged_recs', 'ibuf.merges']],
  [/^\d+ queries inside InnoDB, (\d+) queries in queue/, ['queries_queued']],
  [/^(\d+) read views open inside InnoDB/, ['opened_read_views']],
  [/^History list length (\d+)/, ['history_list_length']],
];

/** `mysql.innodb.*` from the text of `SHOW ENGINE INNODB STATUS`. */
export function innodbSamples(text: string): ScalyrMonitorSample[] {
  const out: ScalyrMonitorSample[] = [];
  for (const line of text.split('\n')) {
    for (const [re, names] of INNODB_LINES) {
      const m = re.exec(line);
      if (!m) continue;
      names.forEach((n, i) => out.push({ metric: `mysql.innodb.${n}`, value: Number(m[i + 1]) }));
    }
  }
  return out;
}

const isYes = (v: unknown) => (String(v ?? '').toLowerCase() === 'yes' ? 1 : 0);

/** `mysql.slave.*` from the first `SHOW SLAVE STATUS` (or `SHOW REPLICA STATUS`) row, keyed by column name. */
export function replicaSamples(row: Readonly<Record<string, unknown>> | undefined): ScalyrMonitorSample[] {
  if (!row) return [];
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) r[k.toLowerCase()] = v;
  const pick = (...names: string[]) => names.map((n) => r[n]).find((v) => v !== undefined);
  const host = pick('master_host', 'source_host');
  if (host === undefined || host === null || host === '' || host === 'None') return [];
  const out: ScalyrMonitorSample[] = [];
  const sbm = pick('seconds_behind_master', 'seconds_behind_source');
  const sbmN = typeof sbm === 'string' && /^\d+$/.test(sbm) ? Number(sbm) : sbm;
  if (typeof sbmN === 'number' && Number.isInteger(sbmN)) out.push({ metric: 'mysql.slave.seconds_behind_master', value: sbmN });
  for (const [m, cols] of [
    ['mysql.slave.bytes_executed', ['exec_master_log_pos', 'exec_source_log_pos']],
    ['mysql.slave.bytes_relayed', ['read_master_log_pos', 'read_source_log_pos']],
  ] as const) {
    const p = parseValue(pick(...cols));
    if (p) out.push(metric(m, p));
  }
  out.push({ metric: 'mysql.slave.thread_io_running', value: isYes(pick('slave_io_running', 'replica_io_running')) });
  out.push({ metric: 'mysql.slave.thread_sql_running', value: isYes(pick('slave_sql_running', 'replica_sql_running')) });
  return out;
}

/** `mysql.process.<command>` counts from `SHOW PROCESSLIST` rows, in order of first appearance. */
export function processSamples(rows: Rows): ScalyrMonitorSample[] {
  const counts = new Map<string, number>();
  for (const row of rows) {
    const cmd = row[4];
    if (cmd === null || cmd === undefined) continue;
    const k = String(cmd);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([cmd, n]) => ({ metric: `mysql.process.${cmd.toLowerCase().replace(/ /g, '_')}`, value: n }));
}

type Num = Readonly<Record<string, unknown>>;

/** Scalyr's derived statistics, in its order. Each one whose inputs are missing or not numbers is left out (returned in `missing`). */
export function derivedSamples(vars: Num, status: Num): { samples: ScalyrMonitorSample[]; missing: string[] } {
  const g = (k: string) => {
    const v = status[`global.${k}`];
    if (typeof v !== 'number') throw new Error(k);
    return v;
  };
  const vr = (k: string) => {
    const v = vars[`vars.${k}`];
    if (typeof v !== 'number') throw new Error(k);
    return v;
  };
  const rw = (read: boolean) => {
    const reads = g('com_select');
    const writes = g('com_delete') + g('com_insert') + g('com_update') + g('com_replace');
    return reads + writes > 0 ? (100 * (read ? reads : writes)) / (reads + writes) : 0;
  };
  const stats: Array<[string, () => number, boolean?]> = [
    ['slow_query_percentage', () => (g('questions') > 0 ? (100 * g('slow_queries')) / g('questions') : 0)],
    [
      'connections_used_percentage',
      () => {
        const max = vr('max_connections');
        if (max === 0) throw new Error('max_connections');
        return Math.min(100, (100 * g('max_used_connections')) / max);
      },
    ],
    ['aborted_connections_percentage', () => (g('connections') > 0 ? (100 * g('aborted_connects')) / g('connections') : 0)],
    ['aborted_clients_percentage', () => (g('connections') > 0 ? (100 * g('aborted_clients')) / g('connections') : 0)],
    ['read_percentage', () => rw(true)],
    ['write_percentage', () => rw(false)],
    [
      'query_cache_efficiency',
      () => {
        const hits = status['global.qcache_hits'];
        if (hits === undefined) return 0;
        if (typeof hits !== 'number') throw new Error('qcache_hits');
        return g('com_select') + hits > 0 ? (100 * hits) / (g('com_select') + hits) : 0;
      },
    ],
    ['joins_without_indexes', () => g('select_range_check') + g('select_full_join'), false],
    ['table_cache_hit_rate', () => (g('opened_tables') > 0 ? (100 * g('open_tables')) / g('opened_tables') : 100)],
    ['open_file_percentage', () => (vr('open_files_limit') > 0 ? (100 * g('open_files')) / vr('open_files_limit') : 0)],
    ['immediate_table_lock_percentage', () => (g('table_locks_waited') > 0 ? (100 * g('table_locks_immediate')) / (g('table_locks_waited') + g('table_locks_immediate')) : 100)],
    ['thread_cache_hit_rate', () => (g('connections') > 0 ? 100 - g('threads_created') / g('connections') : 100)],
    ['tmp_disk_table_percentage', () => (g('created_tmp_tables') > 0 ? (100 * g('created_tmp_disk_tables')) / g('created_tmp_tables') : 0)],
  ];
  const samples: ScalyrMonitorSample[] = [];
  const missing: string[] = [];
  for (const [name, f, isFloat] of stats) {
    try {
      const v = f();
      if (!Number.isFinite(v)) throw new Error(name);
      const float = isFloat !== false || !Number.isInteger(v);
      samples.push(float ? { metric: `mysql.derived.${name}`, value: v, float: true } : { metric: `mysql.derived.${name}`, value: v });
    } catch {
      missing.push(name);
    }
  }
  return { samples, missing };
}

// --- the driver ------------------------------------------------------------------------------

interface Conn {
  query(o: { sql: string; rowsAsArray?: boolean; timeout?: number }): Promise<[unknown, unknown]>;
  end(): Promise<void>;
  destroy(): void;
  on(ev: 'error', f: (e: Error) => void): unknown;
  connection?: { stream?: { unref?: () => void } };
}
interface Mysql2 {
  createConnection(o: Record<string, unknown>): Promise<Conn>;
}
let mysql2: Promise<Mysql2> | undefined;
/** `mysql2` is loaded on the first sample only (a config without mysql_monitor never loads it). */
function loadMysql2(): Promise<Mysql2> {
  const name = 'mysql2/promise';
  mysql2 ??= import(name).then((m: { default?: Mysql2 } & Mysql2) => m.default ?? m);
  return mysql2;
}

export type MysqlFault = 'down' | 'timeout' | 'auth' | 'tls' | 'garbage' | 'config' | 'error';

export class MysqlError extends Error {
  constructor(
    readonly kind: MysqlFault,
    message: string,
  ) {
    super(message);
    this.name = 'MysqlError';
  }
}

const LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_SERVER_SHUTDOWN', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT', 'ER_CONNECTION_KILLED']);
const DENIED = new Set([1227, 1142, 1044, 1045, 1370, 1143]);

function errCode(err: unknown): { code: string; errno?: number; msg: string } {
  const e = err as { code?: unknown; errno?: unknown; message?: unknown };
  return { code: String(e?.code ?? ''), errno: typeof e?.errno === 'number' ? e.errno : undefined, msg: typeof e?.message === 'string' ? e.message : String(err) };
}

/** One failure of a sample as a `MysqlError` with a clear, actionable message. */
export function classifyMysqlError(err: unknown, where: string, user: string, handshake: boolean): MysqlError {
  if (err instanceof MysqlError) return err;
  const { code, errno, msg } = errCode(err);
  if (['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL', 'EAI_AGAIN'].includes(code)) {
    return new MysqlError('down', `Database connect failed: the MySQL server does not appear to be running or cannot be reached at ${where} (${code})`);
  }
  if (code === 'ER_ACCESS_DENIED_ERROR' || errno === 1045 || code === 'ER_DBACCESS_DENIED_ERROR') {
    return new MysqlError('auth', `Database connect failed: ${msg} at ${where} (check database_username and database_password, and the user's host in mysql.user)`);
  }
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT' || /^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|HOSTNAME_MISMATCH)/.test(code) || /certificate|ssl|tls/i.test(msg)) {
    return new MysqlError('tls', `Database connect failed: TLS with ${where} failed: ${msg}${code ? ` (${code})` : ''} (check use_ssl, ca_file, key_file and cert_file)`);
  }
  if (code === 'ETIMEDOUT' || /timeout|timed out/i.test(msg)) return new MysqlError('timeout', `Database connect failed: no complete answer from ${where} (${msg})`);
  if (code === 'ER_SERVER_SHUTDOWN' || errno === 1053) return new MysqlError('down', `Database connect failed: the MySQL server at ${where} is shutting down (${msg})`);
  // An error packet of the server (it has a SQL state) is an answer in the protocol; the rest during the handshake is not.
  const fromServer = typeof (err as { sqlState?: unknown })?.sqlState === 'string';
  if (handshake && !fromServer && (LOST.has(code) || /out of range|malformed|packet|protocol|handshake|unexpected|invalid/i.test(msg) || err instanceof RangeError)) {
    return new MysqlError('garbage', `Database connect failed: the server at ${where} did not answer as a MySQL server (${msg})`);
  }
  if (LOST.has(code)) return new MysqlError('down', `Connection to the MySQL server at ${where} lost (${msg})`);
  if (/ER_HOST_NOT_PRIVILEGED|ER_HOST_IS_BLOCKED|ER_CON_COUNT_ERROR|Too many connections/.test(code + ' ' + msg)) {
    return new MysqlError('auth', `Database connect failed: ${msg} at ${where} (user "${user}")`);
  }
  return new MysqlError('error', `Database error -- ${errno ?? code}: ${msg}`);
}

function isSocket(p: string): boolean | 'missing' {
  try {
    return fs.statSync(p).isSocket();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
}

export function mysqlMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const c = readDeclared(MYSQL_MONITOR_OPTIONS, config);
  const [problem] = checkMysqlMonitor(c);
  if (problem) throw new Error(`mysql_monitor: "${problem.key}" ${problem.message}`);
  const timeoutSecs = c.timeout !== undefined ? Number(c.timeout) : Math.min(ctx.sampleInterval, 30);
  if (!(timeoutSecs > 0)) throw new Error(`mysql_monitor: "timeout" must be a positive number of seconds (got ${String(c.timeout)})`);
  const timeoutMs = Math.max(1, Math.round(timeoutSecs * 1000));
  let target: MysqlTarget;
  if (present(c.database_socket)) {
    const p = String(c.database_socket);
    target = p.toLowerCase() === 'default' ? { kind: 'socket' } : { kind: 'socket', path: p };
  } else {
    const hp = parseHostport(c.database_hostport) as { host: string; port: number };
    target = { kind: 'tcp', host: hp.host, port: hp.port };
  }
  const user = String(c.database_username);
  const password = String(c.database_password);
  const useSsl = c.use_ssl === true || c.use_ssl === 'true';
  const caFile = present(c.ca_file) && c.ca_file !== '' ? String(c.ca_file) : undefined;
  const keyFile = present(c.key_file) && c.key_file !== '' ? String(c.key_file) : undefined;
  const certFile = present(c.cert_file) && c.cert_file !== '' ? String(c.cert_file) : undefined;
  const collectReplica = !(c.collect_replica_metrics === false || c.collect_replica_metrics === 'false');
  const idleMs = 2 * ctx.sampleInterval * 1000 + timeoutMs;
  const counters = ctx.counters;
  const tag = { monitor: ctx.id };
  const warn = (m: string) => ctx.logger.warn(`monitor ${ctx.id}: ${m}`, tag);

  let conn: Conn | undefined;
  let version: { major: number; medium: number } | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let fault: MysqlFault | undefined;
  let lastUptime: number | undefined;
  let sslWarned = false;
  let replicaQuery: 'SHOW SLAVE STATUS' | 'SHOW REPLICA STATUS' = 'SHOW SLAVE STATUS';
  /** The part failures of the last sample (section → message), warned once per change. */
  let partFaults = new Map<string, string>();
  let missingDerived = '';

  /** Closes the kept connection (only when it is still `only`, if given: a late failure of an abandoned sample leaves a newer connection alone). */
  const drop = (only?: Conn) => {
    const cn = conn;
    if (only && cn !== only) {
      only.destroy();
      return;
    }
    conn = undefined;
    version = undefined;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    if (cn) cn.destroy();
  };

  const where = () => (target.kind === 'tcp' ? `${target.host}:${target.port}` : (target.path ?? 'the default socket'));

  function socketPath(): string {
    if (target.kind !== 'socket') throw new Error('not a socket target');
    if (target.path === undefined) {
      for (const p of DEFAULT_SOCKETS) if (isSocket(p) === true) return p;
      throw new MysqlError('config', `Socket file required.  Either one was not specified or the default can not be found (looked for ${DEFAULT_SOCKETS.join(', ')}; set database_socket or database_hostport)`);
    }
    const st = isSocket(target.path);
    if (st === 'missing') throw new MysqlError('down', `Database connect failed: the MySQL server does not appear to be running: no socket at ${target.path}`);
    if (!st) throw new MysqlError('config', `Specified socket file is not a socket: ${target.path}`);
    return target.path;
  }

  function sslOptions(): Record<string, unknown> | undefined {
    if (!useSsl) return undefined;
    if (!caFile && !sslWarned) {
      sslWarned = true;
      warn('Connecting to MySql with the `ssl` option but no CA file configured. The server certificate will not be validated.');
    }
    const read = (f: string, what: string) => {
      try {
        return fs.readFileSync(f, 'utf8');
      } catch (e) {
        throw new MysqlError('config', `cannot read ${what} ${f}: ${errorMessage(e)}`);
      }
    };
    return {
      ...(caFile ? { ca: read(caFile, 'ca_file') } : {}),
      ...(keyFile ? { key: read(keyFile, 'key_file') } : {}),
      ...(certFile ? { cert: read(certFile, 'cert_file') } : {}),
      rejectUnauthorized: !!caFile,
    };
  }

  async function connect(): Promise<Conn> {
    const m = await loadMysql2();
    const ssl = sslOptions();
    const addr = target.kind === 'tcp' ? { host: target.host, port: target.port } : { socketPath: socketPath() };
    const cn = await m.createConnection({ ...addr, user, password, connectTimeout: timeoutMs, ...(ssl ? { ssl } : {}), supportBigNumbers: true, dateStrings: true });
    cn.on('error', () => {
      // A dropped idle connection: the next sample reconnects.
      if (conn === cn) drop(cn);
    });
    cn.connection?.stream?.unref?.(); // an idle connection between samples does not keep the process alive
    return cn;
  }

  const rows = async (cn: Conn, sql: string): Promise<Rows> => (await cn.query({ sql, rowsAsArray: true, timeout: timeoutMs }))[0] as Rows;

  async function gather(cn: Conn): Promise<ScalyrMonitorSample[]> {
    const parts = new Map<string, string>();
    const part = async <T>(name: string, f: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await f();
      } catch (err) {
        const { errno, msg } = errCode(err);
        if (errno === undefined || !DENIED.has(errno)) throw err;
        const hint =
          name === 'replica'
            ? 'grant REPLICATION CLIENT (MySQL) or SLAVE MONITOR / REPLICA MONITOR (MariaDB) to the user, or set collect_replica_metrics: false'
            : 'grant PROCESS to the user';
        parts.set(name, `${msg} (${hint})`);
        return undefined;
      }
    };
    if (!version) {
      const v = String((await rows(cn, 'SELECT VERSION()'))[0]?.[0] ?? 'unknown').split('.');
      const major = Number.parseInt(v[0], 10);
      const medium = Number.parseInt(v[1], 10);
      version = Number.isFinite(major) && Number.isFinite(medium) ? { major, medium } : { major: 0, medium: 0 };
    }
    const vars = variableSamples(await rows(cn, 'SHOW /*!50000 GLOBAL */ VARIABLES'));
    const statusSafe = version.major > 5 || (version.major === 5 && version.medium >= 1);
    const status = statusSafe ? statusSamples(await rows(cn, 'SHOW /*!50000 GLOBAL */ STATUS')) : undefined;
    let innodb: ScalyrMonitorSample[] | undefined;
    if (status?.some((s) => s.metric.startsWith('mysql.global.innodb'))) {
      const r = await part('innodb', () => rows(cn, 'SHOW ENGINE INNODB STATUS'));
      const text = r?.[0]?.[2];
      if (text !== null && text !== undefined) innodb = innodbSamples(Buffer.isBuffer(text) ? text.toString('utf8') : String(text));
    }
    let replica: ScalyrMonitorSample[] | undefined;
    if (collectReplica) {
      const r = await part('replica', async () => {
        try {
          return (await cn.query({ sql: replicaQuery, timeout: timeoutMs }))[0] as Record<string, unknown>[];
        } catch (err) {
          // MySQL 8.4 has only SHOW REPLICA STATUS.
          if (errCode(err).errno !== 1064 || replicaQuery === 'SHOW REPLICA STATUS') throw err;
          replicaQuery = 'SHOW REPLICA STATUS';
          return (await cn.query({ sql: replicaQuery, timeout: timeoutMs }))[0] as Record<string, unknown>[];
        }
      });
      replica = replicaSamples(r?.[0]);
    }
    const processes = processSamples(await rows(cn, 'SHOW PROCESSLIST'));

    const out: ScalyrMonitorSample[] = [...vars, ...(status ?? []), ...(innodb ?? []), ...(replica ?? []), ...processes];
    if (vars.length > 0 && status) {
      const map = (l: ScalyrMonitorSample[], prefix: string) => Object.fromEntries(l.map((s) => [s.metric.slice(prefix.length), s.value]));
      const d = derivedSamples(map(vars, 'mysql.'), map(status, 'mysql.'));
      out.push(...d.samples);
      if (d.missing.length > 0 && counters) countDrop(counters, 'derived_input_missing', d.missing.length);
      const m = d.missing.join(', ');
      if (m && m !== missingDerived) warn(`derived metrics not computed (the server lacks or has non-numeric inputs): ${m}`);
      missingDerived = m;
    }
    // A restart: the server's uptime went down.
    const up = status?.find((s) => s.metric === 'mysql.global.uptime')?.value;
    if (typeof up === 'number') {
      if (lastUptime !== undefined && up < lastUptime) warn(`the MySQL server at ${where()} restarted (uptime ${lastUptime}s -> ${up}s); its counters start again from zero`);
      lastUptime = up;
    }
    // Part failures: counted every sample, warned when they change.
    for (const [name, msg] of parts) {
      if (counters) countError(counters, `${name}: ${msg}`);
      if (partFaults.get(name) !== msg) warn(`${name === 'replica' ? replicaQuery : 'SHOW ENGINE INNODB STATUS'} failed, its metrics are left out: ${msg}`);
    }
    for (const name of partFaults.keys()) {
      if (!parts.has(name)) ctx.logger.info(`monitor ${ctx.id}: ${name === 'replica' ? replicaQuery : 'SHOW ENGINE INNODB STATUS'} works again`, tag);
    }
    partFaults = parts;
    return out;
  }

  async function sample(isCurrent: () => boolean): Promise<ScalyrMonitorSample[]> {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    let handshake = false;
    let cn = conn;
    try {
      const reused = cn !== undefined;
      if (!cn) {
        handshake = true;
        cn = await connect();
        handshake = false;
        if (!isCurrent()) {
          cn.destroy();
          return [];
        }
        conn = cn;
      }
      try {
        return await gather(cn);
      } catch (err) {
        if (!reused || !LOST.has(errCode(err).code) || !isCurrent()) throw err;
        // The server dropped the kept connection (restart, wait_timeout, KILL): make a new one once.
        warn(`connection to the MySQL server at ${where()} was lost (${errCode(err).msg}); reconnecting`);
        drop(cn);
        handshake = true;
        cn = await connect();
        handshake = false;
        if (!isCurrent()) {
          cn.destroy();
          return [];
        }
        conn = cn;
        return await gather(cn);
      }
    } catch (err) {
      if (cn) drop(cn);
      throw classifyMysqlError(err, where(), user, handshake);
    }
  }

  return new Observable<ScalyrMonitorSample[]>((subscriber) => {
    let finished = false;
    const fail = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      drop();
      const e = err instanceof MysqlError ? err : classifyMysqlError(err, where(), user, false);
      if (fault !== undefined && fault !== e.kind) ctx.logger.error(`monitor ${ctx.id}: ${e.message}`, tag);
      fault = e.kind;
      subscriber.error(e);
    };
    const timer = setTimeout(() => fail(new MysqlError('timeout', `Database connect failed: no complete answer from ${where()} within ${timeoutSecs}s`)), timeoutMs);
    sample(() => !finished)
      .then((out) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        fault = undefined;
        if (conn) {
          const cn = conn;
          idleTimer = setTimeout(() => conn === cn && drop(), idleMs);
          idleTimer.unref();
        }
        subscriber.next(out);
        subscriber.complete();
      })
      .catch(fail);
    return () => {
      if (!finished) {
        finished = true;
        clearTimeout(timer);
        drop();
      }
    };
  });
}

export const mysqlMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'mysql_monitor',
  aliases: ['scalyr_agent.builtin_monitors.mysql_monitor'],
  doc: "Connects to MySQL or MariaDB (`database_hostport` over TCP, or `database_socket`; `database_username`, `database_password`; TLS with `use_ssl`, `ca_file`, `key_file`, `cert_file`) and records, by Scalyr's names, `mysql.vars.max_connections` / `open_files_limit`, the global status as `mysql.global.*` (of the `com_*` counters only select, update, delete, replace and insert), InnoDB status lines as `mysql.innodb.*`, replica status as `mysql.slave.*` (`collect_replica_metrics`), threads per command as `mysql.process.*` and Scalyr's `mysql.derived.*` percentages. The user needs the PROCESS grant (and REPLICATION CLIENT / SLAVE MONITOR for the replica metrics).",
  options: MYSQL_MONITOR_OPTIONS,
  check: checkMysqlMonitor,
  counterMetrics: MYSQL_COUNTERS,
  example: { module: 'mysql_monitor', id: 'db', database_hostport: 'localhost:3306', database_username: 'scalyr', database_password: 'secret' },
  create: mysqlMonitor,
});
