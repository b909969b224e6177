/**
 * `sluice stop`, `restart` and `reload`: requests to the running agent over its control socket.
 */
import { call, AgentNotRunningError } from '../control/client.js';
import { configFor, type CliArgs, type Output } from './main.js';
import { isRunning, start } from './start.js';

export async function stop(args: CliArgs, out: Output): Promise<number> {
  const cfg = configFor(args, out);
  if (!cfg) return 1;
  try {
    await call(cfg.agent_data_path, { cmd: 'stop' }, 10_000);
  } catch (err) {
    if (err instanceof AgentNotRunningError) {
      out.err(err.message);
      return 4;
    }
    throw err;
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!(await isRunning(cfg.agent_data_path))) {
      out.out('sluice stopped.');
      return 0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  out.err('The agent did not stop within 30 seconds.');
  return 1;
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
    const r = await call<{ ok: boolean; errors?: string[]; started?: string[]; restarted?: string[]; stopped?: string[] }>(cfg.agent_data_path, { cmd: 'reload' });
    if (!r.ok) {
      out.err(`Reload rejected; the agent keeps its last good configuration:\n${(r.errors ?? []).join('\n')}`);
      return 1;
    }
    out.out(`Reloaded: ${r.started?.length ?? 0} started, ${r.restarted?.length ?? 0} restarted, ${r.stopped?.length ?? 0} stopped.`);
    return 0;
  } catch (err) {
    if (err instanceof AgentNotRunningError) {
      out.err(err.message);
      return 4;
    }
    throw err;
  }
}
