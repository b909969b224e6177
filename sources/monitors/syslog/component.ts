/**
 * `syslog_monitor` (Scalyr's `scalyr_agent.builtin_monitors.syslog_monitor`): a syslog server.
 * It listens on the TCP and UDP ports of `protocols` (loopback only unless
 * `accept_remote_connections`), and writes every received message, as received (RFC 3164 or
 * RFC 5424, priority included, trimmed of surrounding whitespace), as one line of its message
 * log (`message_log`, under `agent_log_path` unless absolute). The monitor declares that file
 * (`logs`), so config validation adds a `logs[]` entry for it (parser `parser`, attribute
 * `monitor: agentSyslog`, as Scalyr's log config for it), and its lines are tailed, sampled,
 * redacted, uploaded and checkpointed like any log file: the file is the buffer. A user's own
 * `logs[]` entry for the same path wins (its sampling and redaction rules apply).
 *
 * At-least-once on the TCP side: while the sink is more than `max_unacknowledged_bytes` behind
 * on the file (`ctx.services.logBacklog`), TCP connections are paused (the sender waits) and
 * UDP datagrams are dropped and counted. See DESIGN.md, listener.ts, framing.ts, messageLog.ts.
 *
 * The monitor emits no metric samples: its Observable is the listener, long-lived, and never
 * errors (bind and write failures are counted, logged once per state change and retried here).
 */
import path from 'node:path';
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../../lib/registry.js';
import type { LogBacklog, MonitorLog, OptionProblem } from '../../../lib/component.js';
import { defineComponent, readDeclared, type OptionDecl } from '../../../lib/component.js';
import { scalyrOption as s, sluiceOption as sl } from '../../../lib/config/schema.js';
import { AGENT_OPTIONS } from '../../../lib/config/agentOptions.js';
import { countDrop, countError, createCounters } from '../../../lib/counters.js';
import type { ScalyrMonitorSample } from '../metricLine.js';
import { parseDelimiter, SyslogFramer } from './framing.js';
import { MessageLog } from './messageLog.js';
import { SyslogListener, type Endpoint } from './listener.js';

const DOCKER = 'Accepted and ignored: `mode: "docker"` (docker container logs received over syslog) is not supported by sluice (this build does not support containers); collect container logs with a logs entry on /var/lib/docker/containers/*/*-json.log with parse_format: "json" instead.';
const TEMPLATE = 'Accepted and ignored: it belongs to `message_log_template` (one message log per source), which sluice does not support; every message goes to `message_log`.';

const MiB = 1024 * 1024;

