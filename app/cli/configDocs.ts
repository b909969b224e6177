/**
 * `sluice config-docs [--config PATH]`: prints the configuration reference (Markdown) generated
 * from the option declarations. Without `--config`: the agent's and the built-in components'
 * options (that is `docs/configuration.md`). With it: also the components of the plugins that
 * config loads, so a plugin's options are documented like a built-in's.
 */
import os from 'node:os';
import path from 'node:path';
import { createDefaultRegistry } from '../builtins.js';
import { configDocsOf, loadAgentConfig, formatConfigError } from '../config.js';
import type { CliArgs, Output } from './args.js';

export async function configDocs(args: CliArgs, out: Output): Promise<number> {
  const registry = createDefaultRegistry();
  const config = args.flags.get('config') ?? args.flags.get('c');
  if (config === true) {
    out.err('--config needs a path');
    return 1;
  }
  if (typeof config === 'string') {
    const result = await loadAgentConfig({ configPath: path.resolve(config), env: process.env, hostname: os.hostname(), registry });
    if (!result.ok) {
      // The reference is still printed for what did load; the errors say what is missing from it.
      for (const e of result.errors) out.err(formatConfigError(e));
      out.err(`${result.errors.length} error(s) in ${config}: the reference below may lack some plugin's components.`);
    }
  }
  out.out(configDocsOf(registry));
  return 0;
}
