/**
 * Test kit for the addEvents sink, shared by the specs and the soak (reliability/), so neither
 * imports the other: a private CA + server certificate made in-process with
 * node-forge (keys from node's crypto for speed), a local HTTPS (or HTTP) server on 127.0.0.1:0
 * that records every request (raw and inflated body, headers) and answers through a scriptable
 * fault queue, and a parser for Scalyr's body dialect (unquoted keys, `` `s `` length-prefixed
 * strings) so tests can compare decoded events byte for byte. The same server is the OTLP/HTTP
 * receiver of the otlp sink's specs (it answers `/v1/*` as a collector would); the official
 * protobuf definitions that decode those requests are in testkit/otlpServer.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import forge from 'node-forge';

export interface TestCa {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** A file holding caPem (for `ca_cert_path`). */
  caPath: string;
  dir: string;
}

function forgeKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { privateKey: priv, publicKey: pub };
}

/** A fresh CA and a server certificate for 127.0.0.1 / localhost signed by it. */
export function makeTestCa(commonName = 'sluice test CA'): TestCa {
  const caKeys = forgeKeys();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = '01' + crypto.randomBytes(8).toString('hex');
  ca.validity.notBefore = new Date(Date.now() - 86400_000);
  ca.validity.notAfter = new Date(Date.now() + 86400_000);
  const caAttrs = [{ name: 'commonName', value: commonName }];
  ca.setSubject(caAttrs);
  ca.setIssuer(caAttrs);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = forgeKeys();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '02' + crypto.randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 86400_000);
  cert.validity.notAfter = new Date(Date.now() + 86400_000);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caAttrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ca-'));
  const caPem = forge.pki.certificateToPem(ca);
  const caPath = path.join(dir, 'ca.pem');
  fs.writeFileSync(caPath, caPem);
  return { caPem, certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey), caPath, dir };
}

/** One recorded request. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  /** The body after undoing Content-Encoding: deflate (addEvents) or gzip (OTLP). */
  body: Buffer;
  /** When the body had arrived (`Date.now()`), for checks on retry spacing. */
  at: number;
  /** The fault used to answer it (`{}` = success). */
  fault: Fault;
}

/**
 * How to answer one request. `status`/`body` answer normally; `reset` destroys the socket;
 * `hang` never answers (until the server closes); `delayMs` waits first; `hugeBytes` streams a
 * body of that many bytes; `contentType` overrides the header.
 */
export interface Fault {
  status?: number;
  body?: Buffer | string;
  contentType?: string;
  reset?: boolean;
  hang?: boolean;
  delayMs?: number;
  hugeBytes?: number;
  headers?: Record<string, string>;
}

export interface TestServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Answers for the next requests, in order; when empty, `script(req)`'s, else the default answer. */
  faults: Fault[];
  /**
   * The answer to a request when `faults` is empty (e.g. 503 until a time, or one that depends
   * on the request), if set; undefined means the default answer. It is called with the request
   * already in `requests`.
   */
  script?: (req: RecordedRequest) => Fault | undefined;
  /** Connections accepted (for keep-alive checks). */
  connections: number;
  close(): Promise<void>;
}

export const SUCCESS = '{"status":"success","bytesCharged":0}';

export type OtlpSignal = 'logs' | 'metrics' | 'traces';

/** The OTLP/HTTP signal a request path exports to (`/v1/logs` → `logs`), undefined for any other path. */
export function otlpSignal(url: string): OtlpSignal | undefined {
  const m = /^\/v1\/(logs|metrics|traces)$/.exec(url);
  return m ? (m[1] as OtlpSignal) : undefined;
}

/** `raw` with its Content-Encoding (deflate: addEvents, gzip: OTLP) undone; a marker text when that fails. */
function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  if (encoding !== 'deflate' && encoding !== 'gzip') return raw;
  try {
    return encoding === 'deflate' ? zlib.inflateSync(raw) : zlib.gunzipSync(raw);
  } catch {
    return Buffer.from(`<<${encoding === 'deflate' ? 'inflate' : 'gunzip'} failed>>`);
  }
}

/**
 * The answer when the fault gives none: an OTLP/HTTP export (the otlp sink, an SDK exporter) is
 * answered as a collector would, with an empty response of the request's encoding (no partial
 * success); anything else with addEvents' success.
 */
