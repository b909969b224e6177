/**
 * Real database servers for the monitor specs and the component harness: Debian's
 * `redis-server` and PostgreSQL started as child processes with their data in a temp dir on a
 * free loopback port. Each launcher says why it cannot run (`…Missing()`), so a spec can skip
 * with a printed reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findBinary, waitFor } from './statusPeers.js';

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A server the test can stop and start again on the same port and data. */
export interface RealServer {
  port: number;
  /** What it wrote to stderr/stdout since the last start. */
  log(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function child(bin: string, args: string[], opts: { cwd: string; uid?: number; gid?: number }, ready: () => Promise<boolean>, stopSignal: NodeJS.Signals): RealServer & { port: number } {
  let proc: ChildProcess | undefined;
  let out = '';
  const server = {
    port: 0,
    log: () => out,
    async start() {
      out = '';
      const ch = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
      proc = ch;
      ch.stdout?.on('data', (b: Buffer) => (out += b.toString()));
      ch.stderr?.on('data', (b: Buffer) => (out += b.toString()));
      let exited = false;
      ch.once('exit', () => (exited = true));
      if (!(await waitFor(async () => exited || (await ready()), 20_000, 50)) || exited) {
        ch.kill('SIGKILL');
        throw new Error(`${path.basename(bin)} did not start: ${out}`);
      }
    },
    async stop() {
      const ch = proc;
      proc = undefined;
      if (!ch || ch.exitCode !== null || ch.signalCode !== null) return;
      const exited = new Promise<void>((r) => ch.once('exit', () => r()));
      ch.kill(stopSignal);
      const t = setTimeout(() => ch.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
  return server;
}

// --- redis -----------------------------------------------------------------------------------

const redisBin = () => findBinary(['/usr/bin/redis-server', '/usr/local/bin/redis-server'], ['--version']);

/** Why a real redis cannot run here (undefined: it can). */
export function redisMissing(): string | undefined {
  const r = redisBin();
  return r.path ? undefined : `${r.reason} (apt-get install -y redis-server)`;
}

/** A started `redis-server` on 127.0.0.1:`port`, every command a slow-log entry, data in `dir`. */
export async function startRedis(dir: string, port: number, extra: string[] = []): Promise<RealServer> {
  const d = path.join(dir, `redis-${port}-${Date.now()}`);
  fs.mkdirSync(d, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', d, '--slowlog-log-slower-than', '0', ...extra];
  const s = child(redisBin().path!, args, { cwd: d }, () => canConnect(port), 'SIGTERM');
  s.port = port;
  await s.start();
  return s;
}

// --- PostgreSQL ------------------------------------------------------------------------------

const PG_BIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((d) => fs.existsSync(path.join(d, 'postgres')) && fs.existsSync(path.join(d, 'initdb')));

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const u = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Why a real PostgreSQL cannot run here (undefined: it can). */
export function postgresMissing(): string | undefined {
  if (!PG_BIN) return 'no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin (apt-get install -y postgresql)';
  if (process.getuid?.() === 0 && !postgresUser()) return 'running as root and there is no "postgres" user to run the server as (apt-get install -y postgresql)';
  return undefined;
}

interface PgClient {
  on(event: 'error', f: () => void): void;
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}
const PG = 'pg';
let pgClient: Promise<new (o: Record<string, unknown>) => PgClient> | undefined;

async function canQuery(port: number): Promise<boolean> {
  pgClient ??= import(PG).then((m: { default?: { Client: never }; Client: never }) => (m.default ?? m).Client);
  const Client = await pgClient;
  const c = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * `initdb` in `dir`/data (trust for `postgres`, scram-sha-256 for every other user on
 * 127.0.0.1), then a server on 127.0.0.1:`port` (its socket in `dir`). `dir` is handed to the
 * `postgres` user when running as root, so it must be reachable by it (e.g. straight under
 * the system temp dir).
 */
export async function startPostgres(dir: string, port: number): Promise<RealServer> {
  const runAs = postgresUser();
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const data = path.join(dir, 'data');
  const init = spawnSync(path.join(PG_BIN!, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], { encoding: 'utf8', cwd: dir, ...ids });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  fs.writeFileSync(path.join(data, 'pg_hba.conf'), 'local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n');
  const args = ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'password_encryption=scram-sha-256'];
  // SIGINT: PostgreSQL's fast shutdown.
  const s = child(path.join(PG_BIN!, 'postgres'), args, { cwd: dir, ...ids }, () => canQuery(port), 'SIGINT');
  s.port = port;
  await s.start();
  return s;
}
