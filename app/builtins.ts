/**
 * The default registry: every built-in component, registered into a fresh registry value.
 * Embedders call `createDefaultRegistry()` and add their own types to the copy they hold.
 */
import path from 'node:path';
import { Registry } from '../lib/registry.js';
import { VERSION } from '../lib/version.js';
import { registerBuiltinMonitors } from '../sources/monitors/builtins.js';
import { parseJson } from '../operators/parseJson.js';
import { parseCri } from '../operators/parseCri.js';
import { createNdjsonSink } from '../sinks/ndjson/sink.js';
import { createAddEventsSink } from '../sinks/addEvents/sink.js';

export function createDefaultRegistry(): Registry {
  const registry = new Registry();
  registerBuiltinMonitors(registry);
  registry.register('parser', 'json', (c) =>
    parseJson({
      messageField: String(c.json_message_field ?? 'log'),
      timestampField: String(c.json_timestamp_field ?? 'time'),
      maxLineSize: Number(c.max_line_size ?? 49900),
    }),
  );
  registry.register('parser', 'cri', (c) => parseCri({ maxLineSize: Number(c.max_line_size ?? 49900), completionWaitMs: Number(c.completion_wait_ms ?? 5000) }));
  // Sinks get the whole agent config (with `upload` and `sink` merged in) and read what they know.
  registry.register('sink', 'embedded', (c, ctx) =>
    createNdjsonSink(
      { dir: String(c.embedded_output ?? c.dir ?? path.join(ctx.dataPath, 'events')), serverAttributes: c.server_attributes as Record<string, string> | undefined },
      { logger: ctx.logger, id: ctx.id },
    ),
  );
  registry.register('sink', 'addEvents', (c, ctx) =>
    createAddEventsSink({ ...c, version: VERSION } as never, { logger: ctx.logger, id: ctx.id, readBudget: ctx.credits }),
  );
  return registry;
}
