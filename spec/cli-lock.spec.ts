/**
 * One agent per data directory: the lock file (unit) and `sluice start` with real child processes
 * (a second start, foreground or daemonized, is refused with the first one's pid).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { acquireLock, lockHolder, pidAlive, processStartTime, LOCK_FILE } from '../lib/dataDirLock.js';
import { waitFor } from './helpers/wait.js';
import { makeAgentDir } from './helpers/agentDir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sluice');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-lock-'));
}

/** A pid that is certainly dead: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  expect(pidAlive(pid)).toBe(false);
  return pid;
}

describe('data directory lock', () => {
  it('creates agent.lock with the pid, refuses a second owner, releases only its own lock', () => {
    const dir = path.join(tmp(), 'data');
    const a = acquireLock(dir);
    expect(a.ok).toBe(true);
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(process.pid));
    expect(lockHolder(dir)).toBe(process.pid);
    // Another live process (our parent stands in for it) holding the lock is refused by pid.
    const other = acquireLock(dir, { pid: process.ppid });
    expect(other).toEqual({ ok: false, path: path.join(dir, LOCK_FILE), pid: process.pid });
    if (a.ok) a.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    expect(lockHolder(dir)).toBeUndefined();
    // Release after a successor took over does not remove the successor's lock.
    const b = acquireLock(dir);
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${process.ppid}\n`);
    if (b.ok) b.release();
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.ppid));
  });

  it('takes over a stale lock whose pid is dead', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${deadPid()}\n`);
    expect(lockHolder(dir)).toBeUndefined();
    const l = acquireLock(dir);
    expect(l.ok).toBe(true);
    expect(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(process.pid));
    if (l.ok) l.release();
  });

  it('takes over a lock whose pid is alive but belongs to a later process (pid reused)', () => {
    const dir = tmp();
    const start = processStartTime(process.ppid);
    if (start === undefined) return; // no /proc: pid-only locks
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${process.ppid}\nstart ${Number(start) + 12345}\n`);
    expect(lockHolder(dir)).toBeUndefined();
    fs.writeFileSync(path.join(dir, LOCK_FILE), `${process.ppid}\nstart ${start}\n`);
    expect(lockHolder(dir)).toBe(process.ppid);
    const l = acquireLock(dir);
    expect(l.ok).toBe(false);
  });

  it('treats a fresh lock without a pid as held (being written), an old one as stale', () => {
    const dir = tmp();
    const file = path.join(dir, LOCK_FILE);
    fs.writeFileSync(file, '');
    expect(acquireLock(dir, { graceMs: 60_000 }).ok).toBe(false);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(file, old, old);
    const l = acquireLock(dir, { graceMs: 60_000 });
    expect(l.ok).toBe(true);
    if (l.ok) l.release();
  });

  it('is released when the owning process exits', () => {
    const dir = tmp();
    const mod = path.join(ROOT, 'dist', 'lib', 'dataDirLock.js');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(mod)}); const l = m.acquireLock(${JSON.stringify(dir)}); process.stdout.write(String(l.ok));`], { encoding: 'utf8' });
    expect(r.stdout).toBe('true');
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });
});

function sluice(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 40_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const makeConfig = () => makeAgentDir('sluice-cli-lock-');

describe('sluice start: one agent per agent_data_path', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('a second start (foreground or daemonized) is refused with the first one\'s pid', async () => {
    const c = makeConfig();
    const first = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', c.configPath], { stdio: 'ignore' });
    children.push(first);
    await waitFor('agent running', () => sluice(['status', '--config', c.configPath]).code === 0, 15_000, 100);
    expect(fs.readFileSync(path.join(c.data, LOCK_FILE), 'utf8').split('\n')[0]).toBe(String(first.pid));

    for (const extra of [['--foreground'], []]) {
      const again = sluice(['start', ...extra, '--config', c.configPath]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already running/);
      expect(again.stderr).toContain(`pid ${first.pid}`);
    }
    const stop = sluice(['stop', '--config', c.configPath]);
    expect(stop.code).toBe(0);
    expect(pidAlive(first.pid!)).toBe(false);
    expect(fs.existsSync(path.join(c.data, LOCK_FILE))).toBe(false);

    // Now a daemonized start takes the lock itself (the daemon's pid), and a stale lock from a
    // killed agent does not stand in its way.
    const d = sluice(['start', '--config', c.configPath]);
    expect(d.code).toBe(0);
    const daemonPid = Number(/pid (\d+)/.exec(d.stdout)![1]);
    expect(lockHolder(c.data)).toBe(daemonPid);
    const refused = sluice(['start', '--foreground', '--config', c.configPath]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`pid ${daemonPid}`);
    process.kill(daemonPid, 'SIGKILL');
    await waitFor('daemon gone', () => !pidAlive(daemonPid), 5000, 20);
    expect(fs.existsSync(path.join(c.data, LOCK_FILE))).toBe(true);
    const again = sluice(['start', '--config', c.configPath]);
    expect(again.code).toBe(0);
    expect(sluice(['stop', '--config', c.configPath]).code).toBe(0);
  }, 90_000);

  it('refuses while the first agent is still shutting down (socket closed, process alive)', async () => {
    const c = makeConfig();
    const first = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', c.configPath], { stdio: 'ignore' });
    children.push(first);
    await waitFor('agent running', () => sluice(['status', '--config', c.configPath]).code === 0, 15_000, 100);
    // SIGSTOP freezes it with its lock held and its socket still bound; the socket no longer answers.
    process.kill(first.pid!, 'SIGSTOP');
    try {
      const again = sluice(['start', '--foreground', '--config', c.configPath]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`pid ${first.pid}`);
    } finally {
      process.kill(first.pid!, 'SIGCONT');
    }
    expect(sluice(['stop', '--config', c.configPath]).code).toBe(0);
    expect(pidAlive(first.pid!)).toBe(false);
  }, 90_000);
});
