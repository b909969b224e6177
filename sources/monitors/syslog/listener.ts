/**
 * The network side of `syslog_monitor`: TCP and UDP listeners that hand each received message
 * to the message log (messageLog.ts), with every bound of issue 17:
 *
 * - flow control: while the bytes no sink has acknowledged yet (the message log's backlog, from
 *   `ctx.services.logBacklog`, plus what is still queued for writing) are over the budget, or
 *   the write queue is over its limit, every TCP connection is paused (`socket.pause()`: the
 *   kernel's buffers fill and the sender waits) and UDP datagrams are dropped and counted
 *   (`backlog_full`, `queue_full`); reading resumes when the sink has caught up;
 * - per connection: one framer (framing.ts) holding at most one message; a connection that
 *   sends nothing for `idleMs` is closed (`idle_timeout`); one that leaves a message unfinished
 *   for `incompleteMs` (a slow-loris client, or a sender that died mid-message) has what it sent
 *   written and is closed (`incomplete_timeout`); more than `maxConnections` at once are refused
 *   (`too_many_connections`);
 * - a port that cannot be bound (in use, permission denied) is an error naming the protocol and
 *   the port, counted and logged once per state change, retried with backoff (1 s doubling to
 *   60 s) while the other listeners run.
 *
 * Every drop is counted by reason in the monitor's counters and warned about once per state
 * change; received and written messages are counted as received and sent events.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { isUtf8 } from 'node:buffer';
import type { ComponentCounters, Logger } from '../../../lib/types.js';
import { countDrop, countError, errorMessage } from '../../../lib/counters.js';
import type { MessageLog } from './messageLog.js';
import { SyslogFramer, trimMessage, type FramerOutput } from './framing.js';

export interface Endpoint {
  protocol: 'tcp' | 'udp';
  port: number;
}

export type SyslogDropReason =
  | 'backlog_full'
  | 'receive_buffer_full'
  | 'queue_full'
  | 'oversized_split'
  | 'bad_octet_count'
  | 'idle_timeout'
  | 'incomplete_timeout'
  | 'too_many_connections'
  | 'write_failed';

export interface ListenerOptions {
  name: string;
  logger: Logger;
  counters: ComponentCounters;
  host: string;
  endpoints: Endpoint[];
  newFramer(): SyslogFramer;
  log: MessageLog;
  /** Bytes of the message log not acknowledged by the sink (undefined: no such service). */
  backlog?: () => number;
  /** Budget for `backlog() + log.queued` (0: no budget). */
  budget: number;
  /** Pause TCP when this many bytes wait to be written. */
  queueLimit: number;
  maxConnections: number;
  /** 0: none. */
  idleMs: number;
  /** 0: none. */
  incompleteMs: number;
}

/** Scalyr decodes with `errors="ignore"`: invalid UTF-8 sequences are left out. */
function cleanUtf8(b: Buffer): Buffer {
  if (isUtf8(b)) return b;
  return Buffer.from(new TextDecoder('utf-8', { fatal: false }).decode(b).replace(/\uFFFD/g, ''), 'utf8');
}

const BACKLOG_POLL_MS = 50;

export class SyslogListener {
  private readonly tcpServers = new Map<number, net.Server>();
  private readonly udpSockets = new Map<number, dgram.Socket>();
  /** Per UDP port: the kernel's drop count for its socket when last looked at. */
  private readonly kernelDrops = new Map<number, number>();
  private kernelDropTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly bindFailures = new Map<string, { failures: number; code?: string }>();
  private readonly warned = new Set<string>();
  private paused = false;
  private stopped = false;
  private poll: NodeJS.Timeout | undefined;
  private lastCheck = 0;
  private lastBacklog = 0;
  /** Bytes handed to the message log since the backlog was last read (they count until it is read again). */
  private sinceCheck = 0;
  private pauses = 0;
  private lastResumeAt = -Infinity;

  constructor(private readonly o: ListenerOptions) {}

  start(): void {
    for (const e of this.o.endpoints) this.bind(e);
    this.poll = setInterval(() => this.checkFlow(true), BACKLOG_POLL_MS);
    this.poll.unref?.();
  }

  /** Whether the listener is pausing TCP / dropping UDP (for specs and status). */
  get overBudget(): boolean {
    return this.paused;
  }