export const SYSLOG_MONITOR_OPTIONS: OptionDecl[] = [
  s({
    name: 'protocols',
    type: 'string',
    default: 'tcp',
    description:
      'The ports to listen on: `protocol[:port]` entries separated by commas, `protocol` `tcp` or `udp`; a missing (or 0) port is 601 for TCP and 514 for UDP. Scalyr\'s code default is `"tcp"` (TCP port 601 only), though its docs show `"tcp:601, udp:514"`. Ports up to 1024 need root.',
  }),
  s({ name: 'accept_remote_connections', type: 'bool', default: false, description: 'If true, listen on all interfaces (0.0.0.0) and accept messages from any host; otherwise only on 127.0.0.1.' }),
  s({ name: 'message_log', type: 'string', default: 'agent_syslog.log', description: 'The file the messages are written to, one per line; relative to `agent_log_path` unless absolute. It is shipped as a log file (a `logs[]` entry is added for it unless you wrote one for the same path, whose rules then apply). Use a different one for each syslog_monitor.' }),
  s({ name: 'parser', type: 'string', default: 'agentSyslog', description: 'The `parser` attribute of the message log\'s events.' }),
  s({ name: 'tcp_buffer_size', type: 'int', default: 8192, min: 1, max: 65536 * 1024, description: 'The longest TCP syslog message in bytes kept whole; a longer one is written in pieces of this size (counted as `dropped.oversized_split`), unless `message_size_can_exceed_tcp_buffer`. RFC 5425: receivers must support 2048 bytes and should support 8192.' }),
  s({ name: 'message_size_can_exceed_tcp_buffer', type: 'bool', default: false, description: 'If true, TCP messages longer than `tcp_buffer_size` are kept whole, up to `max_message_size` (sluice bounds what Scalyr does not).' }),
  s({ name: 'max_log_size', type: 'int', min: 0, defaultText: '`log_rotation_max_bytes` (20 MiB)', description: 'The size in bytes at which the message log rotates (0: never). Keep `max_log_size` × `max_log_rotations` well above `max_unacknowledged_bytes`, so rotation never deletes what the sink has not acknowledged.' }),
  s({ name: 'max_log_rotations', type: 'int', min: 0, defaultText: '`log_rotation_backup_count` (2)', description: 'Rotated copies of the message log kept (`<message_log>.1` …; the oldest is deleted). 0: the file never rotates (as Python\'s RotatingFileHandler, which Scalyr uses).' }),
  s({ name: 'log_flush_delay', type: 'float', default: 1.0, min: 0, description: 'Seconds a received message may wait in memory before it is written to the message log (messages are written in batches).' }),
  s({ name: 'tcp_request_parser', type: 'string', default: 'default', enum: ['default', 'batch', 'raw'], description: '`default` and `batch`: octet-counted (RFC 6587 `<length> <message>`) and delimited messages, detected per message (sluice always writes in batches); `raw`: delimited messages only (no octet counting).' }),
  s({ name: 'tcp_incomplete_frame_timeout', type: 'int', default: 5, min: 0, max: 600, description: 'Seconds a TCP connection may leave a message unfinished (a slow or dead sender): then what it sent is written and the connection is closed (counted as `dropped.incomplete_timeout`). 0: no limit. Scalyr applies it to the `batch` parser only; sluice to every connection (it bounds slow-loris clients).' }),
  s({ name: 'tcp_message_delimiter', type: 'string', default: '\n', description: 'The byte sequence that ends a TCP message that is not octet-counted, with escapes (`\\n`, `\\000` for NUL as Python\'s syslog handler sends). sluice uses it with every `tcp_request_parser` (Scalyr with `batch` only).' }),
  s({ name: 'mode', type: 'string', default: 'syslog', description: '`syslog`. Scalyr\'s `docker` mode (container logs sent by docker\'s syslog driver, a file per container) is refused: this build does not support containers.' }),
  // --- sluice's own bounds
  sl({ name: 'max_unacknowledged_bytes', type: 'int', default: 16 * MiB, min: 0, description: 'While more bytes than this of the message log (and its rotated copies) are not acknowledged by the sink, TCP connections are paused (senders wait) and UDP datagrams are dropped (`dropped.backlog_full`). 0: no limit (TCP is then only paused while the write queue is full). Lowered to half of `max_log_size` × `max_log_rotations` when above it.' }),
  sl({ name: 'max_message_size', type: 'int', default: MiB, min: 1, max: 65536 * 1024, description: 'With `message_size_can_exceed_tcp_buffer`: the longest TCP message kept whole; a longer one is written in pieces (`dropped.oversized_split`).' }),
  sl({ name: 'tcp_max_connections', type: 'int', default: 256, min: 1, description: 'TCP connections open at once; more are refused (`dropped.too_many_connections`).' }),
  sl({ name: 'tcp_idle_timeout', type: 'float', default: 3600, min: 0, description: 'Seconds a TCP connection may send nothing before it is closed (`dropped.idle_timeout`); 0: never. Senders such as rsyslog reconnect by themselves.' }),
  // --- Scalyr's, not applicable here
  s({ name: 'message_log_template', type: 'string', noEffect: true, description: 'Scalyr: a file per source ($PROTO, $SRCIP, $DESTPORT, $HOSTNAME, $APPNAME), only in its docker image. Accepted and ignored: every message goes to `message_log`.' }),
  s({ name: 'check_for_unused_logs_mins', type: 'int', default: 60, noEffect: true, description: `Scalyr: minutes between checks for unused \`message_log_template\` files. ${TEMPLATE}` }),
  s({ name: 'delete_unused_logs_hours', type: 'int', default: 24, noEffect: true, description: `Scalyr: hours before unused \`message_log_template\` files are deleted. ${TEMPLATE}` }),
  s({ name: 'check_rotated_timestamps', type: 'bool', default: true, noEffect: true, description: `Scalyr: check the rotated \`message_log_template\` files one by one for deletion. ${TEMPLATE}` }),
  s({ name: 'expire_log', type: 'int', default: 300, noEffect: true, description: `Scalyr: seconds of inactivity before a \`message_log_template\` file is closed. ${TEMPLATE}` }),
  s({ name: 'max_log_files', type: 'int', default: 1000, noEffect: true, description: `Scalyr: most \`message_log_template\` files at once. ${TEMPLATE}` }),
  s({ name: 'docker_regex', type: 'string', default: '^.*([a-z0-9]{12})\\[\\d+\\]: ?', noEffect: true, description: `Scalyr (docker mode): the container id in a message's tag. ${DOCKER}` }),
  s({ name: 'docker_regex_full', type: 'string', default: '^.*([^/]+)/([^[]+)\\[\\d+\\]: ?', noEffect: true, description: `Scalyr (docker mode): the container name and id in a message's tag. ${DOCKER}` }),
  s({ name: 'docker_expire_log', type: 'int', default: 300, noEffect: true, description: `Scalyr (docker mode): seconds of inactivity before a container's log is closed. ${DOCKER}` }),
  s({ name: 'docker_accept_ips', type: 'stringArray', noEffect: true, description: `Scalyr (docker mode): addresses to accept messages from. ${DOCKER}` }),
  s({ name: 'docker_api_socket', type: 'string', default: '/var/scalyr/docker.sock', noEffect: true, description: `Scalyr (docker mode): the docker API socket. ${DOCKER}` }),
  s({ name: 'docker_api_version', type: 'string', default: 'auto', noEffect: true, description: `Scalyr (docker mode): the docker API version. ${DOCKER}` }),
  s({ name: 'docker_logfile_template', type: 'string', default: 'containers/${CNAME}.log', noEffect: true, description: `Scalyr (docker mode): the file of each container's log. ${DOCKER}` }),
  s({ name: 'docker_cid_cache_lifetime_secs', type: 'float', default: 300, noEffect: true, description: `Scalyr (docker mode): container name cache lifetime. ${DOCKER}` }),
  s({ name: 'docker_cid_clean_time_secs', type: 'float', default: 5, noEffect: true, description: `Scalyr (docker mode): container name cache cleaning interval. ${DOCKER}` }),
  s({ name: 'docker_use_daemon_to_resolve', type: 'bool', default: true, noEffect: true, description: `Scalyr (docker mode): resolve container names through the docker daemon. ${DOCKER}` }),
  s({ name: 'docker_check_for_unused_logs_mins', type: 'int', default: 60, noEffect: true, description: `Scalyr (docker mode): minutes between checks for unused container logs. ${DOCKER}` }),
  s({ name: 'docker_delete_unused_logs_hours', type: 'int', default: 24, noEffect: true, description: `Scalyr (docker mode): hours before unused container logs are deleted. ${DOCKER}` }),
  s({ name: 'docker_check_rotated_timestamps', type: 'bool', default: true, noEffect: true, description: `Scalyr (docker mode): check rotated container logs one by one for deletion. ${DOCKER}` }),
  // --- top-level options it reads
  // The agent's own declarations (one declaration per option), read as top-level options here.
  ...(['agent_log_path', 'log_rotation_max_bytes', 'log_rotation_backup_count'] as const).map((n) => globalOption(n)),
];

