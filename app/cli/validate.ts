/**
 * `sluice validate`: loads and validates the configuration, then builds what `start` builds
 * (plugins, every entry's operator chain, every monitor's module) without running anything.
 * Exit 0 with a summary when valid; the errors (file:line:col: key path: message) and exit 1
 * when not. Unknown options are warnings (an existing Scalyr file with options sluice does not
 * implement still loads); `--strict` makes them errors.
 */
import os from 'node:os';
import { loadAgentConfig, formatConfigError } from '../config.js';
import { buildCheck } from '../check.js';
import { createDefaultRegistry } from '../builtins.js';
import { configPathOf, type CliArgs, type Output } from './args.js';

export async function validate(args: CliArgs, out: Output): Promise<number> {
  const configPath = configPathOf(args);
  const registry = createDefaultRegistry();
  const result = await loadAgentConfig({ configPath, env: process.env, hostname: os.hostname(), registry });
  const strict = args.flags.has('strict');
  for (const w of result.warnings) out.err(`${strict && w.code === 'unknownKey' ? 'error' : 'warning'}: ${formatConfigError(w)}`);
  const unknown = result.warnings.filter((w) => w.code === 'unknownKey').length;
  if (strict && unknown > 0) {
    out.err(`${unknown} unknown option(s): configuration is not valid with --strict.`);
    return 1;
  }
  if (!result.ok) {
    for (const e of result.errors) out.err(formatConfigError(e));
    out.err(`${result.errors.length} error(s): configuration is not valid.`);
    return 1;
  }
  const problems = await buildCheck(result.config, configPath, registry);
  if (problems.length) {
    for (const p of problems) out.err(p);
    out.err(`${problems.length} error(s): configuration is not valid.`);
    return 1;
  }
  const c = result.config;
  out.out(
    [
      `Configuration is valid: ${result.files.join(', ')}`,
      `  ${c.logs.length} log entr${c.logs.length === 1 ? 'y' : 'ies'}, ${c.monitors.length} monitor(s)${c.apm?.enabled ? ', APM intake on ' + c.apm.socket_path : ''}`,
      `  upload: ${c.api_key ? `Scalyr addEvents to ${c.scalyr_server}` : `embedded default sink (no api_key) in ${c.embedded_output}`}`,
      `  data: ${c.agent_data_path}  logs: ${c.agent_log_path}`,
    ].join('\n'),
  );
  return 0;
}
