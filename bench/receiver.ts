/**
 * A local counting HTTP receiver for Scalyr `addEvents` bodies (benchmarks only; 127.0.0.1 only).
 *
 * Promises:
 * - Accepts POSTs (any path) with `Content-Encoding: deflate` (zlib) or none, inflates on libuv's
 *   threadpool, counts events by scanning the body, and answers `{"status":"success"}`.
 * - The scan understands sluice's body (unquoted keys; a message as `` `s `` + 4-byte big-endian
 *   length + raw bytes, skipped without decoding) and strict JSON bodies (`"message": "..."`, as
 *   syslog-ng sends them). It counts events, message bytes and lines (newline bytes in messages,
 *   plus one for a message without a trailing newline), so a shipper that strips the newline
 *   counts the same lines as one that keeps it.
 * - Every `verifyEvery`-th message (and every message when `onMessage` is set) is handed to the
 *   checks: `verify(message)` returns an error text or undefined; errors are kept (first 20).
 * - `setMode('500' | 'refuse' | 'reset' | 'ok')` simulates an outage: 500 answers, a closed
 *   listening socket (connection refused; the same port is bound again on 'ok'), or connections
 *   reset on arrival. Requests answered with a failure are not counted as events.
 * - `waitFor(pred, timeoutMs)` polls the counts (bounded); `close()` releases everything.
 *
 * CLI: `node dist/bench/receiver.js [--port 0]` prints the port, then the counts every second.
 */
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';

const inflate = promisify(zlib.inflate);

export interface ReceiverCounts {
  requests: number;
  /** Requests answered with 500 or reset during an outage. */
  failedRequests: number;
  events: number;
  lines: number;
  messageBytes: number;
  /** Body bytes as received (compressed when deflated). */
  wireBytes: number;
  /** Body bytes after inflating. */
  bodyBytes: number;
  /** `performance.now()`-style ms (process.hrtime) of the first and last counted request. */
  firstAt: number;
  lastAt: number;
  verified: number;
  verifyErrors: string[];
  parseErrors: number;
}

export interface ReceiverOptions {
  port?: number;
  /** Check one message; return an error text to record. */
  verify?: (message: Buffer) => string | undefined;
  /** Verify every n-th message (default 97). */
  verifyEvery?: number;
  /** Called with every message (slow; for the reload bench's marker lines). */
  onMessage?: (message: Buffer, at: number) => void;
}

export type ReceiverMode = 'ok' | '500' | 'refuse' | 'reset';

export interface ScanResult {
  events: number;
  lines: number;
  messageBytes: number;
}

