/**
 * The default registry: every built-in component value, added to a fresh registry exactly as a
 * plugin's would be. Embedders call `createDefaultRegistry()` and add their own to the copy
 * they hold.
 */
import path from 'node:path';
import { Registry } from '../lib/registry.js';
import type { Component } from '../lib/component.js';
import { VERSION } from '../lib/version.js';
import { registerBuiltinMonitors } from '../sources/monitors/builtins.js';
import { fileSource } from '../sources/file/component.js';
import { rawParser } from '../operators/parseRaw.js';
import { jsonParser } from '../operators/parseJson.js';
import { criParser } from '../operators/parseCri.js';
import { groupLinesComponent } from '../operators/groupLines.js';
import { sampleComponent } from '../operators/sample.js';
import { redactComponent } from '../operators/redact.js';
import { createNdjsonSink } from '../sinks/ndjson/sink.js';
import { createAddEventsSink } from '../sinks/addEvents/sink.js';

/** The built-in components, in the order the docs list them. */
export const BUILTIN_COMPONENTS: readonly Component[] = [fileSource, rawParser, jsonParser, criParser, groupLinesComponent, sampleComponent, redactComponent] as Component[];

export function createDefaultRegistry(): Registry {
  const registry = new Registry();
  for (const c of BUILTIN_COMPONENTS) registry.add(c);
  registerBuiltinMonitors(registry);
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
