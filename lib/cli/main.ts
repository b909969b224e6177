/**
 * The `sluice` command line. `main(argv)` returns the exit code; only `bin/sluice` exits.
 *
 *   sluice start [--config PATH] [--foreground]   run the agent (daemonizes unless --foreground)
 *   sluice stop | restart | reload                talk to the running agent
 *   sluice status [-v] [-H] [--format text|json]  status, detailed status, health verdict
 *   sluice validate [--config PATH]               build everything start builds, without running it
 *   sluice tap [--component ID] [--limit N]       live events at a pipeline stage, as JSON lines
 *   sluice top                                    live view of every component
 *   sluice test [--config PATH]                   run the config's unit tests
 *   sluice version
 *   sluice core-agent start|probe|shutdown ...    the Scout core agent launch contract
 *
 * Every command takes `--config PATH` (default `$SLUICE_CONFIG` or /etc/sluice/agent.json);
 * commands that talk to a running agent find it through that config's `agent_data_path`.
 */
import path from 'node:path';
import { VERSION } from '../version.js';
import { loadConfig, formatConfigError } from '../config/load.js';
import type { AgentConfig } from '../config/types.js';

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

/** Loads the config for commands that only need to find the agent; prints errors. */
export function configFor(args: CliArgs, out: Output): AgentConfig | undefined {
  const result = loadConfig({ path: configPathOf(args) });
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

const USAGE = `usage: sluice <command> [--config PATH] [options]

commands:
  start [--foreground]      run the agent (daemonizes unless --foreground)
  stop                      stop the running agent
  restart                   stop, then start
  reload                    re-read the configuration now (SIGHUP does the same)
  status [-v] [-H] [--format text|json]
  validate [--strict]       check the configuration; exit 0 when valid (--strict: unknown options are errors)
  tap [--component ID] [--limit N]
  top [--once]
  test                      run the configuration's unit tests
  version
  core-agent start|probe|shutdown [--socket PATH] ...
`;

export async function main(argv: string[], out: Output = stdio): Promise<number> {
  const args = parseArgs(argv);
  try {
    switch (args.command) {
      case 'version':
        out.out(`sluice ${VERSION}`);
        return 0;
      case 'start': {
        const { start } = await import('./start.js');
        return await start(args, out);
      }
      case 'stop':
      case 'restart':
      case 'reload': {
        const m = await import('./control.js');
        return await m[args.command](args, out);
      }
      case 'status': {
        const { status } = await import('./status.js');
        return await status(args, out);
      }
      case 'validate': {
        const { validate } = await import('./validate.js');
        return await validate(args, out);
      }
      case 'tap': {
        const { tap } = await import('./tap.js');
        return await tap(args, out);
      }
      case 'top': {
        const { top } = await import('./top.js');
        return await top(args, out);
      }
      case 'test': {
        const { test } = await import('./test.js');
        return await test(args, out);
      }
      case 'core-agent': {
        const { main: coreAgent } = await import('./coreAgent.js');
        return await coreAgent(argv.slice(argv.indexOf('core-agent') + 1));
      }
      case '':
      case 'help':
        out.out(USAGE);
        return args.command === 'help' || args.flags.has('help') ? 0 : 1;
      default:
        out.err(`sluice: unknown command "${args.command}"\n${USAGE}`);
        return 1;
    }
  } catch (err) {
    out.err(`sluice ${args.command}: ${(err as Error)?.message ?? String(err)}`);
    return 1;
  }
}
