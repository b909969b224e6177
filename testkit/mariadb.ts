/**
 * A real MariaDB (Debian `mariadb-server`) for the mysql_monitor spec (and, once registered, the
 * component harness's example peer): `mariadb-install-db` into a temp dir, then `mariadbd` on a
 * free loopback port and a Unix socket in that dir, run as the `mysql` user when the test runs
 * as root (mariadbd refuses root). `root@localhost` has no password and is reached over the
 * socket for setting up users; everything else is up to the test. `mariadbMissing()` says why
 * it cannot run here, so a spec can skip with a printed reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findBinary, waitFor } from './statusPeers.js';

const serverBin = () => findBinary(['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd'], ['--version']);
const installBin = () => ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db', '/usr/scripts/mariadb-install-db'].find((p) => fs.existsSync(p));

function mysqlUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const u = spawnSync('id', ['-u', 'mysql'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'mysql'], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return undefined;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Why a real MariaDB cannot run here (undefined: it can). */
export function mariadbMissing(): string | undefined {
  const s = serverBin();
  if (!s.path) return `${s.reason} (apt-get install -y mariadb-server)`;
  if (!installBin()) return 'no mariadb-install-db / mysql_install_db (apt-get install -y mariadb-server)';
  if (process.getuid?.() === 0 && !mysqlUser()) return 'running as root and there is no "mysql" user to run the server as (apt-get install -y mariadb-server)';
  return undefined;
}

export interface MariaDb {
  port: number;
  /** The server's Unix socket. */
  socket: string;
  /** What the server wrote since the last start. */
  log(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Runs statements as root over the socket, in order; the results of each. */
  admin(statements: string[]): Promise<unknown[]>;
}

function connects(opts: net.NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(opts);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

interface Mysql2 {
  createConnection(o: Record<string, unknown>): Promise<{ query(sql: string): Promise<[unknown, unknown]>; end(): Promise<void>; on(e: 'error', f: () => void): void }>;
}
const MYSQL2 = 'mysql2/promise';
let mysql2: Promise<Mysql2> | undefined;

/**
 * A MariaDB with its data in `dir`/data on 127.0.0.1:`port`, socket `dir`/mysql.sock. `dir` is
 * handed to the `mysql` user when running as root, so it must be reachable by it (e.g. straight
 * under the system temp dir). `args`: more server options (`--server-id=2`, `--log-bin`…).
 */
export async function startMariaDb(dir: string, port: number, args: string[] = []): Promise<MariaDb> {
  const runAs = mysqlUser();
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'mysql.sock');
  // Its own temp dir: a MariaDB starting up deletes the `#sql*` files it finds in its tmpdir, so
  // two instances sharing /tmp (specs in parallel workers) break each other's bootstrap.
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  if (runAs) fs.chownSync(tmp, runAs.uid, runAs.gid);
  const env = { ...process.env, TMPDIR: tmp };
  const install = spawnSync(installBin()!, ['--no-defaults', `--datadir=${data}`, ...(runAs ? ['--user=mysql'] : []), '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'], {
    encoding: 'utf8',
    cwd: dir,
    env,
    timeout: 60_000,
  });
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr || install.stdout || String(install.error)}`);
  if (runAs) spawnSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, data]);
  const serverArgs = [
    '--no-defaults',
    `--datadir=${data}`,
    `--socket=${socket}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--pid-file=${path.join(dir, 'mariadbd.pid')}`,
    `--tmpdir=${tmp}`,
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=16M',
    '--innodb-log-file-size=8M',
    '--innodb-flush-log-at-trx-commit=0',
    '--skip-log-bin',
    ...(runAs ? ['--user=mysql'] : []),
    ...args,
  ];
  // An explicit --log-bin later in `args` overrides --skip-log-bin.
  let proc: ChildProcess | undefined;
  let out = '';
  const server: MariaDb = {
    port,
    socket,
    log: () => out,
    async start() {
      out = '';
      const ch = spawn(serverBin().path!, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, env, ...ids });
      proc = ch;
      ch.stdout?.on('data', (b: Buffer) => (out += b.toString()));
      ch.stderr?.on('data', (b: Buffer) => (out += b.toString()));
      let exited = false;
      ch.once('exit', () => (exited = true));
      const ready = async () => /ready for connections/.test(out) && (await connects({ host: '127.0.0.1', port })) && (await connects({ path: socket }));
      if (!(await waitFor(async () => exited || (await ready()), 30_000, 50)) || exited) {
        ch.kill('SIGKILL');
        throw new Error(`mariadbd did not start: ${out}`);
      }
    },
    async stop() {
      const ch = proc;
      proc = undefined;
      if (!ch || ch.exitCode !== null || ch.signalCode !== null) return;
      const exited = new Promise<void>((r) => ch.once('exit', () => r()));
      ch.kill('SIGTERM');
      const t = setTimeout(() => ch.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
    async admin(statements) {
      mysql2 ??= import(MYSQL2).then((m: { default?: Mysql2 } & Mysql2) => m.default ?? m);
      const c = await (await mysql2).createConnection({ socketPath: socket, user: 'root', password: '' });
      c.on('error', () => undefined);
      try {
        const results: unknown[] = [];
        for (const sql of statements) results.push((await c.query(sql))[0]);
        return results;
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };
  await server.start();
  return server;
}
