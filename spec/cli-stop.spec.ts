/**
 * `sluice stop` is honest: it returns only once the agent process has exited (real child
 * processes, a temp config and agent_data_path, the embedded default sink), says what was left
 * undelivered, and says so with the pid and a non-zero exit when the process outlives the wait.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './helpers/wait.js';
import { pidAlive } from '../lib/dataDirLock.js';
import { makeAgentDir } from './helpers/agentDir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sluice');

function sluice(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Gone, or a zombie this test process has not reaped yet (it exited; pidAlive says so). */
function alive(pid: number): boolean {
  return pidAlive(pid);
}

const makeConfig = (extra: Record<string, unknown> = {}) => makeAgentDir('sluice-cli-stop-', { line_completion_wait_time: 0.2, ...extra });

describe('sluice stop waits for the agent to exit', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('foreground agent: after stop returns, its pid is gone and the lock is released', async () => {
    const c = makeConfig();
    const agent = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', c.configPath], { stdio: 'ignore' });
    children.push(agent);
    await waitFor('agent running', () => sluice(['status', '--config', c.configPath]).code === 0, 15_000, 100);
    fs.appendFileSync(c.log, 'one\ntwo\n');
    const stop = sluice(['stop', '--config', c.configPath]);
    expect(stop.code).toBe(0);
    expect(alive(agent.pid!)).toBe(false);
    expect(stop.stdout).toContain(`sluice stopped (pid ${agent.pid} has exited)`);
    expect(stop.stdout).toMatch(/delivered/);
    expect(fs.existsSync(path.join(c.data, 'agent.lock'))).toBe(false);
    expect(fs.existsSync(path.join(c.data, 'sluice.pid'))).toBe(false);
    // A second stop: nothing runs.
    expect(sluice(['stop', '--config', c.configPath]).code).toBe(4);
  }, 60_000);

  it('daemonized agent, and restart uses the same wait', async () => {
    const c = makeConfig();
    const r = sluice(['start', '--config', c.configPath]);
    expect(r.code).toBe(0);
    const pid1 = Number(/pid (\d+)/.exec(r.stdout)![1]);
    const re = sluice(['restart', '--config', c.configPath]);
    expect(re.code).toBe(0);
    expect(re.stdout).toContain(`sluice stopped (pid ${pid1} has exited)`);
    expect(alive(pid1)).toBe(false);
    const pid2 = Number(/sluice started \(pid (\d+)\)/.exec(re.stdout)![1]);
    expect(pid2).not.toBe(pid1);
    expect(alive(pid2)).toBe(true);
    const stop = sluice(['stop', '--config', c.configPath]);
    expect(stop.code).toBe(0);
    expect(alive(pid2)).toBe(false);
  }, 90_000);

  it('says what was left undelivered when uploads fail, within the bound; status -v repeats it', async () => {
    // An upload target that refuses connections: batches stay pending and the sink retries.
    const c = makeConfig({ api_key: 'test-key', scalyr_server: 'http://127.0.0.1:9' });
    const agent = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', c.configPath], { stdio: 'ignore' });
    children.push(agent);
    await waitFor('agent running', () => sluice(['status', '--config', c.configPath]).code === 0, 15_000, 100);
    fs.appendFileSync(c.log, 'undeliverable line\n'.repeat(50));
    await waitFor(
      'bytes pending',
      () => JSON.parse(sluice(['status', '-v', '--format', 'json', '--config', c.configPath]).stdout).pendingBytes > 0,
      15_000,
      100,
    );
    const t0 = Date.now();
    const stop = sluice(['stop', '--config', c.configPath]);
    expect(stop.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(alive(agent.pid!)).toBe(false);
    expect(stop.stdout).toMatch(/not yet delivered/);
    expect(stop.stdout).toMatch(/next start/);
    const st = sluice(['status', '-v', '--config', c.configPath]);
    expect(st.stdout).toMatch(/Last stop: .*not yet delivered/);

    // Same again, but a stop wait shorter than the agent's stop bound: an honest timeout.
    const again = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', c.configPath], { stdio: 'ignore' });
    children.push(again);
    await waitFor('agent running', () => sluice(['status', '--config', c.configPath]).code === 0, 15_000, 100);
    fs.appendFileSync(c.log, 'more undeliverable\n'.repeat(50));
    await waitFor(
      'bytes pending',
      () => JSON.parse(sluice(['status', '-v', '--format', 'json', '--config', c.configPath]).stdout).pendingBytes > 0,
      15_000,
      100,
    );
    const short = sluice(['stop', '--timeout', '1', '--config', c.configPath]);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain(`pid ${again.pid}`);
    expect(short.stderr).toMatch(/still running/);
    // A second stop while it is shutting down waits for the same process.
    const wait = sluice(['stop', '--config', c.configPath]);
    expect(wait.code).toBe(0);
    expect(wait.stdout).toContain(`pid ${again.pid}`);
    expect(alive(again.pid!)).toBe(false);
  }, 120_000);
});
