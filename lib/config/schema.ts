/**
 * The one declarative description of every configuration option: name, type, default, user-facing
 * description, and whether the option is Scalyr's (same meaning as in Scalyr Agent 2's agent.json)
 * or sluice's own. The validator (`validate.ts`) takes types, ranges and defaults from here, and
 * `docs.ts` renders `docs/configuration.md` from it, so the reference cannot drift from the code.
 */

/** How a value is read (see `coerce.ts` for the exact, Scalyr-compatible conversions). */
export type OptionType =
  | 'string'
  | 'bool'
  | 'int'
  | 'float'
  /** A list of strings (numbers are converted). */
  | 'stringArray'
  /** An object whose values are strings (numbers are converted). */
  | 'stringMap'
  /** A string holding a Python-syntax regular expression; compiled while validating. */
  | 'regex'
  /** A nested object described by `fields`. */
  | 'object'
  /** A list; items described by `fields` when they are objects. */
  | 'array'
  /** Anything; passed through. */
  | 'any';

export interface OptionSpec {
  name: string;
  type: OptionType;
  /** `scalyr`: an option of Scalyr Agent 2's agent.json; `sluice`: sluice's own. */
  origin: 'scalyr' | 'sluice';
  /** For people: what it does, units, interactions. */
  description: string;
  /** The default when the option is absent (after environment overrides). */
  default?: unknown;
  /** Shown in the docs instead of `default` when the default is computed. */
  defaultText?: string;
  required?: boolean;
  min?: number;
  max?: number;
  enum?: readonly string[];
  /** Global options: read from the environment when absent from every file (default true for scalars). */
  env?: boolean;
  /** Global options: may appear in several files (main file and `agent.d` fragments). */
  repeatable?: boolean;
  /** Accepted so existing Scalyr configs load, but sluice does not act on it. */
  noEffect?: boolean;
  /** Nested object fields (`object`) or list item fields (`array` of objects). */
  fields?: OptionSpec[];
  /** Unknown nested keys are kept without a warning (monitor-specific options). */
  openFields?: boolean;
}

const MiB = 1024 * 1024;

/** An option of Scalyr Agent 2's agent.json (same name, same meaning). */
export const scalyrOption = <T extends Omit<OptionSpec, 'origin'>>(o: T): T & { origin: 'scalyr' } => ({ origin: 'scalyr', ...o });
/** An option of sluice's own. */
export const sluiceOption = <T extends Omit<OptionSpec, 'origin'>>(o: T): T & { origin: 'sluice' } => ({ origin: 'sluice', ...o });
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

