/**
 * The status-page fetch shared by `nginx_monitor` and `apache_monitor` (Scalyr fetches the page
 * with urllib, binding the socket to `source_address`).
 *
 * - `http:` and `https:` URLs are fetched with GET from `source_address` (its address family
 *   picks how the host name is resolved, so `localhost` with the default 127.0.0.1 reaches the
 *   IPv4 listener), at most `timeoutMs` for the whole exchange, at most 1 MiB of body;
 * - `data:` URLs are decoded locally, as urllib does (a status page given inline: docs, tests);
 * - every failure is a `ScrapeError` with a `kind` (the fault state the monitor logs once per
 *   change) and one clear message in Scalyr's wording where Scalyr has one.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { defer, type Observable } from 'rxjs';
import type { MonitorContext } from '../../lib/registry.js';
import { readDeclared, type OptionDecl } from '../../lib/component.js';
import type { ScalyrMonitorSample } from './metricLine.js';

export type ScrapeFault = 'invalid_url' | 'down' | 'timeout' | 'http_status' | 'garbage' | 'error';

export class ScrapeError extends Error {
  constructor(
    readonly kind: ScrapeFault,
    message: string,
  ) {
    super(message);
    this.name = 'ScrapeError';
  }
}

const MAX_BODY = 1 << 20;

export interface ScrapeOptions {
  /** The monitor's short name, for messages (`nginx_monitor`). */
  monitor: string;
  sourceAddress: string;
  timeoutMs: number;
}

function decodeDataUrl(u: URL): string {
  const raw = u.href.slice('data:'.length);
  const comma = raw.indexOf(',');
  if (comma < 0) throw new ScrapeError('invalid_url', `the data: URL has no ',' before its content`);
  const meta = raw.slice(0, comma);
  const body = decodeURIComponent(raw.slice(comma + 1));
  return /;base64$/i.test(meta) ? Buffer.from(body, 'base64').toString('utf8') : body;
}

/** The body of `url` (status 2xx), or a `ScrapeError`. */
export function fetchStatusPage(url: string, o: ScrapeOptions): Promise<string> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(
      new ScrapeError('invalid_url', `The URL configured for requesting the status page appears to be invalid. Please verify that the URL is correct in your monitor configuration. The specified url: ${url}`),
    );
  }
  if (u.protocol === 'data:') {
    try {
      return Promise.resolve(decodeDataUrl(u));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return Promise.reject(new ScrapeError('invalid_url', `status_url ${url}: unsupported scheme ${u.protocol} (use http:, https: or data:)`));
  }
  const family = net.isIP(o.sourceAddress);
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const settle = (err: ScrapeError | undefined, body?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(body ?? '');
    };
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      u,
      {
        method: 'GET',
        headers: { 'user-agent': `sluice ${o.monitor}`, accept: 'text/plain, */*' },
        ...(o.sourceAddress ? { localAddress: o.sourceAddress } : {}),
        ...(family ? { family } : {}),
        agent: false,
      },
      (res) => {
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) {
          res.resume();
          let message = `An HTTP error occurred attempting to retrieve the status. Please consult your server logs to determine the cause. HTTP error code: ${code}`;
          if (code === 404) message = `The URL used to request the status page appears to be incorrect. Please verify the correct URL and update your ${o.monitor} configuration. (HTTP 404 for ${url})`;
          else if (code === 403) message = `The server is denying access to the URL specified for requesting the status page. Please verify that permissions to access the status page are correctly configured in your server configuration and that your ${o.monitor} configuration reflects the same configuration requirements. (HTTP 403 for ${url})`;
          else if (code >= 500 && code < 600) message = `The server failed to fulfill the request to get the status page. Please consult your server logs to determine the cause. HTTP error code: ${code}`;
          settle(new ScrapeError('http_status', message));
          req.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let len = 0;
        res.on('data', (b: Buffer) => {
          len += b.length;
          if (len > MAX_BODY) {
            settle(new ScrapeError('garbage', `the status page at ${url} is larger than ${MAX_BODY} bytes; not a status page`));
            req.destroy();
            return;
          }
          chunks.push(b);
        });
        res.on('end', () => settle(undefined, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (e) => settle(new ScrapeError('error', `An error occurred attempting to request the server status: ${e.message}`)));
      },
    );
    const timer = setTimeout(() => {
      settle(new ScrapeError('timeout', `no complete answer from ${u.host} within ${o.timeoutMs / 1000}s (status_url ${url})`));
      req.destroy();
    }, o.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' || e.code === 'ENOTFOUND' || e.code === 'EADDRNOTAVAIL') {
        settle(new ScrapeError('down', `The HTTP server does not appear to running or cannot be reached. Please check that it is running and is reachable at the address: ${u.host} (${e.code})`));
      } else if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'HPE_INVALID_CONSTANT' || String(e.code ?? '').startsWith('HPE_')) {
        settle(new ScrapeError('garbage', `the server at ${u.host} did not answer with valid HTTP (${e.code}: ${e.message})`));
      } else {
        settle(new ScrapeError('error', `An error occurred attempting to request the server status: ${e.message}`));
      }
    });
    req.end();
  });
}

/**
 * The per-tick Observable of a status-page monitor: fetch, parse, emit the samples, complete; a
 * failure errors the tick (the monitor source counts it, logs the first of a burst and retries
 * with backoff). A change of fault within a burst (down, then garbage) is logged here, once.
 */
export function statusPageSamples(
  url: string,
  o: ScrapeOptions,
  ctx: MonitorContext,
  parse: (body: string) => ScalyrMonitorSample[],
): Observable<ScalyrMonitorSample[]> {
  let fault: ScrapeFault | undefined;
  return defer(async () => {
      try {
        const body = await fetchStatusPage(url, o);
        const samples = parse(body);
        fault = undefined;
        return samples;
      } catch (err) {
        const e = err instanceof ScrapeError ? err : new ScrapeError('error', `An error occurred attempting to request the server status: ${err instanceof Error ? err.message : String(err)}`);
        if (fault !== undefined && fault !== e.kind) ctx.logger.error(`monitor ${ctx.id}: ${e.message}`, { monitor: ctx.id });
        fault = e.kind;
        throw e;
      }
    });
}

/**
 * The factory of a status-page monitor (nginx `stub_status`, Apache `mod_status`): its declared
 * `status_url`, `source_address` and `timeout` (default min(`sample_interval`, 30) s), each
 * sample fetched and given to `parse`.
 */
export function statusPageMonitor(monitor: string, options: readonly OptionDecl[], parse: (body: string) => ScalyrMonitorSample[]) {
  return (config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> => {
    const c = readDeclared(options, config);
    const timeoutSecs = c.timeout !== undefined ? Number(c.timeout) : Math.min(ctx.sampleInterval, 30);
    if (!(timeoutSecs > 0)) throw new Error(`${monitor}: "timeout" must be a positive number of seconds (got ${String(c.timeout)})`);
    return statusPageSamples(String(c.status_url), { monitor, sourceAddress: String(c.source_address ?? ''), timeoutMs: timeoutSecs * 1000 }, ctx, parse);
  };
}

/** A non-negative integer from a status page field, or undefined. */
export function statusInt(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}