/** An agent option (lib/config/agentOptions.ts) as one this component reads. */
function globalOption(name: string): OptionDecl {
  const o = AGENT_OPTIONS.find((x) => x.name === name);
  if (!o) throw new Error(`syslog_monitor: no agent option ${name}`);
  const { live: _live, ...spec } = o;
  return { ...spec, scope: 'global' };
}

const DEFAULT_PORTS = { tcp: 601, udp: 514 } as const;

/** Scalyr's `__build_server_list`: `tcp[:port], udp[:port]` → endpoints, duplicates removed; throws on a bad entry. */
export function parseProtocols(v: string): Endpoint[] {
  const out: Endpoint[] = [];
  const seen = new Set<string>();
  const entries = v.split(',').map((p) => p.trim().toLowerCase());
  for (const p of entries) {
    const m = /^(tcp|udp):(\d+)$/.exec(p);
    const protocol = m ? m[1] : p;
    let port = m ? Number(m[2]) : 0;
    if (protocol !== 'tcp' && protocol !== 'udp') throw new Error(`unknown value '${protocol}' specified for SyslogServer 'protocol' (use tcp[:port] or udp[:port], separated by commas)`);
    if (port === 0) port = DEFAULT_PORTS[protocol];
    if (port < 1 || port > 65535) throw new Error(`port values must be in the range 1-65535, got ${port}`);
    const key = `${protocol}:${port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ protocol, port });
  }
  return out;
}

const bool = (v: unknown) => v === true || v === 'true';

/** Scalyr's `mode`, `protocols` and `tcp_message_delimiter` rules. */
export function checkSyslogMonitor(own: Readonly<Record<string, unknown>>): OptionProblem[] {
  const c = readDeclared(SYSLOG_MONITOR_OPTIONS, own);
  const problems: OptionProblem[] = [];
  const mode = String(c.mode);
  if (mode === 'docker') problems.push({ key: 'mode', message: `"docker" is not supported: sluice does not support containers (Scalyr's docker mode files container logs received over syslog by container); collect container logs with a logs entry on /var/lib/docker/containers/*/*-json.log with parse_format: "json", and use mode "syslog" here` });
  else if (mode !== 'syslog') problems.push({ key: 'mode', message: `must be "syslog", got ${JSON.stringify(mode)}` });
  try {
    if (parseProtocols(String(c.protocols)).length === 0) problems.push({ key: 'protocols', message: 'no protocols specified' });
  } catch (err) {
    problems.push({ key: 'protocols', message: (err as Error).message });
  }
  if (parseDelimiter(String(c.tcp_message_delimiter)).length === 0) problems.push({ key: 'tcp_message_delimiter', message: 'must not be empty' });
  if (typeof c.message_log !== 'string' || c.message_log.trim() === '') problems.push({ key: 'message_log', message: 'must be a file name' });
  return problems;
}

/** The message log's absolute path: `message_log`, under `agent_log_path` unless absolute. */
export function messageLogPath(own: Readonly<Record<string, unknown>>, agent: Readonly<Record<string, unknown>>): string {
  const c = readDeclared(SYSLOG_MONITOR_OPTIONS, own);
  const g = readDeclared(SYSLOG_MONITOR_OPTIONS, agent, 'global');
  return path.resolve(String(g.agent_log_path), String(c.message_log));
}

function syslogLogs(own: Readonly<Record<string, unknown>>, agent: Readonly<Record<string, unknown>>): MonitorLog[] {
  const c = readDeclared(SYSLOG_MONITOR_OPTIONS, own);
  return [{ path: messageLogPath(own, agent), attributes: { parser: String(c.parser), monitor: 'agentSyslog' }, copy_from_start: true }];
}

export function syslogMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  // Everything it reads, read once here.
  const c = readDeclared(SYSLOG_MONITOR_OPTIONS, config);
  const g = readDeclared(SYSLOG_MONITOR_OPTIONS, ctx.agent, 'global');
  const problems = checkSyslogMonitor(config);
  if (problems.length > 0) throw new Error(`syslog_monitor: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
  const endpoints = parseProtocols(String(c.protocols));
  const logPath = path.resolve(String(g.agent_log_path), String(c.message_log));
  const maxBytes = Number(c.max_log_size ?? g.log_rotation_max_bytes);
  const backupCount = Number(c.max_log_rotations ?? g.log_rotation_backup_count);
  const canExceed = bool(c.message_size_can_exceed_tcp_buffer);
  const maxMessage = canExceed ? Math.max(Number(c.max_message_size), Number(c.tcp_buffer_size)) : Number(c.tcp_buffer_size);
  const delimiter = parseDelimiter(String(c.tcp_message_delimiter));
  const octetCounting = String(c.tcp_request_parser) !== 'raw';
  let budget = Number(c.max_unacknowledged_bytes);
  const retained = maxBytes > 0 && backupCount > 0 ? maxBytes * backupCount : Infinity;
  if (budget > 0 && budget > retained / 2) {
    ctx.logger.warn(`monitor ${ctx.id}: max_unacknowledged_bytes ${budget} is more than half of max_log_size × max_log_rotations (${retained}); using ${Math.floor(retained / 2)} so rotation never deletes what the sink has not acknowledged`, { monitor: ctx.id });
    budget = Math.floor(retained / 2);
  }
  const host = bool(c.accept_remote_connections) ? '0.0.0.0' : '127.0.0.1';
  const flushDelayMs = Number(c.log_flush_delay) * 1000;
  const idleMs = Number(c.tcp_idle_timeout) * 1000;
  const incompleteMs = Number(c.tcp_incomplete_frame_timeout) * 1000;
  const maxConnections = Number(c.tcp_max_connections);
  const backlogService = ctx.services?.logBacklog;
  const backlog = typeof backlogService === 'function' ? () => (backlogService as LogBacklog)(logPath) : undefined;
  const counters = ctx.counters ?? createCounters();
  const name = ctx.id;
  const logger = ctx.logger;

  return new Observable<ScalyrMonitorSample[]>(() => {
    const log = new MessageLog({
      path: logPath,
      maxBytes,
      backupCount,
      flushDelayMs,
      // Rotate only once the sink has acknowledged part of the current file (so the tailer has it
      // open and follows the rename); older files are deleted only when more than the budget
      // behind, i.e. acknowledged.
      canRotate: backlog ? (size) => backlog() < size : undefined,
      onWritten(lines, bytes) {
        counters.sentEvents += lines;
        counters.sentBytes += bytes;
      },
      onFault(err, failures) {
        if (err) {
          countError(counters, err);
          if (failures === 1) logger.error(`monitor ${name}: ${err.message} (retrying with backoff; TCP is paused and UDP dropped while the queue is full)`, { monitor: name });
        } else logger.info(`monitor ${name}: writing ${logPath} again after ${failures} failure(s)`, { monitor: name });
      },
    });
    const listener = new SyslogListener({
      name,
      logger,
      counters,
      host,
      endpoints,
      newFramer: () => new SyslogFramer({ maxMessage, delimiter, octetCounting }),
      log,
      backlog,
      budget,
      queueLimit: 4 * MiB,
      maxConnections,
      idleMs,
      incompleteMs,
    });
    log.create();
    listener.start();
    return () => {
      listener.stop();
      void log.close().then(({ lostLines }) => {
        if (lostLines > 0) {
          countDrop(counters, 'write_failed', lostLines);
          logger.warn(`monitor ${name}: ${lostLines} received syslog message(s) could not be written to ${logPath} before stopping`, { monitor: name });
        }
      });
    };
  });
}

export const syslogMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'syslog_monitor',
  aliases: ['scalyr_agent.builtin_monitors.syslog_monitor'],
  longLived: true,
  doc: 'A syslog server: listens on the TCP and UDP ports of `protocols` (127.0.0.1 unless `accept_remote_connections`), octet-counted and delimited TCP framing detected per message, and writes each message as received (RFC 3164 or 5424) as a line of `message_log`, which is shipped as a log file with parser `parser` (a `logs[]` entry for the same path holds its rules). While the sink is more than `max_unacknowledged_bytes` behind on that file, TCP senders are paused and UDP datagrams dropped (counted). Oversized, malformed, idle and slow input is bounded and counted by reason.',
  options: SYSLOG_MONITOR_OPTIONS,
  check: checkSyslogMonitor,
  logs: syslogLogs,
  example: { module: 'syslog_monitor', id: 'syslog', protocols: 'tcp:46601, udp:46514', message_log: 'agent_syslog.log' },
  create: syslogMonitor,
});
