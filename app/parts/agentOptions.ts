/**
 * The agent's own options on reload (`PART_DECLARATIONS.agent`: `AGENT_OPTIONS` and `sources`): live ones are applied (the agent log's
 * level, or they reach the parts through the config), the others take effect at the next start.
 * Those that differ from the values the agent started with are reported as needing a restart.
 */
import { PART_DECLARATIONS } from '../config.js';
import type { AgentConfig } from '../../lib/config/types.js';
import { canonical } from '../supervisor.js';

/** The agent options that are read only at start, have an effect, and differ between `running` and `next`. */
export function needsRestart(running: AgentConfig, next: AgentConfig): string[] {
  const a = running as unknown as Record<string, unknown>;
  const b = next as unknown as Record<string, unknown>;
  return PART_DECLARATIONS.agent.filter((o) => !o.live && !o.noEffect && canonical(a[o.name]) !== canonical(b[o.name])).map((o) => o.name);
}