const BACKTICK = 0x60;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const NL = 0x0a;
const M = 0x6d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isIdent(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

/** `b[i, i + 7)` is `message`; the caller checked that the seven bytes exist. */
function isMessageAt(b: Buffer, i: number): boolean {
  return b[i] === M && b[i + 1] === 0x65 && b[i + 2] === 0x73 && b[i + 3] === 0x73 && b[i + 4] === 0x61 && b[i + 5] === 0x67 && b[i + 6] === 0x65;
}

/** The index of the first byte at or after `k` that is not white space (or `n`). */
function skipSpaces(b: Buffer, k: number, n: number): number {
  while (k < n && isSpace(b[k])) k++;
  return k;
}

/** The closing quote of the JSON string opened at `open`; -1 when the body ends first. */
function stringEnd(b: Buffer, open: number, n: number): number {
  let j = open + 1;
  while (j < n) {
    const d = b[j];
    if (d === QUOTE) return j;
    j += d === BACKSLASH ? 2 : 1;
  }
  return -1;
}

/** Whether `byte` occurs in `b[start, end)`. */
function hasByte(b: Buffer, byte: number, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (b[k] === byte) return true;
  return false;
}

function hexAt(b: Buffer, k: number): number {
  return parseInt(b.toString('latin1', k, k + 4), 16);
}

/**
 * The lines and UTF-8 byte length of the JSON string body `b[start, end)` (between its quotes) as
 * it decodes, without decoding it: newlines are the `\\n` and `\\u000a` escapes; an escape is
 * one byte, a `\\u` escape the length of its code point (a surrogate pair four).
 */
function countEscaped(b: Buffer, start: number, end: number): { lines: number; bytes: number } {
  let nl = 0;
  let bytes = 0;
  let last = -1; // the last decoded byte, to know whether the message ends with a newline
  for (let k = start; k < end; ) {
    const c = b[k];
    if (c !== BACKSLASH) {
      bytes++;
      last = c;
      k++;
      continue;
    }
    const d = b[k + 1];
    if (d === 0x75 /* u */) {
      const cp = hexAt(b, k + 2);
      if (cp >= 0xd800 && cp <= 0xdbff && b[k + 6] === BACKSLASH && b[k + 7] === 0x75) {
        bytes += 4;
        last = 0;
        k += 12;
        continue;
      }
      bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
      if (cp === NL) nl++;
      last = cp < 0x80 ? cp : 0;
      k += 6;
      continue;
    }
    bytes++;
    if (d === 0x6e /* n */) {
      nl++;
      last = NL;
    } else last = 0;
    k += 2;
  }
  return { lines: nl + (bytes > 0 && last !== NL ? 1 : 0), bytes };
}

/** Newline bytes in `b[start, end)`, plus one when the range does not end with a newline. */
function countLines(b: Buffer, start: number, end: number): number {
  let n = 0;
  let i = b.indexOf(NL, start);
  while (i !== -1 && i < end) {
    n++;
    i = b.indexOf(NL, i + 1);
  }
  if (end > start && b[end - 1] !== NL) n++;
  return n;
}

/** The error for a body that is cut or malformed at `at` (kept out of the scan loop: see scanBody). */
function malformed(what: string, at: number): Error {
  return new Error(what + ' at byte ' + at);
}

/**
 * Scans an addEvents body. Calls `each(message)` for the messages selected by `want(index)`.
 * Throws on a truncated length-prefixed message or an unterminated string. A message is sliced
 * out of the body only when `each` wants it; lines are counted in place.
 *
 * Written as one loop over plain integer locals, without closures over counters and without
 * reads past the end of the body. Its error messages are built by {@link malformed}, never by a
 * template literal in the loop: V8's optimising compiler moved the number-to-string conversion of
 * such a message (`at ${i}`) out of the throwing branch onto the hot path, and the scan took
 * 4.4 ms per 2 MB body instead of 1.4 (`perf`: half the time in Builtins_NumberToString).
 */
export function scanBody(body: Buffer, each?: (message: Buffer, index: number) => void, want?: (index: number) => boolean): ScanResult {
  let events = 0;
  let lines = 0;
  let messageBytes = 0;
  const n = body.length;
  let i = 0;
  while (i < n) {
    const c = body[i];
    let src = body;
    let start: number;
    let end: number;
    if (c === BACKTICK) {
      // `s + 4-byte big-endian signed length + raw bytes (sluice, Scalyr's agent).
      if (i + 1 >= n || body[i + 1] !== 0x73) {
        i++;
        continue;
      }
      if (i + 6 > n) throw malformed('truncated length prefix', i);
      const len = body.readInt32BE(i + 2);
      start = i + 6;
      end = start + len;
      if (len < 0 || end > n) throw malformed('length-prefixed message runs past the body', i);
      i = end;
    } else {
      // Otherwise only the key `message` (quoted or not) followed by ':' and a JSON string matters.
      let keyEnd: number;
      if (c === QUOTE) {
        const close = stringEnd(body, i, n);
        if (close < 0) throw malformed('unterminated string', i);
        const isKey = close - i === 8 && isMessageAt(body, i + 1);
        i = close + 1;
        if (!isKey) continue;
        keyEnd = close + 1;
      } else if (c === M && i + 7 <= n && isMessageAt(body, i) && (i === 0 || !isIdent(body[i - 1])) && (i + 7 === n || !isIdent(body[i + 7]))) {
        keyEnd = i + 7;
        i = keyEnd;
      } else {
        i++;
        continue;
      }
      const colon = skipSpaces(body, keyEnd, n);
      if (colon >= n || body[colon] !== COLON) continue;
      const open = skipSpaces(body, colon + 1, n);
      i = open; // a length-prefixed value is taken by the branch above
      if (open >= n || body[open] !== QUOTE) continue;
      const close = stringEnd(body, open, n);
      if (close < 0) throw malformed('unterminated string', open);
      i = close + 1;
      start = open + 1;
      end = close;
      if (hasByte(body, BACKSLASH, start, end)) {
        // An escaped string: lines and decoded bytes counted on the escapes; decoded only when
        // the message is wanted (a JSON.parse per message made this receiver the bottleneck for
        // strict-JSON shippers: ~200 CPU-s per GiB of access lines, which hold quotes).
        const idx = events++;
        const e = countEscaped(body, start, end);
        lines += e.lines;
        messageBytes += e.bytes;
        if (each !== undefined && (want === undefined || want(idx))) each(Buffer.from(JSON.parse(body.toString('utf8', open, close + 1)) as string, 'utf8'), idx);
        continue;
      }
    }
    const idx = events++;
    lines += countLines(src, start, end);
    messageBytes += end - start;
    if (each !== undefined && (want === undefined || want(idx))) each(src.subarray(start, end), idx);
  }
  return { events, lines, messageBytes };
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The receiver. */
export class CountingReceiver {
  readonly counts: ReceiverCounts = CountingReceiver.zero();
  private server: http.Server;
  private mode: ReceiverMode = 'ok';
  private sockets = new Set<net.Socket>();
  private boundPort = 0;
  private listening = false;
  private seen = 0;

  constructor(private readonly opts: ReceiverOptions = {}) {
    this.server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      if (this.mode === 'reset') s.destroy();
    });
  }

  static zero(): ReceiverCounts {
    return { requests: 0, failedRequests: 0, events: 0, lines: 0, messageBytes: 0, wireBytes: 0, bodyBytes: 0, firstAt: 0, lastAt: 0, verified: 0, verifyErrors: [], parseErrors: 0 };
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** Binds 127.0.0.1 (port 0 = any free port). Resolves with the port. */
  async start(): Promise<number> {
    await this.listen(this.opts.port ?? 0);
    return this.boundPort;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onErr = (err: Error) => reject(err);
      this.server.once('error', onErr);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', onErr);
        this.boundPort = (this.server.address() as net.AddressInfo).port;
        this.listening = true;
        resolve();
      });
    });
  }

  /** Switches the failure mode (see the file header). */
  async setMode(mode: ReceiverMode): Promise<void> {
    const prev = this.mode;
    this.mode = mode;
    if (mode === 'refuse' || mode === 'reset') {
      for (const s of this.sockets) s.destroy();
    }
    if (mode === 'refuse' && this.listening) {
      this.listening = false;
      await new Promise<void>((r) => this.server.close(() => r()));
    } else if (prev === 'refuse' && mode !== 'refuse' && !this.listening) {
      await this.listen(this.boundPort);
    }
  }

  /** Zeroes the counts (between runs). */
  reset(): void {
    Object.assign(this.counts, CountingReceiver.zero());
    this.seen = 0;
  }

  /** Polls until `pred(counts)` holds; rejects after `timeoutMs`. */
  async waitFor(pred: (c: ReceiverCounts) => boolean, timeoutMs: number, pollMs = 20): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.counts)) {
      if (Date.now() > deadline) throw new Error(`receiver: condition not met within ${timeoutMs} ms (${JSON.stringify({ ...this.counts, verifyErrors: this.counts.verifyErrors.length })})`);
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.listening) {
      this.listening = false;
      await new Promise<void>((r) => this.server.close(() => r()));
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      void this.finish(req, res, Buffer.concat(chunks));
    });
  }

  private async finish(req: http.IncomingMessage, res: http.ServerResponse, wire: Buffer): Promise<void> {
    const c = this.counts;
    c.requests++;
    if (this.mode !== 'ok') {
      c.failedRequests++;
      if (this.mode === '500') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"status":"error/server","message":"benchmark outage"}');
      } else {
        req.socket.destroy();
      }
      return;
    }
    let body: Buffer;
    try {
      const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
      // Output chunks of 1 MiB: zlib's default 16 KiB costs a JS callback per 16 KiB of body.
      body = enc === 'deflate' ? await inflate(wire, { chunkSize: 1 << 20 }) : wire;
      const every = this.opts.verifyEvery ?? 97;
      const at = nowMs();
      const r = scanBody(
        body,
        (msg) => {
          this.opts.onMessage?.(msg, at);
          if (this.opts.verify && (this.opts.onMessage === undefined || (this.seen + 1) % every === 0)) {
            c.verified++;
            const err = this.opts.verify(msg);
            if (err && c.verifyErrors.length < 20) c.verifyErrors.push(err);
          }
        },
        this.opts.onMessage ? undefined : (idx) => (this.seen + idx + 1) % every === 0,
      );
      this.seen += r.events;
      c.wireBytes += wire.length;
      c.bodyBytes += body.length;
      c.events += r.events;
      c.lines += r.lines;
      c.messageBytes += r.messageBytes;
      if (c.firstAt === 0) c.firstAt = at;
      c.lastAt = at;
    } catch (err) {
      c.parseErrors++;
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'error/client/badParam', message: `benchmark receiver: ${(err as Error).message}` }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"success"}');
  }
}

/** Starts a receiver (convenience). */
export async function startReceiver(opts: ReceiverOptions = {}): Promise<CountingReceiver> {
  const r = new CountingReceiver(opts);
  await r.start();
  return r;
}

/** The check the benchmarks use: no password survives redaction. */
export function noCleartextPassword(message: Buffer): string | undefined {
  const s = message.toString('latin1');
  const re = /password=([^& \n]*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    if (m[1] !== '<redacted>') return `unredacted password in: ${s.slice(0, 200)}`;
  }
  return undefined;
}

async function cli(argv: string[]): Promise<void> {
  const i = argv.indexOf('--port');
  const port = i >= 0 ? Number(argv[i + 1]) : 0;
  const r = await startReceiver({ port, verify: argv.includes('--check-redaction') ? noCleartextPassword : undefined });
  process.stdout.write(`receiver listening on ${r.url}\n`);
  let last = -1;
  const t = setInterval(() => {
    if (r.counts.requests === last) return;
    last = r.counts.requests;
    process.stdout.write(JSON.stringify({ ...r.counts, verifyErrors: r.counts.verifyErrors.slice(0, 3) }) + '\n');
  }, 1000);
  const stop = () => {
    clearInterval(t);
    void r.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`receiver: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
