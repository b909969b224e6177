/**
 * TRANSITIONAL: the declarations of options whose readers do not declare them yet (issue 16:
 * the sinks, the APM section, the monitors and the log part move their options beside their
 * code). Each one here drops out of the schema as soon as a component (or the log/monitor part)
 * declares an option of that name, so nothing is declared twice; this file goes away when they
 * all have.
 */
import { scalyrOption, sluiceOption, type OptionSpec } from './schema.js';
import type { PartDeclarations } from './derive.js';
import { homeOf, optionsOf, type Component, type OptionDecl } from '../component.js';

const MiB = 1024 * 1024;
const s = scalyrOption;
const own = sluiceOption;

/** `{start, continueThrough|continuePast|haltBefore|haltWith}`. */
export const LINE_GROUPER_OPTIONS: OptionSpec[] = [
  s({ name: 'start', type: 'regex', required: true, description: 'A line matching this regular expression starts a group (the first grouper whose `start` matches wins).' }),
  s({ name: 'continueThrough', type: 'regex', description: 'Every following line matching this pattern joins the group.' }),
  s({ name: 'continuePast', type: 'regex', description: 'Every following line matching this pattern joins the group, plus the one line after them.' }),
  s({ name: 'haltBefore', type: 'regex', description: 'Following lines join the group until one matches this pattern; that line starts afresh.' }),
  s({ name: 'haltWith', type: 'regex', description: 'Following lines join the group up to and including the first line matching this pattern.' }),
];

export const SAMPLING_RULE_OPTIONS: OptionSpec[] = [
  s({ name: 'match_expression', type: 'regex', required: true, description: 'Lines (or line groups) this regular expression matches (searched anywhere in the message) are sampled by this rule; the first matching rule decides.' }),
  s({ name: 'sampling_rate', type: 'float', required: true, min: 0, max: 1, description: 'Fraction of matching messages kept: 0 drops all of them, 1 keeps all. Kept messages carry a `sample_rate` attribute when the rate is not 1.' }),
];

export const REDACTION_RULE_OPTIONS: OptionSpec[] = [
  s({ name: 'match_expression', type: 'regex', required: true, description: 'Every match of this regular expression in a message is replaced.' }),
  s({ name: 'replacement', type: 'string', default: '', description: 'Replacement text; `\\1` or `\\g<name>` insert groups, `\\H1` inserts the MD5 hash of group 1 plus `hash_salt`.' }),
  s({ name: 'hash_salt', type: 'string', default: '', description: 'Salt appended before hashing for `\\H<n>` replacements.' }),
];

/** Options of one `logs[]` entry. */
export const PENDING_LOG_ENTRY: OptionSpec[] = [
  s({ name: 'path', type: 'string', required: true, description: 'File path or glob (`*`, `?`, `**` for any directory depth). A relative path is joined to `agent_log_path` (Scalyr); sluice: a path starting with `./` or `../` resolves against the main config file\'s directory.' }),
  s({ name: 'attributes', type: 'stringMap', default: {}, description: 'Fields attached to every event of the file (e.g. `parser`, `service`).' }),
  s({ name: 'parser', type: 'string', description: 'Shortcut for `attributes.parser`: the name of the server-side parser for this log.' }),
  s({ name: 'exclude', type: 'stringArray', default: [], description: 'Globs (not regular expressions) of paths to skip; `*` also matches `/` here.' }),
  s({ name: 'lineGroupers', type: 'array', default: [], fields: LINE_GROUPER_OPTIONS, description: 'Rules that join consecutive lines (stack traces, continued lines) into one event. Each needs `start` and exactly one of `continueThrough`, `continuePast`, `haltBefore`, `haltWith`.' }),
  s({ name: 'sampling_rules', type: 'array', default: [], fields: SAMPLING_RULE_OPTIONS, description: 'Keep only a fraction of the messages matching a pattern. Applied after grouping.' }),
  s({ name: 'redaction_rules', type: 'array', default: [], fields: REDACTION_RULE_OPTIONS, description: 'Rewrite or remove parts of messages before they leave the host. Applied after sampling.' }),
  s({ name: 'copy_from_start', type: 'bool', default: false, description: 'A file that exists when the agent starts and has no checkpoint is read from its beginning instead of its end.' }),
  s({ name: 'rename_logfile', type: 'any', description: 'Changes the `logfile` attribute: a template string (`$PATH1`, `$BASENAME`, `$EXTENSION`, ...) or `{match, replacement}` with a regular expression.' }),
  s({ name: 'parse_lines_as_json', type: 'bool', description: 'true sets `parse_format` to `json`, false to `raw`.' }),
  s({ name: 'parse_format', type: 'string', default: 'raw', description: '`raw` (lines as they are), `json` (each line a JSON object; see `json_message_field`), `cri` (container runtime log lines), or the name of a parser registered by a plugin.' }),
  s({ name: 'json_message_field', type: 'string', default: 'log', description: 'With `parse_format: json`, the field holding the message.' }),
  s({ name: 'json_timestamp_field', type: 'string', default: 'time', description: 'With `parse_format: json`, the field holding the event time.' }),
  s({ name: 'ignore_stale_files', type: 'bool', default: false, description: 'Skip files not modified for `staleness_threshold_secs`.' }),
  s({ name: 'staleness_threshold_secs', type: 'float', default: 300, min: 0, description: 'Seconds without modification after which a file counts as stale.' }),
  s({ name: 'minimum_scan_interval', type: 'float', min: 0, description: 'Minimum seconds between size checks of the file.' }),
  s({ name: 'worker_id', type: 'string', default: 'default', noEffect: true, description: 'Which upload worker handles the file (Scalyr multi-worker uploads). sluice has one upload pipeline.' }),
];

