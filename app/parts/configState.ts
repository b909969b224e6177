/**
 * The agent's view of its configuration: loading (validated with the registry's schema) and the
 * build check (`sluice validate`'s), recorded in the `config` section of the status.
 */
import os from 'node:os';
import path from 'node:path';
import { formatConfigError, type ConfigResult } from '../../lib/config/load.js';
import type { Registry } from '../../lib/registry.js';
import type { ConfigStatus } from '../../lib/status/types.js';
import { loadAgentConfig } from '../config.js';
import { buildCheck } from '../check.js';

export interface ConfigSource {
  configPath?: string;
  config?: Record<string, unknown>;
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  hostname?: string;
}

export class ConfigState {
  readonly status: ConfigStatus = { status: 'good', files: [], errors: [], warnings: [], lastChecked: null, lastChanged: null, lastGood: null };
  /** The main config file's directory (relative plugin and monitor module paths). */
  readonly dir: string;

  constructor(
    private readonly source: ConfigSource,
    private readonly registry: Registry,
  ) {
    this.dir = source.configPath ? path.dirname(path.resolve(source.configPath)) : (source.baseDir ?? process.cwd());
  }

  /**
   * Loads the configuration (the files, or `objectConfig` / the configured object) and builds
   * what it describes without starting it (plugins, chains, monitor modules): start and reload
   * refuse what `sluice validate` refuses. The outcome is recorded in `status`.
   */
  async load(objectConfig?: Record<string, unknown>): Promise<ConfigResult> {
    const { configPath, baseDir } = this.source;
    const env = this.source.env ?? process.env;
    const result = await loadAgentConfig({ configPath, config: objectConfig ?? this.source.config, baseDir, env, hostname: this.source.hostname ?? os.hostname(), registry: this.registry });
    const st = this.status;
    st.lastChecked = Date.now();
    st.files = result.files;
    st.warnings = result.warnings.map(formatConfigError);
    const problems = result.ok ? await buildCheck(result.config, configPath ? path.resolve(configPath) : undefined, this.registry, this.dir) : [];
    const errors = result.ok ? problems.map((message) => ({ path: '', message })) : result.errors;
    st.status = errors.length === 0 ? 'good' : 'bad';
    st.errors = result.ok ? problems : result.errors.map(formatConfigError);
    if (result.ok) st.lastGood = Date.now();
    return errors.length === 0 ? result : { ok: false, errors, warnings: result.warnings, files: result.files };
  }

  /** Records an applied config's agent options that need a restart; returns those not reported before. */
  needsRestart(options: string[]): string[] {
    const newly = options.filter((o) => !(this.status.needsRestart ?? []).includes(o));
    this.status.needsRestart = options;
    return newly;
  }
}
