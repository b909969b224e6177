/**
 * HTTP(S) transport for `POST /addEvents` (got 13 over keep-alive agents).
 *
 * Promises:
 * - TLS verification is on unless `verify_server_certificate: false`; `ca_cert_path` adds a
 *   private CA to node's built-in roots (it does not replace them).
 * - `scalyr_server` is normalised as Scalyr does (§1.4): trimmed, a scheme-less host gets
 *   `https://`, and `http://` is rewritten to `https://` unless `allow_http: true`. A value with a
 *   path, query or an unknown scheme is rejected with a clear error.
 * - Proxies: `https_proxy` / `http_proxy` (options first, then HTTPS_PROXY/HTTP_PROXY env, and
 *   NO_PROXY) are used through an HTTP CONNECT tunnel with optional `user:pass@` basic auth; the
 *   proxy password never appears in errors.
 * - Every request has a deadline (`request_deadline`), no automatic retries or redirects, and
 *   the response body is capped (`maxResponseBytes`): a larger answer is cut off, not buffered.
 * - `close()` aborts requests in flight and destroys pooled sockets.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import got, { type Response } from 'got';

export interface TransportOptions {
  scalyrServer: string;
  allowHttp: boolean;
  /**
   * A full URL to POST to, used as is (the OTLP sink's `/v1/logs`…); `scalyrServer` and
   * `allowHttp` are then ignored. Default: `<scalyr_server>/addEvents`.
   */
  endpoint?: string;
  verifyServerCertificate: boolean;
  caCertPath?: string;
  httpsProxy?: string;
  httpProxy?: string;
  env: NodeJS.ProcessEnv;
  requestDeadlineMs: number;
  maxSockets: number;
  maxResponseBytes: number;
}

/** An answer from the server. */
export interface HttpAnswer {
  statusCode: number;
  body: string;
  /** The body as bytes (binary answers: an OTLP protobuf response or `google.rpc.Status`). */
  rawBody?: Buffer;
  contentType?: string;
  /** `Retry-After` in milliseconds, when the server sent a usable one. */
  retryAfterMs?: number;
}

/** `Retry-After` (seconds or an HTTP date) as milliseconds from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** A failure before an answer arrived, with Scalyr-like status (`requestFailed`, `client/connectionFailed`…). */
export class TransportError extends Error {
  constructor(
    readonly status: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Normalises `scalyr_server` (§1.4). Throws an Error naming the option when it is unusable. */
export function resolveServerUrl(server: string, allowHttp: boolean): string {
  let s = String(server ?? '').trim();
  if (s === '') throw new Error('scalyr_server: empty value');
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(s)) s = `https://${s}`;
  if (!allowHttp && /^http:\/\//i.test(s)) s = `https://${s.slice('http://'.length)}`;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`scalyr_server: cannot parse ${JSON.stringify(server)} as scheme://host[:port]`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`scalyr_server: unsupported scheme ${u.protocol} (use https://)`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username) {
    throw new Error(`scalyr_server: ${JSON.stringify(server)} must be scheme://host[:port] without a path`);
  }
  return `${u.protocol}//${u.host}`;
}

/** A full http(s) URL to POST to (kept as given). Throws an Error naming the problem when it is unusable. */
export function resolveEndpointUrl(endpoint: string): URL {
  const s = String(endpoint ?? '').trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`cannot parse ${JSON.stringify(redactUrl(s))} as an http(s) URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`unsupported scheme ${u.protocol} in ${JSON.stringify(redactUrl(s))} (use http:// or https://)`);
  return u;
}

/** A URL with its user name and password hidden, for messages and status. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username) u.username = '***';
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}

/** A proxy URL with its password hidden, for messages. */
export function redactProxy(proxy: string): string {
  try {
    const u = new URL(proxy);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparsable proxy URL>';
  }
}

/** True when `host` matches a NO_PROXY list (`*`, exact names, `.suffix`/`suffix` domains, optional ports). */
export function noProxyMatches(host: string, port: number, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (let entry of noProxy.split(/[\s,]+/)) {
    entry = entry.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let ePort: number | undefined;
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !entry.includes(']') && m[1].indexOf(':') === -1) {
      entry = m[1];
      ePort = Number(m[2]);
    }
    if (ePort !== undefined && ePort !== port) continue;
    entry = entry.replace(/^\*?\./, '.');
    if (h === entry.replace(/^\./, '') || (entry.startsWith('.') ? h.endsWith(entry) : h.endsWith(`.${entry}`))) return true;
  }
  return false;
}

/** Opens a CONNECT tunnel through an http:// proxy to host:port. */
function connectTunnel(proxy: URL, host: string, port: number, timeoutMs: number, cb: (err: Error | null, socket?: net.Socket) => void): void {
  const headers: Record<string, string> = { Host: `${host}:${port}` };
  if (proxy.username || proxy.password) {
    const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers['Proxy-Authorization'] = `Basic ${Buffer.from(cred).toString('base64')}`;
  }
  let done = false;
  const finish = (err: Error | null, socket?: net.Socket) => {
    if (done) {
      socket?.destroy();
      return;
    }
    done = true;
    cb(err, socket);
  };
  const req = http.request({
    host: proxy.hostname.replace(/^\[|\]$/g, ''),
    port: Number(proxy.port || 80),
    method: 'CONNECT',
    path: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    headers,
    agent: false,
    timeout: timeoutMs,
  });
  req.once('connect', (res, socket, head) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      const e = new Error(`proxy ${redactProxy(proxy.toString())} refused CONNECT to ${host}:${port}: HTTP ${res.statusCode}`) as NodeJS.ErrnoException;
      e.code = 'EPROXY';
      finish(e);
      return;
    }
    if (head.length > 0) socket.unshift(head);
    finish(null, socket);
  });
  req.once('timeout', () => req.destroy(new Error(`proxy ${redactProxy(proxy.toString())}: CONNECT timed out`)));
  req.once('error', (err) => {
    const e = new Error(`proxy ${redactProxy(proxy.toString())}: ${err.message}`) as NodeJS.ErrnoException;
    e.code = (err as NodeJS.ErrnoException).code;
    finish(e);
  });
  req.end();
}

