/**
 * The Scout core-agent span intake: a Unix-socket (and optional loopback TCP) server speaking the
 * core-agent protocol to many language-agent clients at once.
 *
 * Promises:
 * - exactly one reply per received frame, in order, each written whole (length + body in one
 *   buffer); a BatchCommand gets one reply;
 * - bad input never takes the process down: invalid UTF-8/JSON, unknown commands, data before
 *   Register get a `Failure` reply; a length over `max_frame_bytes` closes that connection only;
 *   truncated and stalled frames are counted; every case lands in `counters.dropped`;
 * - request trees are keyed globally by `request_id`, assembled at FinishRequest and emitted on
 *   `completed$` in batches; unfinished requests expire; live state is capped;
 * - a stale socket file is replaced, a live one is never stolen (`listen()` rejects with code
 *   `EADDRINUSE_LIVE`); the socket file gets mode 0o600 (or `apm.socket_mode`).
 *
 * Subscribe to `completed$`/`appEvents$` before `listen()`: they are hot.
 */
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { Subject, type Observable, type SchedulerLike } from 'rxjs';
import type { ApmConfig } from '../../lib/config/types.js';
import type { ComponentCounters, Logger } from '../../lib/types.js';
import type { AppEvent, CompletedRequest } from '../../lib/apm/types.js';
import { countDrop, countError, createCounters, errorMessage } from '../../lib/counters.js';
import { FrameDecoder } from './framing.js';
import { RequestAssembler, type Registration } from './requestAssembler.js';
import { failureReply, successReply, versionReply } from './replies.js';
import { intakeOptions, type IntakeOptions } from './options.js';

export { parseTcp, intakeOptions, SPAN_INTAKE_OPTIONS } from './options.js';

export interface SpanIntakeContext {
  logger: Logger;
  scheduler?: SchedulerLike;
  now?: () => number;
  /** Called (once) after a client's CoreAgentShutdown was answered. */
  onShutdown?: () => void;
  /**
   * Keep connections that sent CoreAgentShutdown open through stop() until release(), so the
   * `core-agent shutdown` command can wait for the flush to finish (its connection closes last).
   */
  holdShutdownClients?: boolean;
}

export interface SpanIntake {
  /** Binds the socket(s). Rejects with `code: 'EADDRINUSE_LIVE'` when a live agent answers there. */
  listen(): Promise<void>;
  /** Finished request trees, in batches (hot). Completes on stop(). */
  completed$: Observable<CompletedRequest[]>;
  /** ApplicationEvents (metadata, samplers), in batches (hot). Completes on stop(). */
  appEvents$: Observable<AppEvent[]>;
  counters: ComponentCounters;
  status(): Record<string, unknown>;
  /** Stops accepting, closes connections (forcefully after `deadlineMs`), completes the streams. */
  stop(deadlineMs?: number): Promise<void>;
  /** Expires timed-out requests and stalled connections now (also runs on a timer). */
  sweep(): void;
  /** Closes connections held by `holdShutdownClients` (call after everything was flushed). */
  release(): void;
}

const KNOWN = new Set(['StartRequest', 'StartSpan', 'StopSpan', 'TagSpan', 'TagRequest', 'FinishRequest', 'ApplicationEvent']);
/** Pause reading from a client that does not read its replies once this much is queued. */
const MAX_QUEUED_REPLY_BYTES = 1024 * 1024;

interface Conn {
  id: number;
  socket: net.Socket;
  decoder: FrameDecoder;
  reg?: Registration;
  lastData: number;
  transport: 'unix' | 'tcp';
  askedShutdown?: boolean;
}

