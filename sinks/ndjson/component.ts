/**
 * The embedded default sink as a component (`embedded`: used when no `api_key` is set). It reads
 * `embedded_output` and `server_attributes` (applied live, `setServerAttributes`), once, when it
 * is created; `sink: {type: "embedded", dir}` names another directory.
 */
import path from 'node:path';
import { defineComponent, type OptionDecl } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import { SERVER_ATTRIBUTES } from '../../lib/config/sharedOptions.js';
import { readDeclared } from '../../lib/component.js';
import { createNdjsonSink } from './sink.js';

export const EMBEDDED_SINK_OPTIONS: OptionDecl[] = [
  own({ name: 'dir', type: 'string', defaultText: '`embedded_output`', description: 'Directory for `events.ndjson` and its rotated copies, instead of `embedded_output`.' }),
  own({ name: 'embedded_output', type: 'string', scope: 'global', defaultText: '`<agent_data_path>/events`', description: 'Directory where the embedded default sink writes events when no `api_key` is set. A relative path resolves against the main config file\'s directory.' }),
  SERVER_ATTRIBUTES,
];

export const embeddedSink = defineComponent({
  kind: 'sink',
  type: 'embedded',
  countsItself: true,
  doc: 'Writes events as newline-delimited JSON (`{ts, serverHost, logfile, attrs, message}`) to `events.ndjson` under `embedded_output`, rotating at 64 MiB and keeping 4 files; the default sink when no `api_key` is set, so the agent runs with no account.',
  options: EMBEDDED_SINK_OPTIONS,
  example: {},
  create: (config, ctx) => {
    const o = readDeclared(EMBEDDED_SINK_OPTIONS, config);
    const g = readDeclared(EMBEDDED_SINK_OPTIONS, ctx.agent, 'global');
    const dir = typeof o.dir === 'string' && o.dir ? o.dir : typeof g.embedded_output === 'string' && g.embedded_output ? g.embedded_output : path.join(ctx.dataPath, 'events');
    return createNdjsonSink({ dir, serverAttributes: g.server_attributes as Record<string, string> }, { logger: ctx.logger, id: ctx.id });
  },
});
