import path from 'node:path';

/**
 * The config keys every in-process test agent shares: its data and log directories under `dir`
 * and none of the implicit parts (system/process monitors, its own agent.log), so a spec sees
 * only what it configured.
 */
export function isolatedAgent(dir: string): Record<string, unknown> {
  return {
    agent_data_path: path.join(dir, 'data'),
    agent_log_path: path.join(dir, 'log'),
    implicit_metric_monitor: false,
    implicit_agent_process_metrics_monitor: false,
    implicit_agent_log_collection: false,
  };
}
