/**
 * `redis_monitor` (Scalyr's `scalyr_agent.builtin_monitors.redis_monitor`): at each sample it
 * asks every configured Redis server (`hosts`) for `INFO server` and `SLOWLOG GET lines_to_fetch`
 * and records each slow-log entry it has not reported yet as one line, exactly as Scalyr's
 * `emit_value('redis', 'slowlog', …)` does:
 *
 * ```
 * 2026-12-03 12:00:00.123Z [redis_monitor(id)] redis "slowlog" command="SET k v" exectime=12 host="localhost:6379" ts="2026-12-03 12:00:00Z"
 * ```
 *
 * (`exectime`: microseconds, `ts`: the entry's start time, UTC, whole seconds; `command`: the
 * arguments joined by spaces as Redis stores them, long ones already cut by Redis to
 * `… (N more bytes)`.)
 *
 * Scalyr's bookkeeping: on the first connection to a host the newest entry is remembered and
 * nothing older is reported; afterwards only entries with a higher id are. When the server's
 * `run_id` changes (a restart: ids start again) entries are selected by start time instead and
 * `Redis server reset detected for host:port.  Some log lines may have been dropped` is warned;
 * when the last reported entry is no longer in the fetched window, `Too many log messages since
 * last query.  Some log lines may have been dropped` is warned.
 *
 * Faults (server down, connection lost, wrong password, slow, garbage): each host is queried on
 * its own; a failing host fails the sample after the other hosts' lines are emitted, so the
 * monitor source counts it (`errors`, `lastError`), logs the first failure of a burst and retries
 * with backoff; a change of fault within a burst, and a fault still going on after
 * `connection_error_repeat_interval` seconds, are logged here once. Each query is bounded by
 * `connection_timeout` seconds. Nothing is thrown into the agent.
 */
import { Observable } from 'rxjs';
import type { createClient } from 'redis';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, readDeclared, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s } from '../../lib/config/schema.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { noteFault } from './faultLog.js';

export const REDIS_HOST_FIELDS = [
  s({ name: 'host', type: 'string', default: 'localhost', description: 'The Redis server\'s host name or address.' }),
  s({ name: 'port', type: 'int', default: 6379, min: 1, max: 65535, description: 'The Redis server\'s TCP port.' }),
  s({ name: 'password', type: 'string', description: 'The password (`AUTH`) of the server; none by default.' }),
  s({ name: 'connection_timeout', type: 'int', min: 0, max: 60, defaultText: 'the entry\'s `connection_timeout`', description: 'Seconds to wait when querying this server before giving up (0: no limit).' }),
];

/** The keys of a `redis_monitor` entry the monitor reads (besides the entry's own, `MONITOR_ENTRY_OPTIONS`). */
export const REDIS_MONITOR_OPTIONS: OptionDecl[] = [
  s({
    name: 'hosts',
    type: 'array',
    default: [{ host: 'localhost', port: 6379 }],
    fields: REDIS_HOST_FIELDS,
    description: 'The Redis servers to query: a list of `{"host", "port", "password", "connection_timeout"}` objects; missing keys default to `localhost`, `6379` and no password. An empty list means `localhost:6379`. Each server is queried once per sample interval.',
  }),
  s({ name: 'lines_to_fetch', type: 'int', default: 500, min: 10, max: 5000, description: 'How many slow-log entries to fetch per sample. More entries logged between two samples than this are lost (warned); keep the server\'s `slowlog-max-len` at least this large.' }),
  s({ name: 'connection_timeout', type: 'int', default: 5, min: 0, max: 60, description: 'Seconds to wait when querying a Redis server before timing out (0: no limit).' }),
  s({ name: 'connection_error_repeat_interval', type: 'int', default: 300, min: 10, max: 6000, description: 'While a server stays unreachable, seconds between repeats of its connection error message.' }),
  s({ name: 'utf8_warning_interval', type: 'int', default: 600, min: 0, max: 6000, noEffect: true, description: 'Scalyr: seconds between warnings about invalid UTF-8 in slow-log commands. Accepted and ignored: sluice decodes commands with replacement characters and does not warn.' }),
  s({ name: 'log_cluster_replication_info', type: 'bool', default: false, noEffect: true, description: 'Scalyr: also record the cluster\'s replication offsets and lag. Accepted and ignored: sluice reports the slow log only.' }),
];