  /** The ports actually listening, by protocol (for specs). */
  listening(): Endpoint[] {
    const out: Endpoint[] = [];
    for (const [port, s] of this.tcpServers) if (s.listening) out.push({ protocol: 'tcp', port });
    for (const [port] of this.udpSockets) out.push({ protocol: 'udp', port });
    return out;
  }

  private warnOnce(reason: string, message: string, counted = true): void {
    if (this.warned.has(reason)) return;
    this.warned.add(reason);
    const further = counted ? `further ones are counted as dropped.${reason}, not logged, until it recovers` : 'further ones are not logged';
    this.o.logger.warn(`monitor ${this.o.name}: ${message} (${further})`, { monitor: this.o.name });
  }

  private drop(reason: SyslogDropReason, message: string, n = 1): void {
    countDrop(this.o.counters, reason, n);
    this.warnOnce(reason, message);
  }

  /**
   * Whether the unacknowledged bytes are over the budget or the write queue over its limit.
   * The backlog (a `stat` and the checkpoint) is read at most every 50 ms; in between, what was
   * handed to the log since counts on top of it, so a fast sender cannot overshoot the budget.
   */
  private checkFlow(fromTimer = false): boolean {
    const now = Date.now();
    const queued = this.o.log.queued;
    const measured = this.o.backlog !== undefined && this.o.budget > 0;
    if (fromTimer || now - this.lastCheck >= BACKLOG_POLL_MS) {
      this.lastCheck = now;
      let backlog = 0;
      if (measured) {
        try {
          backlog = this.o.backlog!();
        } catch {
          backlog = 0;
        }
      }
      this.lastBacklog = backlog + queued;
      this.sinceCheck = 0;
    }
    const unacked = this.lastBacklog + this.sinceCheck;
    const overBudget = measured && unacked > this.o.budget;
    const overQueue = queued > this.o.queueLimit;
    // Hysteresis: once paused, resume only below three quarters of each limit, so readings that
    // wobble around the limit (the file's size and the acknowledged offset are read at different
    // moments) do not flap between pause and resume.
    const low = RESUME_FRACTION;
    const over = this.paused ? (measured && unacked > this.o.budget * low) || queued > this.o.queueLimit * low : overBudget || overQueue;
    if (over && !this.paused) {
      this.paused = true;
      this.pauses++;
      for (const s of this.sockets) s.pause();
      // One warning per state change; a pause soon after the last resume (the sink working its
      // way through the backlog) is only a debug line, so a busy link does not flood the log.
      const quiet = now - this.lastResumeAt < 60_000;
      this.o.logger[quiet ? 'debug' : 'warn'](
        `monitor ${this.o.name}: ${overBudget ? `${unacked} bytes of ${this.o.log.path} are not acknowledged by the sink yet (max_unacknowledged_bytes ${this.o.budget})` : `${queued} bytes wait to be written to ${this.o.log.path}`}: pausing TCP connections and dropping UDP datagrams until it catches up`,
        { monitor: this.o.name },
      );
    } else if (!over && this.paused) {
      this.paused = false;
      this.warned.delete('backlog_full');
      this.warned.delete('queue_full');
      const quiet = now - this.lastResumeAt < 60_000;
      this.lastResumeAt = now;
      this.o.logger[quiet ? 'debug' : 'info'](`monitor ${this.o.name}: the sink caught up (${unacked} bytes unacknowledged): resuming TCP connections and UDP (paused ${this.pauses} time(s) so far)`, { monitor: this.o.name });
      for (const s of this.sockets) s.resume();
    }
    return over;
  }

  private accept(messages: Buffer[]): void {
    if (messages.length === 0) return;
    const clean = messages.map(cleanUtf8);
    for (const m of clean) this.sinceCheck += m.length + 1;
    this.o.log.append(clean);
  }

  private framed(out: FramerOutput): void {
    for (const [k, n] of Object.entries(out.events)) {
      if (!n) continue;
      if (k === 'oversized_split') this.drop('oversized_split', `a syslog message longer than the limit (tcp_buffer_size, or max_message_size with message_size_can_exceed_tcp_buffer) was written in pieces`, n);
      else this.drop('bad_octet_count', 'a TCP syslog message starts with digits that are not an octet count ("<length> "): read it as a delimited message', n);
    }
    for (const m of out.messages) {
      this.o.counters.receivedEvents++;
      this.o.counters.receivedBytes += m.length;
    }
    this.accept(out.messages);
  }

