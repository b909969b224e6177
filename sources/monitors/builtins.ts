/**
 * sluice's built-in monitors as component values, under Scalyr's short module names
 * (`linux_system_metrics`, `linux_process_metrics`, `shell_monitor`, `url_monitor`,
 * `nginx_monitor`, `apache_monitor`, `openmetrics_monitor`, `redis_monitor`, `postgres_monitor`, `journald_monitor`, `syslog_monitor`,
 * `graphite_monitor`, `mysql_monitor`, `snmp_monitor`) with Scalyr's full names
 * (`scalyr_agent.builtin_monitors.<name>`) as aliases.
 */
import type { Registry } from '../../lib/registry.js';
import type { Component } from '../../lib/component.js';
import { linuxSystemMetricsComponent } from './linuxSystemMetrics.js';
import { linuxProcessMetricsComponent } from './linuxProcessMetrics.js';
import { shellMonitorComponent } from './shellMonitor.js';
import { urlMonitorComponent } from './urlMonitor.js';
import { nginxMonitorComponent } from './nginxMonitor.js';
import { apacheMonitorComponent } from './apacheMonitor.js';
import { openmetricsMonitorComponent } from './openmetricsMonitor.js';
import { redisMonitorComponent } from './redisMonitor.js';
import { postgresMonitorComponent } from './postgresMonitor.js';
import { journaldMonitorComponent } from './journald/component.js';
import { syslogMonitorComponent } from './syslog/component.js';
import { graphiteMonitorComponent } from './graphiteMonitor.js';
import { mysqlMonitorComponent } from './mysqlMonitor.js';
import { snmpMonitorComponent } from './snmpMonitor.js';

export const BUILTIN_MONITOR_COMPONENTS: readonly Component<'monitor'>[] = [
  linuxSystemMetricsComponent,
  linuxProcessMetricsComponent,
  shellMonitorComponent,
  urlMonitorComponent,
  nginxMonitorComponent,
  apacheMonitorComponent,
  openmetricsMonitorComponent,
  redisMonitorComponent,
  postgresMonitorComponent,
  journaldMonitorComponent,
  syslogMonitorComponent,
  graphiteMonitorComponent,
  mysqlMonitorComponent,
  snmpMonitorComponent,
];

export const BUILTIN_MONITORS: readonly string[] = BUILTIN_MONITOR_COMPONENTS.map((c) => c.type);

/** Adds the built-in monitors to `registry` (as `createDefaultRegistry` does). */
export function registerBuiltinMonitors(registry: Registry): Registry {
  for (const c of BUILTIN_MONITOR_COMPONENTS) registry.add(c);
  return registry;
}