/** Keys every monitor entry may have; all other keys are the monitor's own options. */
export const PENDING_MONITOR_ENTRY: OptionSpec[] = [
  s({ name: 'module', type: 'string', required: true, description: 'The monitor: Scalyr module name (`scalyr_agent.builtin_monitors.shell_monitor`), its short name (`shell_monitor`), or a plugin.' }),
  s({ name: 'id', type: 'string', description: 'Distinguishes several instances of the same monitor (shown as `module(id)`).' }),
  s({ name: 'sample_interval', type: 'float', min: 0.001, defaultText: '`global_monitor_sample_interval`', description: 'Seconds between samples.' }),
  s({ name: 'log_path', type: 'string', description: 'Name of the metric log (default `<module>.log`).' }),
  s({ name: 'stop_agent_on_failure', type: 'bool', default: false, description: 'Stop the agent when this monitor fails permanently.' }),
  s({ name: 'commandline', type: 'regex', description: '`linux_process_metrics`: regular expression searched in each process command line.' }),
  s({ name: 'pid', type: 'string', description: '`linux_process_metrics`: process ids (comma list); `$$` is the agent itself.' }),
  s({ name: 'command', type: 'string', description: '`shell_monitor`: the shell command run every sample.' }),
  s({ name: 'extract', type: 'regex', description: '`shell_monitor`: regular expression whose first group replaces the output.' }),
];

export const APM_OPTIONS: OptionSpec[] = [
  own({ name: 'enabled', type: 'bool', default: false, description: 'Run the APM intake (a drop-in for the Scout APM core agent).' }),
  own({ name: 'socket_path', type: 'string', defaultText: '`<agent_data_path>/core-agent.sock`', description: 'Unix socket the language agents connect to. A relative path resolves against the main config file\'s directory.' }),
  own({ name: 'tcp', type: 'string', description: 'Also listen on TCP `host:port` (e.g. `127.0.0.1:6590`).' }),
  own({ name: 'ingest_url', type: 'string', description: 'Where APM data is forwarded (an `http(s)://` URL). Without it, APM records go through the log pipeline.' }),
  own({ name: 'key', type: 'string', description: 'The APM organisation key sent with forwarded data.' }),
  own({ name: 'name', type: 'string', description: 'Application name used when a language agent does not send one.' }),
  own({ name: 'max_frame_bytes', type: 'int', default: 64 * MiB, min: 1024, description: 'Largest message frame accepted from a language agent, in bytes; a larger frame closes that connection with an error (nothing already accepted is lost).' }),
  own({ name: 'request_timeout_secs', type: 'float', default: 300, min: 0, description: 'Seconds an unfinished request is kept before it is closed and reported.' }),
];