  private bindFailed(e: Endpoint, err: NodeJS.ErrnoException, retry: () => void): void {
    const key = `${e.protocol}:${e.port}`;
    const st = this.bindFailures.get(key) ?? { failures: 0 };
    st.failures++;
    const delay = Math.min(60_000, 1000 * 2 ** Math.min(st.failures - 1, 6));
    const why =
      err.code === 'EACCES' && e.port < 1024
        ? `access denied when trying to create a ${e.protocol} server on a low port (${e.port}); try again on a higher port, or as root`
        : `cannot listen for syslog over ${e.protocol} on ${this.o.host}:${e.port}: ${err.code ?? ''}${err.code ? ' ' : ''}${errorMessage(err)}`;
    countError(this.o.counters, why);
    if (st.code !== err.code) {
      this.o.logger.error(`monitor ${this.o.name}: ${why} (retrying with backoff; the other listeners and the agent go on)`, { monitor: this.o.name });
    }
    st.code = err.code;
    this.bindFailures.set(key, st);
    const t = setTimeout(() => {
      this.retryTimers.delete(t);
      if (!this.stopped) retry();
    }, delay);
    t.unref?.();
    this.retryTimers.add(t);
  }

  private bound(e: Endpoint): void {
    const key = `${e.protocol}:${e.port}`;
    const st = this.bindFailures.get(key);
    this.bindFailures.delete(key);
    this.o.logger.info(`monitor ${this.o.name}: listening for syslog over ${e.protocol} on ${this.o.host}:${e.port}${st ? ` (after ${st.failures} failed attempt${st.failures === 1 ? '' : 's'})` : ''}`, { monitor: this.o.name });
  }

  private bind(e: Endpoint): void {
    if (this.stopped) return;
    if (e.protocol === 'tcp') this.bindTcp(e);
    else this.bindUdp(e);
  }

