/**
 * `mysql_monitor` against a real MariaDB (Debian `mariadb-server`: mariadb-install-db in a temp
 * dir, mariadbd on a free loopback port and a Unix socket there, run as the `mysql` user when the
 * test runs as root; testkit/mariadb.ts), run through the real monitor source: Scalyr's module
 * name, option names and metric names (`mysql.vars.*`, `mysql.global.*`, `mysql.innodb.*`,
 * `mysql.slave.*` from a real replica, `mysql.process.*`, `mysql.derived.*`), over TCP and the
 * socket, and the fault cases of issue 17 (server down then up and restarted, wrong password, a
 * peer answering garbage, a peer that never answers, a missing grant): one error logged per fault
 * state, every failed sample counted, sampling goes on, the monitor recovers. A real agent loads a
 * Scalyr agent.json (password from the environment through `import_vars`) and ships the lines to
 * its embedded sink. Skips (with a printed reason) when MariaDB is not installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  derivedSamples,
  innodbSamples,
  mysqlMonitorComponent,
  MYSQL_COUNTERS,
  parseHostport,
  parseValue,
  processSamples,
  replicaSamples,
  statusSamples,
  variableSamples,
} from '../sources/monitors/mysqlMonitor.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { contractProblems, createEnv, declarationProblems, exercise } from '../testkit/componentHarness.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { createAgent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { isolatedAgent } from './helpers/isolated.js';
import { readNdjson } from './helpers/ndjson.js';
import { freePort, lastValues, runMonitor, startTcpPeer, waitFor } from '../testkit/statusPeers.js';
import { mariadbMissing, startMariaDb, type MariaDb } from '../testkit/mariadb.js';
import { makeTestCa } from '../testkit/tlsServer.js';
import type { MetricRecord } from '../lib/telemetry.js';

const skipReason = mariadbMissing();
if (skipReason) console.warn(`skipping the real-MariaDB tests of mysql_monitor: ${skipReason}`);
const withDb = skipReason ? it.skip : it;

const OWN_ENTRY_KEYS = new Set(MONITOR_ENTRY_OPTIONS.filter((o) => (o.scope ?? 'own') === 'own').map((o) => o.name));
const USER = 'scalyr';
const PASSWORD = 'secret-pw';
/** Lines of a sample of MariaDB are many (~400): no write-rate limit in these tests. */
const UNLIMITED = { monitor_log_write_rate: 100_000_000, monitor_log_max_write_burst: 100_000_000 };

let dir: string;
const cleanup: Array<() => Promise<void>> = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-mysql-'));
});
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A real MariaDB in its own subdir of `dir` (reachable by the mysql user), stopped after the test. */
async function startDb(port: number, name = 'db', args: string[] = []): Promise<MariaDb> {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  if (process.getuid?.() === 0) fs.chmodSync(dir, 0o755);
  const server = await startMariaDb(d, port, args);
  cleanup.push(() => server.stop());
  return server;
}

/** The monitoring user (PROCESS and SLAVE MONITOR, over TCP and the socket), one with PROCESS only, and some traffic. */
async function setUp(db: MariaDb): Promise<void> {
  const users = [`'${USER}'@'127.0.0.1'`, `'${USER}'@'localhost'`];
  await db.admin([
    ...users.flatMap((u) => [`CREATE USER ${u} IDENTIFIED BY '${PASSWORD}'`, `GRANT PROCESS, SLAVE MONITOR ON *.* TO ${u}`]),
    `CREATE USER 'limited'@'localhost' IDENTIFIED BY '${PASSWORD}'`,
    `GRANT PROCESS ON *.* TO 'limited'@'localhost'`,
    'CREATE DATABASE app',
    'CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB',
    "INSERT INTO app.t VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    "UPDATE app.t SET v = 'z' WHERE id = 1",
    'DELETE FROM app.t WHERE id = 3',
    "REPLACE INTO app.t VALUES (2, 'r')",
    'SELECT * FROM app.t',
  ]);
}

function monitor(entry: Record<string, unknown>) {
  const m = runMonitor(
    mysqlMonitorComponent,
    { module: 'scalyr_agent.builtin_monitors.mysql_monitor', id: 'db', sample_interval: 0.2, database_username: USER, database_password: PASSWORD, ...UNLIMITED, ...entry },
    dir,
  );
  cleanup.push(() => m.stop());
  return m;
}

