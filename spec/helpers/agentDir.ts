/**
 * A temp directory holding one empty log file and an `agent.json` that tails it from the start,
 * with the implicit monitors off and the data and log folders inside the directory: the smallest
 * config a spec that runs the real `sluice` CLI needs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface AgentDir {
  dir: string;
  log: string;
  configPath: string;
  data: string;
}

export function makeAgentDir(prefix: string, top: Record<string, unknown> = {}, entry: Record<string, unknown> = {}, logName = 'app.log'): AgentDir {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const log = path.join(dir, logName);
  fs.writeFileSync(log, '');
  const configPath = path.join(dir, 'agent.json');
  fs.writeFileSync(
    configPath,
    JSON.stringify({
      agent_data_path: './data',
      agent_log_path: './log',
      implicit_metric_monitor: false,
      implicit_agent_process_metrics_monitor: false,
      implicit_agent_log_collection: false,
      logs: [{ path: log, copy_from_start: true, ...entry }],
      ...top,
    }),
  );
  return { dir, log, configPath, data: path.join(dir, 'data') };
}
