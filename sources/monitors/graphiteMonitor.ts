/**
 * `graphite_monitor` (Scalyr's `scalyr_agent.builtin_monitors.graphite_monitor`): a Graphite
 * server. It listens for Graphite's plaintext protocol (`<path> <value> <timestamp>\n` lines, on
 * `plaintext_port`) and pickle protocol (4-byte big-endian length + a pickled list of
 * `(path, (timestamp, value))`, on `pickle_port`), and records each received metric as Scalyr
 * does: `[graphite_monitor(id)] <path> <value as float> orig_time=<timestamp>`.
 *
 * It does not poll: its Observable is long-lived (it never completes while listening) and emits
 * the samples of each received chunk as they arrive; the monitor source subscribes it at the
 * first tick and writes each emission at once (later ticks find it running and are skipped).
 * A listener that cannot bind (port in use…) errors the Observable: the monitor source logs it
 * once, counts it and retries with backoff.
 *
 * Bounds (Scalyr's options): a request (a line, or a pickle frame) longer than
 * `max_request_size` closes its connection; a connection that sends no complete request for
 * `max_connection_idle_time` seconds is closed (this also ends slow-loris clients, which trickle
 * bytes without ever finishing a request); a connection never buffers more than
 * `max_request_size` (≤ `buffer_size`). Malformed lines and pickles are dropped. Every drop is
 * counted by reason (`dropped`), and warned about once per state change (the first of a burst).
 * Pickles are decoded by sluice's own safe decoder (`pickle.ts`): lists, tuples, strings and
 * numbers only, anything else is refused (Scalyr's `pickle.loads` would run it).
 *
 * Listeners bind 127.0.0.1 unless `only_accept_local: false` (then all interfaces).
 */
import net from 'node:net';
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../lib/registry.js';
import type { ComponentCounters } from '../../lib/types.js';
import { defineComponent, readDeclared, type OptionDecl } from '../../lib/component.js';
import { scalyrOption as s } from '../../lib/config/schema.js';
import { countDrop, createCounters, errorMessage } from '../../lib/counters.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { decodePickle, type PickleValue } from './pickle.js';

export const GRAPHITE_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'only_accept_local', type: 'bool', default: true, description: 'If true, the listeners bind to 127.0.0.1 and only accept connections from localhost. If false, all network connections are accepted.' }),
  s({ name: 'accept_plaintext', type: 'bool', default: true, description: 'If true, accept connections in Graphite\'s "plain text" protocol.' }),
  s({ name: 'accept_pickle', type: 'bool', default: true, description: 'If true, accept connections in Graphite\'s "pickle" protocol (decoded safely: lists, tuples, strings and numbers only).' }),
  s({ name: 'plaintext_port', type: 'int', default: 2003, min: 1, max: 65535, description: 'The port on which to listen for plain text connections. Unused if `accept_plaintext` is false.' }),
  s({ name: 'pickle_port', type: 'int', default: 2004, min: 1, max: 65535, description: 'The port on which to listen for pickle connections. Unused if `accept_pickle` is false.' }),
  s({ name: 'max_connection_idle_time', type: 'float', default: 300, min: 1, description: 'The maximum number of seconds allowed between requests before the connection is closed (counted as `idle_timeout`).' }),
  s({ name: 'max_request_size', type: 'int', default: 100 * 1024, min: 1000, description: 'The maximum size of a single request (a line or a pickle frame) in bytes; a larger one closes its connection (counted as `request_too_large`).' }),
  s({ name: 'buffer_size', type: 'int', default: 100 * 1024, min: 10 * 1024, description: 'The maximum buffer size in bytes for buffering incoming requests per connection (at least `max_request_size`).' }),
];

/** Drop reasons (the `dropped` counters). */
export type GraphiteDropReason = 'bad_plaintext_line' | 'bad_pickle' | 'bad_pickle_entry' | 'request_too_large' | 'idle_timeout' | 'connection_error';

