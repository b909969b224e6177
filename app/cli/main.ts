/**
 * The `sluice` command line. `main(argv)` returns the exit code; only `bin/sluice` exits.
 *
 *   sluice start [--config PATH] [--foreground]   run the agent (daemonizes unless --foreground)
 *   sluice stop | restart | reload                talk to the running agent (stop waits for its exit)
 *   sluice <command> --help                       that command's usage, without reading a config
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
import { VERSION } from '../../lib/version.js';

export { parseArgs, configPathOf, configFor, stdio, type CliArgs, type Output } from './args.js';
import { parseArgs, stdio, type Output } from './args.js';

const USAGE = `usage: sluice <command> [--config PATH] [options]

commands:
  start [--foreground]      run the agent (daemonizes unless --foreground)
  stop                      stop the running agent
  restart                   stop (waiting until the agent has exited), then start
  reload                    re-read the configuration now (SIGHUP does the same)
  status [-v] [-H] [--format text|json]
  validate [--strict]       check the configuration; exit 0 when valid (--strict: unknown options are errors)
  tap [--component ID] [--limit N]
  top [--once]
  test                      run the configuration's unit tests
  config-docs               print the configuration reference (with the plugins --config loads)
  version
  core-agent start|probe|shutdown [--socket PATH] ...

"sluice <command> --help" describes one command.
`;

/** Each subcommand's `--help` / `-h` text; printed without reading any configuration. */
export const COMMAND_USAGE: Record<string, string> = {
  start: `usage: sluice start [--config PATH] [--foreground] [--quiet]

Runs the agent. Without --foreground it starts itself in the background, waits until the control
socket answers and returns. One agent per agent_data_path: a second start is refused (with the
first one's pid) until the first has exited.
  --foreground   stay in the foreground (Ctrl-C or "sluice stop" ends it; SIGHUP re-reads the config)
  --quiet        with --foreground: no console log
`,
  stop: `usage: sluice stop [--config PATH] [--timeout SECS]

Asks the running agent to stop and waits until its process has exited (default up to 25 s), then
says what was left undelivered (it is re-read from the checkpoints on the next start). Exit 0 once
the process is gone, 1 if it is still running after the timeout, 4 if no agent was running.
`,
  restart: `usage: sluice restart [--config PATH] [--timeout SECS]

"sluice stop" (waiting until the process has exited), then "sluice start" (daemonized).
`,
  reload: `usage: sluice reload [--config PATH]

Makes the running agent re-read its configuration now (SIGHUP does the same). An invalid
configuration is rejected and the agent keeps its last good one (exit 1).
`,
  status: `usage: sluice status [--config PATH] [-v|--verbose] [-H|--health] [--format text|json] [--max-secs N]

Without options: whether the agent runs (exit 0, or 4 when not). -v: detailed status (exit 2 when
unhealthy). -H: "Health check: <verdict>" only.
`,
  validate: `usage: sluice validate [--config PATH] [--strict]

Loads the configuration and builds everything start builds, without running it. Exit 0 when
valid; errors as file:line:col. --strict: unknown options are errors.
`,
  tap: `usage: sluice tap [--config PATH] [--component ID] [--limit N]

Prints live events at a pipeline stage of the running agent as JSON lines (redacted as uploaded).
Without --component, every stage; the stage names are printed first (on stderr).
`,
  top: `usage: sluice top [--config PATH] [--once] [--no-color]

A live view of every component of the running agent, refreshed each second. --once: one plain
text block, then exit.
`,
  test: `usage: sluice test [--config PATH]

Runs the configuration's unit tests (a "tests" array in the config, or <config>.tests.json)
through the entries' real operators. Exit 0 only when every case passes.
`,
  'config-docs': `usage: sluice config-docs [--config PATH]

Prints the configuration reference (Markdown) generated from the option declarations: the
agent's options and every built-in component's (docs/configuration.md). With --config, also the
components of the plugins that configuration loads.
`,
  version: `usage: sluice version

Prints the version.
`,
};

export async function main(argv: string[], out: Output = stdio): Promise<number> {
  const args = parseArgs(argv);
  if ((args.flags.has('help') || args.flags.has('h')) && Object.hasOwn(COMMAND_USAGE, args.command)) {
    out.out(COMMAND_USAGE[args.command]);
    return 0;
  }
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
      case 'config-docs': {
        const { configDocs } = await import('./configDocs.js');
        return await configDocs(args, out);
      }
      case 'core-agent': {
        const { main: coreAgent } = await import('./coreAgent.js');
        return await coreAgent(argv.slice(argv.indexOf('core-agent') + 1));
      }
      case '':
      case 'help':
        if (args.command === 'help' && Object.hasOwn(COMMAND_USAGE, args.rest[0] ?? '')) {
          out.out(COMMAND_USAGE[args.rest[0]]);
          return 0;
        }
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
