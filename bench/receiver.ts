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
const MESSAGE = Buffer.from('message');

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Counts lines in forward-moving ranges of one buffer: newline bytes, plus one for a range without
 * a trailing newline. The next newline found is remembered, so a body whose messages hold no raw
 * newline (strict JSON escapes them) is searched once, not once per message.
 */
class LineCounter {
  private next = -2; // the first newline at or after `from`; -1: none left; -2: not searched yet
  private from = 0;
  constructor(private readonly buf: Buffer) {}
  count(start: number, end: number): number {
    const b = this.buf;
    let n = 0;
    let i = this.next === -2 || start < this.from || (this.next !== -1 && this.next < start) ? b.indexOf(NL, start) : this.next;
    while (i !== -1 && i < end) {
      n++;
      i = b.indexOf(NL, i + 1);
    }
    this.next = i;
    this.from = end;
    if (end > start && b[end - 1] !== NL) n++;
    return n;
  }
}

/** `body[i, i + 7)` is `message` (compared in place: this runs for every `m` byte outside strings). */
function isMessageKey(body: Buffer, i: number): boolean {
  return (
    body[i + 1] === 0x65 && body[i + 2] === 0x73 && body[i + 3] === 0x73 && body[i + 4] === 0x61 && body[i + 5] === 0x67 && body[i + 6] === 0x65
  );
}

/**
 * Scans an addEvents body. Calls `each(message)` for the messages selected by `want(index)`.
 * Throws on a truncated length-prefixed message. A message is sliced out of the body only when
 * `each` wants it; lines are counted in place.
 */
export function scanBody(body: Buffer, each?: (message: Buffer, index: number) => void, want?: (index: number) => boolean): ScanResult {
  let events = 0;
  let lines = 0;
  let messageBytes = 0;
  let keyIsMessage = false; // the last token was the key `message` followed by ':'
  const n = body.length;
  let i = 0;
  const counter = new LineCounter(body);
  const take = (start: number, end: number) => {
    const idx = events++;
    lines += counter.count(start, end);
    messageBytes += end - start;
    if (each && (!want || want(idx))) each(body.subarray(start, end), idx);
  };
  const takeDecoded = (msg: Buffer) => {
    const idx = events++;
    lines += new LineCounter(msg).count(0, msg.length);
    messageBytes += msg.length;
    if (each && (!want || want(idx))) each(msg, idx);
  };
  while (i < n) {
    const c = body[i];
    if (c === BACKTICK && body[i + 1] === 0x73 /* s */) {
      if (i + 6 > n) throw new Error(`truncated length prefix at ${i}`);
      const len = body.readUInt32BE(i + 2);
      const start = i + 6;
      if (start + len > n) throw new Error(`message at ${i} runs past the body (${len} bytes)`);
      take(start, start + len);
      i = start + len;
      keyIsMessage = false;
      continue;
    }
    if (c === QUOTE) {
      // A JSON string: find its end.
      // A byte loop, not indexOf: the strings of event headers are short, and a native call per
      // string costs more than the loop.
      let j = i + 1;
      let escaped = false;
      for (;;) {
        if (j >= n) throw new Error(`unterminated string at ${i}`);
        const d = body[j];
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          j += 2;
        } else j++;
      }
      if (keyIsMessage) {
        if (escaped) takeDecoded(Buffer.from(JSON.parse(body.toString('utf8', i, j + 1)) as string, 'utf8'));
        else take(i + 1, j);
        keyIsMessage = false;
      } else {
        // Is this the key "message"?
        let k = j + 1;
        while (k < n && isSpace(body[k])) k++;
        keyIsMessage = body[k] === COLON && j - i - 1 === MESSAGE.length && body[i + 1] === 0x6d && isMessageKey(body, i + 1);
        if (keyIsMessage) j = k;
      }
      i = j + 1;
      continue;
    }
    if (c === 0x6d /* m */ && i + 7 <= n && isMessageKey(body, i) && (i === 0 || !isIdent(body[i - 1]))) {
      let k = i + 7;
      while (k < n && isSpace(body[k])) k++;
      if (body[k] === COLON) {
        keyIsMessage = true;
        i = k + 1;
        continue;
      }
    }
    if (!isSpace(c) && c !== BACKTICK) keyIsMessage = false;
    i++;
  }
  return { events, lines, messageBytes };
}

function isIdent(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
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