/** The counters of the running graphite monitors, by monitor name (`graphite_monitor(id)`), for status and specs. */
const live = new Map<string, ComponentCounters>();
export function graphiteMonitorCounters(name: string): ComponentCounters | undefined {
  return live.get(name);
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Python's `float()` of a plaintext field, for the finite decimal forms; undefined when it is not one. */
function parseFloatField(s: string): number | undefined {
  if (!NUMBER.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

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

function sample(metric: string, value: number, ts: number): ScalyrMonitorSample {
  return { metric, value, float: true, fields: { orig_time: ts } };
}

/** One plaintext line (`path value timestamp`) as a sample, as carbon parses it; undefined when malformed. */
export function parsePlaintextLine(line: string): ScalyrMonitorSample | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts.length !== 3 || parts[0] === '') return undefined;
  const value = parseFloatField(parts[1]);
  const ts = parseFloatField(parts[2]);
  if (value === undefined || ts === undefined) return undefined;
  return sample(parts[0], value, ts);
}

/**
 * The samples of one decoded pickle payload (`[(path, (timestamp, value)), …]`). Entries that are
 * not of that shape are skipped and counted in `bad`.
 */
export function pickleSamples(data: PickleValue): { samples: ScalyrMonitorSample[]; bad: number } {
  if (!Array.isArray(data)) return { samples: [], bad: 1 };
  const samples: ScalyrMonitorSample[] = [];
  let bad = 0;
  for (const entry of data) {
    if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1]) || entry[1].length !== 2) {
      bad++;
      continue;
    }
    const [metric, point] = entry as [PickleValue, PickleValue[]];
    const ts = toFloat(point[0]);
    const value = toFloat(point[1]);
    if (typeof metric !== 'string' || metric === '' || ts === undefined || value === undefined) {
      bad++;
      continue;
    }
    samples.push(sample(metric, value, ts));
  }
  return { samples, bad };
}

interface Limits {
  maxRequest: number;
  idleMs: number;
}

type Framer = (buf: Buffer) => { requests: Buffer[]; rest: Buffer; tooLarge?: number };

/** Newline-framed requests; the unfinished tail may not exceed `max`. */
function lineFramer(max: number): Framer {
  return (buf) => {
    const requests: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      if (nl - start > max) return { requests, rest: Buffer.alloc(0), tooLarge: nl - start };
      requests.push(buf.subarray(start, nl));
      start = nl + 1;
    }
    const rest = buf.subarray(start);
    if (rest.length > max) return { requests, rest: Buffer.alloc(0), tooLarge: rest.length };
    return { requests, rest };
  };
}

/** 4-byte big-endian length-prefixed requests; a length above `max` is refused before buffering it. */
function int32Framer(max: number): Framer {
  return (buf) => {
    const requests: Buffer[] = [];
    let start = 0;
    while (buf.length - start >= 4) {
      const len = buf.readUInt32BE(start);
      if (len > max) return { requests, rest: Buffer.alloc(0), tooLarge: len };
      if (buf.length - start - 4 < len) break;
      requests.push(buf.subarray(start + 4, start + 4 + len));
      start += 4 + len;
    }
    return { requests, rest: buf.subarray(start) };
  };
}