function defaultAnswer(req: RecordedRequest): { contentType: string; body: string } {
  if (otlpSignal(req.url) === undefined) return { contentType: 'application/json', body: SUCCESS };
  const protobuf = String(req.headers['content-type'] ?? '').startsWith('application/x-protobuf');
  return protobuf ? { contentType: 'application/x-protobuf', body: '' } : { contentType: 'application/json', body: '{}' };
}

/** Streams a body of `bytes` bytes, waiting for 'drain' whenever the socket's buffer is full. */
function streamHuge(res: http.ServerResponse, bytes: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      left -= chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('error', () => {});
  pump();
}

/** Answers `rec` (received on `req`) as its fault says, at once (the delay is the caller's). */
function respond(req: http.IncomingMessage, res: http.ServerResponse, rec: RecordedRequest): void {
  const f = rec.fault;
  if (f.reset) {
    req.socket.destroy();
    return;
  }
  if (f.hang) return;
  const d = defaultAnswer(rec);
  res.statusCode = f.status ?? 200;
  res.setHeader('Content-Type', f.contentType ?? d.contentType);
  for (const [k, v] of Object.entries(f.headers ?? {})) res.setHeader(k, v);
  if (f.hugeBytes) streamHuge(res, f.hugeBytes);
  else res.end(f.body ?? d.body);
}

/**
 * Keeps every socket of `server` in `sockets` until it closes (so close() can destroy keep-alive
 * ones) and counts accepted connections in `state.connections` (with TLS, completed handshakes).
 */
function trackSockets(server: net.Server, tls: boolean, state: TestServer, sockets: Set<net.Socket>): void {
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  server.on(tls ? 'secureConnection' : 'connection', (s: net.Socket) => {
    state.connections++;
    track(s);
  });
  if (tls) server.on('connection', track);
  server.on('tlsClientError', () => {});
}

/**
 * Starts a recording server on 127.0.0.1:0 (HTTPS when `tls` is given): the addEvents receiver,
 * and an OTLP/HTTP one on `/v1/logs|metrics|traces` (decode those with testkit/otlpServer.ts).
 */
export async function startTestServer(tls?: { certPem: string; keyPem: string }, port = 0): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state: TestServer = {
    url: '',
    port: 0,
    requests: [],
    faults: [],
    connections: 0,
    close: async () => {},
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = decodeBody(raw, req.headers['content-encoding']);
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, body, at: Date.now(), fault: {} };
      state.requests.push(rec);
      rec.fault = state.faults.shift() ?? state.script?.(rec) ?? {};
      const delayMs = rec.fault.delayMs;
      if (!delayMs) {
        respond(req, res, rec);
        return;
      }
      // The delayed answer's timer is kept until it fires, so close() can cancel it.
      const t = setTimeout(() => {
        timers.delete(t);
        respond(req, res, rec);
      }, delayMs);
      timers.add(t);
    });
  };
  const server = tls ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, handler) : http.createServer(handler);
  trackSockets(server, !!tls, state, sockets);
  // listen() calls back once the port is bound; only then is the address (the port 0 chose) known.
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  state.port = addr.port;
  state.url = `${tls ? 'https' : 'http'}://127.0.0.1:${addr.port}`;
  // Resolves when the server has closed: pending delays are cancelled and open (keep-alive,
  // hanging) sockets destroyed first, or close() would wait for them.
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** Polls `cond` every 10 ms until true or `timeoutMs` passed (then throws). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------------------------------------
// Parser for the addEvents body dialect.

export interface ParsedEvent {
  thread?: string;
  log?: string;
  attrs: Record<string, unknown>;
  message: Buffer;
  sample_rate?: number;
  ts?: string;
  si?: string;
  sn?: number;
  sd?: number;
}

export interface ParsedBody {
  head: Record<string, unknown>;
  events: ParsedEvent[];
  logs: { id: string; attrs: Record<string, unknown> }[];
  threads: { id: string; name: string }[];
  client_time: number;
}