/** The four continuation keys; a grouper needs exactly one. */
export const CONTINUATION_KEYS = ['continueThrough', 'continuePast', 'haltBefore', 'haltWith'] as const;

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
export const LOG_ENTRY_OPTIONS: OptionSpec[] = [
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
export const MONITOR_OPTIONS: OptionSpec[] = [
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

export const HTTP_ENDPOINT_OPTIONS: OptionSpec[] = [
  own({ name: 'enabled', type: 'bool', default: false, description: 'Serve `/health`, `/ready` and `/metrics` (Prometheus) over HTTP.' }),
  own({ name: 'host', type: 'string', default: '127.0.0.1', description: 'Address to listen on.' }),
  own({ name: 'port', type: 'int', default: 5255, min: 0, max: 65535, description: 'TCP port (0 picks a free one).' }),
];

/** Tuning of the addEvents upload sink (sluice). */
export const UPLOAD_OPTIONS: OptionSpec[] = [
  own({ name: 'max_in_flight', type: 'int', default: 1, min: 1, max: 8, description: 'Requests in flight at once (acks stay in file order either way).' }),
  own({ name: 'linger_ms', type: 'int', default: 500, min: 0, description: 'How long a request that is not full waits for more events before it is sent.' }),
  own({ name: 'retry_base_ms', type: 'int', default: 1000, min: 1, description: 'First retry delay after a failed request; doubles per failure, with jitter.' }),
  own({ name: 'retry_max_ms', type: 'int', default: 30000, min: 1, description: 'Longest retry delay.' }),
  own({ name: 'max_response_bytes', type: 'int', default: 1048576, min: 1024, description: 'Longest server answer read; a longer one is cut off and treated as unparsable.' }),
];

/** Entries of `import_vars`: a name, or `{var, default}`. */
export const IMPORT_VAR_OPTIONS: OptionSpec[] = [
  s({ name: 'var', type: 'string', required: true, description: 'Environment variable name.' }),
  s({ name: 'default', type: 'string', default: '', description: 'Value used when the variable is unset or empty.' }),
];

/** Top-level options of agent.json. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  // --- where to send
  s({ name: 'api_key', type: 'string', default: '', description: 'Scalyr "Write Logs" API key. With no `api_key` at all (not in a file, no `SCALYR_API_KEY`) sluice does not fail: events go to the embedded default sink (`embedded_output`) and `embedded_default` is true. An `api_key` that is present but empty (for example `"$SCALYR_API_KEY"` with the variable unset) or still holds an unsubstituted `$NAME` is an error naming the variable.' }),
  s({ name: 'scalyr_server', type: 'string', default: 'https://agent.scalyr.com', description: 'Base URL of the Scalyr server (`scheme://host[:port]`). Unless `allow_http` is true, `http://` is rewritten to `https://` (as Scalyr does; with a warning, since a plain-HTTP server then fails every upload) and a bare host gets `https://`.' }),
  s({ name: 'allow_http', type: 'bool', default: false, description: 'Allow a plain `http://` `scalyr_server` (and skip its URL checks).' }),
  s({ name: 'server_attributes', type: 'stringMap', default: {}, repeatable: true, env: false, defaultText: '`{serverHost: <hostname>}`', description: 'Fields sent with every upload (`sessionInfo`). `serverHost` defaults to the host name. Fragments merge key by key.' }),
  s({ name: 'strip_domain_from_default_server_host', type: 'bool', default: false, description: 'Use only the first label of the host name for the default `serverHost`.' }),
  s({ name: 'import_vars', type: 'array', default: [], repeatable: true, env: false, fields: IMPORT_VAR_OPTIONS, description: 'Environment variables to substitute as `$NAME` in string values of the same file: names, or `{var, default}`. Each file uses only its own list.' }),
  // --- what to collect
  s({ name: 'logs', type: 'array', default: [], repeatable: true, env: false, fields: LOG_ENTRY_OPTIONS, description: 'Log files to upload (see "Log entries" below). Fragments append to it.' }),
  s({ name: 'monitors', type: 'array', default: [], repeatable: true, env: false, fields: MONITOR_OPTIONS, openFields: true, description: 'Metric monitors to run (see "Monitor entries" below). Fragments append to it.' }),
  s({ name: 'journald_logs', type: 'array', default: [], repeatable: true, env: false, noEffect: true, description: 'journald inputs of Scalyr\'s agent. Accepted and ignored.' }),
  s({ name: 'k8s_logs', type: 'array', default: [], repeatable: true, env: false, noEffect: true, description: 'Kubernetes log inputs of Scalyr\'s agent. Accepted and ignored.' }),
  s({ name: 'workers', type: 'array', default: [], repeatable: true, env: false, noEffect: true, description: 'Extra upload workers with their own API keys (`api_keys` is its old name). Accepted and ignored: sluice has one upload pipeline.' }),
  s({ name: 'implicit_agent_log_collection', type: 'bool', default: true, description: 'Upload the agent\'s own log `<agent_log_path>/agent.log` (parser `scalyrAgentLog`), added after the configured logs.' }),
  s({ name: 'implicit_metric_monitor', type: 'bool', default: true, description: 'Run the `linux_system_metrics` monitor.' }),
  s({ name: 'implicit_agent_process_metrics_monitor', type: 'bool', default: true, description: 'Run `linux_process_metrics` for the agent itself (`pid: "$$"`, `id: "agent"`).' }),
  // --- local paths
  s({ name: 'agent_data_path', type: 'string', default: '/var/lib/sluice', description: 'Directory for checkpoints, status and the embedded sink. sluice: a relative path resolves against the main config file\'s directory (Scalyr\'s default is `/var/lib/scalyr-agent-2`).' }),
  s({ name: 'agent_log_path', type: 'string', default: '/var/log/sluice', description: 'Directory of the agent\'s own logs; relative `logs[].path` values are joined to it. sluice: a relative path resolves against the main config file\'s directory (Scalyr\'s default is `/var/log/scalyr-agent-2`).' }),
  s({ name: 'config_directory', type: 'string', default: 'agent.d', description: 'Directory of config fragments (`*.json`, read in sorted order), relative to the main file\'s directory.' }),
  // --- uploading
  s({ name: 'compression_type', type: 'string', default: 'deflate', enum: ['deflate', 'none', 'bz2', 'lz4', 'zstandard'], description: 'Request body compression. sluice sends `deflate` or `none`; `bz2`, `lz4` and `zstandard` are accepted with a warning and sent as `deflate`.' }),
  s({ name: 'compression_level', type: 'int', defaultText: '6 for deflate, 0 for none', description: 'Compression level; out of range for the type (deflate 1–9) it is replaced by the type\'s default with a warning.' }),
  s({ name: 'https_proxy', type: 'string', description: 'Proxy URL for HTTPS uploads. sluice uses it directly (Scalyr needed `use_requests_lib`).' }),
  s({ name: 'http_proxy', type: 'string', description: 'Proxy URL for plain HTTP requests.' }),
  s({ name: 'use_requests_lib', type: 'bool', default: false, noEffect: true, description: 'Scalyr\'s switch for its proxy-capable HTTP client. sluice always honours the proxy options.' }),
  s({ name: 'verify_server_certificate', type: 'bool', default: true, description: 'Verify the server\'s TLS certificate.' }),
  s({ name: 'ca_cert_path', type: 'string', defaultText: 'the system CA store', description: 'PEM file of CA certificates to trust instead of the system store.' }),
  s({ name: 'request_deadline', type: 'float', default: 60, min: 0, description: 'Seconds before an upload request times out.' }),
  s({ name: 'max_send_rate_enforcement', type: 'string', default: 'unlimited', description: '`unlimited`, `legacy`, or a rate such as `2MB/s` or `500 KiB/m` (bytes; `i` = base 1024). Anything but `legacy` (unless `disable_max_send_rate_enforcement_overrides`) replaces `max_allowed_request_size`, `pipeline_threshold`, `min_request_spacing_interval`, `max_request_spacing_interval`, `max_log_offset_size` and `max_existing_log_offset_size` with faster values, as Scalyr does.' }),
  s({ name: 'disable_max_send_rate_enforcement_overrides', type: 'bool', default: false, description: 'Keep the six options above as configured.' }),
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
  s({ name: 'full_checkpoint_interval_in_seconds', type: 'float', default: 60, min: 0, description: 'Seconds between full checkpoint writes (acknowledged positions are also saved incrementally).' }),
  s({ name: 'max_allowed_checkpoint_age', type: 'float', default: 0, min: 0, description: 'Checkpoints older than this many seconds are ignored at startup. sluice default 0 = never expire (Scalyr uses 900, which loses whatever was written during a longer outage); a value you set is honoured.' }),
  s({ name: 'ignore_checkpoints_on_startup_path_globs', type: 'stringArray', default: [], description: 'Files matching these globs ignore their checkpoints at startup.' }),
  s({ name: 'config_change_check_interval', type: 'float', default: 30, min: 0, description: 'Seconds between checks of the config files for changes.' }),
  // --- agent itself
  s({ name: 'debug_level', type: 'int', default: 0, min: 0, max: 5, description: 'Verbosity of the agent log, 0 (normal) to 5 (most).' }),
  s({ name: 'stdout_severity', type: 'string', default: 'NOTSET', description: 'Minimum severity also written to standard output.' }),
  s({ name: 'global_monitor_sample_interval', type: 'float', default: 30, min: 0.001, description: 'Default seconds between monitor samples.' }),
  s({ name: 'global_monitor_sample_interval_enable_jitter', type: 'bool', default: true, description: 'Start each monitor after a random delay so samples spread out.' }),
  s({ name: 'monitor_log_write_rate', type: 'int', default: 2000, min: 0, description: 'Bytes per second a monitor may write before lines are skipped (counted).' }),
  s({ name: 'monitor_log_max_write_burst', type: 'int', default: 100000, min: 0, description: 'Burst size, in bytes, for `monitor_log_write_rate`.' }),
  s({ name: 'healthy_max_time_since_last_copy_attempt', type: 'float', default: 60, min: 0, description: 'Health check: seconds since the last upload attempt before the agent reports unhealthy.' }),
  s({ name: 'agent_status_timeout', type: 'float', default: 30, min: 0, description: 'Seconds `status` waits for the running agent.' }),
  s({ name: 'log_rotation_max_bytes', type: 'int', default: 20971520, min: 0, description: 'Size at which the agent\'s own logs rotate.' }),
  s({ name: 'log_rotation_backup_count', type: 'int', default: 2, min: 0, description: 'Rotated agent logs kept.' }),
  s({ name: 'enforce_monotonic_timestamps', type: 'bool', default: false, description: 'Never send an event time earlier than the previous one.' }),
  s({ name: 'include_raw_timestamp_field', type: 'bool', default: true, description: 'Keep the original timestamp text as a field when parsing json/cri lines.' }),
  s({ name: 'merge_json_parsed_lines', type: 'bool', default: false, description: 'Join partial json/cri log lines into one event.' }),
  s({ name: 'json_library', type: 'string', default: 'auto', noEffect: true, description: 'Scalyr\'s choice of Python JSON library. Ignored.' }),
  s({ name: 'default_sessions_per_worker', type: 'int', default: 1, min: 1, noEffect: true, description: 'Scalyr multi-session uploads. Ignored.' }),
  s({ name: 'use_multiprocess_workers', type: 'bool', default: false, noEffect: true, description: 'Scalyr multi-process uploads. Ignored.' }),
  // --- sluice's own
  own({ name: 'max_pending_bytes', type: 'int', default: 6 * MiB, min: 65536, description: 'Byte budget between reading and acknowledgement: sources stop reading while this many bytes are read but not yet delivered. Bounds memory; a request to addEvents is also kept to a third of it, so three fit in the budget together. A larger budget buys some throughput on several cores for memory (docs/PERFORMANCE.md).' }),
  own({ name: 'skip_too_far_behind', type: 'bool', default: false, description: 'When true, a file more than `max_log_offset_size` bytes behind jumps to its end as in Scalyr (the skipped bytes are counted as dropped). Default false: sluice never skips data silently.' }),
  own({ name: 'max_no_success_secs', type: 'float', default: 0, min: 0, description: 'When > 0, pending data is dropped (counted) after this many seconds without a successful upload, as Scalyr does after 15 minutes. Default 0: never drop; back-pressure holds reading instead.' }),
  own({ name: 'apm', type: 'object', fields: APM_OPTIONS, description: 'APM intake, a drop-in for the Scout APM core agent (see "apm" below).' }),
  own({ name: 'http_endpoint', type: 'object', fields: HTTP_ENDPOINT_OPTIONS, description: 'Local HTTP endpoint for health and metrics (see "http_endpoint" below).' }),
  own({ name: 'sink', type: 'any', env: false, description: 'Use another registered sink type (a plugin\'s) instead of `addEvents` (with an `api_key`) or the embedded default: `{type: "name", ...its options}`.' }),
  own({ name: 'upload', type: 'object', fields: UPLOAD_OPTIONS, description: 'Tuning of the addEvents upload (see "upload" below).' }),
  own({ name: 'embedded_output', type: 'string', defaultText: '`<agent_data_path>/events`', description: 'Directory where the embedded default sink writes events when no `api_key` is set. A relative path resolves against the main config file\'s directory.' }),
  own({ name: 'plugins', type: 'stringArray', default: [], env: false, description: 'Plugin modules to load: package names, or paths (`./x.js` resolves against the main config file\'s directory).' }),
  own({ name: 'tests', type: 'array', env: false, description: 'Config unit tests run by `sluice test` (passed through unchanged).' }),
];

const CONTAINERS = 'this build does not support containers';
const K8S_INSTEAD = 'collect the container logs with a logs entry on /var/log/containers/*.log with parse_format: "cri" instead';
const WINDOWS = 'it needs Windows, and sluice runs on Linux only';
const NOT_YET = 'not implemented yet in sluice; the rest of the config runs';

/**
 * Real monitors of Scalyr Agent 2 (`scalyr_agent.builtin_monitors.<name>`) that sluice does not
 * run, with the reason and what to use instead. A config naming one still loads: the monitor is
 * skipped with a warning (validate, start, `status -v`). Names neither here, built in, nor a
 * loadable plugin stay errors.
 */
export const UNSUPPORTED_SCALYR_MONITORS: Readonly<Record<string, string>> = {
  docker_monitor: `it needs Docker, and ${CONTAINERS}; collect container logs with a logs entry on /var/lib/docker/containers/*/*-json.log with parse_format: "json" instead`,
  kubernetes_monitor: `it needs Kubernetes, and ${CONTAINERS}; ${K8S_INSTEAD}`,
  kubernetes_events_monitor: `it needs Kubernetes, and ${CONTAINERS}; ${K8S_INSTEAD}`,
  kubernetes_openmetrics_monitor: `it needs Kubernetes, and ${CONTAINERS}; ${K8S_INSTEAD}`,
  windows_event_log_monitor: WINDOWS,
  windows_process_metrics: `${WINDOWS}; on Linux use linux_process_metrics`,
  windows_system_metrics: `${WINDOWS}; on Linux use linux_system_metrics`,
  tomcat_monitor: `${NOT_YET}; linux_process_metrics with commandline "tomcat" gives its process metrics`,
  jmx_monitor: `${NOT_YET}; linux_process_metrics gives the JVM's process metrics`,
  apache_monitor: `${NOT_YET}; a shell_monitor running curl on mod_status, or a plugin, can stand in`,
  nginx_monitor: `${NOT_YET}; a shell_monitor running curl on stub_status, or a plugin, can stand in`,
  mysql_monitor: `${NOT_YET}; a shell_monitor or a plugin can stand in`,
  postgres_monitor: `${NOT_YET}; a shell_monitor or a plugin can stand in`,
  redis_monitor: `${NOT_YET}; a shell_monitor or a plugin can stand in`,
  url_monitor: `${NOT_YET}; a shell_monitor running curl can stand in`,
  syslog_monitor: `${NOT_YET}; have syslog write to a file and add that file to logs`,
  graphite_monitor: `${NOT_YET}; a plugin can stand in`,
  journald_monitor: `${NOT_YET}; have journald forward to a file (e.g. rsyslog) and add that file to logs`,
  snmp_monitor: `${NOT_YET}; a shell_monitor running snmpget can stand in`,
  openmetrics_monitor: `${NOT_YET}; a plugin can stand in`,
  garbage_monitor: `${NOT_YET} (it reports Python garbage-collector data of Scalyr's own agent, which has no equivalent here)`,
};

/** The reason a Scalyr module name (short or `scalyr_agent.builtin_monitors.<name>`) is not run, if it is one. */
export function unsupportedScalyrMonitor(module: unknown): { name: string; reason: string } | undefined {
  if (typeof module !== 'string') return undefined;
  const m = /^(?:scalyr_agent\.builtin_monitors\.)?([A-Za-z0-9_]+)$/.exec(module.trim());
  if (!m || !Object.prototype.hasOwnProperty.call(UNSUPPORTED_SCALYR_MONITORS, m[1])) return undefined;
  return { name: m[1], reason: UNSUPPORTED_SCALYR_MONITORS[m[1]] };
}

/** Keys Scalyr renames before validating. */
export const RENAMED_KEYS: Record<string, string> = { api_keys: 'workers' };

/** The whole schema: what the validator and the docs generator read. */
export const configSchema = {
  global: GLOBAL_OPTIONS,
  logEntry: LOG_ENTRY_OPTIONS,
  lineGrouper: LINE_GROUPER_OPTIONS,
  samplingRule: SAMPLING_RULE_OPTIONS,
  redactionRule: REDACTION_RULE_OPTIONS,
  monitor: MONITOR_OPTIONS,
  apm: APM_OPTIONS,
  httpEndpoint: HTTP_ENDPOINT_OPTIONS,
  upload: UPLOAD_OPTIONS,
  importVar: IMPORT_VAR_OPTIONS,
} as const;

/** Environment variable names tried for a global option (first match wins). */
export function envNamesFor(spec: OptionSpec): string[] {
  if (spec.env === false) return [];
  if (spec.type === 'object' || spec.type === 'array' || spec.type === 'any') {
    // Structured sluice options are file-only; Scalyr's list options are env-aware via the lenient parser.
    if (spec.origin === 'sluice') return [];
  }
  const base = spec.origin === 'sluice' ? `SLUICE_${spec.name}` : spec.name.startsWith('scalyr_') ? spec.name : `SCALYR_${spec.name}`;
  return [base.toUpperCase(), base.toLowerCase()];
}

/** Global option by name. */
export const GLOBAL_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(GLOBAL_OPTIONS.map((o) => [o.name, o]));
