/**
 * `postgres_monitor` (Scalyr's `scalyr_agent.builtin_monitors.postgres_monitor`): at each sample
 * connects to PostgreSQL (`database_host`:`database_port`, `database_name` as
 * `database_username` / `database_password`) with the pure-JS `pg` client and records, as Scalyr
 * does, `postgres.database.size` (`pg_database_size`) and the `pg_stat_database` row of
 * `database_name` under Scalyr's names (`numbackends` → `postgres.database.connections`,
 * `xact_commit` → `postgres.database.transactions_committed`, …, `stats_reset` →
 * `postgres.database.stats_reset` as milliseconds since the epoch). No extra fields: the entry's
 * `id` shows as `postgres_monitor(id)`. A column the server does not have is not reported, nor is
 * a `stats_reset` that was never set (NULL).
 *
 * Faults (server down, slow, bad credentials, unknown database, a peer that does not speak the
 * PostgreSQL protocol) fail the sample: the monitor source counts each, logs the first of a burst
 * (and here each change of fault within a burst), retries with backoff, and logs the recovery.
 * The connection is made per sample and always closed (Scalyr keeps one open; a sample costs one
 * short connection more, and nothing is left half-open after a fault or at stop).
 * sluice addition: `timeout` bounds each sample (connect and queries).
 */
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, readDeclared, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import type { ScalyrMonitorSample } from './metricLine.js';

export const POSTGRES_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'database_host', type: 'string', default: 'localhost', description: 'Name of host machine the agent will connect to PostgreSQL to retrieve monitoring data.' }),
  s({ name: 'database_port', type: 'int', default: 5432, min: 1, max: 65535, description: 'Port on the host machine the agent will connect to PostgreSQL to retrieve monitoring data.' }),
  s({ name: 'database_name', type: 'string', required: true, description: 'Name of database the agent will connect to PostgreSQL to retrieve monitoring data (its `pg_stat_database` row and size are reported).' }),
  s({ name: 'database_username', type: 'string', required: true, description: 'Username which the agent uses to connect to PostgreSQL to retrieve monitoring data.' }),
  s({ name: 'database_password', type: 'string', required: true, description: 'Password for connecting to PostgreSQL (password, md5 or scram-sha-256 authentication).' }),
  own({ name: 'timeout', type: 'float', min: 0.001, defaultText: 'min(`sample_interval`, 30)', description: 'Seconds one sample (connect and queries) may take; a slower server fails the sample (counted, logged once per fault).' }),
];

/** `pg_stat_database` columns and Scalyr's metric names for them, in Scalyr's order. */
export const PG_STAT_DATABASE_METRICS: ReadonlyArray<readonly [string, string]> = [
  ['numbackends', 'postgres.database.connections'],
  ['xact_commit', 'postgres.database.transactions_committed'],
  ['xact_rollback', 'postgres.database.transactions_rolledback'],
  ['blks_read', 'postgres.database.disk_blocks_read'],
  ['blks_hit', 'postgres.database.disk_blocks_hit'],
  ['tup_returned', 'postgres.database.query_rows_returned'],
  ['tup_fetched', 'postgres.database.query_rows_fetched'],
  ['tup_inserted', 'postgres.database.query_rows_inserted'],
  ['tup_updated', 'postgres.database.query_rows_updated'],
  ['tup_deleted', 'postgres.database.query_rows_deleted'],
  ['temp_files', 'postgres.database.temp_files'],
  ['temp_bytes', 'postgres.database.temp_bytes'],
  ['deadlocks', 'postgres.database.deadlocks'],
  ['blk_read_time', 'postgres.database.blocks_read_time'],
  ['blk_write_time', 'postgres.database.blocks_write_time'],
  ['stats_reset', 'postgres.database.stats_reset'],
];

/**
 * The cumulative counters among them: every `pg_stat_database` column the PostgreSQL manual
 * (cumulative statistics system, `pg_stat_database`) gives as a number of events or time spent
 * since the statistics were last reset (transactions, blocks, rows, temporary files and bytes,
 * deadlocks, block read/write time); a reset (`pg_stat_reset()`) shows as a drop. The backends
 * now connected, the size and the reset time are gauges.
 */
