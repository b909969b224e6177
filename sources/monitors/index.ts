/** Public surface of the monitors area (what the integrator wires up). */
export { createMonitorSource, initialJitterMs, validateSample, resolveMonitorFactory, MONITOR_ENTRY_OPTIONS } from './monitorSource.js';
export type { MonitorSource, MonitorSourceContext, MonitorStatus, SluiceMonitorContext } from './monitorSource.js';
export { registerBuiltinMonitors, BUILTIN_MONITORS, BUILTIN_MONITOR_COMPONENTS } from './builtins.js';
export { resolveMonitorModule, resolveMonitorComponent, lookupMonitorComponent } from './resolveMonitor.js';
export { shellMonitorComponent, checkShellMonitor } from './shellMonitor.js';
export { linuxProcessMetricsComponent, checkLinuxProcessMetrics } from './linuxProcessMetrics.js';
export { linuxSystemMetricsComponent } from './linuxSystemMetrics.js';
export {
  assignMonitorIds,
  formatMetricLine,
  formatMetricMessage,
  monitorName,
  sanitizeName,
  shortModuleName,
  type ScalyrMonitorSample,
} from './metricLine.js';
