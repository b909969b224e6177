/**
 * The Scout check-in sink as a component (`scout_checkin`, home `section:apm`): it reads
 * `apm.ingest_url` and `apm.key`, and the top-level `https_proxy` / `http_proxy` (in that order;
 * `ctx.services.proxy` overrides both), once, when it is created. The APM part builds it when
 * `apm.ingest_url` is set and hands it each minute (`writeMinute`); as a sink of batches it
 * posts the `apm` ones and acknowledges the rest (counted `not_apm`).
 *
 * `ctx.services.keyring`: the keyring the APM batches' `scout_key_id` refer to (shared with the
 * intake's batcher).
 */
import { defineComponent, type ComponentContext, type OptionDecl } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import { readDeclared } from '../../lib/component.js';
import { HTTP_PROXY, HTTPS_PROXY } from '../addEvents/options.js';
import { createCheckinSink, type CheckinSink } from './index.js';
import type { ScoutKeyring } from './keyring.js';

export const CHECKIN_OPTIONS: OptionDecl[] = [
  own({ name: 'ingest_url', type: 'string', description: 'Also forward the APM data to Scout: the base URL of its ingest service (an `http(s)://` URL; check-ins go to `<ingest_url>/apps/checkin.scout`). The minute records go through the upload sink either way.' }),
  own({ name: 'key', type: 'string', description: 'The Scout organisation key sent with forwarded data, instead of the key each language agent registered with.' }),
  HTTPS_PROXY,
  HTTP_PROXY,
];

export interface CheckinServices {
  keyring?: ScoutKeyring;
  proxy?: string;
}

/** Builds the check-in sink from the `apm` section (`own`) and the agent's proxies. */
export function createCheckinComponentSink(own: Readonly<Record<string, unknown>>, ctx: Pick<ComponentContext, 'logger' | 'agent' | 'id' | 'services'>): CheckinSink {
  const o = readDeclared(CHECKIN_OPTIONS, own);
  const g = readDeclared(CHECKIN_OPTIONS, ctx.agent, 'global');
  const services = (ctx.services ?? {}) as CheckinServices;
  if (typeof o.ingest_url !== 'string' || o.ingest_url === '') throw new Error('apm.ingest_url: the Scout check-in sink needs the ingest URL');
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return createCheckinSink(
    { ingest_url: o.ingest_url, key: str(o.key), proxy: services.proxy ?? str(g.https_proxy) ?? str(g.http_proxy) },
    { logger: ctx.logger, keyring: services.keyring, id: ctx.id },
  );
}

export const checkinSink = defineComponent({
  kind: 'sink',
  type: 'scout_checkin',
  home: 'section:apm',
  countsItself: true,
  doc: 'Posts each minute of APM aggregates to Scout as its check-in payload (gzip JSON to `<ingest_url>/apps/checkin.scout`), one POST per minute and app, retried with backoff on network errors, 429 and 5xx.',
  options: CHECKIN_OPTIONS,
  example: { ingest_url: 'http://127.0.0.1:9', key: 'example-org-key' },
  create: createCheckinComponentSink,
});