const PG_STAT_DATABASE_COUNTER_COLUMNS = new Set(['xact_commit', 'xact_rollback', 'blks_read', 'blks_hit', 'tup_returned', 'tup_fetched', 'tup_inserted', 'tup_updated', 'tup_deleted', 'temp_files', 'temp_bytes', 'deadlocks', 'blk_read_time', 'blk_write_time']);
export const POSTGRES_COUNTERS: readonly string[] = PG_STAT_DATABASE_METRICS.filter(([col]) => PG_STAT_DATABASE_COUNTER_COLUMNS.has(col)).map(([, metric]) => metric);

/** Columns PostgreSQL returns as `double precision` (Python floats in Scalyr's output). */
const FLOAT_COLUMNS = new Set(['blk_read_time', 'blk_write_time']);

export type PostgresFault = 'down' | 'timeout' | 'auth' | 'no_database' | 'garbage' | 'error';

export class PostgresError extends Error {
  constructor(
    readonly kind: PostgresFault,
    message: string,
  ) {
    super(message);
    this.name = 'PostgresError';
  }
}

export function checkPostgresMonitor(own: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  for (const k of ['database_name', 'database_username', 'database_password']) {
    if (own[k] === undefined || own[k] === null) problems.push({ key: k, message: `missing required option "${k}" (database_name, database_username and database_password must be specified in the configuration)` });
  }
  return problems;
}

/** A number from a `pg` value (int8 and numeric arrive as strings), or undefined. */
function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

/** The samples of one `pg_stat_database` row and the database size, by Scalyr's names. */
export function postgresSamples(size: unknown, row: Readonly<Record<string, unknown>> | undefined): ScalyrMonitorSample[] {
  const out: ScalyrMonitorSample[] = [];
  const sz = num(size);
  if (sz !== undefined) out.push({ metric: 'postgres.database.size', value: sz });
  if (!row) return out;
  for (const [col, metric] of PG_STAT_DATABASE_METRICS) {
    if (!(col in row)) continue;
    const v = row[col];
    if (col === 'stats_reset') {
      const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN;
      if (Number.isFinite(t)) out.push({ metric, value: t });
      continue;
    }
    const n = num(v);
    if (n === undefined) continue;
    out.push(FLOAT_COLUMNS.has(col) ? { metric, value: n, float: true } : { metric, value: n });
  }
  return out;
}

interface PgClient {
  connect(): Promise<void>;
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'error', f: (e: Error) => void): unknown;
}
interface PgModule {
  Client: new (o: Record<string, unknown>) => PgClient;
}
let pgModule: Promise<PgModule> | undefined;
/** `pg` is loaded on the first sample only (a config without postgres_monitor never loads it). */
function loadPg(): Promise<PgModule> {
  const name = 'pg';
  pgModule ??= import(name).then((m: { default?: PgModule } & PgModule) => m.default ?? m);
  return pgModule;
}

/** One failure of a sample as a `PostgresError` with a clear, actionable message. */
export function classifyPostgresError(err: unknown, where: { host: string; port: number; database: string; user: string }): PostgresError {
  if (err instanceof PostgresError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string; message?: string };
  const code = String(e?.code ?? '');
  const msg = e?.message ?? String(err);
  const addr = `${where.host}:${where.port}`;
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL', 'EAI_AGAIN'].includes(code)) {
    return new PostgresError('down', `Database connect failed: the PostgreSQL server does not appear to be running or cannot be reached at ${addr} (${code})`);
  }
  if (code === '28P01' || code === '28000') {
    return new PostgresError('auth', `Database connect failed: authentication as "${where.user}" at ${addr} was refused: ${msg} (check database_username and database_password, and pg_hba.conf)`);
  }
  if (code === '3D000') return new PostgresError('no_database', `Database connect failed: ${msg} at ${addr} (check database_name)`);
  if (/timeout/i.test(msg)) return new PostgresError('timeout', `Database connect failed: ${msg}`);
  if (code === 'ECONNRESET' || code === 'EPIPE' || /terminated unexpectedly|unexpected message|unknown message|invalid|protocol|received invalid response/i.test(msg)) {
    return new PostgresError('garbage', `Database connect failed: the server at ${addr} did not answer as a PostgreSQL server (${msg})`);
  }
  return new PostgresError('error', `Database error: ${msg}${code ? ` (${code})` : ''}`);
}

