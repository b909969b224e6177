/**
 * Builds every part a config describes without starting it: instantiates each log entry's
 * operator chain, checks the sink type and resolves each monitor module. Used by `sluice
 * validate`, start and reload, so that "valid" means "start would build this". The plugins the
 * config names are loaded by `loadAgentConfig` (app/config.ts) into the same registry; only a
 * plugin not loaded there yet (a config validated some other way) is loaded here.
 */
import path from 'node:path';
import type { AgentConfig } from '../lib/config/types.js';
import { createDefaultRegistry } from './builtins.js';
import { loadConfigPlugins } from './config.js';
import { entryChain, createEntryStats } from './logPipeline.js';
import { Taps } from '../lib/pipeline/taps.js';
import { Credits } from '../lib/pipeline/credits.js';
import { errorMessage } from '../lib/counters.js';
import { silentLogger } from '../lib/logger.js';
import { resolveMonitorFactory } from '../sources/monitors/monitorSource.js';
import type { Registry } from '../lib/registry.js';

export async function buildCheck(
  cfg: AgentConfig,
  configPath: string | undefined,
  registry: Registry = createDefaultRegistry(),
  baseDir = configPath ? path.dirname(configPath) : process.cwd(),
): Promise<string[]> {
  const problems: string[] = [];
  for (const f of await loadConfigPlugins(cfg.plugins ?? [], baseDir, registry)) problems.push(`plugins: ${f.message}`);
  const sinkType = cfg.sink?.type ?? (cfg.api_key ? 'addEvents' : 'embedded');
  if (!registry.has('sink', sinkType)) problems.push(`sink.type: no sink named "${sinkType}" (registered: ${registry.types('sink').join(', ')})`);
  const taps = new Taps();
  const credits = new Credits(1);
  cfg.logs.forEach((entry, i) => {
    try {
      const chain = entryChain({ id: `logs[${i}]`, entry, agent: cfg, registry, taps, stats: createEntryStats(), logger: silentLogger, credits });
      chain({ id: 'check', kind: 'log', path: entry.path, attrs: {}, ack() {} });
    } catch (err) {
      problems.push(`logs[${i}] (${entry.path}): ${errorMessage(err)}`);
    }
  });
  for (const [i, m] of cfg.monitors.entries()) {
    try {
      await resolveMonitorFactory(m, { registry, baseDir });
    } catch (err) {
      problems.push(`monitors[${i}] (${m.module}): ${errorMessage(err)}`);
    }
  }
  return problems;
}
