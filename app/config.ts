/**
 * Loading the agent's configuration with a registry: the schema the validator uses is derived
 * from the declarations of the agent (`lib/config/agentOptions.ts`), of the log and monitor
 * parts, and of every component the registry holds (built-ins and plugins alike), so a plugin's
 * options are validated exactly like a built-in's.
 *
 * `loadAgentConfig` reads the files, loads the plugins the config names into the registry it is
 * given, then validates with the schema of that registry: one pass, plugins loaded once.
 */
import path from 'node:path';
import {
  readConfig,
  readConfigObject,
  validateRead,
  listKeysOf,
  loadConfig as loadWithSchema,
  parseConfigObject as parseWithSchema,
  type LoadConfigOptions,
  type ParseConfigObjectOptions,
  type ReadConfig,
} from '../lib/config/load.js';
import type { ConfigError, ConfigResult } from '../lib/config/errors.js';
import { schemaFrom, type ConfigSchema, type PartDeclarations } from '../lib/config/derive.js';
import { AGENT_OPTIONS } from '../lib/config/agentOptions.js';
import { renderConfigDocs } from '../lib/config/docs.js';
import { locationOf } from '../lib/config/lenientJson.js';
import { joinPath } from '../lib/config/errors.js';
import { loadPlugin, PluginLoadError } from '../lib/plugins.js';
import { errorMessage } from '../lib/counters.js';
import type { Registry } from '../lib/registry.js';
import type { Component } from '../lib/component.js';
import { createDefaultRegistry } from './builtins.js';
import { LOG_ENTRY_PART_OPTIONS, MONITOR_PART_OPTIONS } from './parts/routes.js';
import { SOURCES_OPTION } from './parts/pluginSource.js';

/** What the agent and the log / monitor parts read themselves (the components declare the rest). */
export const PART_DECLARATIONS: PartDeclarations = {
  // `sources[]` items are parts of their own: a reload starts, restarts or stops just the ones that changed.
  agent: [...AGENT_OPTIONS, { ...SOURCES_OPTION, live: true }],
  logEntry: LOG_ENTRY_PART_OPTIONS,
  monitorEntry: MONITOR_PART_OPTIONS,
};

/** The config schema of everything `registry` holds (the agent's options, the parts', the components'). */
export function configSchemaOf(registry: Registry): ConfigSchema {
  const components = registry.components();
  return schemaFrom(PART_DECLARATIONS, components);
}

/**
 * `docs/configuration.md` for what `registry` holds: the agent's options, then a section per
 * component, the built-ins first, then any other (a plugin's).
 */
export function configDocsOf(registry: Registry): string {
  // A built-in is what a fresh default registry holds under that name, with the same factory.
  const builtins = createDefaultRegistry();
  const isBuiltin = (c: Component) => builtins.component(c.kind, c.type)?.create === c.create;
  const components = registry.components();
  return renderConfigDocs({ parts: PART_DECLARATIONS, components, isBuiltin });
}

export interface LoadAgentConfigOptions {
  /** agent.json (with its `agent.d` fragments). */
  configPath?: string;
  /** A config object instead of a file; relative paths resolve against `baseDir`. */
  config?: Record<string, unknown>;
  baseDir?: string;
  env: NodeJS.ProcessEnv;
  hostname: string;
  /** Plugins the config names are loaded into this registry before the final validation. */
  registry: Registry;
}

/** Plugin modules already loaded into a registry (resolved spec), so a reload does not load them again. */
const loadedPlugins = new WeakMap<Registry, Set<string>>();

/** The key a plugin is known by: its resolved path, or its package name. */
function pluginKey(spec: string, baseDir: string): string {
  return spec.startsWith('./') || spec.startsWith('../') ? path.resolve(baseDir, spec) : spec;
}

/**
 * Loads the plugins `specs` names into `registry` (each once per registry). Returns one message
 * per plugin that failed (`plugin "x": why`), by index in `specs`.
 */
