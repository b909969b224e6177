/**
 * `url_monitor` (Scalyr's `scalyr_agent.builtin_monitors.url_monitor`): requests `url` at each
 * sample and records the answer as metric `response`, as Scalyr does:
 *
 * - an answer (any status: redirects are not followed, 4xx/5xx are answers too): value = the
 *   body (UTF-8, bad bytes replaced), `extract`ed (group 1 of the first search match; no match:
 *   unchanged), then its first run of non-CR/LF characters stripped unless `log_all_lines`, cut
 *   to `max_characters` with `...` appended; fields `url`, `status`, `length` (characters of the
 *   body after extraction) and `request_method`;
 * - no answer: value `failed`, fields `url`, `status` 0, `length` 0 and one of `url_error`
 *   (could not connect / TLS / timed out connecting), `unknown_error` (the peer answered
 *   garbage, reset the connection, or was too slow after connecting) or `incomplete_read` (the
 *   body was cut short), holding the error text cut to 30 characters plus `...`, as Scalyr does.
 *
 * The request: `request_method` (default GET), `request_headers` (`[{header, value}]`),
 * `request_data` sent as the body (with `Content-Type: application/x-www-form-urlencoded` unless
 * a header sets one, as Python's urllib does), a User-Agent naming the monitor.
 *
 * Faults never stop the monitor: every sample still writes its line at the interval; the agent
 * log gets one error when the state changes (up → down, one failure kind → another, 2xx → a
 * 4xx/5xx status) and one info line when it recovers; failed requests and 4xx/5xx answers are
 * counted as errors in the monitor's counters (when the monitor source hands them over).
 *
 * sluice differences: `timeout` bounds the whole request (Scalyr's bounds each socket
 * operation, so a server dripping bytes never times out there); at most 1 MiB of body is read
 * (the rest is discarded; `length` counts what was read); a gzip/deflate/br `Content-Encoding`
 * is decoded (urllib hands the compressed bytes to the regex); `ca_cert_path`,
 * `verify_server_certificate` and `record_request_time` are sluice's own options.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, readDeclared, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { compilePythonRegex } from '../../lib/regex.js';
import { countError } from '../../lib/counters.js';
import { VERSION } from '../../lib/version.js';
import type { ScalyrMonitorSample } from './metricLine.js';

/** The keys of a `url_monitor` entry the monitor reads (besides the entry's own, `MONITOR_ENTRY_OPTIONS`). */
export const URL_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'url', type: 'string', description: 'URL for the request. Must be HTTP or HTTPS. Required.' }),
  s({ name: 'request_method', type: 'string', default: 'GET', description: 'The HTTP request method.' }),
  s({
    name: 'request_headers',
    type: 'array',
    default: [],
    fields: [
      s({ name: 'header', type: 'string', description: 'The header name.' }),
      s({ name: 'value', type: 'string', description: 'The value sent for that header.' }),
    ],
    description: 'HTTP headers for the request: a list of `{"header": "...", "value": "..."}` objects, e.g. `[{"header": "Accept-Encoding", "value": "gzip"}]`.',
  }),
  s({ name: 'request_data', type: 'string', description: 'A string sent as the request body (e.g. with `request_method: "POST"`).' }),
  s({ name: 'timeout', type: 'float', default: 10, min: 0, max: 30, description: 'Seconds to wait for the URL to load. sluice: bounds the whole request (connect, headers and body).' }),
  s({ name: 'extract', type: 'regex', default: '', description: 'A regular expression applied to the response body; it must contain a group (a subexpression in parentheses), and only the text of that group (of the first match) is recorded. No match: the body is recorded unchanged.' }),
  s({ name: 'log_all_lines', type: 'bool', default: false, description: 'Record the whole response body; otherwise only its first line.' }),
  s({ name: 'max_characters', type: 'int', default: 200, min: 0, max: 10000, description: 'At most this many characters of the response are recorded (longer ones are cut and `...` appended). Up to 10000, but the Scalyr server truncates fields to 3500 characters.' }),
  own({ name: 'ca_cert_path', type: 'string', description: 'A PEM file of CA certificates trusted for an `https:` URL besides the usual ones (a server with a private or self-signed CA).' }),
  own({ name: 'verify_server_certificate', type: 'bool', default: true, description: 'Verify an `https:` server\'s certificate and name. Turn off only for a server whose certificate cannot be checked.' }),
  own({ name: 'record_request_time', type: 'bool', default: false, description: 'Add a field `request_time`: seconds from sending the request to the end of the body (or the failure). Off by default so lines are exactly Scalyr\'s.' }),
];

