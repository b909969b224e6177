/**
 * `graphite_monitor` (Scalyr's `scalyr_agent.builtin_monitors.graphite_monitor`): a Graphite
 * server. It listens for Graphite's plaintext protocol (`<path> <value> <timestamp>\n` lines, on
 * `plaintext_port`) and pickle protocol (4-byte big-endian length + a pickled list of
 * `(path, (timestamp, value))`, on `pickle_port`), and records each received metric as Scalyr
 * does (`emit_value(metric, float(value), extra_fields={"orig_time": float(timestamp)})`):
 * `[graphite_monitor(id)] <path> <value as float> orig_time=<timestamp as float>`.
 *
 * It does not poll: its Observable is long-lived (it never completes while listening) and emits
 * the samples of each received chunk as they arrive; the monitor source subscribes it at the
 * first tick and writes each emission at once (later ticks find it running and are skipped).
 * A listener that cannot bind (port in use…) errors the Observable: the monitor source logs it
 * once, counts it and retries with backoff.
 *
 * Bounds (Scalyr's options, with Scalyr's `server_processors.py` semantics): a request (a line
 * including its newline, or a pickle frame's payload) longer than `max_request_size` closes its
 * connection; a connection that sends no complete request for `max_connection_idle_time`
 * seconds (since it opened or since its last complete request) is closed, which also ends
 * slow-loris clients that trickle bytes without ever finishing a request. A connection buffers
 * at most one unfinished request (≤ `max_request_size` ≤ `buffer_size`, in a buffer of at most
 * twice that, freed when empty; no re-copying of a growing buffer on every read), and a listener holds at most
 * `max_connections` connections (sluice's bound; further ones are closed at once), so memory is
 * bounded by about `2 × max_connections × max_request_size` per listener. Malformed lines and pickles are
 * dropped. Every drop is counted in the runner's counters (`ctx.counters.dropped`) by reason,
 * socket errors in `ctx.counters.errors`, and each reason is warned about once per state change
 * (its first occurrence after start or after good input).
 *
 * Pickles are decoded by sluice's own safe decoder (`pickle.ts`): lists, tuples, strings and
 * numbers only; anything else (GLOBAL, REDUCE…) is refused and counted, never executed (Scalyr's
 * `pickle.loads` would run it).
 *
 * Listeners bind 127.0.0.1 unless `only_accept_local: false` (then all interfaces).
 */
import net from 'node:net';
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, readDeclared, type OptionDecl } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption } from '../../lib/config/schema.js';
import { countDrop, countError, createCounters, errorMessage } from '../../lib/counters.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { decodePickle, type PickleValue } from './pickle.js';

export const GRAPHITE_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'only_accept_local', type: 'bool', default: true, description: 'If true, the listeners bind to 127.0.0.1 and only accept connections from localhost. If false, all network connections are accepted.' }),
  s({ name: 'accept_plaintext', type: 'bool', default: true, description: 'If true, accept connections in Graphite\'s "plain text" protocol.' }),
  s({ name: 'accept_pickle', type: 'bool', default: true, description: 'If true, accept connections in Graphite\'s "pickle" protocol (sluice decodes it safely: lists, tuples, strings and numbers only; other pickles are refused and counted as `bad_pickle`).' }),
  s({ name: 'plaintext_port', type: 'int', default: 2003, min: 1, max: 65535, description: 'The port on which to listen for plain text connections. Unused if `accept_plaintext` is false.' }),
  s({ name: 'pickle_port', type: 'int', default: 2004, min: 1, max: 65535, description: 'The port on which to listen for pickle connections. Unused if `accept_pickle` is false.' }),
  s({ name: 'max_connection_idle_time', type: 'float', default: 300, min: 1, description: 'The maximum number of seconds allowed between requests (since the connection opened or its last complete request) before the connection is closed (counted as `idle_timeout`).' }),
  s({ name: 'max_request_size', type: 'int', default: 100 * 1024, min: 1000, description: 'The maximum size of a single request (a line with its newline, or a pickle payload) in bytes; a larger one closes its connection (counted as `request_too_large`).' }),
  s({ name: 'buffer_size', type: 'int', default: 100 * 1024, min: 10 * 1024, description: 'The maximum buffer size in bytes for buffering incoming requests per connection; must be at least `max_request_size`.' }),
  s({
    name: 'monitor_log_flush_delay',
    type: 'float',
    default: 1,
    min: 0,
    noEffect: true,
    description: 'Scalyr: seconds the graphite monitor\'s metric log may wait before it is flushed to disk. Accepted and ignored: sluice writes no metric log file, each received metric goes to the pipeline at once.',
  }),
  sluiceOption({ name: 'max_connections', type: 'int', default: 1000, min: 1, description: 'sluice (not in Scalyr, whose listener has no limit): the most connections each listener holds at once; further ones are closed at once (counted as `too_many_connections`). Bounds the memory to about `2 × max_connections × max_request_size` per listener.' }),
];