export function checkRedisMonitor(own: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const hosts = own.hosts;
  if (hosts !== undefined && hosts !== null) {
    if (!Array.isArray(hosts)) problems.push({ key: 'hosts', message: 'must be a list of {host, port, password} objects' });
    else
      hosts.forEach((h, i) => {
        if (h === null || typeof h !== 'object' || Array.isArray(h)) problems.push({ key: `hosts[${i}]`, message: 'must be an object {host, port, password}' });
      });
  }
  return problems;
}

/** One raw `SLOWLOG GET` entry as Redis answers it. */
export interface SlowlogEntry {
  id: number;
  startTime: number;
  duration: number;
  command: string;
}

type Fault = 'down' | 'timeout' | 'auth' | 'garbage' | 'error';

class HostError extends Error {
  constructor(
    readonly kind: Fault,
    message: string,
  ) {
    super(message);
  }
}

/** Python's `time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(t))`. */
export function slowlogTs(startTime: number): string {
  return new Date(startTime * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

function toInt(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The entries of a raw `SLOWLOG GET` reply (throws when it is not one). */
export function parseSlowlog(reply: unknown, where: string): SlowlogEntry[] {
  if (!Array.isArray(reply)) throw new HostError('garbage', `${where} did not answer SLOWLOG GET with a list (got ${typeof reply})`);
  return reply.map((e) => {
    if (!Array.isArray(e) || e.length < 4 || !Array.isArray(e[3])) throw new HostError('garbage', `${where} answered SLOWLOG GET with an entry that is not [id, time, duration, args…]`);
    const id = toInt(e[0]);
    const startTime = toInt(e[1]);
    const duration = toInt(e[2]);
    if (id === undefined || startTime === undefined || duration === undefined) throw new HostError('garbage', `${where} answered SLOWLOG GET with a non-numeric id, time or duration`);
    return { id, startTime, duration, command: (e[3] as unknown[]).map((a) => String(a)).join(' ') };
  });
}

function runIdOf(info: unknown, where: string): string {
  if (typeof info !== 'string') throw new HostError('garbage', `${where} did not answer INFO with text`);
  const m = /^run_id:(\S+)/m.exec(info);
  if (!m) throw new HostError('garbage', `${where}: INFO has no run_id: not a Redis server, or an unsupported version (redis_monitor requires Redis >= 2.4.17)`);
  return m[1];
}

interface HostState {
  display: string;
  host: string;
  port: number;
  password?: string;
  timeoutMs: number;
  client?: ReturnType<typeof createClient>;
  firstConnection: boolean;
  reset: boolean;
  runId?: string;
  lastId: number;
  lastTimestamp: number;
  fault?: Fault;
  faultLoggedAt: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!(ms > 0)) return p;
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}

function classify(err: unknown, h: HostState, connecting: boolean): HostError {
  if (err instanceof HostError) return err;
  const e = err as NodeJS.ErrnoException;
  const msg = e?.message ?? String(err);
  const code = e?.code ?? '';
  if (/WRONGPASS|invalid password|NOAUTH|NOPERM|AUTH <password> called without any password/i.test(msg)) {
    return new HostError('auth', `Authentication failed for redis ${h.display}: ${msg} (check "password" in redis_monitor's hosts)`);
  }
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL', 'EAI_AGAIN'].includes(code)) {
    return new HostError('down', `Unable to establish connection: ${h.display} (${code})`);
  }
  if (/Socket closed unexpectedly|ECONNRESET|EPIPE|connection.*closed|The client is closed/i.test(msg) || code === 'ECONNRESET' || code === 'EPIPE') {
    return connecting && !h.runId
      ? new HostError('garbage', `${h.display} closed the connection without a Redis answer (${msg}): not a Redis server?`)
      : new HostError('down', `Connection to redis lost: ${h.display} (${msg})`);
  }
  if (/parser|protocol|unexpected|invalid/i.test(msg)) return new HostError('garbage', `${h.display} did not answer as a Redis server: ${msg}`);
  return new HostError('error', `redis ${h.display}: ${msg}`);
}

export function redisMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const c = readDeclared(REDIS_MONITOR_OPTIONS, config);
  const [problem] = checkRedisMonitor(c);
  if (problem) throw new Error(`redis_monitor: "${problem.key}" ${problem.message}`);
  const linesToFetch = Math.min(5000, Math.max(10, Math.trunc(Number(c.lines_to_fetch))));
  const defaultTimeout = Number(c.connection_timeout);
  const repeatMs = Number(c.connection_error_repeat_interval) * 1000;
  const configured = Array.isArray(c.hosts) && c.hosts.length > 0 ? (c.hosts as Record<string, unknown>[]) : [{}];
  const hosts: HostState[] = configured.map((raw) => {
    const o = readDeclared(REDIS_HOST_FIELDS as OptionDecl[], raw);
    const host = String(o.host);
    const port = Number(o.port);
    const t = o.connection_timeout !== undefined ? Number(o.connection_timeout) : defaultTimeout;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`redis_monitor: "hosts" port must be an integer in 1..65535 (got ${String(o.port)})`);
    return {
      display: `${host}:${port}`,
      host,
      port,
      ...(o.password !== undefined && o.password !== '' ? { password: String(o.password) } : {}),
      timeoutMs: Number.isFinite(t) && t > 0 ? t * 1000 : 0,
      firstConnection: true,
      reset: false,
      lastId: 0,
      lastTimestamp: 0,
      faultLoggedAt: 0,
    };
  });

  const warn = (message: string) => ctx.logger.warn(`monitor ${ctx.id}: ${message}`, { monitor: ctx.id });

  function drop(h: HostState): void {
    const client = h.client;
    h.client = undefined;
    if (client) void client.disconnect().catch(() => undefined);
  }

  async function connect(h: HostState): Promise<ReturnType<typeof createClient>> {
    // The client library (~500 modules) is loaded by the first connection, not at agent start.
    const { createClient } = await import('redis');
    const client = createClient({
      socket: { host: h.host, port: h.port, reconnectStrategy: false, ...(h.timeoutMs ? { connectTimeout: h.timeoutMs } : {}) },
      ...(h.password !== undefined ? { password: h.password } : {}),
      disableOfflineQueue: true,
    });
    client.on('error', () => undefined); // failures surface through the command promises
    try {
      await client.connect();
      client.unref(); // an idle connection between samples does not keep the process alive
    } catch (err) {
      void client.disconnect().catch(() => undefined);
      throw err;
    }
    return client;
  }

  async function query(client: ReturnType<typeof createClient>, h: HostState, n: number): Promise<{ runId: string; entries: SlowlogEntry[] }> {
    const [info, slow] = await Promise.all([client.sendCommand(['INFO', 'server']), client.sendCommand(['SLOWLOG', 'GET', String(n)])]);
    return { runId: runIdOf(typeof info === 'string' ? info : Buffer.isBuffer(info) ? info.toString('utf8') : info, h.display), entries: parseSlowlog(slow, h.display) };
  }

  function checkForReset(h: HostState, runId: string): void {
    if (h.runId !== runId) {
      h.reset = true;
      h.runId = runId;
    }
  }

  async function sampleHost(h: HostState): Promise<ScalyrMonitorSample[]> {
    let connecting = false;
    try {
      return await withTimeout(
        (async () => {
          if (!h.client) {
            connecting = true;
            const client = await connect(h);
            if (h.firstConnection) {
              const first = await query(client, h, 1);
              h.firstConnection = false;
              checkForReset(h, first.runId);
              h.reset = false;
              if (first.entries[0]) {
                h.lastId = first.entries[0].id;
                h.lastTimestamp = first.entries[0].startTime;
              }
            }
            h.client = client;
            connecting = false;
          }
          const { runId, entries } = await query(h.client, h, linesToFetch);
          checkForReset(h, runId);
          let useTime = false;
          let warning = 'Too many log messages since last query.  Some log lines may have been dropped';
          if (h.reset) {
            warning = `Redis server reset detected for ${h.display}.  Some log lines may have been dropped`;
            useTime = true;
            if (entries.length === 0) h.lastId = 0;
          }
          h.reset = false;
          const threshold = useTime ? h.lastTimestamp : h.lastId;
          const unseen: SlowlogEntry[] = [];
          let foundPrevious = entries.length === 0;
          for (const e of entries) {
            if ((useTime ? e.startTime : e.id) > threshold) {
              unseen.push(e);
            } else {
              if (e.id === h.lastId && e.startTime === h.lastTimestamp) foundPrevious = true;
              break;
            }
          }
          if (!foundPrevious) warn(warning);
          const out: ScalyrMonitorSample[] = [];
          for (const e of unseen.reverse()) {
            out.push({ metric: 'redis', value: 'slowlog', fields: { host: h.display, ts: slowlogTs(e.startTime), exectime: e.duration, command: e.command } });
            h.lastId = e.id;
            h.lastTimestamp = e.startTime;
          }
          return out;
        })(),
        h.timeoutMs,
        () => new HostError('timeout', `Connection timed out: ${h.display} (no answer within ${h.timeoutMs / 1000}s)`),
      );
    } catch (err) {
      drop(h);
      throw classify(err, h, connecting);
    }
  }

  // A failure burst is going on (the monitor source logged its first failure already).
  let burst = false;
  return new Observable<ScalyrMonitorSample[]>((subscriber) => {
    let closed = false;
    void (async () => {
      const all: ScalyrMonitorSample[] = [];
      const failed: HostError[] = [];
      for (const h of hosts) {
        if (closed) return;
        try {
          all.push(...(await sampleHost(h)));
          h.fault = undefined;
        } catch (err) {
          const e = err as HostError;
          const now = Date.now();
          // One error per fault change (or per connection_error_repeat_interval): faultLog.ts.
          if (noteFault(h, e.kind, now, repeatMs, burst)) ctx.logger.error(`monitor ${ctx.id}: ${e.message}`, { monitor: ctx.id });
          failed.push(e);
        }
      }
      if (closed) return;
      if (all.length > 0) subscriber.next(all);
      burst = failed.length > 0;
      if (failed.length > 0) subscriber.error(new Error(failed.map((e) => e.message).join('; ')));
      else subscriber.complete();
    })().catch((err) => {
      if (!closed) subscriber.error(err);
    });
    return () => {
      closed = true;
    };
  });
}

export const redisMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'redis_monitor',
  aliases: ['scalyr_agent.builtin_monitors.redis_monitor'],
  doc: 'Imports the Redis SLOWLOG of one or more servers (`hosts`): each new slow-log entry becomes a line `redis "slowlog"` with fields `host`, `ts`, `exectime` (microseconds) and `command`, as Scalyr\'s agent writes it. Without `hosts` it queries `localhost:6379`.',
  options: REDIS_MONITOR_OPTIONS,
  check: checkRedisMonitor,
  example: { module: 'redis_monitor', id: 'cache', hosts: [{ host: 'localhost', port: 6379 }] },
  create: redisMonitor,
});
