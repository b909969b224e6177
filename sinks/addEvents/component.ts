/**
 * The addEvents sink as a component: it reads only top-level options (Scalyr's upload options
 * and sluice's `upload` tuning, `ADD_EVENTS_OPTIONS`), once, when it is created, with the
 * defaults of their declarations. `server_attributes` is applied live (`setServerAttributes`).
 */
import { defineComponent } from '../../lib/component.js';
import { createAddEventsSink, type AddEventsSinkConfig } from './sink.js';
import { ADD_EVENTS_OPTIONS, UPLOAD_FIELDS } from './options.js';
import { readDeclared } from '../../lib/component.js';
import { VERSION } from '../../lib/version.js';

export { ADD_EVENTS_OPTIONS, UPLOAD_FIELDS } from './options.js';

/** The sink's flat config from the agent config: the declared top-level options, `upload`'s fields beside them. */
export function addEventsConfig(agent: Readonly<Record<string, unknown>>): AddEventsSinkConfig {
  const { upload, ...global } = readDeclared(
    ADD_EVENTS_OPTIONS.filter((o) => !o.noEffect),
    agent,
    'global',
  );
  const tuning = readDeclared(UPLOAD_FIELDS, (upload ?? {}) as Record<string, unknown>);
  // The first upload after start does not linger: start-up ends with it (issue 19).
  return { ...global, ...tuning, first_linger_ms: 0, api_key: String(global.api_key ?? ''), version: VERSION };
}

export const addEventsSink = defineComponent({
  kind: 'sink',
  type: 'addEvents',
  countsItself: true,
  doc: 'Uploads events to Scalyr with the `addEvents` API (used when an `api_key` is set): at-least-once, in order per file, compressed, retried with backoff; a file is acknowledged (checkpointed) only once the server accepted its events.',
  options: ADD_EVENTS_OPTIONS,
  example: {},
  create: (_own, ctx) => createAddEventsSink(addEventsConfig(ctx.agent), { logger: ctx.logger, id: ctx.id, readBudget: ctx.credits }),
});