/** Connects to a socket path / TCP address and resolves true when something accepts. */
export function isListening(target: string | { host: string; port: number }, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = typeof target === 'string' ? net.connect(target) : net.connect(target.port, target.host);
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function liveError(where: string): Error {
  const e = new Error(`a live agent is already listening on ${where}`) as Error & { code: string };
  e.code = 'EADDRINUSE_LIVE';
  return e;
}

export function createSpanIntake(cfg: Readonly<Partial<ApmConfig>>, ctx: SpanIntakeContext): SpanIntake {
  const opts: IntakeOptions = intakeOptions(cfg);
  const log = ctx.logger;
  const now = ctx.now ?? (ctx.scheduler ? () => ctx.scheduler!.now() : Date.now);
  const counters = createCounters();
  const completed = new Subject<CompletedRequest[]>();
  const appEvents = new Subject<AppEvent[]>();
  const drop = (reason: string, n = 1) => countDrop(counters, reason, n);
  let pendingCompleted: CompletedRequest[] = [];
  let pendingEvents: AppEvent[] = [];
  let flushScheduled = false;
  const stats = { frames: 0, commands: 0, connections: 0, connectionsTotal: 0, registrations: 0, failures: 0 };

  const flush = () => {
    flushScheduled = false;
    if (pendingCompleted.length) {
      const b = pendingCompleted;
      pendingCompleted = [];
      counters.sentEvents += b.length;
      completed.next(b);
    }
    if (pendingEvents.length) {
      const b = pendingEvents;
      pendingEvents = [];
      counters.sentEvents += b.length;
      appEvents.next(b);
    }
  };
  const scheduleFlush = () => {
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };

  const assembler = new RequestAssembler({
    requestTimeoutMs: opts.requestTimeoutMs,
    maxLiveRequests: opts.maxLiveRequests,
    maxSpansPerRequest: opts.maxSpansPerRequest,
    maxLiveSpans: opts.maxLiveSpans,
    now,
    drop,
    onCompleted: (r) => {
      pendingCompleted.push(r);
      scheduleFlush();
    },
    onAppEvent: (e) => {
      pendingEvents.push(e);
      scheduleFlush();
    },
  });

  const conns = new Set<Conn>();
  const servers: net.Server[] = [];
  let nextConnId = 1;
  let stopped = false;
  let shutdownCalled = false;
  let sweepTimer: NodeJS.Timeout | undefined;
  let ownSocketIno: number | undefined;
  const versionBuf = versionReply(opts.version);

  const requestShutdown = () => {
    if (shutdownCalled) return;
    shutdownCalled = true;
    log.info('CoreAgentShutdown received');
    if (ctx.onShutdown) setImmediate(ctx.onShutdown);
  };

  const fail = (reason: string, message: string): Buffer => {
    drop(reason);
    stats.failures++;
    return failureReply(message);
  };

  /** One command object `{Name: {...}}` inside a batch; returns a failure message or undefined. */
  const applySub = (c: Conn, cmd: unknown): string | undefined => {
    stats.commands++;
    counters.receivedEvents++;
    if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) {
      drop('invalid_command');
      return 'invalid command';
    }
    let name: string | undefined;
    for (const k in cmd as object) {
      if (name !== undefined) {
        drop('invalid_command');
        return 'invalid command';
      }
      name = k;
    }
    if (name === undefined) {
      drop('invalid_command');
      return 'invalid command';
    }
    const inner = (cmd as Record<string, unknown>)[name];
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
      drop('invalid_command');
      return 'invalid command body';
    }
    const body = inner as Record<string, unknown>;
    if (name === 'Register') {
      register(c, body);
      return undefined;
    }
    if (name === 'CoreAgentVersion') return undefined;
    if (name === 'CoreAgentShutdown') {
      c.askedShutdown = true;
      requestShutdown();
      return undefined;
    }
    if (!c.reg) {
      drop('unregistered');
      return 'unregistered client';
    }
    if (!KNOWN.has(name)) {
      drop('unknown_command');
      return 'unknown command';
    }
    return assembler.apply(name, body, c.reg);
  };

  const register = (c: Conn, body: Record<string, unknown>) => {
    const key = typeof body.key === 'string' ? body.key : '';
    const app = typeof body.app === 'string' && body.app !== '' ? body.app : opts.appName;
    c.reg = { key, app };
    stats.registrations++;
    log.debug('client registered', { conn: c.id, app, language: body.language });
  };

  /** Handles one whole frame and returns the one reply for it. */
  const handleFrame = (c: Conn, frame: Buffer): Buffer => {
    stats.frames++;
    counters.receivedBytes += frame.length + 4;
    if (!isUtf8(frame)) return fail('invalid_utf8', 'frame is not valid UTF-8');
    let msg: unknown;
    try {
      msg = JSON.parse(frame.toString('utf8'));
    } catch {
      return fail('invalid_json', 'frame is not valid JSON');
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return fail('invalid_command', 'expected an object with one command key');
    const keys = Object.keys(msg);
    if (keys.length !== 1) return fail('invalid_command', 'expected an object with exactly one command key');
    const name = keys[0]!;
    const inner = (msg as Record<string, unknown>)[name];
    if (name === 'BatchCommand') {
      stats.commands++;
      const commands = inner && typeof inner === 'object' ? (inner as Record<string, unknown>).commands : undefined;
      if (!Array.isArray(commands)) return fail('invalid_command', 'BatchCommand needs a commands array');
      if (!c.reg) {
        counters.receivedEvents += commands.length;
        drop('unregistered', commands.length || 1);
        stats.failures++;
        return failureReply('unregistered client');
      }
      for (const sub of commands) {
        if (sub && typeof sub === 'object' && 'BatchCommand' in sub) {
          counters.receivedEvents++;
          drop('invalid_command');
          continue;
        }
        applySub(c, sub);
      }
      return successReply('BatchCommand');
    }
    if (name === 'Register' || name === 'CoreAgentVersion' || name === 'CoreAgentShutdown' || KNOWN.has(name)) {
      const err = applySub(c, msg);
      if (err !== undefined) {
        stats.failures++;
        return failureReply(err);
      }
      return name === 'CoreAgentVersion' ? versionBuf : successReply(name);
    }
    stats.commands++;
    counters.receivedEvents++;
    return fail('unknown_command', `unknown command ${name.slice(0, 64)}`);
  };

  const onConnection = (socket: net.Socket, transport: 'unix' | 'tcp') => {
    if (stopped) {
      socket.destroy();
      return;
    }
    const c: Conn = { id: nextConnId++, socket, decoder: new FrameDecoder(opts.maxFrameBytes), lastData: now(), transport };
    conns.add(c);
    stats.connections++;
    stats.connectionsTotal++;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      c.lastData = now();
      let results;
      try {
        results = c.decoder.push(chunk);
      } catch (err) {
        countError(counters, err);
        socket.destroy();
        return;
      }
      if (results.length === 0) return;
      const replies: Buffer[] = [];
      let tooLarge: number | undefined;
      for (const r of results) {
        if (r.kind === 'too_large') {
          tooLarge = r.length;
          break;
        }
        try {
          replies.push(handleFrame(c, r.body));
        } catch (err) {
          // Defensive: a bug must cost one Failure reply, never the daemon.
          countError(counters, err);
          replies.push(failureReply('internal error'));
        }
      }
      if (tooLarge !== undefined) {
        drop('frame_too_large');
        log.warn('closing APM connection: frame length over max_frame_bytes', { conn: c.id, length: tooLarge, max: opts.maxFrameBytes });
        replies.push(failureReply(`frame of ${tooLarge} bytes is over the limit of ${opts.maxFrameBytes}`));
      }
      if (!socket.destroyed && socket.writable) {
        socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
        if (tooLarge !== undefined) socket.end();
        else if (socket.writableLength > MAX_QUEUED_REPLY_BYTES) {
          socket.pause();
          socket.once('drain', () => socket.resume());
        }
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') countError(counters, err);
    });
    socket.on('close', () => {
      conns.delete(c);
      stats.connections--;
      if (c.decoder.pendingBytes > 0) {
        drop('truncated_frame');
        log.debug('APM connection closed in the middle of a frame', { conn: c.id, pending: c.decoder.pendingBytes });
      }
      if (!c.reg) log.debug('unregistered socket goodbye', { conn: c.id });
    });
  };

  const sweep = () => {
    assembler.sweep();
    const t = now();
    for (const c of conns) {
      if (c.decoder.pendingBytes > 0 && t - c.lastData > opts.frameTimeoutMs) {
        drop('stalled_frame');
        c.decoder = new FrameDecoder(opts.maxFrameBytes); // counted here, not again as truncated
        c.socket.destroy();
      }
    }
  };

  const listenOn = (server: net.Server, target: string | { host: string; port: number }) =>
    new Promise<void>((resolve, reject) => {
      const onErr = (e: Error) => reject(e);
      server.once('error', onErr);
      const ok = () => {
        server.off('error', onErr);
        server.on('error', (e) => countError(counters, e));
        resolve();
      };
      if (typeof target === 'string') server.listen(target, ok);
      else server.listen(target.port, target.host, ok);
    });

  const newServer = (transport: 'unix' | 'tcp') => {
    const server = net.createServer({ pauseOnConnect: false }, (s) => onConnection(s, transport));
    server.maxConnections = opts.maxConnections;
    server.on('drop', () => drop('connection_limit'));
    return server;
  };

  const listen = async (): Promise<void> => {
    if (!opts.socketPath && !opts.tcp) throw new Error('apm: neither socket_path nor tcp is set');
    if (opts.socketPath) {
      const p = opts.socketPath;
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(p);
      } catch {
        /* absent */
      }
      if (!st) fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 }); // as clients' core_agent_permissions
      if (st) {
        if (!st.isSocket()) throw new Error(`apm.socket_path ${p} exists and is not a socket; refusing to replace it`);
        if (await isListening(p)) throw liveError(p);
        log.info('removing stale APM socket file', { path: p });
        fs.unlinkSync(p);
      }
      const server = newServer('unix');
      await listenOn(server, p);
      servers.push(server);
      fs.chmodSync(p, opts.socketMode);
      ownSocketIno = fs.statSync(p).ino;
      log.info('APM socket server bound', { socket: p });
    }
    if (opts.tcp) {
      const server = newServer('tcp');
      try {
        await listenOn(server, opts.tcp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && (await isListening(opts.tcp))) {
          await closeServers();
          throw liveError(`${opts.tcp.host}:${opts.tcp.port}`);
        }
        await closeServers();
        throw err;
      }
      servers.push(server);
      log.info('APM TCP server bound', { tcp: `${opts.tcp.host}:${(server.address() as net.AddressInfo).port}` });
    }
    const every = Math.max(50, Math.min(1000, opts.requestTimeoutMs / 4, opts.frameTimeoutMs / 4));
    sweepTimer = setInterval(sweep, every);
    sweepTimer.unref();
  };

  const closeServers = async () => {
    // Stop accepting now; the close callback only fires once every connection is gone, and
    // connections held for `core-agent shutdown` outlive stop(), so do not wait for it.
    for (const s of servers) s.close();
    servers.length = 0;
    if (opts.socketPath && ownSocketIno !== undefined) {
      try {
        if (fs.statSync(opts.socketPath).ino === ownSocketIno) fs.unlinkSync(opts.socketPath);
      } catch {
        /* already gone */
      }
      ownSocketIno = undefined;
    }
  };

  let stopping: Promise<void> | undefined;
  const stop = (deadlineMs = 2000): Promise<void> => {
    if (stopping) return stopping;
    stopped = true;
    stopping = (async () => {
      if (sweepTimer) clearInterval(sweepTimer);
      const closing = closeServers();
      const held = (c: Conn) => ctx.holdShutdownClients === true && c.askedShutdown === true;
      for (const c of conns) if (!held(c)) c.socket.end();
      const open = () => [...conns].filter((c) => !held(c)).length;
      const until = Date.now() + Math.max(0, Math.min(deadlineMs, 1000));
      while (open() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      for (const c of conns) if (!held(c)) c.socket.destroy();
      await closing.catch((e) => countError(counters, e));
      flush();
      assembler.clear();
      completed.complete();
      appEvents.complete();
    })().catch((e) => {
      countError(counters, e);
      log.error('APM intake stop failed', { error: errorMessage(e) });
    });
    return stopping;
  };

  return {
    listen,
    completed$: completed.asObservable(),
    appEvents$: appEvents.asObservable(),
    counters,
    sweep,
    stop,
    release: () => {
      for (const c of conns) c.socket.destroy();
    },
    status: () => ({
      listening: servers.map((s) => s.address()),
      ...stats,
      liveRequests: assembler.liveRequests,
      liveSpans: assembler.liveSpanCount,
      ...assembler.stats,
    }),
  };
}
