/**
 * `sluice stop`, `restart` and `reload`: requests to the running agent over its control socket.
 */
import { call, AgentNotRunningError } from '../control/client.js';
import type { AgentStatus } from '../agent.js';
import { lockHolder, pidAlive } from '../../lib/dataDirLock.js';
import { configFor, type CliArgs, type Output } from './args.js';
import { pidFromFile, readStopReport, start, undeliveredText } from './start.js';

/**
 * How long `stop` waits for the agent process to exit: the agent's own stop bound (10 s, plus
 * its 2 s margin), the 3 s bin/sluice grants stray handles, and slack. `--timeout SECS` overrides.
 */
export const STOP_WAIT_MS = 25_000;

export async function stop(args: CliArgs, out: Output): Promise<number> {
  const cfg = configFor(args, out);
  if (!cfg) return 1;
  const t = Number(args.flags.get('timeout'));
  const waitMs = Number.isFinite(t) && t > 0 ? t * 1000 : STOP_WAIT_MS;
  const dataPath = cfg.agent_data_path;
  // The pid first: from the agent itself, else its lock or pid file.
  let pid: number | undefined;
  let pendingBefore: number | undefined;
  try {
    const s = await call<AgentStatus>(dataPath, { cmd: 'status' }, 5000);
    if (typeof s.pid === 'number') pid = s.pid;
    if (typeof s.pendingBytes === 'number') pendingBefore = s.pendingBytes;
  } catch {
    /* not answering: maybe already shutting down */
  }
  pid ??= lockHolder(dataPath) ?? pidFromFile(dataPath);
  try {
    await call(dataPath, { cmd: 'stop' }, 10_000);
  } catch (err) {
    if (!(err instanceof AgentNotRunningError)) throw err;
    if (pid === undefined || !pidAlive(pid)) {
      out.err(err.message);
      return 4;
    }
    // The socket is closed but the process lives: a stop already under way. Wait for it.
    out.out(`sluice (pid ${pid}) is already stopping; waiting for it to exit...`);
  }
  if (pid === undefined) {
    out.err('The agent accepted the stop request but did not tell its pid (no status answer, lock or pid file); cannot confirm that it exited.');
    return 1;
  }
  const deadline = Date.now() + waitMs;
  while (pidAlive(pid)) {
    if (Date.now() >= deadline) {
      out.err(
        `The agent (pid ${pid}) did not exit within ${waitMs / 1000} seconds of the stop request; it is still running. ` +
          `Check its log, wait, or end it with "kill ${pid}" (undelivered log lines are re-read from the checkpoints on the next start).`,
      );
      return 1;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const report = readStopReport(dataPath);
  if (report && report.pid === pid) {
    const left = report.pendingBytes > 0 || (report.sinkPendingBytes ?? 0) > 0;
    out.out(left ? `sluice stopped (pid ${pid} has exited); ${undeliveredText(report)}` : `sluice stopped (pid ${pid} has exited); everything read was delivered.`);
  } else {
    const hint = pendingBefore ? ` When asked to stop it had ${pendingBefore} bytes not yet delivered; log lines among them are re-read from the checkpoints on the next start.` : '';
    out.out(`sluice stopped (pid ${pid} has exited).${hint}`);
  }
  return 0;
}

export async function restart(args: CliArgs, out: Output): Promise<number> {
  const code = await stop(args, out);
  if (code !== 0 && code !== 4) return code;
  return start(args, out);
}

export async function reload(args: CliArgs, out: Output): Promise<number> {
  const cfg = configFor(args, out);
  if (!cfg) return 1;
  try {
    const r = await call<{ ok: boolean; errors?: string[]; started?: string[]; restarted?: string[]; stopped?: string[]; reconfigured?: string[]; needsRestart?: string[] }>(cfg.agent_data_path, { cmd: 'reload' });
    if (!r.ok) {
      out.err(`Reload rejected; the agent keeps its last good configuration:\n${(r.errors ?? []).join('\n')}`);
      return 1;
    }
    out.out(`Reloaded: ${r.started?.length ?? 0} started, ${r.restarted?.length ?? 0} restarted, ${r.reconfigured?.length ?? 0} reconfigured, ${r.stopped?.length ?? 0} stopped.`);
    if (r.needsRestart?.length) out.out(`Changed options that take effect only after a restart (sluice restart): ${r.needsRestart.join(', ')}.`);
    return 0;
  } catch (err) {
    if (err instanceof AgentNotRunningError) {
      out.err(err.message);
      return 4;
    }
    throw err;
  }
}
