/**
 * syslog_monitor as a plugin module, for specs that run the built agent (`bin/sluice`, dist/) as
 * a child process before the component is registered as a built-in: `plugins: [<this file>]`.
 * It exports the built component (`npm run build` first).
 */
import { syslogMonitorComponent } from '../dist/sources/monitors/syslog/component.js';

export const components = [syslogMonitorComponent];
