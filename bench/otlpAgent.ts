/**
 * The agent for bench/otlp.ts as a child process: `createAgent` on a JSON config file with the
 * built-in registry plus the OTLP sink (until the agent registers it itself), so both runs of the
 * comparison (addEvents and OTLP) go through the same process setup. Stops on SIGTERM.
 *
 *   node <AGENT_NODE_FLAGS> dist/bench/otlpAgent.js <config.json>
 */
import fs from 'node:fs';
import path from 'node:path';
import { createAgent } from '../app/agent.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { otlpSink } from '../sinks/otlp/component.js';

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) throw new Error('usage: otlpAgent.js <config.json>');
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const registry = createDefaultRegistry();
  if (!registry.component('sink', 'otlp')) registry.add(otlpSink);
  const agent = createAgent({ config, baseDir: path.dirname(configPath), registry, watchConfig: false });
  await agent.start();
  process.stdout.write('started\n');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void agent.stop(5000).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`otlpAgent: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