/** Drop reasons (in the runner's `dropped` counters). */
export type GraphiteDropReason =
  | 'bad_plaintext_line'
  | 'bad_pickle'
  | 'bad_pickle_entry'
  | 'request_too_large'
  | 'idle_timeout'
  | 'incomplete_request'
  | 'too_many_connections';

/** A sample with a float field (`orig_time`, a Python float in Scalyr's line). */
export interface GraphiteSample extends ScalyrMonitorSample {
  fields: { orig_time: number };
  /**
   * Fields that are Python floats (printed with a decimal point even when integral, as
   * `orig_time=1700000000.0`). Read by the metric line formatter once it supports float
   * fields; until then an integral `orig_time` prints without `.0`.
   */
  floatFields: readonly string[];
}

const FLOAT_FIELDS: readonly string[] = ['orig_time'];
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Python's `float()` of a plaintext field, for the finite decimal forms; undefined when it is not one. */
function parseFloatField(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** Python's `float()` of a decoded pickle value; undefined when it has none (or is not finite). */
function toFloat(v: PickleValue | undefined): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return parseFloatField(v.trim());
  return undefined;
}

function sample(metric: string, value: number, ts: number): GraphiteSample {
  return { metric, value, float: true, fields: { orig_time: ts }, floatFields: FLOAT_FIELDS };
}

/** One plaintext line (`path value timestamp`) as a sample, as carbon (and Scalyr) parse it; undefined when malformed. */
export function parsePlaintextLine(line: string): GraphiteSample | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 3 || parts[0] === '') return undefined;
  const value = parseFloatField(parts[1]);
  const ts = parseFloatField(parts[2]);
  if (value === undefined || ts === undefined) return undefined;
  return sample(parts[0], value, ts);
}

/**
 * The samples of one decoded pickle payload (`[(path, (timestamp, value)), …]`, lists or
 * tuples). Entries that are not of that shape are skipped and counted in `bad`.
 */
export function pickleSamples(data: PickleValue): { samples: GraphiteSample[]; bad: number } {
  if (!Array.isArray(data)) return { samples: [], bad: 1 };
  const samples: GraphiteSample[] = [];
  let bad = 0;
  for (const entry of data) {
    if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1]) || entry[1].length !== 2) {
      bad++;
      continue;
    }
    const [metric, point] = entry as [PickleValue, PickleValue[]];
    const ts = toFloat(point[0]);
    const value = toFloat(point[1]);
    if (typeof metric !== 'string' || metric.trim() === '' || ts === undefined || value === undefined) {
      bad++;
      continue;
    }
    samples.push(sample(metric, value, ts));
  }
  return { samples, bad };
}

/**
 * The unconsumed bytes of one connection in one growable buffer: appending copies only the new
 * bytes (the buffer doubles when full, so each byte is copied a bounded number of times, never
 * once per read), its capacity stays within twice the largest unfinished request, and it is
 * freed whenever nothing is pending (idle connections hold no buffer).
 */
class Pending {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  push(b: Buffer): void {
    if (b.length === 0) return;
    const len = this.length;
    if (this.end + b.length > this.buf.length) {
      const need = len + b.length;
      if (need <= this.buf.length && this.start >= len) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(need, 2 * len, 256));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = len;
    }
    b.copy(this.buf, this.end);
    this.end += b.length;
  }

  /** Removes and returns (a copy of) the first `n` (≤ length) bytes. */
  take(n: number): Buffer {
    const out = Buffer.from(this.buf.subarray(this.start, this.start + n));
    this.start += n;
    if (this.start === this.end) this.clear();
    return out;
  }

  /** The first 4 bytes as a big-endian uint32 (length ≥ 4). */
  peekUInt32BE(): number {
    return this.buf.readUInt32BE(this.start);
  }

  clear(): void {
    this.buf = Buffer.alloc(0);
    this.start = 0;
    this.end = 0;
  }
}

interface FrameResult {
  requests: Buffer[];
  /** Set when a request exceeds max_request_size: its size so far. */
  tooLarge?: number;
}

/**
 * Newline-framed requests (Scalyr's `LineRequestParser`): a line longer than `max` bytes with
 * its newline, or an unfinished one already longer than `max`, is too large.
 */