/** The cross-field rules of a `url_monitor` entry (also applied when the factory is called directly). */
export function checkUrlMonitor(entry: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const url = entry.url;
  if (typeof url !== 'string' || url.trim() === '') {
    problems.push({ key: 'url', message: 'missing required option "url"' });
  } else {
    let u: URL | undefined;
    try {
      u = new URL(url.trim());
    } catch {
      problems.push({ key: 'url', message: `${JSON.stringify(url)} is not a URL` });
    }
    if (u && u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ key: 'url', message: `must be an http: or https: URL (got ${u.protocol})` });
  }
  const extract = entry.extract;
  if (typeof extract === 'string' && extract !== '' && !extract.includes('(')) {
    problems.push({ key: 'extract', message: 'must contain a group "(...)" whose text is recorded' });
  }
  const headers = entry.request_headers;
  if (headers !== undefined && headers !== null && headers !== '') {
    if (!Array.isArray(headers)) problems.push({ key: 'request_headers', message: `must be a list of {"header": ..., "value": ...} objects (got ${typeof headers})` });
    else
      headers.forEach((h, i) => {
        if (!h || typeof h !== 'object' || Array.isArray(h) || typeof (h as Record<string, unknown>).header !== 'string' || (h as Record<string, unknown>).header === '') {
          problems.push({ key: 'request_headers', message: `item ${i} must be an object with a "header" name and a "value"` });
        }
      });
  }
  return problems;
}

export interface UrlOptions {
  url: string;
  method: string;
  headers: [string, string][];
  data?: string;
  timeoutMs: number;
  extract?: RegExp;
  logAllLines: boolean;
  maxCharacters: number;
  ca?: string[];
  verify: boolean;
  recordTime: boolean;
}

/** Reads and validates the declared options (throws with the option's name). */
export function urlOptions(config: Readonly<Record<string, unknown>>): UrlOptions {
  const c = readDeclared(URL_MONITOR_OPTIONS, config);
  const [problem] = checkUrlMonitor(c);
  if (problem) throw new Error(`url_monitor: "${problem.key}" ${problem.message}`);
  const maxCharacters = Number(c.max_characters);
  if (!Number.isInteger(maxCharacters) || maxCharacters < 0 || maxCharacters > 10000) {
    throw new Error(`url_monitor: "max_characters" must be an integer in 0..10000 (got ${String(c.max_characters)})`);
  }
  const timeout = Number(c.timeout);
  if (!Number.isFinite(timeout) || timeout < 0 || timeout > 30) throw new Error(`url_monitor: "timeout" must be a number of seconds in 0..30 (got ${String(c.timeout)})`);
  const headers = ((c.request_headers as Record<string, unknown>[] | undefined) ?? []).map((h) => [String(h.header), h.value === undefined || h.value === null ? '' : String(h.value)] as [string, string]);
  let ca: string[] | undefined;
  if (typeof c.ca_cert_path === 'string' && c.ca_cert_path !== '') {
    let pem: string;
    try {
      pem = fs.readFileSync(c.ca_cert_path, 'utf8');
    } catch (err) {
      throw new Error(`url_monitor: "ca_cert_path" cannot be read: ${(err as Error).message}`);
    }
    ca = [...tls.rootCertificates, pem];
  }
  const bool = (v: unknown) => v === true || v === 'true';
  return {
    url: String(c.url).trim(),
    method: String(c.request_method || 'GET'),
    headers,
    data: typeof c.request_data === 'string' && c.request_data !== '' ? c.request_data : undefined,
    timeoutMs: timeout * 1000,
    extract: c.extract ? compilePythonRegex(String(c.extract)) : undefined,
    logAllLines: bool(c.log_all_lines),
    maxCharacters,
    ca,
    verify: c.verify_server_certificate !== false && c.verify_server_certificate !== 'false',
    recordTime: bool(c.record_request_time),
  };
}

