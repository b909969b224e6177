/**
 * The default registry: every built-in component value, added to a fresh registry exactly as a
 * plugin's would be. Embedders call `createDefaultRegistry()` and add their own to the copy
 * they hold.
 */
import { Registry } from '../lib/registry.js';
import type { Component } from '../lib/component.js';
import { BUILTIN_MONITOR_COMPONENTS } from '../sources/monitors/builtins.js';
import { fileSource } from '../sources/file/component.js';
import { rawParser } from '../operators/parseRaw.js';
import { jsonParser } from '../operators/parseJson.js';
import { criParser } from '../operators/parseCri.js';
import { groupLinesComponent } from '../operators/groupLines.js';
import { sampleComponent } from '../operators/sample.js';
import { redactComponent } from '../operators/redact.js';
import { embeddedSink } from '../sinks/ndjson/component.js';
import { addEventsSink } from '../sinks/addEvents/component.js';
import { apmIntakeSource } from '../sources/spanSocket/component.js';
import { checkinSink } from '../sinks/checkin/component.js';
import { otlpSink } from '../sinks/otlp/component.js';
import { otlpReceiver } from '../sources/otlp/component.js';

/** The built-in components, in the order the docs list them. */
export const BUILTIN_COMPONENTS: readonly Component[] = [
  fileSource,
  rawParser,
  jsonParser,
  criParser,
  groupLinesComponent,
  sampleComponent,
  redactComponent,
  ...BUILTIN_MONITOR_COMPONENTS,
  apmIntakeSource,
  otlpReceiver,
  addEventsSink,
  otlpSink,
  embeddedSink,
  checkinSink,
] as Component[];

export function createDefaultRegistry(): Registry {
  const registry = new Registry();
  for (const c of BUILTIN_COMPONENTS) registry.add(c);
  return registry;
}
