/**
 * `sluice status`: `The agent is running...` (exit 0) or not (exit 4); `-v` the detailed text
 * (`--format json` for JSON), exit 0 when healthy and 2 when not; `-H` prints
 * `Health check: <verdict>` with the same exit codes. Not running with -v/-H: exit 1.
 */
import path from 'node:path';
import { call, AgentNotRunningError } from '../control/client.js';
import type { AgentStatus } from '../agent.js';
import { renderStatusText } from '../../lib/status/text.js';
import { healthOf } from '../../lib/status/health.js';
import { configFor, type CliArgs, type Output } from './args.js';
import { lockHolder } from '../../lib/dataDirLock.js';
import { readStopReport, undeliveredText } from './start.js';

export async function status(args: CliArgs, out: Output): Promise<number> {
  const cfg = configFor(args, out);
  if (!cfg) return 1;
  const verbose = args.flags.has('v') || args.flags.has('verbose');
  const health = args.flags.has('H') || args.flags.has('health');
  const format = args.flags.get('format') ?? 'text';
  if (format !== 'text' && format !== 'json') {
    out.err(`--format must be text or json, not ${String(format)}`);
    return 1;
  }
  let s: AgentStatus;
  try {
    // agent_status_timeout: how long to wait for the running agent's answer (0: no limit).
    s = await call<AgentStatus>(cfg.agent_data_path, { cmd: 'status' }, Number(cfg.agent_status_timeout ?? 30) * 1000);
  } catch (err) {
    if (err instanceof AgentNotRunningError) {
      const holder = lockHolder(cfg.agent_data_path);
      if (holder !== undefined) {
        out.out(`The agent (pid ${holder}) is not answering; it is shutting down (or starting up).`);
        return verbose || health ? 1 : 4;
      }
      out.out('The agent does not appear to be running.');
      const last = readStopReport(cfg.agent_data_path);
      if (last && (verbose || health)) {
        const left = last.pendingBytes > 0 || (last.sinkPendingBytes ?? 0) > 0;
        out.out(`Last stop: ${new Date(last.stoppedAt).toISOString()} (pid ${last.pid}, ${last.why}); ${left ? undeliveredText(last) : 'everything read was delivered.'}`);
      }
      return verbose || health ? 1 : 4;
    }
    throw err;
  }
  const maxSecs = args.flags.get('max-secs');
  const verdict = healthOf(s, typeof maxSecs === 'string' ? Number(maxSecs) : undefined);
  if (health) {
    out.out(`Health check: ${verdict.reason}`);
    return verdict.healthy ? 0 : 2;
  }
  if (!verbose && format === 'text') {
    out.out('The agent is running. For details, use "sluice status -v".');
    return 0;
  }
  if (format === 'json') out.out(JSON.stringify({ ...s, health: verdict }, null, 2));
  else out.out(renderStatusText(s, path.join(cfg.agent_log_path, 'agent.log')));
  return verdict.healthy ? 0 : 2;
}