export function graphiteMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const c = readDeclared(GRAPHITE_MONITOR_OPTIONS, config);
  const bool = (v: unknown) => v === true || v === 'true';
  const onlyLocal = bool(c.only_accept_local);
  const plaintext = bool(c.accept_plaintext);
  const pickle = bool(c.accept_pickle);
  const plaintextPort = Number(c.plaintext_port);
  const picklePort = Number(c.pickle_port);
  const limits: Limits = { maxRequest: Number(c.max_request_size), idleMs: Number(c.max_connection_idle_time) * 1000 };
  const bufferSize = Number(c.buffer_size);
  const problems = graphiteProblems(c);
  if (problems.length > 0) throw new Error(`graphite_monitor: ${problems.map((p) => p.message).join('; ')}`);
  const host = onlyLocal ? '127.0.0.1' : undefined;
  const name = ctx.id;
  const counters = ctx.counters ?? createCounters();
  const logger = ctx.logger;

  return new Observable<ScalyrMonitorSample[]>((subscriber) => {
    live.set(name, counters);
    const servers: net.Server[] = [];
    const sockets = new Set<net.Socket>();
    // One warning per state change: the first drop of a reason after good input (or start).
    const warned = new Set<GraphiteDropReason>();
    const drop = (reason: GraphiteDropReason, message: string, n = 1) => {
      countDrop(counters, reason, n);
      if (!warned.has(reason)) {
        warned.add(reason);
        logger.warn(`monitor ${name}: ${message} (further ones are counted as dropped.${reason}, not logged, until good input arrives)`, { monitor: name });
      }
    };
    const good = (samples: ScalyrMonitorSample[]) => {
      if (samples.length === 0) return;
      warned.delete('bad_plaintext_line');
      warned.delete('bad_pickle');
      warned.delete('bad_pickle_entry');
      counters.receivedEvents += samples.length;
      subscriber.next(samples);
    };

    const serve = (kind: 'plaintext' | 'pickle', port: number) => {
      const framer = kind === 'plaintext' ? lineFramer(limits.maxRequest) : int32Framer(limits.maxRequest);
      const handle = (req: Buffer, out: ScalyrMonitorSample[]) => {
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
        let rest: Buffer = Buffer.alloc(0);
        let idle: NodeJS.Timeout | undefined;
        const arm = () => {
          if (idle) clearTimeout(idle);
          idle = setTimeout(() => {
            drop('idle_timeout', `closed a ${kind} connection from ${sock.remoteAddress}:${sock.remotePort}: no complete request within max_connection_idle_time (${limits.idleMs / 1000}s)`);
            sock.destroy();
          }, limits.idleMs);
          idle.unref?.();
        };
        arm();
        sock.on('data', (chunk: Buffer) => {
          counters.receivedBytes += chunk.length;
          const buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
          const r = framer(buf);
          const out: ScalyrMonitorSample[] = [];
          for (const req of r.requests) handle(req, out);
          if (r.requests.length > 0) arm();
          good(out);
          if (r.tooLarge !== undefined) {
            drop('request_too_large', `closed a ${kind} connection from ${sock.remoteAddress}:${sock.remotePort}: a request of ${r.tooLarge} bytes exceeds max_request_size (${limits.maxRequest})`);
            rest = Buffer.alloc(0);
            sock.destroy();
            return;
          }
          // Keep only the unfinished request (≤ max_request_size ≤ buffer_size), in its own memory.
          rest = r.rest.length === 0 ? Buffer.alloc(0) : Buffer.from(r.rest.subarray(0, bufferSize));
        });
        sock.on('end', () => {
          // A last plaintext line without its newline still counts (nc -q0 of a file without one).
          if (kind === 'plaintext' && rest.length > 0) {
            const out: ScalyrMonitorSample[] = [];
            handle(rest, out);
            good(out);
          } else if (kind === 'pickle' && rest.length > 0) {
            drop('bad_pickle', `a pickle connection closed in the middle of a frame (${rest.length} bytes buffered), ignoring it`);
          }
          rest = Buffer.alloc(0);
          sock.end();
        });
        sock.on('error', (err) => drop('connection_error', `${kind} connection error: ${errorMessage(err)}`));
        sock.on('close', () => {
          if (idle) clearTimeout(idle);
          sockets.delete(sock);
        });
      });
      server.on('error', (err) => subscriber.error(new Error(`graphite_monitor: cannot listen for ${kind} on ${host ?? '*'}:${port}: ${errorMessage(err)}`)));
      server.listen({ port, host }, () => logger.info(`monitor ${name}: listening for graphite ${kind} on ${host ?? '*'}:${port}`, { monitor: name }));
      servers.push(server);
    };
    if (plaintext) serve('plaintext', plaintextPort);
    if (pickle) serve('pickle', picklePort);
    return () => {
      if (live.get(name) === counters) live.delete(name);
      for (const sock of sockets) sock.destroy();
      for (const srv of servers) srv.close();
    };
  });
}

function graphiteProblems(own: Readonly<Record<string, unknown>>): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  const get = (k: string) => (own[k] === undefined || own[k] === null ? GRAPHITE_MONITOR_OPTIONS.find((o) => o.name === k)!.default : own[k]);
  if (get('accept_plaintext') === false && get('accept_pickle') === false) {
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
  doc: 'A Graphite server: listens for the plaintext (`plaintext_port`, 2003) and pickle (`pickle_port`, 2004) protocols, on localhost only unless `only_accept_local: false`, and records each received metric as `<path> <value> orig_time=<timestamp>`. Oversized requests, idle and slow connections and malformed input are dropped and counted by reason.',
  options: GRAPHITE_MONITOR_OPTIONS,
  check: (own) => graphiteProblems(readDeclared(GRAPHITE_MONITOR_OPTIONS, own)),
  example: { module: 'graphite_monitor', id: 'graphite', plaintext_port: 2003, pickle_port: 2004 },
  create: graphiteMonitor,
});