export async function loadConfigPlugins(specs: readonly string[], baseDir: string, registry: Registry): Promise<{ index: number; message: string }[]> {
  const loaded = loadedPlugins.get(registry) ?? new Set<string>();
  loadedPlugins.set(registry, loaded);
  const failures: { index: number; message: string }[] = [];
  for (const [index, spec] of specs.entries()) {
    if (loaded.has(pluginKey(spec, baseDir))) continue;
    try {
      await loadPlugin(spec, baseDir, registry);
      loaded.add(pluginKey(spec, baseDir));
    } catch (err) {
      failures.push({ index, message: err instanceof PluginLoadError ? err.message : `plugin ${JSON.stringify(spec)}: ${errorMessage(err)}` });
    }
  }
  return failures;
}

/** The plugin list of a merged config, when it is one (a wrong type is reported by validation). */
function pluginsOf(read: ReadConfig): string[] | undefined {
  const p = read.root.plugins;
  return Array.isArray(p) && p.every((x) => typeof x === 'string') ? (p as string[]) : undefined;
}

/**
 * Reads the config (file and fragments, or an object), loads the plugins it names into
 * `opts.registry` (a plugin that fails is a config error at `plugins[i]` naming it), then
 * validates with the schema of the registry, plugins included. Never throws.
 */
export async function loadAgentConfig(opts: LoadAgentConfigOptions): Promise<ConfigResult> {
  // The lists fragments append to (the agent's repeatable lists: logs, monitors, sources…).
  const listKeys = listKeysOf(PART_DECLARATIONS.agent);
  let read: ReadConfig;
  if (opts.config) read = readConfigObject(opts.config, { baseDir: opts.baseDir ?? process.cwd(), env: opts.env, hostname: opts.hostname, listKeys });
  else if (opts.configPath) read = readConfig({ path: opts.configPath, env: opts.env, hostname: opts.hostname, listKeys });
  else return { ok: false, errors: [{ path: '', message: 'no config given (configPath or config)' }], warnings: [], files: [] };
  const plugins = read.readable ? pluginsOf(read) : undefined;
  const failed = plugins ? await loadConfigPlugins(plugins, read.baseDir, opts.registry) : [];
  let schema: ConfigSchema;
  try {
    schema = configSchemaOf(opts.registry);
  } catch (err) {
    // Two declarations of one top-level option that differ (a plugin's and a built-in's, say).
    return { ok: false, errors: [{ path: 'plugins', message: `the loaded components do not fit together: ${errorMessage(err)}`, code: 'pluginLoadError' }], warnings: read.diag.warnings, files: read.files };
  }
  // The rest of the config is still validated (with the plugins that did load), so every problem is reported at once.
  const result = validateRead(read, schema);
  if (failed.length === 0) return result;
  const errors: ConfigError[] = failed.map((f) => {
    const loc = locationOf(read.root.plugins, f.index);
    const e: ConfigError = { path: joinPath('plugins', f.index), message: f.message, code: 'pluginLoadError' };
    if (loc?.file !== undefined) e.file = loc.file;
    if (loc) [e.line, e.column] = [loc.line, loc.column];
    return e;
  });
  return { ok: false, errors: [...errors, ...(result.ok ? [] : result.errors)], warnings: result.warnings, files: result.files };
}

/**
 * `loadConfig` of lib/config/load.ts with the built-in registry's schema unless one is given (the
 * public API; plugins are not loaded: use {@link loadAgentConfig} for that).
 */
export function loadConfig(opts: Omit<LoadConfigOptions, 'listKeys'> & { schema?: ConfigSchema }): ConfigResult {
  return loadWithSchema({ ...opts, schema: opts.schema ?? configSchemaOf(createDefaultRegistry()) });
}

/** `parseConfigObject` of lib/config/load.ts with the built-in registry's schema unless one is given. */
export function parseConfigObject(obj: unknown, opts: Omit<ParseConfigObjectOptions, 'listKeys'> & { schema?: ConfigSchema } = {}): ConfigResult {
  return parseWithSchema(obj, { ...opts, schema: opts.schema ?? configSchemaOf(createDefaultRegistry()) });
}

export { formatConfigError, type ConfigError, type ConfigResult } from '../lib/config/errors.js';