/** An https agent whose sockets are TLS over a CONNECT tunnel. */
class HttpsTunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    private readonly timeoutMs: number,
    opts: https.AgentOptions,
  ) {
    super(opts);
  }
  override createConnection(reqOptions: https.RequestOptions, callback?: (err: Error | null, s: Duplex) => void): undefined {
    const options = reqOptions as tls.ConnectionOptions & { host?: string; port?: number };
    const cb = callback as (err: Error | null, s?: Duplex) => void;
    const host = String(options.host ?? 'localhost');
    const port = Number(options.port ?? 443);
    connectTunnel(this.proxy, host, port, this.timeoutMs, (err, raw) => {
      if (err || !raw) return cb(err ?? new Error('tunnel failed'));
      const secure = tls.connect({ ...options, socket: raw, servername: options.servername || (net_isIP(host) ? undefined : host) });
      const onErr = (e: Error) => cb(e);
      secure.once('error', onErr);
      secure.once('secureConnect', () => {
        secure.removeListener('error', onErr);
        cb(null, secure);
      });
    });
    return undefined;
  }
}

/** An http agent whose sockets are plain CONNECT tunnels (http targets behind a proxy). */
class HttpTunnelAgent extends http.Agent {
  constructor(
    private readonly proxy: URL,
    private readonly timeoutMs: number,
    opts: http.AgentOptions,
  ) {
    super(opts);
  }
  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, s: Duplex) => void): undefined {
    const cb = callback as (err: Error | null, s?: Duplex) => void;
    connectTunnel(this.proxy, String(options.host ?? 'localhost'), Number(options.port ?? 80), this.timeoutMs, cb);
    return undefined;
  }
}

