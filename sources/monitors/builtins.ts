/**
 * Registers sluice's built-in monitors under Scalyr's short module names:
 * `linux_system_metrics`, `linux_process_metrics`, `shell_monitor`. Scalyr's full names
 * (`scalyr_agent.builtin_monitors.<name>`) resolve to these through `resolveMonitorFactory`.
 */
import type { Registry } from '../../lib/registry.js';
import { linuxSystemMetrics } from './linuxSystemMetrics.js';
import { linuxProcessMetrics } from './linuxProcessMetrics.js';
import { shellMonitor } from './shellMonitor.js';

export const BUILTIN_MONITORS = ['linux_system_metrics', 'linux_process_metrics', 'shell_monitor'] as const;

export function registerBuiltinMonitors(registry: Registry): Registry {
  registry.register('monitor', 'linux_system_metrics', linuxSystemMetrics);
  registry.register('monitor', 'linux_process_metrics', linuxProcessMetrics);
  registry.register('monitor', 'shell_monitor', shellMonitor);
  return registry;
}