/**
 * Declared counters MariaDB does not report: MySQL's `Innodb_rows_*` and `Innodb_os_log_fsyncs`,
 * and the InnoDB status lines of the MySQL 5.x shape (MariaDB 10.2+ prints them differently).
 */
const VERSION_DEPENDENT = new Set<string>([
  'mysql.global.innodb_os_log_fsyncs',
  'mysql.global.innodb_rows_deleted',
  'mysql.global.innodb_rows_inserted',
  'mysql.global.innodb_rows_read',
  'mysql.global.innodb_rows_updated',
  'mysql.innodb.oswait_array.reservation_count',
  'mysql.innodb.oswait_array.signal_count',
  'mysql.innodb.ibuf.inserts',
  'mysql.innodb.ibuf.merged_recs',
  'mysql.innodb.ibuf.merges',
]);

const metricsOf = (lines: string[]) => new Set(lines.map((l) => l.split(' ')[3]));
const DERIVED = [
  'slow_query_percentage',
  'connections_used_percentage',
  'aborted_connections_percentage',
  'aborted_clients_percentage',
  'read_percentage',
  'write_percentage',
  'query_cache_efficiency',
  'joins_without_indexes',
  'table_cache_hit_rate',
  'open_file_percentage',
  'immediate_table_lock_percentage',
  'thread_cache_hit_rate',
  'tmp_disk_table_percentage',
].map((d) => `mysql.derived.${d}`);

// --- the parts, without a server -------------------------------------------------------------

test("values as Scalyr's _parse_value reads them: a '.' makes a float, else an int, else the string; NULL left out", () => {
  expect(parseValue('151')).toEqual({ value: 151, float: false });
  expect(parseValue(' -7 ')).toEqual({ value: -7, float: false });
  expect(parseValue('0.000000')).toEqual({ value: 0, float: true });
  expect(parseValue('12.5')).toEqual({ value: 12.5, float: true });
  expect(parseValue('1.2.3')).toEqual({ value: '1.2.3', float: false });
  expect(parseValue('ON')).toEqual({ value: 'ON', float: false });
  expect(parseValue('')).toEqual({ value: '', float: false });
  expect(parseValue(42)).toEqual({ value: 42, float: false });
  expect(parseValue(null)).toBeUndefined();
});

test("database_hostport as Scalyr reads it (and its docs' bare port); the component's checks", () => {
  expect(parseHostport('db.example:3307')).toEqual({ host: 'db.example', port: 3307 });
  expect(parseHostport('db.example')).toEqual({ host: 'db.example', port: 3306 });
  expect(parseHostport('default')).toEqual({ host: 'localhost', port: 3306 });
  expect(parseHostport('3306')).toEqual({ host: 'localhost', port: 3306 });
  expect(parseHostport('a:b:c')).toMatch(/format should be host:port/);
  expect(parseHostport('h:port')).toMatch(/format should be host:port/);
  const check = mysqlMonitorComponent.check!;
  expect(check({ database_hostport: 'h:1', database_username: 'u', database_password: '' })).toEqual([]);
  expect(check({ database_socket: 'default', database_hostport: 'h', database_username: 'u', database_password: 'p' })[0].message).toMatch(/Not both/);
  expect(check({ database_username: 'u', database_password: 'p' })[0].message).toMatch(/Must specify either 'database_socket' or 'database_hostport'/);
  expect(check({ database_socket: '' , database_username: 'u', database_password: 'p' })[0].message).toMatch(/use the string 'default'/);
  expect(check({ database_hostport: 'h' }).map((p) => p.key)).toEqual(['database_username', 'database_password']);
});

test("status and variables: Scalyr's names, lower case, only its five com_ counters, only its two variables", () => {
  expect(statusSamples([['Aborted_clients', '3'], ['Com_select', '9'], ['Com_alter_table', '2'], ['Com_update', '1'], ['Busy_time', '0.000000'], ['Rpl_status', 'AUTH_MASTER']])).toEqual([
    { metric: 'mysql.global.aborted_clients', value: 3 },
    { metric: 'mysql.global.com_select', value: 9 },
    { metric: 'mysql.global.com_update', value: 1 },
    { metric: 'mysql.global.busy_time', value: 0, float: true },
    { metric: 'mysql.global.rpl_status', value: 'AUTH_MASTER' },
  ]);
  expect(variableSamples([['max_connections', '151'], ['open_files_limit', '32190'], ['port', '3306']])).toEqual([
    { metric: 'mysql.vars.max_connections', value: 151 },
    { metric: 'mysql.vars.open_files_limit', value: 32190 },
  ]);
});