/** Tuning of the addEvents upload sink (sluice). */
export const UPLOAD_OPTIONS: OptionSpec[] = [
  own({ name: 'max_in_flight', type: 'int', default: 1, min: 1, max: 8, description: 'Requests in flight at once (acks stay in file order either way).' }),
  own({ name: 'linger_ms', type: 'int', default: 500, min: 0, description: 'How long a request that is not full waits for more events before it is sent.' }),
  own({ name: 'retry_base_ms', type: 'int', default: 1000, min: 1, description: 'First retry delay after a failed request; doubles per failure, with jitter.' }),
  own({ name: 'retry_max_ms', type: 'int', default: 30000, min: 1, description: 'Longest retry delay.' }),
  own({ name: 'max_response_bytes', type: 'int', default: 1048576, min: 1024, description: 'Longest server answer read; a longer one is cut off and treated as unparsable.' }),
];

export const PENDING_GLOBAL: OptionSpec[] = [
  // --- where to send
  s({ name: 'api_key', type: 'string', default: '', description: 'Scalyr "Write Logs" API key. With no `api_key` at all (not in a file, no `SCALYR_API_KEY`) sluice does not fail: events go to the embedded default sink (`embedded_output`) and `embedded_default` is true. An `api_key` that is present but empty (for example `"$SCALYR_API_KEY"` with the variable unset) or still holds an unsubstituted `$NAME` is an error naming the variable.' }),
  s({ name: 'scalyr_server', type: 'string', default: 'https://agent.scalyr.com', description: 'Base URL of the Scalyr server (`scheme://host[:port]`). Unless `allow_http` is true, `http://` is rewritten to `https://` (as Scalyr does; with a warning, since a plain-HTTP server then fails every upload) and a bare host gets `https://`.' }),
  s({ name: 'allow_http', type: 'bool', default: false, description: 'Allow a plain `http://` `scalyr_server` (and skip its URL checks).' }),
  // --- what to collect
  s({ name: 'k8s_logs', type: 'array', default: [], repeatable: true, env: false, noEffect: true, description: 'Kubernetes log inputs of Scalyr\'s agent. Accepted and ignored.' }),
  // --- local paths
  // --- uploading
  s({ name: 'compression_type', type: 'string', default: 'deflate', enum: ['deflate', 'none', 'bz2', 'lz4', 'zstandard'], description: 'Request body compression. sluice sends `deflate` or `none`; `bz2`, `lz4` and `zstandard` are accepted with a warning and sent as `deflate`.' }),
  s({ name: 'compression_level', type: 'int', defaultText: '6 for deflate, 0 for none', description: 'Compression level; out of range for the type (deflate 1–9) it is replaced by the type\'s default with a warning.' }),
  s({ name: 'https_proxy', type: 'string', description: 'Proxy URL for HTTPS uploads. sluice uses it directly (Scalyr needed `use_requests_lib`).' }),
  s({ name: 'http_proxy', type: 'string', description: 'Proxy URL for plain HTTP requests.' }),
  s({ name: 'use_requests_lib', type: 'bool', default: false, noEffect: true, description: 'Scalyr\'s switch for its proxy-capable HTTP client. sluice always honours the proxy options.' }),
  s({ name: 'verify_server_certificate', type: 'bool', default: true, description: 'Verify the server\'s TLS certificate.' }),
  s({ name: 'ca_cert_path', type: 'string', defaultText: 'the system CA store', description: 'PEM file of CA certificates to trust instead of the system store.' }),
  s({ name: 'request_deadline', type: 'float', default: 60, min: 0, description: 'Seconds before an upload request times out.' }),
  s({ name: 'max_allowed_request_size', type: 'int', default: 1048576, min: 1024, defaultText: '5900000 (1048576 with `legacy`)', description: 'Largest upload request body, in bytes.' }),
  s({ name: 'min_allowed_request_size', type: 'int', default: 102400, min: 0, description: 'Smallest request size the pacing adjusts down to, in bytes.' }),
  s({ name: 'pipeline_threshold', type: 'float', default: 1.1, min: 0, defaultText: '0 (1.1 with `legacy`)', description: 'Send the next request before the previous answer when the last one was at least this fraction full.' }),
  s({ name: 'min_request_spacing_interval', type: 'float', default: 1.0, min: 0, defaultText: '0 (1.0 with `legacy`)', description: 'Minimum seconds between requests.' }),
  s({ name: 'max_request_spacing_interval', type: 'float', default: 5.0, min: 0, description: 'Maximum seconds between requests.' }),
  s({ name: 'max_error_request_spacing_interval', type: 'float', default: 30.0, min: 0, description: 'Maximum seconds between requests while the server answers with errors.' }),
  s({ name: 'low_water_bytes_sent', type: 'int', default: 20480, min: 0, description: 'Request pacing: below this many bytes per request, spacing grows.' }),
  s({ name: 'low_water_request_spacing_adjustment', type: 'float', default: 1.5, min: 0, description: 'Request pacing: spacing factor below the low-water mark.' }),
  s({ name: 'high_water_bytes_sent', type: 'int', default: 102400, min: 0, description: 'Request pacing: above this many bytes per request, spacing shrinks.' }),
  s({ name: 'high_water_request_spacing_adjustment', type: 'float', default: 0.6, min: 0, description: 'Request pacing: spacing factor above the high-water mark.' }),
  s({ name: 'failure_request_spacing_adjustment', type: 'float', default: 1.5, min: 0, description: 'Request pacing: spacing factor after a failed request.' }),
  s({ name: 'request_too_large_adjustment', type: 'float', default: 0.5, min: 0, description: 'Request size factor after a `requestTooLarge` answer.' }),
  s({ name: 'max_sequence_number', type: 'int', default: 1024 ** 4, min: 1, description: 'Sequence numbers (byte offsets) wrap to a new sequence id after this value.' }),
  // --- reading
  s({ name: 'max_line_size', type: 'int', default: 49900, min: 1, description: 'Longest line in bytes; longer lines are split into several events (nothing is dropped).' }),
  s({ name: 'read_page_size', type: 'int', default: 65536, min: 1024, description: 'Bytes read from a file at a time.' }),
  s({ name: 'internal_parse_max_line_size', type: 'int', min: 1, defaultText: '`read_page_size`', description: 'Longest line given to the json/cri parsers.' }),
  s({ name: 'line_completion_wait_time', type: 'float', default: 5, min: 0, description: 'Seconds a line without its newline waits before it is sent as it is.' }),
  s({ name: 'max_log_offset_size', type: 'int', default: 5242880, min: 0, defaultText: '200000000 (5242880 with `legacy`)', description: 'How far (bytes) a file may be behind before Scalyr skips to its end. sluice only skips when `skip_too_far_behind` is true.' }),
  s({ name: 'max_existing_log_offset_size', type: 'int', default: 104857600, min: 0, defaultText: '200000000 (104857600 with `legacy`)', description: 'As `max_log_offset_size`, for files that existed at startup.' }),
  s({ name: 'max_new_log_detection_time', type: 'float', default: 60, min: 0, description: 'Seconds between scans for new files matching the globs.' }),
  s({ name: 'log_deletion_delay', type: 'float', default: 600, min: 0, description: 'Seconds a deleted file is kept open (and read) before it is closed.' }),
  s({ name: 'copy_staleness_threshold', type: 'float', default: 900, min: 0, description: 'Seconds without progress after which a file is reported stale.' }),
  s({ name: 'close_old_files_duration_in_seconds', type: 'float', default: 3600, min: 0, description: 'Seconds after which unchanged, fully read files are closed.' }),
  s({ name: 'minimum_scan_interval', type: 'float', min: 0, description: 'Default minimum seconds between size checks of a file.' }),
  // --- agent itself
  s({ name: 'global_monitor_sample_interval', type: 'float', default: 30, min: 0.001, description: 'Default seconds between monitor samples.' }),
  s({ name: 'global_monitor_sample_interval_enable_jitter', type: 'bool', default: true, description: 'Start each monitor after a random delay so samples spread out.' }),
  s({ name: 'monitor_log_write_rate', type: 'int', default: 2000, min: 0, description: 'Bytes per second a monitor may write before lines are skipped (counted).' }),
  s({ name: 'monitor_log_max_write_burst', type: 'int', default: 100000, min: 0, description: 'Burst size, in bytes, for `monitor_log_write_rate`.' }),
  s({ name: 'enforce_monotonic_timestamps', type: 'bool', default: false, description: 'Never send an event time earlier than the previous one.' }),
  s({ name: 'include_raw_timestamp_field', type: 'bool', default: true, description: 'Keep the original timestamp text as a field when parsing json/cri lines.' }),
  s({ name: 'merge_json_parsed_lines', type: 'bool', default: false, description: 'Join partial json/cri log lines into one event.' }),
  // --- sluice's own
  own({ name: 'skip_too_far_behind', type: 'bool', default: false, description: 'When true, a file more than `max_log_offset_size` bytes behind jumps to its end as in Scalyr (the skipped bytes are counted as dropped). Default false: sluice never skips data silently.' }),
  own({ name: 'max_no_success_secs', type: 'float', default: 0, min: 0, description: 'When > 0, pending data is dropped (counted) after this many seconds without a successful upload, as Scalyr does after 15 minutes. Default 0: never drop; back-pressure holds reading instead.' }),
  own({ name: 'upload', type: 'object', fields: UPLOAD_OPTIONS, description: 'Tuning of the addEvents upload (see "upload" below).' }),
  own({ name: 'embedded_output', type: 'string', defaultText: '`<agent_data_path>/events`', description: 'Directory where the embedded default sink writes events when no `api_key` is set. A relative path resolves against the main config file\'s directory.' }),
];


