/**
 * What every `sluice` subcommand shares: the parsed command line, where the config is, and the
 * output it writes to. It sits below `main.ts` and the subcommands, so they import it and not
 * each other.
 */
import path from 'node:path';
import { loadConfig, formatConfigError } from '../../lib/config/load.js';
import { agentOnlySchema } from '../../lib/config/agentOptions.js';
import type { AgentConfig } from '../../lib/config/types.js';

export interface CliArgs {
  command: string;
  rest: string[];
  flags: Map<string, string | true>;
}

const BOOLEAN_FLAGS = new Set(['foreground', 'v', 'verbose', 'H', 'health', 'help', 'h', 'once', 'no-color', 'strict', 'quiet']);

export function parseArgs(argv: string[]): CliArgs {
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  let command = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('-') && a !== '-') {
      const m = /^--?([^=]+)(?:=(.*))?$/.exec(a)!;
      const name = m[1];
      if (m[2] !== undefined) flags.set(name, m[2]);
      else if (BOOLEAN_FLAGS.has(name) || i + 1 >= argv.length || argv[i + 1].startsWith('-')) flags.set(name, true);
      else flags.set(name, argv[++i]);
    } else if (!command) command = a;
    else rest.push(a);
  }
  return { command, rest, flags };
}

export function configPathOf(args: CliArgs, env = process.env): string {
  const p = args.flags.get('config') ?? args.flags.get('c');
  return path.resolve(typeof p === 'string' ? p : (env.SLUICE_CONFIG ?? '/etc/sluice/agent.json'));
}

/**
 * Loads the config for commands that only need to find the agent; prints errors. Only the
 * agent's own options are checked (the components' are the agent's and `sluice validate`'s to
 * check), so these commands start without loading every component.
 */
export function configFor(args: CliArgs, out: Output): AgentConfig | undefined {
  const result = loadConfig({ path: configPathOf(args), schema: agentOnlySchema() });
  if (!result.ok) {
    out.err(`Configuration is not valid:\n${result.errors.map(formatConfigError).join('\n')}`);
    return undefined;
  }
  return result.config;
}

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Output = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};