function lineFramer(max: number): (p: Pending, chunk: Buffer) => FrameResult {
  return (p, chunk) => {
    const requests: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) break;
      const size = p.length + (nl - pos) + 1;
      if (size > max) return { requests, tooLarge: size };
      const line = p.length === 0 ? chunk.subarray(pos, nl) : Buffer.concat([p.take(p.length), chunk.subarray(pos, nl)]);
      requests.push(line);
      pos = nl + 1;
    }
    if (p.length + (chunk.length - pos) > max) return { requests, tooLarge: p.length + (chunk.length - pos) };
    p.push(chunk.subarray(pos));
    return { requests };
  };
}

/** 4-byte big-endian length-prefixed requests (Scalyr's `Int32RequestParser`); a length above `max` is refused before buffering it. */
function int32Framer(max: number): (p: Pending, chunk: Buffer) => FrameResult {
  return (p, chunk) => {
    const requests: Buffer[] = [];
    p.push(chunk);
    while (p.length >= 4) {
      const len = p.peekUInt32BE();
      if (len > max) return { requests, tooLarge: len };
      if (p.length < 4 + len) break;
      p.take(4);
      requests.push(p.take(len));
    }
    return { requests };
  };
}

export function graphiteMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<GraphiteSample[]> {
  const c = readDeclared(GRAPHITE_MONITOR_OPTIONS, config);
  const bool = (v: unknown) => v === true || v === 'true';
  const onlyLocal = bool(c.only_accept_local);
  const plaintext = bool(c.accept_plaintext);
  const pickle = bool(c.accept_pickle);
  const plaintextPort = Number(c.plaintext_port);
  const picklePort = Number(c.pickle_port);
  const maxRequest = Number(c.max_request_size);
  const idleMs = Number(c.max_connection_idle_time) * 1000;
  const maxConnections = Number(c.max_connections);
  const problems = graphiteProblems(c);
  if (problems.length > 0) throw new Error(`graphite_monitor: ${problems.map((p) => p.message).join('; ')}`);
  const host = onlyLocal ? '127.0.0.1' : undefined;
  const name = ctx.id;
  // The runner's counters (shown in status by reason); a private set when built outside a runner.
  const counters = ctx.counters ?? createCounters();
  const logger = ctx.logger;
  // A long-lived monitor tells the runner it is up (so a bind failure's backoff burst ends), when the runner offers it.
  const healthy = (ctx as MonitorContext & { healthy?: () => void }).healthy;

  return new Observable<GraphiteSample[]>((subscriber) => {
    const servers: net.Server[] = [];
    const sockets = new Set<net.Socket>();
    // One warning per state change: the first occurrence of a reason after start or after good input.
    const warned = new Set<string>();
    const warnOnce = (reason: string, message: string) => {
      if (warned.has(reason)) return;
      warned.add(reason);
      logger.warn(`monitor ${name}: ${message} (further ones are counted, not logged, until good input arrives)`, { monitor: name });
    };
    const drop = (reason: GraphiteDropReason, message: string, n = 1) => {
      countDrop(counters, reason, n);
      warnOnce(reason, `${message}; counted as dropped.${reason}`);
    };
    const good = (samples: GraphiteSample[]) => {
      if (samples.length === 0) return;
      warned.clear();
      subscriber.next(samples);
    };

    const serve = (kind: 'plaintext' | 'pickle', port: number, up: () => void) => {
      const frame = kind === 'plaintext' ? lineFramer(maxRequest) : int32Framer(maxRequest);
      const handle = (req: Buffer, out: GraphiteSample[]) => {
        if (kind === 'plaintext') {
          const text = req.toString('utf8');
          if (text.trim() === '') return;
          const smp = parsePlaintextLine(text);
          if (smp) out.push(smp);
          else drop('bad_plaintext_line', `could not parse incoming metric line from graphite plaintext server, ignoring: ${JSON.stringify(text.slice(0, 100))}`);
          return;
        }
        let data: PickleValue;
        try {
          data = decodePickle(req);
        } catch (err) {
          drop('bad_pickle', `could not parse incoming metric line from graphite pickle server, ignoring: ${errorMessage(err)}`);
          return;
        }
        const r = pickleSamples(data);
        out.push(...r.samples);
        if (r.bad > 0) drop('bad_pickle_entry', `graphite pickle payload has ${r.bad} entr${r.bad === 1 ? 'y' : 'ies'} that are not (path, (timestamp, value)), ignoring them`, r.bad);
      };
      const server = net.createServer((sock) => {
        sockets.add(sock);
        const peer = `${sock.remoteAddress}:${sock.remotePort}`;
        const pending = new Pending();
        let idle: NodeJS.Timeout | undefined;
        const arm = () => {
          if (idle) clearTimeout(idle);
          idle = setTimeout(() => {
            drop('idle_timeout', `closed a graphite ${kind} connection from ${peer}: no complete request within max_connection_idle_time (${idleMs / 1000}s)`);
            pending.clear();
            sock.destroy();
          }, idleMs);
          idle.unref?.();
        };
        arm();
        sock.on('data', (chunk: Buffer) => {
          const r = frame(pending, chunk);
          const out: GraphiteSample[] = [];
          for (const req of r.requests) handle(req, out);
          if (r.requests.length > 0) arm();
          good(out);
          if (r.tooLarge !== undefined) {
            drop('request_too_large', `closed a graphite ${kind} connection from ${peer}: a request of ${r.tooLarge} bytes exceeds max_request_size (${maxRequest})`);
            pending.clear();
            sock.destroy();
          }
        });
        sock.on('end', () => {
          // A last plaintext line without its newline still counts (printf 'a 1 2' | nc); Scalyr drops it.
          if (kind === 'plaintext' && pending.length > 0) {
            const out: GraphiteSample[] = [];
            handle(pending.take(pending.length), out);
            good(out);
          } else if (kind === 'pickle' && pending.length > 0) {
            drop('incomplete_request', `a graphite pickle connection from ${peer} closed in the middle of a frame (${pending.length} bytes buffered), ignoring it`);
          }
          pending.clear();
        });
        sock.on('error', (err) => {
          countError(counters, `graphite ${kind} connection from ${peer}: ${errorMessage(err)}`);
          warnOnce('connection_error', `graphite ${kind} connection from ${peer} failed: ${errorMessage(err)}; closing it`);
          if (pending.length > 0) countDrop(counters, 'incomplete_request');
          pending.clear();
        });
        sock.on('close', () => {
          if (idle) clearTimeout(idle);
          sockets.delete(sock);
        });
      });
      server.maxConnections = maxConnections;
      server.on('drop', (d?: { remoteAddress?: string; remotePort?: number }) =>
        drop('too_many_connections', `refused a graphite ${kind} connection from ${d?.remoteAddress}:${d?.remotePort}: ${maxConnections} connections (max_connections) are open`),
      );
      server.on('error', (err) => subscriber.error(new Error(`graphite_monitor: cannot listen for ${kind} on ${host ?? '*'}:${port}: ${errorMessage(err)}`)));
      server.listen({ port, host }, () => {
        logger.info(`monitor ${name}: listening for graphite ${kind} on ${host ?? '*'}:${port}`, { monitor: name });
        up();
      });
      servers.push(server);
    };
    const kinds = (plaintext ? 1 : 0) + (pickle ? 1 : 0);
    let listening = 0;
    const up = () => {
      if (++listening === kinds) healthy?.();
    };
    if (plaintext) serve('plaintext', plaintextPort, up);
    if (pickle) serve('pickle', picklePort, up);
    return () => {
      for (const sock of sockets) sock.destroy();
      for (const srv of servers) srv.close();
    };
  });
}