export function postgresMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const c = readDeclared(POSTGRES_MONITOR_OPTIONS, config);
  const [problem] = checkPostgresMonitor(c);
  if (problem) throw new Error(`postgres_monitor: "${problem.key}" ${problem.message}`);
  const timeoutSecs = c.timeout !== undefined ? Number(c.timeout) : Math.min(ctx.sampleInterval, 30);
  if (!(timeoutSecs > 0)) throw new Error(`postgres_monitor: "timeout" must be a positive number of seconds (got ${String(c.timeout)})`);
  const port = Number(c.database_port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`postgres_monitor: "database_port" must be a port number (got ${String(c.database_port)})`);
  const where = { host: String(c.database_host), port, database: String(c.database_name), user: String(c.database_username) };
  const password = String(c.database_password);
  const timeoutMs = Math.max(1, Math.round(timeoutSecs * 1000));
  let fault: PostgresFault | undefined;

  return new Observable<ScalyrMonitorSample[]>((subscriber) => {
    let client: PgClient | undefined;
    let finished = false;
    const close = () => {
      const cl = client;
      client = undefined;
      cl?.end().catch(() => undefined);
    };
    const timer = setTimeout(() => fail(new PostgresError('timeout', `Database connect failed: no complete answer from ${where.host}:${where.port} within ${timeoutSecs}s`)), timeoutMs);
    const fail = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      close();
      const e = classifyPostgresError(err, where);
      if (fault !== undefined && fault !== e.kind) ctx.logger.error(`monitor ${ctx.id}: ${e.message}`, { monitor: ctx.id });
      fault = e.kind;
      subscriber.error(e);
    };
    (async () => {
      const pg = await loadPg();
      if (finished) return;
      const cl = new pg.Client({
        host: where.host,
        port: where.port,
        database: where.database,
        user: where.user,
        password,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
        application_name: 'sluice postgres_monitor',
      });
      client = cl;
      cl.on('error', (e) => fail(e));
      await cl.connect();
      if (finished) return;
      const size = await cl.query('select pg_database_size($1) as size', [where.database]);
      const stats = await cl.query('select * from pg_stat_database where datname = $1', [where.database]);
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      close();
      fault = undefined;
      subscriber.next(postgresSamples(size.rows[0]?.size, stats.rows[0]));
      subscriber.complete();
    })().catch(fail);
    return () => {
      if (!finished) {
        finished = true;
        clearTimeout(timer);
        close();
      }
    };
  });
}

export const postgresMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'postgres_monitor',
  aliases: ['scalyr_agent.builtin_monitors.postgres_monitor'],
  doc: 'Connects to PostgreSQL (`database_host`:`database_port`, `database_name`, `database_username`, `database_password`) at each sample and records `postgres.database.size` and the database\'s `pg_stat_database` row by Scalyr\'s names (`postgres.database.connections`, `postgres.database.transactions_committed`, `postgres.database.disk_blocks_read`, `postgres.database.query_rows_returned`, `postgres.database.deadlocks`, `postgres.database.stats_reset`…). Needs password (md5/scram) access for the user in pg_hba.conf.',
  options: POSTGRES_MONITOR_OPTIONS,
  check: checkPostgresMonitor,
  counterMetrics: POSTGRES_COUNTERS,
  example: { module: 'postgres_monitor', id: 'mydb', database_host: 'localhost', database_port: 5432, database_name: 'mydb', database_username: 'scalyr', database_password: 'secret' },
  create: postgresMonitor,
});
