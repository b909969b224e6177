/**
 * The default registry: every built-in component, registered into a fresh registry value.
 * Embedders call `createDefaultRegistry()` and add their own types to the copy they hold.
 */
import { Registry } from './registry.js';
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
  registry.register('sink', 'embedded', (c, ctx) => createNdjsonSink({ dir: String(c.dir ?? `${ctx.dataPath}/events`) }, { logger: ctx.logger, id: ctx.id }));
  registry.register('sink', 'addEvents', (c, ctx) => createAddEventsSink(c as never, { logger: ctx.logger, id: ctx.id }));
  return registry;
}
