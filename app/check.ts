/**
 * Builds every part a config describes without starting it: loads plugins, instantiates each
 * log entry's operator chain and resolves each monitor module. Used by `sluice validate` so
 * that "valid" means "start would build this".
 */
import path from 'node:path';
import type { AgentConfig } from '../lib/config/types.js';
import { createDefaultRegistry } from './builtins.js';
import { loadPlugin } from '../lib/plugins.js';
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
  for (const p of cfg.plugins ?? []) {
    try {
      await loadPlugin(p, baseDir, registry);
    } catch (err) {
      problems.push(`plugins: ${errorMessage(err)}`);
    }
  }
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