test('InnoDB status of the MySQL 5.x shape: every line Scalyr reads, by its names, lines it does not read ignored', () => {
  const text = [
    'OS WAIT ARRAY INFO: reservation count 1184, signal count 1169',
    'Mutex spin waits 853, rounds 2556, OS waits 63',
    'RW-shared spins 151, OS waits 77; RW-excl spins 28, OS waits 9',
    'Ibuf: size 1, free list len 0, seg size 2, 0 merges',
    '5 inserts, 4 merged recs, 3 merges',
    '0 queries inside InnoDB, 2 queries in queue',
    '1 read views open inside InnoDB',
    'History list length 17',
    'Log sequence number 1602564',
  ].join('\n');
  expect(innodbSamples(text).map((s) => `${s.metric}=${s.value}`)).toEqual([
    'mysql.innodb.oswait_array.reservation_count=1184',
    'mysql.innodb.oswait_array.signal_count=1169',
    'mysql.innodb.locks.spin_waits=853',
    'mysql.innodb.locks.rounds=2556',
    'mysql.innodb.locks.os_waits=63',
    'mysql.innodb.locks.spin_waits=151',
    'mysql.innodb.locks.os_waits=77',
    'mysql.innodb.locks.spin_waits=28',
    'mysql.innodb.locks.os_waits=9',
    'mysql.innodb.ibuf.size=1',
    'mysql.innodb.ibuf.free_list_len=0',
    'mysql.innodb.ibuf.seg_size=2',
    'mysql.innodb.ibuf.inserts=5',
    'mysql.innodb.ibuf.merged_recs=4',
    'mysql.innodb.ibuf.merges=3',
    'mysql.innodb.queries_queued=2',
    'mysql.innodb.opened_read_views=1',
    'mysql.innodb.history_list_length=17',
  ]);
});

test('replica status (SLAVE or REPLICA column names), the process list by command, none on a primary', () => {
  const slave = { Master_Host: '10.0.0.1', Seconds_Behind_Master: 4, Exec_Master_Log_Pos: 1200, Read_Master_Log_Pos: 1300, Slave_IO_Running: 'Yes', Slave_SQL_Running: 'No' };
  expect(replicaSamples(slave)).toEqual([
    { metric: 'mysql.slave.seconds_behind_master', value: 4 },
    { metric: 'mysql.slave.bytes_executed', value: 1200 },
    { metric: 'mysql.slave.bytes_relayed', value: 1300 },
    { metric: 'mysql.slave.thread_io_running', value: 1 },
    { metric: 'mysql.slave.thread_sql_running', value: 0 },
  ]);
  const replica = { Source_Host: 'p', Seconds_Behind_Source: null, Exec_Source_Log_Pos: 5, Read_Source_Log_Pos: 6, Replica_IO_Running: 'Connecting', Replica_SQL_Running: 'Yes' };
  expect(replicaSamples(replica).map((s) => `${s.metric}=${s.value}`)).toEqual(['mysql.slave.bytes_executed=5', 'mysql.slave.bytes_relayed=6', 'mysql.slave.thread_io_running=0', 'mysql.slave.thread_sql_running=1']);
  expect(replicaSamples({ Master_Host: '' })).toEqual([]);
  expect(replicaSamples(undefined)).toEqual([]);
  const row = (cmd: string) => [1, 'u', 'h', null, cmd, 0, '', null];
  expect(processSamples([row('Sleep'), row('Query'), row('Sleep'), row('Binlog Dump')])).toEqual([
    { metric: 'mysql.process.sleep', value: 2 },
    { metric: 'mysql.process.query', value: 1 },
    { metric: 'mysql.process.binlog_dump', value: 1 },
  ]);
});