  private bindTcp(e: Endpoint): void {
    const server = net.createServer({ pauseOnConnect: false }, (sock) => this.connection(sock));
    let up = false;
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (up) return;
      server.close();
      this.tcpServers.delete(e.port);
      this.bindFailed(e, err, () => this.bind(e));
    });
    server.on('error', () => undefined);
    server.listen({ port: e.port, host: this.o.host }, () => {
      up = true;
      if (this.stopped) {
        server.close();
        return;
      }
      this.bound(e);
    });
    this.tcpServers.set(e.port, server);
  }

  private bindUdp(e: Endpoint): void {
    // A large receive buffer rides out event-loop pauses (the kernel caps it at net.core.rmem_max).
    const sock = dgram.createSocket({ type: this.o.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: UDP_RECV_BUFFER });
    let up = false;
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (up) {
        this.warnOnce('connection_error', `UDP socket error on port ${e.port}: ${errorMessage(err)}`, false);
        return;
      }
      sock.close();
      this.udpSockets.delete(e.port);
      this.bindFailed(e, err, () => this.bind(e));
    });
    sock.on('message', (msg) => this.datagram(msg));
    sock.bind({ port: e.port, address: this.o.host }, () => {
      up = true;
      if (this.stopped) {
        sock.close();
        return;
      }
      this.udpSockets.set(e.port, sock);
      this.kernelDrops.set(e.port, kernelUdpDrops(e.port) ?? 0);
      this.kernelDropTimer ??= setInterval(() => this.countKernelDrops(), 1000);
      this.kernelDropTimer.unref?.();
      this.bound(e);
    });
  }

  /** Datagrams the kernel dropped because the socket's receive buffer was full: counted as `receive_buffer_full`. */
  private countKernelDrops(): void {
    for (const port of this.udpSockets.keys()) {
      const now = kernelUdpDrops(port);
      if (now === undefined) continue;
      const before = this.kernelDrops.get(port) ?? 0;
      // They reached the host: counted in (received) and dropped, so received = written + dropped.
      if (now > before) this.o.counters.receivedEvents += now - before;
      if (now > before) this.drop('receive_buffer_full', `the kernel dropped ${now - before} UDP syslog datagrams on port ${port}: its receive buffer was full (the agent was too busy to read; raise net.core.rmem_max or send over TCP)`, now - before);
      this.kernelDrops.set(port, now);
    }
  }

  private datagram(msg: Buffer): void {
    if (this.stopped) return;
    const m = trimMessage(msg);
    if (m.length === 0) return;
    this.o.counters.receivedEvents++;
    this.o.counters.receivedBytes += m.length;
    if (this.checkFlow()) {
      const overQueue = this.o.log.queued > this.o.queueLimit;
      if (overQueue) this.drop('queue_full', `dropped a UDP syslog message: ${this.o.log.queued} bytes wait to be written to ${this.o.log.path}`);
      else this.drop('backlog_full', `dropped a UDP syslog message: the sink is ${this.lastBacklog + this.sinceCheck} bytes behind on ${this.o.log.path} (max_unacknowledged_bytes ${this.o.budget}); UDP senders cannot be paused`);
      return;
    }
    this.accept([m]);
  }

  private connection(sock: net.Socket): void {
    if (this.stopped) {
      sock.destroy();
      return;
    }
    if (this.sockets.size >= this.o.maxConnections) {
      this.drop('too_many_connections', `refused a TCP connection from ${sock.remoteAddress}:${sock.remotePort}: ${this.sockets.size} are open (tcp_max_connections ${this.o.maxConnections})`);
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    if (this.paused || this.checkFlow()) sock.pause();
    const framer = this.o.newFramer();
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    let idle: NodeJS.Timeout | undefined;
    let incomplete: NodeJS.Timeout | undefined;
    const armIdle = () => {
      if (!this.o.idleMs) return;
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => {
        // A paused connection is not idle: it is waiting for us.
        if (this.paused) return armIdle();
        this.drop('idle_timeout', `closed the TCP connection from ${peer}: nothing received for ${this.o.idleMs / 1000}s (tcp_idle_timeout)`);
        this.framed(framer.flush());
        sock.destroy();
      }, this.o.idleMs);
      idle.unref?.();
    };
    const armIncomplete = (progress: boolean) => {
      if (!this.o.incompleteMs) return;
      if (framer.pending === 0 || progress) {
        if (incomplete) clearTimeout(incomplete);
        incomplete = undefined;
      }
      if (framer.pending > 0 && !incomplete) {
        incomplete = setTimeout(() => {
          incomplete = undefined;
          if (this.paused) return armIncomplete(true);
          this.drop('incomplete_timeout', `closed the TCP connection from ${peer}: a message stayed unfinished for ${this.o.incompleteMs / 1000}s (tcp_incomplete_frame_timeout); what it sent was written`);
          this.framed(framer.flush());
          sock.destroy();
        }, this.o.incompleteMs);
        incomplete.unref?.();
      }
    };
    armIdle();
    sock.on('data', (chunk: Buffer) => {
      armIdle();
      const out = framer.push(chunk);
      this.framed(out);
      armIncomplete(out.messages.length > 0);
      if (!this.paused && this.checkFlow()) sock.pause();
    });
    sock.on('end', () => {
      this.framed(framer.flush());
      sock.end();
    });
    // A reset connection loses nothing the monitor had (what it received is written): noted once.
    sock.on('error', (err) => this.warnOnce('connection_error', `TCP connection from ${peer}: ${errorMessage(err)}`, false));
    sock.on('close', () => {
      if (idle) clearTimeout(idle);
      if (incomplete) clearTimeout(incomplete);
      this.sockets.delete(sock);
    });
  }

  /** Closes the listeners and connections (what was received is still written, see MessageLog.close). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.poll) clearInterval(this.poll);
    if (this.kernelDropTimer) {
      this.countKernelDrops();
      clearInterval(this.kernelDropTimer);
    }
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    for (const s of this.tcpServers.values()) s.close();
    this.tcpServers.clear();
    for (const s of this.udpSockets.values()) {
      try {
        s.close();
      } catch {
        /* already closed */
      }
    }
    this.udpSockets.clear();
  }
}

const UDP_RECV_BUFFER = 4 << 20;
/** A paused listener resumes below this fraction of `max_unacknowledged_bytes` and of the write-queue limit. */
const RESUME_FRACTION = 0.75;

/** The kernel's drop counter of the UDP socket bound to `port` (`/proc/net/udp{,6}`, last column), if found. */
function kernelUdpDrops(port: number): number | undefined {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  let total: number | undefined;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 13 || !(cols[1] + ' ').endsWith(hex)) continue;
      const n = Number(cols[cols.length - 1]);
      if (Number.isFinite(n)) total = (total ?? 0) + n;
    }
  }
  return total;
}
