/**
 * Loading the agent's configuration with a registry: the schema the validator uses is derived
 * from the registry's component declarations (built-ins and plugins alike).
 *
 * STUB (to be replaced): validates with the static schema; plugins are loaded later by
 * `app/check.ts`.
 */
import { loadConfig, parseConfigObject } from '../lib/config/load.js';
import type { ConfigResult } from '../lib/config/errors.js';
import type { Registry } from '../lib/registry.js';

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

export async function loadAgentConfig(opts: LoadAgentConfigOptions): Promise<ConfigResult> {
  if (opts.config) return parseConfigObject(opts.config, { baseDir: opts.baseDir ?? process.cwd(), env: opts.env, hostname: opts.hostname });
  if (!opts.configPath) return { ok: false, errors: [{ path: '', message: 'no config given (configPath or config)' }], warnings: [], files: [] };
  return loadConfig({ path: opts.configPath, env: opts.env, hostname: opts.hostname });
}