test("derived statistics by Scalyr's formulas (thread_cache_hit_rate is 100 - created/connections); missing inputs left out and named", () => {
  const status: Record<string, number> = {
    'global.questions': 200,
    'global.slow_queries': 10,
    'global.max_used_connections': 30,
    'global.connections': 50,
    'global.aborted_connects': 5,
    'global.aborted_clients': 1,
    'global.com_select': 60,
    'global.com_delete': 5,
    'global.com_insert': 10,
    'global.com_update': 4,
    'global.com_replace': 1,
    'global.qcache_hits': 20,
    'global.select_range_check': 2,
    'global.select_full_join': 3,
    'global.opened_tables': 40,
    'global.open_tables': 30,
    'global.open_files': 25,
    'global.table_locks_waited': 1,
    'global.table_locks_immediate': 99,
    'global.threads_created': 5,
    'global.created_tmp_tables': 8,
    'global.created_tmp_disk_tables': 2,
  };
  const { samples, missing } = derivedSamples({ 'vars.max_connections': 20, 'vars.open_files_limit': 100 }, status);
  expect(missing).toEqual([]);
  expect(Object.fromEntries(samples.map((s) => [s.metric, s.value]))).toEqual({
    'mysql.derived.slow_query_percentage': 5,
    'mysql.derived.connections_used_percentage': 100, // 150%, capped
    'mysql.derived.aborted_connections_percentage': 10,
    'mysql.derived.aborted_clients_percentage': 2,
    'mysql.derived.read_percentage': 75,
    'mysql.derived.write_percentage': 25,
    'mysql.derived.query_cache_efficiency': 25,
    'mysql.derived.joins_without_indexes': 5,
    'mysql.derived.table_cache_hit_rate': 75,
    'mysql.derived.open_file_percentage': 25,
    'mysql.derived.immediate_table_lock_percentage': 99,
    'mysql.derived.thread_cache_hit_rate': 99.9,
    'mysql.derived.tmp_disk_table_percentage': 25,
  });
  expect(samples.find((s) => s.metric === 'mysql.derived.joins_without_indexes')!.float).toBeUndefined();
  expect(samples.find((s) => s.metric === 'mysql.derived.read_percentage')!.float).toBe(true);
  const partial = derivedSamples({ 'vars.max_connections': 20, 'vars.open_files_limit': 100 }, { ...status, 'global.questions': undefined as never });
  expect(partial.missing).toEqual(['slow_query_percentage']);
});

test("the component: Scalyr's module name and option names/defaults; its example (localhost:3306, not reached here) reads exactly what it declares", async () => {
  expect(mysqlMonitorComponent.aliases).toEqual(['scalyr_agent.builtin_monitors.mysql_monitor']);
  const byName = Object.fromEntries(mysqlMonitorComponent.options!.map((o) => [o.name, o.default]));
  expect(Object.keys(byName)).toEqual(['database_socket', 'database_hostport', 'database_username', 'database_password', 'use_ssl', 'ca_file', 'key_file', 'cert_file', 'collect_replica_metrics', 'timeout']);
  expect(byName).toMatchObject({ use_ssl: false, collect_replica_metrics: true });
  const registry = createDefaultRegistry().add(mysqlMonitorComponent);
  const env = await createEnv(registry);
  try {
    const run = await exercise(mysqlMonitorComponent, { registry, env, record: true });
    expect(declarationProblems(run, { own: OWN_ENTRY_KEYS })).toEqual([]);
  } finally {
    await env.close();
  }
});

// --- against a real MariaDB ------------------------------------------------------------------

withDb('the component contract, with its example pointed at a real MariaDB', async () => {
  const port = await freePort();
  const db = await startDb(port);
  await setUp(db);
  const c = { ...mysqlMonitorComponent, example: { ...mysqlMonitorComponent.example, database_hostport: `127.0.0.1:${port}`, database_username: USER, database_password: PASSWORD } };
  const registry = createDefaultRegistry().add(c);
  const env = await createEnv(registry);
  try {
    const run = await exercise(c, { registry, env, record: true });
    expect([...contractProblems(run), ...declarationProblems(run, { own: OWN_ENTRY_KEYS })]).toEqual([]);
  } finally {
    await env.close();
  }
}, 60_000);