function graphiteProblems(own: Readonly<Record<string, unknown>>): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  const get = (k: string) => (own[k] === undefined || own[k] === null ? GRAPHITE_MONITOR_OPTIONS.find((o) => o.name === k)!.default : own[k]);
  const off = (v: unknown) => v === false || v === 'false';
  if (off(get('accept_plaintext')) && off(get('accept_pickle'))) {
    problems.push({ key: 'accept_plaintext', message: 'at least one of accept_plaintext or accept_pickle must be true' });
  }
  const max = Number(get('max_request_size'));
  const buf = Number(get('buffer_size'));
  if (max > buf) problems.push({ key: 'max_request_size', message: `the max_request_size of ${max} cannot be greater than the buffer size of ${buf}` });
  return problems;
}

export const graphiteMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'graphite_monitor',
  aliases: ['scalyr_agent.builtin_monitors.graphite_monitor'],
  longLived: true,
  // Scalyr does not rate limit graphite's metric log by default (its -1 defaults).
  monitorLogDefaults: { monitor_log_write_rate: -1, monitor_log_max_write_burst: -1 },
  doc: 'A Graphite server: listens for the plaintext (`plaintext_port`, 2003) and pickle (`pickle_port`, 2004) protocols, on localhost only unless `only_accept_local: false`, and records each received metric as `<path> <value> orig_time=<timestamp>`. Pickles are decoded safely (lists, tuples, strings and numbers; anything else is refused, never executed). Oversized requests, idle and slow connections, connections over `max_connections` and malformed input are dropped and counted by reason.',
  options: GRAPHITE_MONITOR_OPTIONS,
  check: (own) => graphiteProblems(readDeclared(GRAPHITE_MONITOR_OPTIONS, own)),
  // The standard Graphite ports; a buffer of twice the request size leaves room to raise max_request_size alone.
  example: { module: 'graphite_monitor', id: 'graphite', plaintext_port: 2003, pickle_port: 2004, buffer_size: 204800 },
  create: graphiteMonitor,
});