/** Python `str.strip()` whitespace. */
function pyStrip(x: string): string {
  return x.replace(/^[\s\u001c-\u001f\u0085]+|[\s\u001c-\u001f\u0085]+$/g, '');
}

/** The value and `length` Scalyr records for a body. */
export function responseValue(o: Pick<UrlOptions, 'extract' | 'logAllLines' | 'maxCharacters'>, body: string): { value: string; length: number } {
  if (o.extract) {
    o.extract.lastIndex = 0;
    const m = o.extract.exec(body);
    if (m) body = m[1] ?? '';
  }
  const length = [...body].length;
  let out = body;
  if (!o.logAllLines) {
    const m = /[^\r\n]+/.exec(body);
    out = m ? pyStrip(m[0]) : '';
  }
  const chars = [...out];
  if (chars.length > o.maxCharacters) out = chars.slice(0, o.maxCharacters).join('') + '...';
  return { value: out, length };
}

export type UrlErrorType = 'url_error' | 'unknown_error' | 'incomplete_read';

/** A request that got no usable answer: Scalyr's error field and text, and a full message for the agent log. */
export interface UrlFailure {
  type: UrlErrorType;
  /** Scalyr's wording (before the 30-character cut). */
  text: string;
  /** For the agent log: what happened, in full. */
  detail: string;
  /** A stable name of the fault (one log line per change of it). */
  kind: string;
}

const ERRNO: Record<string, [number, string]> = {
  ECONNREFUSED: [111, 'Connection refused'],
  ECONNRESET: [104, 'Connection reset by peer'],
  EHOSTUNREACH: [113, 'No route to host'],
  ENETUNREACH: [101, 'Network is unreachable'],
  ETIMEDOUT: [110, 'Connection timed out'],
  EADDRNOTAVAIL: [99, 'Cannot assign requested address'],
  EPIPE: [32, 'Broken pipe'],
};

