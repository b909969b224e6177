/**
 * The Scout check-in sink as a component (`scout_checkin`, home `section:apm`): it reads
 * `apm.ingest_url` and `apm.key`, and the top-level `https_proxy` / `http_proxy` (in that order;
 * `ctx.services.proxy` overrides both), once, when it is created. The APM part builds it when
 * `apm.ingest_url` is set and hands it each minute (`writeMinute`); as a sink of batches it
 * posts the `apm` ones and acknowledges the rest (counted `not_apm`).
 *
 * `ctx.services.keyring`: the keyring the APM batches' `scout_key_id` refer to (shared with the
 * intake's batcher).
 *
 * The implementation (`./index.ts`: post, the check-in payload, the batch decoding) is imported
 * when the sink is created, so registering the component costs nothing until APM is enabled:
 * calls made before it loaded wait for it (in order); `counters` is the sink's from the start.
 */
import { defineComponent, type ComponentContext, type OptionDecl } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import { readDeclared } from '../../lib/component.js';
import { createCounters, errorMessage } from '../../lib/counters.js';
import { HTTP_PROXY, HTTPS_PROXY } from '../addEvents/options.js';
import type { CheckinSink } from './index.js';
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
  const cfg = { ingest_url: o.ingest_url, key: str(o.key), proxy: services.proxy ?? str(g.https_proxy) ?? str(g.http_proxy) };
  const counters = createCounters();
  const id = ctx.id ?? 'scout_checkin';
  let impl: CheckinSink | undefined;
  const pending: ((s: CheckinSink) => void)[] = [];
  const loaded: Promise<CheckinSink | undefined> = import('./index.js').then(
    (m) => {
      impl = m.createCheckinSink(cfg, { logger: ctx.logger, keyring: services.keyring, id, counters });
      for (const call of pending.splice(0)) call(impl);
      return impl;
    },
    (err) => {
      ctx.logger.error('Scout check-in sink failed to load', { error: errorMessage(err) });
      return undefined;
    },
  );
  /** Runs `call` on the implementation now, or once it loaded. */
  const onImpl = (call: (s: CheckinSink) => void) => (impl ? call(impl) : pending.push(call));
  /** The implementation, waiting at most `deadlineMs` for it to load. */
  const within = (deadlineMs: number) =>
    impl ? Promise.resolve(impl) : Promise.race([loaded, new Promise<undefined>((r) => setTimeout(() => r(undefined), deadlineMs).unref())]);
  return {
    id,
    counters,
    write: (batch) => onImpl((s) => s.write(batch)),
    writeMinute: (m) => onImpl((s) => s.writeMinute(m)),
    async flush(deadlineMs = 10_000) {
      const until = Date.now() + deadlineMs;
      await (await within(deadlineMs))?.flush(Math.max(0, until - Date.now()));
    },
    async stop(deadlineMs = 5000) {
      const until = Date.now() + deadlineMs;
      await (await within(deadlineMs))?.stop(Math.max(0, until - Date.now()));
    },
    status: () => impl?.status() ?? { queued: pending.length, lastResponse: undefined, ingest: cfg.ingest_url.replace(/\/+$/, '') },
  };
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