/**
 * The pending options nobody declares yet: a top-level option unless the agent or a component
 * declares one of that name, a log entry key unless the log part or a component reading the
 * entry does, a monitor entry key unless the monitor part or a monitor does; while no component
 * declares the `apm` section, its pending fields (as `apm` in `agent`).
 */
export function pendingOf(parts: PartDeclarations, components: readonly Component[]): PartDeclarations {
  const isGlobal = (o: OptionDecl) => o.scope === 'global';
  const globalNames = new Set([...parts.agent, ...parts.logEntry.filter(isGlobal), ...parts.monitorEntry.filter(isGlobal)].map((o) => o.name));
  const entryNames = new Set(parts.logEntry.filter((o) => !isGlobal(o)).map((o) => o.name));
  const monitorNames = new Set(parts.monitorEntry.filter((o) => !isGlobal(o)).map((o) => o.name));
  const sections = new Set<string>();
  for (const c of components) {
    for (const o of optionsOf(c, 'global')) globalNames.add(o.name);
    const home = homeOf(c);
    if (home === 'entry') for (const o of optionsOf(c)) entryNames.add(o.name);
    else if (home.startsWith('section:')) sections.add(home.slice('section:'.length));
    if (c.kind === 'monitor') for (const o of optionsOf(c)) monitorNames.add(o.name);
  }
  const apm = parts.agent.find((o) => o.name === 'apm');
  const apmFields = apm && !sections.has('apm') ? APM_OPTIONS.filter((f) => !(apm.fields ?? []).some((g) => g.name === f.name)) : [];
  return {
    agent: [
      ...(apmFields.length ? [own({ name: 'apm', type: 'object', fields: apmFields, description: 'The APM intake\'s options (see `apm` under "Agent options" for `enabled`).' })] : []),
      ...PENDING_GLOBAL.filter((o) => !globalNames.has(o.name)),
    ],
    logEntry: PENDING_LOG_ENTRY.filter((o) => !entryNames.has(o.name)),
    monitorEntry: PENDING_MONITOR_ENTRY.filter((o) => !monitorNames.has(o.name)),
  };
}

/** The part declarations with the pending options ({@link pendingOf}) added. */
export function withPending(parts: PartDeclarations, components: readonly Component[]): PartDeclarations {
  const pending = pendingOf(parts, components);
  const pendingApm = pending.agent.find((o) => o.name === 'apm');
  return {
    agent: [
      ...parts.agent.map((o) => (o.name === 'apm' && pendingApm ? { ...o, fields: [...(o.fields ?? []), ...(pendingApm.fields ?? [])] } : o)),
      ...pending.agent.filter((o) => o !== pendingApm),
    ],
    logEntry: [...parts.logEntry, ...pending.logEntry],
    monitorEntry: [...parts.monitorEntry, ...pending.monitorEntry],
  };
}
