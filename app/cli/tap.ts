/**
 * `sluice tap [--component ID] [--limit N]`: live events at a named pipeline stage as JSON lines
 * (redacted as they would be uploaded). Without --component, every stage. Stages are printed first.
 */
import { request, AgentNotRunningError } from '../control/client.js';
import { configFor, type CliArgs, type Output } from './args.js';

export async function tap(args: CliArgs, out: Output): Promise<number> {
  const cfg = configFor(args, out);
  if (!cfg) return 1;
  const component = args.flags.get('component');
  const limit = Number(args.flags.get('limit') ?? 0) || 0;
  let first = true;
  try {
    await request(
      cfg.agent_data_path,
      { cmd: 'tap', component: typeof component === 'string' ? component : undefined, limit },
      (line) => {
        if (first) {
          first = false;
          const hello = line as { points?: string[] };
          out.err(`tapping ${typeof component === 'string' ? component : 'every stage'}; stages: ${(hello.points ?? []).join(', ')}`);
          return;
        }
        out.out(JSON.stringify(line));
      },
      0,
    );
  } catch (err) {
    if (err instanceof AgentNotRunningError) {
      out.err(err.message);
      return 4;
    }
    throw err;
  }
  return 0;
}
