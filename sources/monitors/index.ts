/** Public surface of the monitors area (what the integrator wires up). */
export { createMonitorSource, initialJitterMs, validateSample, resolveMonitorFactory } from './monitorSource.js';
export type { MonitorSource, MonitorSourceContext, MonitorStatus, SluiceMonitorContext } from './monitorSource.js';
export { registerBuiltinMonitors, BUILTIN_MONITORS } from './builtins.js';
export { resolveMonitorModule } from './resolveMonitor.js';
export {
  assignMonitorIds,
  formatMetricLine,
  formatMetricMessage,
  monitorName,
  sanitizeName,
  shortModuleName,
  type ScalyrMonitorSample,
} from './metricLine.js';
