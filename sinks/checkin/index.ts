/**
 * The Scout check-in sink: posts each per-minute APM aggregate upstream as Scout's check-in
 * payload (gzip JSON to `{ingest_url}/apps/checkin.scout?key=…&name=…`), one POST per
 * (minute, app key, app name). Used when `apm.ingest_url` is set (the `--config-file` TOML
 * `[debug] ingest_url`).
 *
 * Counters: every event written is received; the events of a minute are sent once it was posted,
 * or dropped with the reason (a minute handed over directly with `writeMinute` is one event).
 *
 * Promises: consumes only `apm` batches (others are acked and counted as `not_apm`); the key is
 * resolved through the shared keyring (or `apm.key` overrides); posts are sequential with
 * exponential backoff on network errors, 429 and 5xx (up to `maxAttempts`), no retry on other 4xx
 * (counted `rejected`); a batch is acked once all its payloads were delivered or dropped with a
 * counted reason; `stop()` gives up retrying at its deadline (counted `shutdown`).
 */
import os from 'node:os';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { Batch, ComponentCounters, Logger, Sink } from '../../lib/types.js';
import type { ApmMinute } from '../../lib/apm/types.js';
import { countDrop, countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';
import { batchToMinuteGroups, safeJson } from './toBatches.js';
import { buildCheckinPayload } from './checkinPayload.js';
import type { ScoutKeyring } from './keyring.js';
import { post, type PostOptions } from './post.js';

export interface CheckinSinkConfig {
  ingest_url: string;
  /** Overrides the registered key for every app. */
  key?: string;
  proxy?: string;
  hostname?: string;
  agentVersion?: string;
  maxAttempts?: number;
  timeoutMs?: number;
  /** First retry delay (doubles each time, capped at 60 s). */
  retryBaseMs?: number;
  tls?: PostOptions['tls'];
}

export interface CheckinSink extends Sink {
  /** Posts one aggregate directly (no batch, no ack). */
  writeMinute(m: ApmMinute): void;
}

interface Job {
  /** The minutes to post, each with the number of events it stands for (a direct minute is one). */
  groups: { minute: ApmMinute; events: number }[];
  batch?: Batch;
}

export function createCheckinSink(cfg: CheckinSinkConfig, ctx: { logger: Logger; keyring?: ScoutKeyring; id?: string; counters?: ComponentCounters }): CheckinSink {
  const counters: ComponentCounters = ctx.counters ?? createCounters();
  const log = ctx.logger;
  const base = cfg.ingest_url.replace(/\/+$/, '');
  const maxAttempts = cfg.maxAttempts ?? 5;
  const timeoutMs = cfg.timeoutMs ?? 30_000;
  const retryBaseMs = cfg.retryBaseMs ?? 1000;
  const hostname = cfg.hostname ?? os.hostname();
  const agentVersion = cfg.agentVersion ?? '1.5.1';
  const uniqueId = Array.from(randomBytes(16), (b) => String.fromCharCode(97 + (b % 26))).join('');
  const queue: Job[] = [];
  let running: Promise<void> | undefined;
  let stopped = false;
  let giveUpAt = Infinity;
  let lastResponse: { time: number; status: number; message?: string } | undefined;
  let wake: (() => void) | undefined;
  const idle: (() => void)[] = [];

  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(() => {
        wake = undefined;
        r();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        r();
      };
    });

  /** Posts one minute; its `events` are counted sent, or dropped with the reason. */
  async function deliver(m: ApmMinute, events: number): Promise<void> {
    const key = cfg.key ?? m.appKey;
    if (!key) {
      countDrop(counters, 'no_key', events);
      return;
    }
    let body: Buffer;
    try {
      const payload = buildCheckinPayload(m, { hostname, agentVersion, pid: process.pid, uniqueId });
      body = gzipSync(Buffer.from(safeJson(payload)), { level: 5 });
    } catch (err) {
      countError(counters, err);
      countDrop(counters, 'unserializable', events);
      return;
    }
    const url = `${base}/apps/checkin.scout?key=${encodeURIComponent(key)}&name=${encodeURIComponent(m.appName)}`;
    for (let attempt = 1; ; attempt++) {
      let retry = false;
      try {
        const a = await post(url, body, {
          timeoutMs,
          proxy: cfg.proxy,
          tls: cfg.tls,
          headers: {
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'agent-hostname': hostname,
            'agent-version': agentVersion,
          },
        });
        lastResponse = { time: Date.now(), status: a.statusCode };
        if (a.statusCode >= 200 && a.statusCode < 300) {
          counters.sentEvents += events;
          counters.sentBytes += body.length;
          return;
        }
        if (a.statusCode === 429 || a.statusCode >= 500) retry = true;
        else {
          countDrop(counters, 'rejected', events);
          lastResponse.message = a.body.slice(0, 200);
          log.warn('Scout check-in rejected', { status: a.statusCode, app: m.appName, body: a.body.slice(0, 200) });
          return;
        }
      } catch (err) {
        countError(counters, err);
        retry = true;
        log.debug('Scout check-in failed', { error: errorMessage(err), attempt });
      }
      if (retry && attempt >= maxAttempts) {
        countDrop(counters, 'retries_exhausted', events);
        log.warn('Scout check-in dropped after retries', { app: m.appName, attempts: attempt });
        return;
      }
      const delay = Math.min(60_000, retryBaseMs * 2 ** (attempt - 1));
      if (Date.now() + delay > giveUpAt) {
        countDrop(counters, 'shutdown', events);
        return;
      }
      await sleep(delay);
    }
  }

  async function run(): Promise<void> {
    while (queue.length) {
      const job = queue[0]!;
      for (const g of job.groups) {
        try {
          await deliver(g.minute, g.events);
        } catch (err) {
          countError(counters, err); // one bad minute never stalls the queue
          countDrop(counters, 'error', g.events);
        }
      }
      queue.shift();
      if (job.batch) job.batch.stream.ack(job.batch.end);
    }
    running = undefined;
    for (const r of idle.splice(0)) r();
  }
  const kick = () => {
    if (!running) running = run().catch((e) => countError(counters, e));
  };

  return {
    id: ctx.id ?? 'scout_checkin',
    counters,
    write(batch: Batch): void {
      try {
        counters.receivedEvents += batch.events.length;
        for (const ev of batch.events) counters.receivedBytes += messageBytes(ev.message);
        if (batch.stream.kind !== 'apm' || stopped) {
          countDrop(counters, stopped ? 'stopped' : 'not_apm', batch.events.length);
          batch.stream.ack(batch.end);
          return;
        }
        const { groups, invalid } = batchToMinuteGroups(batch, ctx.keyring);
        if (invalid > 0) countDrop(counters, 'not_apm_record', invalid);
        queue.push({ groups, batch });
        kick();
      } catch (err) {
        countError(counters, err);
        countDrop(counters, 'error', batch.events.length);
        batch.stream.ack(batch.end);
      }
    },
    writeMinute(m: ApmMinute): void {
      counters.receivedEvents++;
      if (stopped) return void countDrop(counters, 'stopped');
      queue.push({ groups: [{ minute: m, events: 1 }] });
      kick();
    },
    flush(deadlineMs = 10_000): Promise<void> {
      if (!running) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(resolve, deadlineMs);
        idle.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    async stop(deadlineMs = 5000): Promise<void> {
      giveUpAt = Date.now() + deadlineMs;
      wake?.(); // a sleeping retry re-checks the deadline now
      await this.flush(deadlineMs);
      stopped = true;
    },
    status: () => ({ queued: queue.length, lastResponse, ingest: base }),
  };
}
