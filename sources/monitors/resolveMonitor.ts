/**
 * Finds the component for a monitor entry's `module`:
 * - a name the registry knows: a monitor's type (`linux_system_metrics`, or a plugin's) or one
 *   of its aliases (Scalyr's `scalyr_agent.builtin_monitors.linux_system_metrics`, or whatever a
 *   plugin monitor declares);
 * - Scalyr's dotted module name of a monitor registered under its last part
 *   (`scalyr_agent.builtin_monitors.X` for a plugin registered as `X`);
 * - a user ES module (a path relative to the config file's directory, or a package name)
 *   exporting, as `default` or `monitor`, a monitor component value or a bare factory (a bare
 *   factory is a component that declares nothing).
 * Rejects with an error naming the module and the reason.
 */
import type { Component } from '../../lib/component.js';
import type { MonitorFactory, Registry } from '../../lib/registry.js';
import { importPluginModule, isPathSpec } from '../../lib/plugins.js';
import { shortModuleName } from './metricLine.js';
import { unsupportedScalyrMonitor } from '../../lib/config/schema.js';

export type MonitorComponent = Component<'monitor'>;

/** The registry part of the lookup, synchronous: a registered type or alias, or a Scalyr dotted name's last part. */
export function lookupMonitorComponent(module: string, registry: Registry): MonitorComponent | undefined {
  if (typeof module !== 'string' || module.trim() === '') return undefined;
  const direct = registry.component('monitor', module);
  if (direct) return direct;
  if (isPathSpec(module)) return undefined;
  return registry.component('monitor', shortModuleName(module));
}

/** The factory of {@link lookupMonitorComponent}. */
export function lookupRegisteredMonitor(module: string, registry: Registry): MonitorFactory | undefined {
  return lookupMonitorComponent(module, registry)?.create;
}

function isMonitorComponent(v: unknown): v is MonitorComponent {
  return typeof v === 'object' && v !== null && (v as MonitorComponent).kind === 'monitor' && typeof (v as MonitorComponent).create === 'function';
}

export async function resolveMonitorComponent(module: string, registry: Registry, baseDir: string, retry = 0): Promise<MonitorComponent> {
  if (typeof module !== 'string' || module.trim() === '') throw new Error('monitor entry has no "module"');
  const registered = lookupMonitorComponent(module, registry);
  if (registered) return registered;
  if (!isPathSpec(module)) {
    const unsupported = unsupportedScalyrMonitor(module);
    if (unsupported) throw new Error(`monitor module ${JSON.stringify(module)} is not supported: ${unsupported.reason}`);
    if (/^scalyr_agent\./.test(module)) {
      throw new Error(`monitor module ${JSON.stringify(module)} is not supported (known: ${registry.types('monitor').join(', ') || 'none'})`);
    }
  }
  const mod = await importPluginModule(module, baseDir, retry);
  for (const candidate of [mod.monitor, mod.default]) {
    if (isMonitorComponent(candidate)) return candidate;
    if (typeof candidate === 'function') return { kind: 'monitor', type: shortModuleName(module), create: candidate as MonitorFactory };
  }
  throw new Error(`monitor module ${JSON.stringify(module)} exports no factory (expected a "default" or "monitor" function or monitor component)`);
}

/** The factory of {@link resolveMonitorComponent}. */
export async function resolveMonitorModule(module: string, registry: Registry, baseDir: string, retry = 0): Promise<MonitorFactory> {
  return (await resolveMonitorComponent(module, registry, baseDir, retry)).create;
}
