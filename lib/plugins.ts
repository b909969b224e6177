/**
 * Plugin loading: user ES modules, named by a path (relative to the config file's directory)
 * or a package name, that add component types to a {@link Registry}.
 *
 * A plugin module exports any of:
 * - `components`: a list of component values (`defineComponent({ kind, type, options, create })`,
 *   see lib/component.ts): the shape built-ins use, with declared options that are validated,
 *   documented and drive reloads;
 * - `register(registry)` (sync or async): adds whatever it wants (`registry.add(component)`, or
 *   the older `registry.register(kind, type, factory)`);
 * - `monitors`, `operators`, `parsers`, `sinks`, `sources`: objects mapping a type name to a
 *   factory (the older shape: such a component declares no options) or to a component value;
 * - a `default` export that is one of the above (a register function or such an object).
 *
 * A module that cannot be found, throws while loading, or exports nothing usable gives a
 * {@link PluginLoadError} naming the module and the reason; nothing is half-registered by a
 * module whose `register` throws (it works on a copy that is merged only on success).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Component, ComponentKind } from './component.js';
import type { Registry } from './registry.js';
import { errorMessage } from './counters.js';

/** Loading a plugin failed; `spec` is what the config named, `reason` why. */
export class PluginLoadError extends Error {
  constructor(
    readonly spec: string,
    readonly reason: string,
  ) {
    super(`plugin ${JSON.stringify(spec)}: ${reason}`);
    this.name = 'PluginLoadError';
  }
}

/** True when `spec` names a file (relative/absolute path or a `.js/.mjs/.cjs` file) rather than a package. */
export function isPathSpec(spec: string): boolean {
  return spec.startsWith('.') || path.isAbsolute(spec) || spec.startsWith('file:') || /\.(m|c)?js$/.test(spec);
}

/** Where `spec` resolves to: a file URL for paths, the resolved entry for a package (or the bare name). */
export function resolvePluginSpecifier(spec: string, baseDir: string): string {
  if (spec.startsWith('file:')) return spec;
  if (isPathSpec(spec)) return pathToFileURL(path.resolve(baseDir, spec)).href;
  try {
    const req = createRequire(path.join(path.resolve(baseDir), '__sluice_plugin_base__.js'));
    return pathToFileURL(req.resolve(spec)).href;
  } catch {
    // ESM-only packages (no `require` condition) or packages next to sluice itself: let import() resolve it.
    return spec;
  }
}

/**
 * Imports an ES module named by `spec` (path relative to `baseDir`, or a package name).
 * Rejects with a {@link PluginLoadError} naming the module and why. `retry` > 0 imports a file
 * afresh (Node caches a module that failed to evaluate, so a fixed file would otherwise never load).
 */
export async function importPluginModule(spec: string, baseDir: string, retry = 0): Promise<Record<string, unknown>> {
  if (typeof spec !== 'string' || spec.trim() === '') throw new PluginLoadError(String(spec), 'empty module name');
  let target = resolvePluginSpecifier(spec, baseDir);
  if (retry > 0 && target.startsWith('file:')) target += `?sluice_retry=${retry}`;
  try {
    return (await import(target)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new PluginLoadError(spec, `module not found (${target}): ${errorMessage(err)}`);
    }
    throw new PluginLoadError(spec, `failed while loading: ${errorMessage(err)}`);
  }
}

const TABLES: [string, ComponentKind][] = [
  ['monitors', 'monitor'],
  ['operators', 'operator'],
  ['parsers', 'parser'],
  ['sinks', 'sink'],
  ['sources', 'source'],
];

/** Registers what one module object exports; returns how many types it added. */
async function registerExports(mod: Record<string, unknown>, registry: Registry, spec: string): Promise<number> {
  let added = 0;
  if (mod.components !== undefined) {
    if (!Array.isArray(mod.components)) throw new PluginLoadError(spec, 'export "components" must be a list of components');
    mod.components.forEach((c: unknown, i: number) => {
      if (!c || typeof c !== 'object') throw new PluginLoadError(spec, `components[${i}] is not a component object`);
      try {
        registry.add(c as Component);
      } catch (err) {
        throw new PluginLoadError(spec, `components[${i}]: ${errorMessage(err)}`);
      }
      added++;
    });
  }
  if (typeof mod.register === 'function') {
    await (mod.register as (r: Registry) => unknown)(registry);
    added++;
  }
  for (const [key, kind] of TABLES) {
    const table = mod[key];
    if (table === undefined) continue;
    if (table === null || typeof table !== 'object') throw new PluginLoadError(spec, `export "${key}" must be an object of factories`);
    for (const [type, factory] of Object.entries(table as Record<string, unknown>)) {
      if (factory && typeof factory === 'object' && typeof (factory as Component).create === 'function') {
        registry.add({ ...(factory as Component), kind, type: (factory as Component).type ?? type });
      } else if (typeof factory === 'function') {
        registry.register(kind, type, factory as never);
      } else {
        throw new PluginLoadError(spec, `${key}.${type} is not a function (nor a component value with create)`);
      }
      added++;
    }
  }
  return added;
}

/**
 * Loads the plugin module `spec` (a path relative to `baseDir`, or a package name) and lets it
 * add its component types to `registry`. Rejects with a {@link PluginLoadError} when the
 * module is missing, throws on import or in `register`, or exports nothing usable.
 */
export async function loadPlugin(spec: string, baseDir: string, registry: Registry): Promise<void> {
  const mod = await importPluginModule(spec, baseDir);
  const scratch = registry.with();
  let added: number;
  try {
    added = await registerExports(mod, scratch, spec);
    if (added === 0 && mod.default && (typeof mod.default === 'function' || typeof mod.default === 'object')) {
      const def = mod.default as Record<string, unknown> | ((r: Registry) => unknown);
      added = typeof def === 'function' ? await registerExports({ register: def }, scratch, spec) : await registerExports(def, scratch, spec);
    }
  } catch (err) {
    if (err instanceof PluginLoadError) throw err;
    throw new PluginLoadError(spec, `register() failed: ${errorMessage(err)}`);
  }
  if (added === 0) {
    throw new PluginLoadError(spec, 'exports neither components, register(registry), nor monitors/operators/parsers/sinks/sources tables');
  }
  for (const c of scratch.components()) registry.add(c);
}

/** Loads several plugins in order; every failure is collected (one bad plugin does not stop the others). */
export async function loadPlugins(specs: readonly string[], baseDir: string, registry: Registry): Promise<PluginLoadError[]> {
  const errors: PluginLoadError[] = [];
  for (const spec of specs) {
    try {
      await loadPlugin(spec, baseDir, registry);
    } catch (err) {
      errors.push(err instanceof PluginLoadError ? err : new PluginLoadError(spec, errorMessage(err)));
    }
  }
  return errors;
}