withDb("real MariaDB over TCP: [mysql_monitor(db)] mysql.vars/global/innodb/process/derived lines by Scalyr's names, one kept connection", async () => {
  const port = await freePort();
  const db = await startDb(port);
  await setUp(db);
  const m = monitor({ database_hostport: `127.0.0.1:${port}` });
  const samples = () => m.lines().filter((l) => l.includes(' mysql.vars.max_connections ')).length;
  expect(await waitFor(() => samples() >= 4, 15_000)).toBe(true);
  const lines = m.lines();
  const names = metricsOf(lines);
  for (const name of ['mysql.vars.max_connections', 'mysql.vars.open_files_limit', 'mysql.global.uptime', 'mysql.global.questions', 'mysql.global.bytes_received', 'mysql.global.com_select', 'mysql.global.com_insert', 'mysql.global.com_update', 'mysql.global.com_delete', 'mysql.global.com_replace', 'mysql.global.innodb_buffer_pool_pages_data', 'mysql.innodb.history_list_length', 'mysql.innodb.opened_read_views', 'mysql.process.query', ...DERIVED]) {
    expect([name, names.has(name)]).toEqual([name, true]);
  }
  expect([...names].filter((n) => n.startsWith('mysql.global.com_')).sort()).toEqual(['mysql.global.com_delete', 'mysql.global.com_insert', 'mysql.global.com_replace', 'mysql.global.com_select', 'mysql.global.com_update']);
  expect([...names].filter((n) => !n.startsWith('mysql.'))).toEqual([]);
  expect([...names].some((n) => n.startsWith('mysql.slave.'))).toBe(false); // a primary
  for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[mysql_monitor\(db\)\] mysql\.[\w.]+ (-?\d+(\.\d+)?(e[+-]\d+)?|"[^"]*")\n$/);
  const v = lastValues(lines, 'mysql_monitor(db)');
  expect(v['mysql.vars.max_connections']).toBe('151');
  expect(Number(v['mysql.global.com_insert'])).toBeGreaterThanOrEqual(1);
  expect(Number(v['mysql.global.com_replace'])).toBeGreaterThanOrEqual(1);
  expect(v['mysql.derived.read_percentage']).toMatch(/^\d+\.\d+$/); // a float, as Scalyr prints it
  expect(v['mysql.derived.joins_without_indexes']).toMatch(/^\d+$/);
  expect(v['mysql.global.rpl_semi_sync_master_status'] ?? '"OFF"').toMatch(/^"?\w+"?$/);
  // Scalyr keeps its connection: the server's connection count does not grow with the samples.
  const conns = lines.filter((l) => l.includes(' mysql.global.connections ')).map((l) => Number(l.trim().split(' ')[4]));
  expect(new Set(conns.slice(1)).size).toBe(1);
  expect(m.src.status().errors).toBe(0);
  expect(m.batches[0].stream.attrs).toMatchObject({ parser: 'agent-metrics' });
  expect(m.batches[0].stream.path).toBe(path.join(dir, 'log', 'mysql_monitor.log'));
}, 60_000);

