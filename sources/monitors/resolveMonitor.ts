/**
 * Finds the factory for a monitor entry's `module`: a registry type (`linux_system_metrics`,
 * or whatever a plugin registered), Scalyr's dotted module name
 * (`scalyr_agent.builtin_monitors.linux_system_metrics` → its last part), or a user ES module
 * (a path relative to the config file's directory, or a package name) exporting the factory as
 * `default` or `monitor`. Rejects with an error naming the module and the reason.
 */
import type { MonitorFactory, Registry } from '../../lib/registry.js';
import { importPluginModule, isPathSpec } from '../../lib/plugins.js';
import { shortModuleName } from './metricLine.js';
import { unsupportedScalyrMonitor } from '../../lib/config/schema.js';

/** The registry part of the lookup, synchronous: a registered type or a Scalyr dotted name's last part. */
export function lookupRegisteredMonitor(module: string, registry: Registry): MonitorFactory | undefined {
  if (typeof module !== 'string' || module.trim() === '') return undefined;
  const direct = registry.get('monitor', module);
  if (direct) return direct;
  if (isPathSpec(module)) return undefined;
  return registry.get('monitor', shortModuleName(module));
}

export async function resolveMonitorModule(module: string, registry: Registry, baseDir: string, retry = 0): Promise<MonitorFactory> {
  if (typeof module !== 'string' || module.trim() === '') throw new Error('monitor entry has no "module"');
  const direct = registry.get('monitor', module);
  if (direct) return direct;
  if (!isPathSpec(module)) {
    const short = shortModuleName(module);
    const byShort = registry.get('monitor', short);
    if (byShort) return byShort;
    const unsupported = unsupportedScalyrMonitor(module);
    if (unsupported) throw new Error(`monitor module ${JSON.stringify(module)} is not supported: ${unsupported.reason}`);
    if (/^scalyr_agent\./.test(module)) {
      throw new Error(`monitor module ${JSON.stringify(module)} is not supported (known: ${registry.types('monitor').join(', ') || 'none'})`);
    }
  }
  const mod = await importPluginModule(module, baseDir, retry);
  const candidate = typeof mod.monitor === 'function' ? mod.monitor : typeof mod.default === 'function' ? mod.default : undefined;
  if (!candidate) {
    throw new Error(`monitor module ${JSON.stringify(module)} exports no factory (expected a "default" or "monitor" function)`);
  }
  return candidate as MonitorFactory;
}