function net_isIP(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

/** Transport for one sink. */
export class Transport {
  readonly url: string;
  readonly endpoint: string;
  /** Why `ca_cert_path` could not be used, if it could not. */
  readonly caError?: string;
  /** The proxy in use (password hidden), if any. */
  readonly proxyShown?: string;
  private readonly agent: http.Agent | https.Agent;
  private readonly ca?: string[];
  private readonly inflight = new Set<AbortController>();

  constructor(private readonly opts: TransportOptions) {
    if (opts.endpoint !== undefined) {
      const u = resolveEndpointUrl(opts.endpoint);
      this.url = u.origin;
      this.endpoint = u.href;
    } else {
      this.url = resolveServerUrl(opts.scalyrServer, opts.allowHttp);
      this.endpoint = `${this.url}/addEvents`;
    }
    const target = new URL(this.url);
    const isHttps = target.protocol === 'https:';
    if (opts.caCertPath) {
      try {
        this.ca = [...tls.rootCertificates, fs.readFileSync(opts.caCertPath, 'utf8')];
      } catch (err) {
        this.caError = `ca_cert_path: cannot read ${opts.caCertPath}: ${(err as Error).message}`;
      }
    }
    const env = opts.env;
    const proxyRaw = isHttps
      ? (opts.httpsProxy ?? env.HTTPS_PROXY ?? env.https_proxy)
      : (opts.httpProxy ?? env.HTTP_PROXY ?? env.http_proxy);
    const noProxy = env.NO_PROXY ?? env.no_proxy;
    const port = Number(target.port || (isHttps ? 443 : 80));
    let proxy: URL | undefined;
    if (proxyRaw && !noProxyMatches(target.hostname, port, noProxy)) {
      try {
        proxy = new URL(/^[a-z]+:\/\//i.test(proxyRaw) ? proxyRaw : `http://${proxyRaw}`);
      } catch {
        throw new Error(`${isHttps ? 'https_proxy' : 'http_proxy'}: cannot parse proxy URL ${redactProxy(proxyRaw)}`);
      }
      if (proxy.protocol !== 'http:') throw new Error(`${isHttps ? 'https_proxy' : 'http_proxy'}: only http:// proxies are supported (got ${proxy.protocol})`);
      this.proxyShown = redactProxy(proxy.toString());
    }
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets };
    if (isHttps) this.agent = proxy ? new HttpsTunnelAgent(proxy, opts.requestDeadlineMs, agentOpts) : new https.Agent(agentOpts);
    else this.agent = proxy ? new HttpTunnelAgent(proxy, opts.requestDeadlineMs, agentOpts) : new http.Agent(agentOpts);
  }

  /** POSTs one body. Resolves with the answer; rejects with {@link TransportError} when none came. */
  async post(body: Buffer, headers: Record<string, string>): Promise<HttpAnswer> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const cap = this.opts.maxResponseBytes;
    let tooLarge = false;
    try {
      const p = got.post(this.endpoint, {
        body,
        headers,
        agent: { http: this.agent, https: this.agent as https.Agent },
        https: {
          rejectUnauthorized: this.opts.verifyServerCertificate,
          ...(this.ca ? { certificateAuthority: this.ca } : {}),
        },
        timeout: { request: this.opts.requestDeadlineMs },
        retry: { limit: 0 },
        throwHttpErrors: false,
        followRedirect: false,
        decompress: true,
        signal: ac.signal,
      });
      p.on('downloadProgress', (progress: { transferred: number }) => {
        if (progress.transferred > cap && !tooLarge) {
          tooLarge = true;
          p.cancel('response too large');
        }
      });
      const res = (await p) as Response<string>;
      const ra = res.headers['retry-after'];
      return {
        statusCode: res.statusCode,
        body: res.body,
        rawBody: res.rawBody,
        contentType: res.headers['content-type'],
        retryAfterMs: parseRetryAfter(Array.isArray(ra) ? ra[0] : ra),
      };
    } catch (err) {
      if (tooLarge) throw new TransportError('responseTooLarge', `response larger than ${cap} bytes was cut off`);
      throw toTransportError(err, ac.signal.aborted);
    } finally {
      this.inflight.delete(ac);
    }
  }

  /** Aborts requests in flight and releases pooled sockets. */
  close(): void {
    for (const ac of this.inflight) ac.abort();
    this.inflight.clear();
    this.agent.destroy();
  }
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPROXY']);

function toTransportError(err: unknown, aborted: boolean): TransportError {
  const e = err as { code?: string; message?: string; name?: string };
  const code = e?.code;
  const message = String(e?.message ?? err);
  if (aborted) return new TransportError('aborted', 'request aborted', code);
  if (code === 'ETIMEDOUT' || e?.name === 'TimeoutError') return new TransportError('requestFailed', `request deadline passed: ${message}`, code);
  if (code && CONNECT_CODES.has(code)) return new TransportError('client/connectionFailed', message, code);
  return new TransportError('requestFailed', message, code);
}