withDb('real MariaDB: the status counters (questions, bytes, handler calls, rows read…) are monotonic records with one start per series; current values, high-water marks and uptime are gauges', async () => {
  const port = await freePort();
  const db = await startDb(port);
  await setUp(db);
  const m = monitor({ database_hostport: `127.0.0.1:${port}` });
  const samples = () => m.lines().filter((l) => l.includes(' mysql.global.questions ')).length;
  expect(await waitFor(() => samples() >= 3, 15_000)).toBe(true);
  const records = m.batches.flatMap((b) => b.events.map((e) => e.record as MetricRecord | undefined)).filter((r): r is MetricRecord => r !== undefined);
  const byName = new Map<string, MetricRecord[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const counter = [
    'mysql.global.questions',
    'mysql.global.queries',
    'mysql.global.bytes_received',
    'mysql.global.bytes_sent',
    'mysql.global.com_select',
    'mysql.global.com_insert',
    'mysql.global.connections',
    'mysql.global.handler_read_rnd_next',
    'mysql.global.handler_write',
    'mysql.global.rows_read',
    'mysql.global.innodb_buffer_pool_read_requests',
    'mysql.global.innodb_data_written',
    'mysql.global.created_tmp_tables',
    'mysql.global.select_scan',
    'mysql.global.threads_created',
    'mysql.global.opened_tables',
    'mysql.derived.joins_without_indexes',
  ];
  const gauge = ['mysql.global.threads_connected', 'mysql.global.threads_running', 'mysql.global.open_tables', 'mysql.global.max_used_connections', 'mysql.global.uptime', 'mysql.global.innodb_buffer_pool_pages_free', 'mysql.vars.max_connections', 'mysql.process.query', 'mysql.derived.read_percentage', 'mysql.innodb.history_list_length'];
  for (const name of counter) {
    const rs = byName.get(name) ?? [];
    expect([name, rs.length >= 3, rs.every((r) => r.monotonic === true)]).toEqual([name, true, true]);
    const values = rs.map((r) => r.value as number);
    expect([name, values.every((v, i) => i === 0 || v >= values[i - 1])]).toEqual([name, true]);
    expect([name, new Set(rs.map((r) => r.startNs)).size]).toEqual([name, 1]);
  }
  for (const name of gauge) {
    const rs = byName.get(name) ?? [];
    expect([name, rs.length >= 3, rs.some((r) => r.monotonic !== undefined || r.startNs !== undefined)]).toEqual([name, true, false]);
  }
  // The names declared exactly (not by a glob) that this server does not report (version-dependent ones only).
  const reported = new Set(byName.keys());
  const absent = MYSQL_COUNTERS.filter((n) => !/[*?[]/.test(n) && !reported.has(n));
  expect(absent.filter((n) => !VERSION_DEPENDENT.has(n))).toEqual([]);
}, 60_000);

withDb('real MariaDB over the Unix socket; a user without SLAVE MONITOR: the other metrics still come, the refused part is counted and warned once; collect_replica_metrics: false asks nothing', async () => {
  const port = await freePort();
  const db = await startDb(port);
  await setUp(db);
  const sock = monitor({ id: 'sock', database_socket: db.socket });
  const limited = monitor({ id: 'limited', database_socket: db.socket, database_username: 'limited' });
  const noReplica = monitor({ id: 'norepl', database_socket: db.socket, database_username: 'limited', collect_replica_metrics: false });
  const count = (x: typeof sock) => x.lines().filter((l) => l.includes(' mysql.global.uptime ')).length;
  expect(await waitFor(() => count(sock) >= 3 && count(limited) >= 3 && count(noReplica) >= 3, 15_000)).toBe(true);
  expect(metricsOf(sock.lines()).has('mysql.process.query')).toBe(true);
  expect(sock.src.status().errors).toBe(0);
  expect(metricsOf(limited.lines()).has('mysql.derived.read_percentage')).toBe(true);
  expect(limited.src.status().errors).toBeGreaterThanOrEqual(3);
  expect(limited.src.status().alive).toBe(true);
  const warns = limited.logger.records.filter((r) => r.level === 'warn').map((r) => r.message);
  expect(warns).toHaveLength(1);
  expect(warns[0]).toMatch(/SHOW SLAVE STATUS failed.*SLAVE MONITOR.*collect_replica_metrics: false/);
  expect(noReplica.src.status().errors).toBe(0);
  expect(noReplica.logger.records.filter((r) => r.level === 'warn')).toEqual([]);
}, 60_000);

withDb("a real replica: mysql.slave.* by Scalyr's names with the replication threads running", async () => {
  const [pPort, rPort] = [await freePort(), await freePort()];
  const [primary, replica] = await Promise.all([startDb(pPort, 'primary', ['--server-id=1', '--log-bin=mysql-bin']), startDb(rPort, 'replica', ['--server-id=2'])]);
  await primary.admin(["CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-pw'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'"]);
  await setUp(replica);
  await replica.admin([`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${pPort}, MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=no`, 'START SLAVE']);
  await primary.admin(['CREATE DATABASE shipped', 'CREATE TABLE shipped.t (id INT PRIMARY KEY) ENGINE=InnoDB', 'INSERT INTO shipped.t VALUES (1), (2)']);
  const m = monitor({ database_hostport: `127.0.0.1:${rPort}` });
  const running = () => {
    const v = lastValues(m.lines(), 'mysql_monitor(db)');
    return v['mysql.slave.thread_io_running'] === '1' && v['mysql.slave.thread_sql_running'] === '1' && Number(v['mysql.slave.bytes_executed']) > 0;
  };
  if (!(await waitFor(running, 20_000))) throw new Error(`replication did not run: ${JSON.stringify(await replica.admin(['SHOW SLAVE STATUS']))}`);
  const v = lastValues(m.lines(), 'mysql_monitor(db)');
  expect(Number(v['mysql.slave.bytes_relayed'])).toBeGreaterThanOrEqual(Number(v['mysql.slave.bytes_executed']));
  expect(v['mysql.slave.seconds_behind_master']).toMatch(/^\d+$/);
  expect(metricsOf(m.lines()).has('mysql.process.slave_io')).toBe(true); // the replica's own threads, by command
  expect(m.src.status().errors).toBe(0);
}, 60_000);

withDb('real MariaDB down, then up, then restarted: one error per outage, every failure counted, recovers each time', async () => {
  const port = await freePort();
  const m = monitor({ database_hostport: `127.0.0.1:${port}` });
  expect(await waitFor(() => m.src.status().errors >= 2, 8000)).toBe(true);
  expect(m.lines()).toEqual([]);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(/Database connect failed: the MySQL server does not appear to be running or cannot be reached at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  const db = await startDb(port);
  await setUp(db);
  expect(await waitFor(() => m.lines().some((l) => l.includes(' mysql.global.uptime ')), 20_000)).toBe(true);
  expect(m.logger.records.some((r) => r.level === 'info' && /recovered/.test(r.message))).toBe(true);
  await db.stop();
  const before = m.src.status().errors;
  expect(await waitFor(() => m.src.status().errors >= before + 2, 8000)).toBe(true);
  expect(m.errors()).toHaveLength(2);
  await db.start();
  const n = m.lines().length;
  expect(await waitFor(() => m.lines().length > n + 100, 20_000)).toBe(true);
  expect(m.src.status().alive).toBe(true);
  expect(m.errors()).toHaveLength(2);
}, 90_000);

withDb('real MariaDB, wrong password; a socket path that is no socket: the sample fails (counted), one clear error each, sampling goes on', async () => {
  const port = await freePort();
  const db = await startDb(port);
  await setUp(db);
  const bad = monitor({ id: 'badpw', database_hostport: `127.0.0.1:${port}`, database_password: 'wrong' });
  const notSock = path.join(dir, 'not-a-socket');
  fs.writeFileSync(notSock, '');
  const file = monitor({ id: 'file', database_socket: notSock });
  expect(await waitFor(() => bad.src.status().errors >= 3 && file.src.status().errors >= 3, 10_000)).toBe(true);
  expect(bad.lines()).toEqual([]);
  expect(bad.errors()).toHaveLength(1);
  expect(bad.errors()[0]).toMatch(/Access denied for user 'scalyr'@'127\.0\.0\.1' \(using password: YES\) at 127\.0\.0\.1:\d+ \(check database_username and database_password/);
  expect(file.errors()).toHaveLength(1);
  expect(file.errors()[0]).toMatch(/Specified socket file is not a socket: .*not-a-socket/);
}, 60_000);

withDb('TLS: use_ssl with ca_file verifies the server (a REQUIRE SSL user connects); a wrong CA, a server without TLS and an unreadable key_file each fail with one clear error', async () => {
  const ca = makeTestCa('mysql test CA');
  const other = makeTestCa('some other CA');
  cleanup.push(async () => {
    fs.rmSync(ca.dir, { recursive: true, force: true });
    fs.rmSync(other.dir, { recursive: true, force: true });
  });
  const tls = path.join(dir, 'tls');
  fs.mkdirSync(tls);
  if (process.getuid?.() === 0) fs.chmodSync(dir, 0o755);
  for (const [f, pem] of [['ca.pem', ca.caPem], ['server.pem', ca.certPem], ['server-key.pem', ca.keyPem]]) fs.writeFileSync(path.join(tls, f), pem, { mode: 0o644 });
  const [port, plainPort] = [await freePort(), await freePort()];
  const [db, plain] = await Promise.all([startDb(port, 'db', [`--ssl-ca=${path.join(tls, 'ca.pem')}`, `--ssl-cert=${path.join(tls, 'server.pem')}`, `--ssl-key=${path.join(tls, 'server-key.pem')}`]), startDb(plainPort, 'plain')]);
  await setUp(db);
  await db.admin([`CREATE USER 'tlsonly'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}' REQUIRE SSL`, "GRANT PROCESS ON *.* TO 'tlsonly'@'127.0.0.1'"]);
  await setUp(plain);
  const hp = `127.0.0.1:${port}`;
  const good = monitor({ id: 'tls', database_hostport: hp, database_username: 'tlsonly', use_ssl: true, ca_file: ca.caPath, collect_replica_metrics: false });
  const noTls = monitor({ id: 'notls', database_hostport: hp, database_username: 'tlsonly', collect_replica_metrics: false });
  const wrongCa = monitor({ id: 'wrongca', database_hostport: hp, use_ssl: true, ca_file: other.caPath });
  const unverified = monitor({ id: 'unverified', database_hostport: hp, use_ssl: true });
  const plainServer = monitor({ id: 'plain', database_hostport: `127.0.0.1:${plainPort}`, use_ssl: true, ca_file: ca.caPath });
  const badKey = monitor({ id: 'badkey', database_hostport: hp, use_ssl: true, ca_file: ca.caPath, key_file: path.join(dir, 'missing-key.pem') });
  const up = (x: typeof good) => x.lines().some((l) => l.includes(' mysql.global.ssl_accepts '));
  expect(await waitFor(() => up(good) && up(unverified) && [noTls, wrongCa, plainServer, badKey].every((x) => x.src.status().errors >= 2), 15_000)).toBe(true);
  expect(Number(lastValues(good.lines(), 'mysql_monitor(tls)')['mysql.global.ssl_accepts'])).toBeGreaterThanOrEqual(1);
  expect(good.src.status().errors).toBe(0);
  expect(noTls.errors()).toHaveLength(1);
  expect(noTls.errors()[0]).toMatch(/Access denied for user 'tlsonly'/);
  expect(wrongCa.errors()).toHaveLength(1);
  expect(wrongCa.errors()[0]).toMatch(/TLS with 127\.0\.0\.1:\d+ failed: .*(certificate|SELF_SIGNED|UNABLE_TO)/i);
  expect(unverified.logger.records.filter((r) => r.level === 'warn').map((r) => r.message)).toEqual([expect.stringMatching(/no CA file configured. The server certificate will not be validated/)]);
  expect(plainServer.errors()).toHaveLength(1);
  expect(plainServer.errors()[0]).toMatch(/TLS with 127\.0\.0\.1:\d+ failed: .*(HANDSHAKE_NO_SSL_SUPPORT)/);
  expect(badKey.errors()).toHaveLength(1);
  expect(badKey.errors()[0]).toMatch(/cannot read key_file .*missing-key\.pem/);
}, 60_000);

test('garbage: a peer answering bytes that are not the MySQL protocol fails each sample, logged once, sampling goes on', async () => {
  const junk = await startTcpPeer('HTTP/1.1 400 Bad Request\r\n\r\n<html>garbage</html>');
  cleanup.push(() => junk.stop());
  const m = monitor({ database_hostport: `127.0.0.1:${junk.port}` });
  expect(await waitFor(() => m.src.status().errors >= 3, 8000)).toBe(true);
  expect(m.lines()).toEqual([]);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(/did not answer as a MySQL server/);
  expect(m.src.status().lastError).toMatch(/did not answer as a MySQL server/);
});

test('slow: a peer that accepts and never answers fails each sample after `timeout`, logged once', async () => {
  const silent = await startTcpPeer(undefined);
  cleanup.push(() => silent.stop());
  const m = monitor({ database_hostport: `127.0.0.1:${silent.port}`, timeout: 0.15 });
  expect(await waitFor(() => m.src.status().errors >= 2, 8000)).toBe(true);
  expect(m.errors()).toHaveLength(1);
  expect(m.errors()[0]).toMatch(/no complete answer from 127\.0\.0\.1:\d+/);
});

withDb('a real agent loads a Scalyr agent.json (password from the environment via import_vars) and ships mysql.* lines to its embedded sink; status shows the monitor', async () => {
  const port = await freePort();
  const db = await startDb(port);
  await setUp(db);
  const configPath = path.join(dir, 'agent.json');
  fs.writeFileSync(
    configPath,
    JSON.stringify({
      ...isolatedAgent(dir),
      import_vars: ['MYSQL_MONITOR_PW'],
      global_monitor_sample_interval_enable_jitter: false,
      monitors: [{ module: 'scalyr_agent.builtin_monitors.mysql_monitor', id: 'agent', database_hostport: `127.0.0.1:${port}`, database_username: USER, database_password: '$MYSQL_MONITOR_PW', sample_interval: 0.5, ...UNLIMITED }],
    }),
  );
  const registry = createDefaultRegistry().add(mysqlMonitorComponent);
  const logger = memoryLogger();
  const agent = createAgent({ logger, registry, configPath, watchConfig: false, env: { PATH: process.env.PATH, MYSQL_MONITOR_PW: PASSWORD } });
  cleanup.push(async () => void (await agent.stop()));
  await agent.start();
  const out = path.join(dir, 'data', 'events');
  const has = (metric: string) => readNdjson(out).find((r) => r.message.includes(`[mysql_monitor(agent)] ${metric} `));
  const arrived = await waitFor(() => !!has('mysql.derived.thread_cache_hit_rate'), 20_000);
  if (!arrived) throw new Error(`no metric line in the embedded sink; status ${JSON.stringify(agent.status().monitors)}; log: ${logger.records.map((r) => `${r.level} ${r.message}`).join(' | ')}`);
  expect(has('mysql.vars.max_connections')!.message).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[mysql_monitor\(agent\)\] mysql\.vars\.max_connections 151\n$/);
  expect(has('mysql.global.uptime')!.attrs.parser).toBe('agent-metrics');
  expect(has('mysql.process.query')).toBeDefined();
  expect(agent.status().monitors.map((m) => m.key)).toEqual(['mysql_monitor(agent)']);
}, 60_000);
