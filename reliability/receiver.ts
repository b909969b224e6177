/**
 * A local `addEvents` receiver for the conservation harness: HTTPS on 127.0.0.1 with a test CA,
 * decodes each request (zlib `deflate`, Scalyr's body dialect with `` `s `` length-prefixed
 * messages, via testkit/tlsServer.ts's parser), records the ids of ACCEPTED requests in the
 * {@link Ledger}, and injects faults on demand.
 *
 * Faults (each counted in `faults`):
 * - `http500` (JSON error body), `http502` (HTML body), `http429`, `backoff` (`{"status":"error/server/backoff"}`):
 *   nothing is accepted; the agent must resend.
 * - `slow`: the events ARE accepted (as a real server would store them) but the answer comes
 *   `slowMs` later, past the agent's `request_deadline`: the agent resends, the copies are
 *   duplicates of class `late-answer`.
 * - `reset`: the connection is destroyed without an answer; nothing accepted.
 * - `refuse`: the listening socket is closed for a while (connection refused), then reopened on
 *   the same port.
 * Promises: never throws into the caller; `close()` releases every socket and timer.
 */
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import zlib from 'node:zlib';
import { parseAddEventsBody, resolveSequence } from '../testkit/tlsServer.js';
import { parseId } from './lines.js';
import type { Ledger } from './ledger.js';

export type FaultKind = 'http500' | 'http502' | 'http429' | 'backoff' | 'slow' | 'reset' | 'refuse';
export const FAULT_KINDS: readonly FaultKind[] = ['http500', 'http502', 'http429', 'backoff', 'slow', 'reset', 'refuse'];
/** How long an injected fault waits for a request before it lapses. */
const FAULT_TTL_MS = 5000;

export interface ReceiverOptions {
  certPem: string;
  keyPem: string;
  ledger: Ledger;
  /** How late a `slow` answer comes (must exceed the agent's request_deadline). */
  slowMs: number;
  /** API key the agent must send (checked; a wrong token is answered error/client/badParam). */
  apiKey?: string;
  maxBodyBytes?: number;
}

export class Receiver {
  port = 0;
  readonly faults: Record<FaultKind, number> = { http500: 0, http502: 0, http429: 0, backoff: 0, slow: 0, reset: 0, refuse: 0 };
  requests = 0;
  acceptedRequests = 0;
  acceptedEvents = 0;
  badBodies = 0;
  badBodySamples: string[] = [];
  badTokens = 0;
  /** The `edition` attribute of the last accepted event, per `entry` attribute (config edits taking effect). */
  readonly lastEdition: Record<string, string> = {};
  private server?: https.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /**
   * Faults waiting for a request, each with the time it lapses: a server fails during a window,
   * it does not keep a backlog of errors for whoever comes later (a queue without expiry starves
   * a client whose backoff is slower than the injection rate for the rest of the run).
   */
  private queue: { kind: FaultKind; until: number }[] = [];
  private refusedUntil = 0;
  private closed = false;

  constructor(private readonly opts: ReceiverOptions) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await this.listen(this.port);
  }

  private async listen(port: number): Promise<void> {
    const server = https.createServer({ cert: this.opts.certPem, key: this.opts.keyPem }, (req, res) => this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    });
    server.on('tlsClientError', () => undefined);
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** The next `count` requests within FAULT_TTL_MS get fault `kind` (for `refuse`: refuse connections for `count` ms). */
  inject(kind: FaultKind, count: number): void {
    if (this.closed) return;
    if (kind === 'refuse') {
      void this.refuse(count);
      return;
    }
    const until = Date.now() + FAULT_TTL_MS;
    for (let i = 0; i < count; i++) this.queue.push({ kind, until });
  }

  /** Drops queued faults (end of the chaos phase). */
  clearFaults(): void {
    this.queue = [];
  }

  get refusing(): boolean {
    return Date.now() < this.refusedUntil;
  }

  private async refuse(ms: number): Promise<void> {
    if (!this.server || this.refusing) return;
    this.faults.refuse++;
    this.refusedUntil = Date.now() + ms;
    const old = this.server;
    this.server = undefined;
    // Stop accepting at once; requests arriving on kept-alive sockets meanwhile are reset
    // unanswered (see handle); answers already written get 300 ms to leave before the sockets go.
    const closed = new Promise<void>((resolve) => old.close(() => resolve()));
    await new Promise<void>((resolve) => this.later(300, resolve));
    for (const s of this.sockets) s.destroy();
    await closed;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
    if (this.closed) return;
    for (let i = 0; i < 50; i++) {
      try {
        await this.listen(this.port);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const max = this.opts.maxBodyBytes ?? 64 * 1024 * 1024;
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on('end', () => {
      this.requests++;
      if (this.refusing) {
        req.socket.destroy();
        return;
      }
      const answer = (status: number, body: string, type = 'application/json') => {
        if (res.destroyed || res.writableEnded) return;
        res.statusCode = status;
        res.setHeader('Content-Type', type);
        res.end(body);
      };
      if (req.method !== 'POST' || !req.url?.startsWith('/addEvents')) {
        answer(404, '{"status":"error/client/notFound"}');
        return;
      }
      let parsed;
      try {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'deflate' ? zlib.inflateSync(raw) : raw;
        parsed = parseAddEventsBody(body);
      } catch (err) {
        this.badBodies++;
        if (this.badBodySamples.length < 3) this.badBodySamples.push((err as Error).message.slice(0, 200));
        answer(400, '{"status":"error/client/badParam","message":"could not parse the body"}');
        return;
      }
      if (this.opts.apiKey !== undefined && parsed.head.token !== this.opts.apiKey) {
        this.badTokens++;
        answer(401, '{"status":"error/client/badParam","message":"bad token"}');
        return;
      }
      const now = Date.now();
      while (this.queue.length > 0 && this.queue[0].until < now) this.queue.shift();
      const fault = this.queue.shift()?.kind;
      if (fault) this.faults[fault]++;
      const record = (late: boolean) => {
        const session = this.opts.ledger.sessionIndex(String(parsed.head.session ?? ''));
        for (const ev of resolveSequence(parsed.events)) {
          const msg = Buffer.isBuffer(ev.message) ? ev.message : Buffer.from(String(ev.message ?? ''));
          this.opts.ledger.accept(msg, parseId(msg), session, late, ev.seq, ev.num);
          const entry = ev.attrs.entry;
          if (typeof entry === 'string' && typeof ev.attrs.edition === 'string') this.lastEdition[entry] = ev.attrs.edition;
        }
        this.acceptedRequests++;
        this.acceptedEvents += parsed.events.length;
      };
      switch (fault) {
        case 'http500':
          answer(500, '{"status":"error/server","message":"injected internal error"}');
          return;
        case 'http502':
          answer(502, '<html><body><h1>502 Bad Gateway</h1></body></html>', 'text/html');
          return;
        case 'http429':
          answer(429, '{"status":"error/server/backoff","message":"injected: too many requests"}');
          return;
        case 'backoff':
          answer(200, '{"status":"error/server/backoff","message":"injected backoff"}');
          return;
        case 'reset':
          req.socket.destroy();
          return;
        case 'slow':
          record(true);
          this.later(this.opts.slowMs, () => answer(200, '{"status":"success","bytesCharged":0}'));
          return;
        default:
          record(false);
          answer(200, '{"status":"success","bytesCharged":0}');
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