function failureOf(err: NodeJS.ErrnoException, connected: boolean): UrlFailure {
  const code = String(err.code ?? '');
  const detail = `${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { type: 'url_error', text: `<urlopen error [Errno -2] Name or service not known>`, detail, kind: 'dns' };
  if (!connected && ERRNO[code]) {
    const [n, text] = ERRNO[code];
    return { type: 'url_error', text: `<urlopen error [Errno ${n}] ${text}>`, detail, kind: code.toLowerCase() };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|SSL|HOSTNAME/i.test(code) || /certificate/i.test(err.message)) {
    return { type: 'url_error', text: `<urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ${err.message}>`, detail, kind: 'tls' };
  }
  if (code.startsWith('HPE_')) return { type: 'unknown_error', text: `invalid HTTP answer: ${err.message}`, detail: `the server did not answer with valid HTTP: ${detail}`, kind: 'garbage' };
  if (code === 'ECONNRESET' || code === 'EPIPE') return { type: 'unknown_error', text: 'Remote end closed connection without response', detail, kind: 'reset' };
  return { type: 'unknown_error', text: err.message, detail, kind: code ? code.toLowerCase() : 'error' };
}

export interface UrlAnswer {
  status: number;
  body: string;
}

const MAX_BODY = 1 << 20;

/** One request: the answer (any status) or the failure. Never rejects. `abort` ends it early. */
export function requestOnce(o: UrlOptions, signal?: AbortSignal): Promise<UrlAnswer | UrlFailure> {
  return new Promise((resolve) => {
    let done = false;
    let connected = false;
    let req: http.ClientRequest | undefined;
    const finish = (r: UrlAnswer | UrlFailure) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req?.destroy();
      resolve(r);
    };
    const onAbort = () => finish({ type: 'unknown_error', text: 'stopped', detail: 'stopped', kind: 'stopped' });
    signal?.addEventListener('abort', onAbort);
    const timer = setTimeout(() => {
      const secs = o.timeoutMs / 1000;
      finish(
        connected
          ? { type: 'unknown_error', text: 'timed out', detail: `no complete answer within ${secs}s (timeout)`, kind: 'timeout' }
          : { type: 'url_error', text: '<urlopen error timed out>', detail: `could not connect within ${secs}s (timeout)`, kind: 'timeout' },
      );
    }, o.timeoutMs);
    let u: URL;
    try {
      u = new URL(o.url);
    } catch (err) {
      finish({ type: 'url_error', text: `<urlopen error unknown url type: ${o.url}>`, detail: (err as Error).message, kind: 'bad_url' });
      return;
    }
    const headers: Record<string, string> = { 'User-Agent': `sluice-${VERSION};monitor=url_monitor`, Connection: 'close' };
    const lower = new Set<string>();
    for (const [k, v] of o.headers) {
      for (const existing of Object.keys(headers)) if (existing.toLowerCase() === k.toLowerCase()) delete headers[existing];
      headers[k] = v;
      lower.add(k.toLowerCase());
    }
    const body = o.data !== undefined ? Buffer.from(o.data, 'utf8') : undefined;
    if (body) {
      if (!lower.has('content-type')) headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers['Content-Length'] = String(body.length);
    }
    const isHttps = u.protocol === 'https:';
    const options: https.RequestOptions = {
      method: o.method,
      headers,
      agent: false,
      ...(isHttps ? { rejectUnauthorized: o.verify, ...(o.ca ? { ca: o.ca } : {}) } : {}),
    };
    try {
      req = (isHttps ? https : http).request(u, options, (res) => {
        connected = true;
        const chunks: Buffer[] = [];
        let len = 0;
        let truncated = false;
        let decoded: NodeJS.ReadableStream = res;
        const enc = String(res.headers['content-encoding'] ?? '').toLowerCase().trim();
        if (enc === 'gzip' || enc === 'x-gzip') decoded = res.pipe(zlib.createGunzip());
        else if (enc === 'deflate') decoded = res.pipe(zlib.createInflate());
        else if (enc === 'br') decoded = res.pipe(zlib.createBrotliDecompress());
        const answer = () => finish({ status: res.statusCode ?? 0, body: new TextDecoder('utf-8').decode(Buffer.concat(chunks)) });
        decoded.on('data', (b: Buffer) => {
          if (truncated) return;
          if (len + b.length > MAX_BODY) {
            chunks.push(b.subarray(0, MAX_BODY - len));
            len = MAX_BODY;
            truncated = true;
            answer();
            return;
          }
          chunks.push(b);
          len += b.length;
        });
        decoded.on('end', answer);
        decoded.on('error', (e: NodeJS.ErrnoException) => finish({ type: 'unknown_error', text: e.message, detail: `the body could not be decoded (${enc}): ${e.message}`, kind: 'garbage' }));
        res.on('aborted', () => finish({ type: 'incomplete_read', text: `IncompleteRead(${len} bytes read)`, detail: `the connection closed after ${len} bytes of the body`, kind: 'incomplete_read' }));
        res.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code === 'ECONNRESET' || /aborted/i.test(e.message)) finish({ type: 'incomplete_read', text: `IncompleteRead(${len} bytes read)`, detail: `the connection closed after ${len} bytes of the body`, kind: 'incomplete_read' });
          else finish(failureOf(e, true));
        });
      });
    } catch (err) {
      finish({ type: 'url_error', text: `<urlopen error ${(err as Error).message}>`, detail: (err as Error).message, kind: 'bad_request' });
      return;
    }
    req.on('socket', (sock) => {
      const mark = () => (connected = true);
      if (isHttps) sock.once('secureConnect', mark);
      else sock.once('connect', mark);
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish(failureOf(e, connected)));
    req.end(body);
  });
}

function isFailure(r: UrlAnswer | UrlFailure): r is UrlFailure {
  return (r as UrlFailure).type !== undefined;
}

/** The monitor factory: each subscription makes one request and emits one `response` sample. */
export function urlMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample> {
  const o = urlOptions(config);
  const name = ctx.id;
  /** The last state: `ok`, `status:<class>` or a failure kind (one log line per change). */
  let state = 'ok';
  let failingSince = 0;

  const noteState = (next: string, message: string, level: 'error' | 'warn') => {
    if (next === state) return;
    const prev = state;
    state = next;
    if (prev === 'ok') failingSince = Date.now();
    ctx.logger[level](`monitor ${name}: ${message} (every sample is still recorded; logged again only when this changes)`, { monitor: name });
  };
  const recovered = (status: number) => {
    if (state === 'ok') return;
    const secs = Math.round((Date.now() - failingSince) / 1000);
    state = 'ok';
    ctx.logger.info(`monitor ${name}: ${o.method} ${o.url} answers again (status ${status}) after ${secs}s of failures`, { monitor: name });
  };

  return new Observable<ScalyrMonitorSample>((subscriber) => {
    const abort = new AbortController();
    const started = performance.now();
    void requestOnce(o, abort.signal).then((r) => {
      if (abort.signal.aborted) return;
      const elapsed = Math.round(performance.now() - started) / 1000;
      const time: Record<string, number> = o.recordTime ? { request_time: elapsed } : {};
      if (isFailure(r)) {
        if (ctx.counters) countError(ctx.counters, `${o.method} ${o.url}: ${r.detail}`);
        noteState(r.kind, `${o.method} ${o.url} failed: ${r.detail} (recorded as response "failed", status 0, ${r.type})`, 'error');
        const text = r.text.length > 30 ? r.text.slice(0, 30) + '...' : r.text;
        subscriber.next({ metric: 'response', value: 'failed', fields: { url: o.url, status: 0, length: 0, [r.type]: text, ...time } });
      } else {
        const { value, length } = responseValue(o, r.body);
        if (r.status >= 400) {
          if (ctx.counters) countError(ctx.counters, `${o.method} ${o.url}: HTTP status ${r.status}`);
          noteState(`status:${r.status}`, `${o.method} ${o.url} answers with HTTP status ${r.status}`, 'warn');
        } else {
          recovered(r.status);
        }
        subscriber.next({ metric: 'response', value, fields: { url: o.url, status: r.status, length, request_method: o.method, ...time } });
      }
      subscriber.complete();
    });
    return () => abort.abort();
  });
}

export const urlMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'url_monitor',
  aliases: ['scalyr_agent.builtin_monitors.url_monitor'],
  doc: 'Requests an HTTP or HTTPS URL at each sample (GET, or `request_method` with `request_headers` and `request_data`) and records the answer as metric `response`: the body (first line, or all of it; optionally one group of a regular expression) with fields `url`, `status`, `length` and `request_method`; a request that gets no answer is recorded as `failed` with `status` 0 and a `url_error`, `unknown_error` or `incomplete_read` field.',
  options: URL_MONITOR_OPTIONS,
  check: checkUrlMonitor,
  example: { module: 'url_monitor', id: 'health', url: 'http://127.0.0.1:8080/health', timeout: 5, extract: '"status":\\s*"(\\w+)"' },
  create: urlMonitor,
});