/** Parses a (decompressed) addEvents body. Throws with the byte offset on malformed input. */
export function parseAddEventsBody(buf: Buffer): ParsedBody {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`addEvents body: ${what} at byte ${i}: ${JSON.stringify(buf.subarray(i, i + 40).toString('latin1'))}`);
  };
  const ws = () => {
    while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  };
  const expect = (ch: string) => {
    ws();
    if (buf[i] !== ch.charCodeAt(0)) fail(`expected '${ch}'`);
    i++;
  };
  const key = (): string => {
    ws();
    if (buf[i] === 0x22) return str();
    const start = i;
    while (i < buf.length && /[A-Za-z0-9_]/.test(String.fromCharCode(buf[i]))) i++;
    if (i === start) fail('expected a key');
    return buf.subarray(start, i).toString('latin1');
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < buf.length && buf[i] !== 0x22) i += buf[i] === 0x5c ? 2 : 1;
    if (i >= buf.length) fail('unterminated string');
    i++;
    return JSON.parse(buf.subarray(start, i).toString('utf8')) as string;
  };
  const value = (): unknown => {
    ws();
    const c = buf[i];
    if (c === 0x22) return str();
    if (c === 0x7b) return obj();
    if (c === 0x5b) return arr();
    if (c === 0x60) {
      if (buf[i + 1] !== 0x73) fail('expected `s');
      const len = buf.readInt32BE(i + 2);
      const out = Buffer.from(buf.subarray(i + 6, i + 6 + len));
      i += 6 + len;
      return out;
    }
    const start = i;
    while (i < buf.length && /[-+0-9.eEa-z]/.test(String.fromCharCode(buf[i]))) i++;
    const t = buf.subarray(start, i).toString('latin1');
    if (t === 'true') return true;
    if (t === 'false') return false;
    if (t === 'null') return null;
    const n = Number(t);
    if (t === '' || Number.isNaN(n)) fail('expected a value');
    return n;
  };
  const obj = (): Record<string, unknown> => {
    expect('{');
    const o: Record<string, unknown> = {};
    ws();
    if (buf[i] === 0x7d) {
      i++;
      return o;
    }
    for (;;) {
      const k = key();
      expect(':');
      o[k] = value();
      ws();
      if (buf[i] === 0x2c) {
        i++;
        continue;
      }
      expect('}');
      return o;
    }
  };
  const arr = (): unknown[] => {
    expect('[');
    const a: unknown[] = [];
    ws();
    if (buf[i] === 0x5d) {
      i++;
      return a;
    }
    for (;;) {
      a.push(value());
      ws();
      if (buf[i] === 0x2c) {
        i++;
        continue;
      }
      expect(']');
      return a;
    }
  };
  // The top level has the duplicate `threads` key: parse pairs by hand.
  expect('{');
  const head: Record<string, unknown> = {};
  const top: Record<string, unknown> = {};
  let seenEvents = false;
  for (;;) {
    const k = key();
    expect(':');
    const v = value();
    if (k === 'events') seenEvents = true;
    (seenEvents ? top : head)[k] = v;
    ws();
    if (buf[i] === 0x2c) {
      i++;
      continue;
    }
    expect('}');
    break;
  }
  ws();
  if (i !== buf.length) fail('trailing bytes');
  const events = ((top.events as Record<string, unknown>[]) ?? []).map((e) => {
    const attrs = { ...(e.attrs as Record<string, unknown>) };
    const message = attrs.message as Buffer;
    delete attrs.message;
    const sample_rate = attrs.sample_rate as number | undefined;
    delete attrs.sample_rate;
    const out: ParsedEvent = { attrs, message };
    if (e.thread !== undefined) out.thread = e.thread as string;
    if (e.log !== undefined) out.log = e.log as string;
    if (sample_rate !== undefined) out.sample_rate = sample_rate;
    if (e.ts !== undefined) out.ts = e.ts as string;
    if (e.si !== undefined) out.si = e.si as string;
    if (e.sn !== undefined) out.sn = e.sn as number;
    if (e.sd !== undefined) out.sd = e.sd as number;
    return out;
  });
  return {
    head,
    events,
    logs: top.logs as ParsedBody['logs'],
    threads: top.threads as ParsedBody['threads'],
    client_time: top.client_time as number,
  };
}

/**
 * Events of a parsed body with sequence numbers resolved (`sd` → absolute `sn`) per sequence id.
 */
export function resolveSequence(events: ParsedEvent[]): (ParsedEvent & { seq?: string; num?: number })[] {
  let id: string | undefined;
  let num = 0;
  return events.map((e) => {
    if (e.si !== undefined && e.sn !== undefined) {
      id = e.si;
      num = e.sn;
      return { ...e, seq: id, num };
    }
    if (e.sd !== undefined) {
      num += e.sd;
      return { ...e, seq: id, num };
    }
    return { ...e };
  });
}
