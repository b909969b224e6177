/**
 * The options the agent and the config loader read themselves (everything else is declared by
 * the component that reads it, beside its code: `lib/component.ts`). `live: true`: a reload
 * applies a change without restarting the agent (the loader re-reads it, or the agent hands it
 * to the parts it builds); a change to any other option here takes effect at the next start.
 */
import { scalyrOption as s, sluiceOption as own, type OptionSpec } from './schema.js';
import { MAX_PENDING_BYTES, NAMED_SINKS, SERVER_ATTRIBUTES, SINKS_ROUTE } from './sharedOptions.js';
import { schemaFrom, type ConfigSchema } from './derive.js';

/** An agent option: a top-level option of agent.json, and whether a reload applies it. */
export type AgentOption = OptionSpec & { live?: boolean };

/** Entries of `import_vars`: a name, or `{var, default}`. */
export const IMPORT_VAR_OPTIONS: OptionSpec[] = [
  s({ name: 'var', type: 'string', required: true, description: 'Environment variable name.' }),
  s({ name: 'default', type: 'string', default: '', description: 'Value used when the variable is unset or empty.' }),
];

export const HTTP_ENDPOINT_OPTIONS: OptionSpec[] = [
  own({ name: 'enabled', type: 'bool', default: false, description: 'Serve `/health`, `/ready` and `/metrics` (Prometheus) over HTTP.' }),
  own({ name: 'host', type: 'string', default: '127.0.0.1', description: 'Address to listen on.' }),
  own({ name: 'port', type: 'int', default: 5255, min: 0, max: 65535, description: 'TCP port (0 picks a free one).' }),
];

/**
 * `apm`: the agent reads `enabled` (whether to build the APM part); the APM components declare
 * the rest of the section (`home: 'section:apm'`).
 */
export const APM_SECTION: AgentOption = own({
  name: 'apm',
  type: 'object',
  live: true,
  fields: [own({ name: 'enabled', type: 'bool', default: false, description: 'Run the APM intake (a drop-in for the Scout APM core agent).' }), SINKS_ROUTE],
  description: 'APM intake, a drop-in for the Scout APM core agent (see the `apm` components below).',
});

/** Top-level options of agent.json the agent and the loader read. */
export const AGENT_OPTIONS: readonly AgentOption[] = [
  // --- the loader
  s({ name: 'import_vars', type: 'array', live: true, default: [], repeatable: true, env: false, fields: IMPORT_VAR_OPTIONS, description: 'Environment variables to substitute as `$NAME` in string values of the same file: names, or `{var, default}`. Each file uses only its own list. Read again on every reload.' }),
  s({ name: 'config_directory', type: 'string', default: 'agent.d', description: 'Directory of config fragments (`*.json`, read in sorted order), relative to the main file\'s directory.' }),
  s({ name: 'strip_domain_from_default_server_host', type: 'bool', live: true, default: false, description: 'Use only the first label of the host name for the default `serverHost`.' }),
  SERVER_ATTRIBUTES,
  s({ name: 'max_send_rate_enforcement', type: 'string', live: true, default: 'unlimited', description: '`unlimited`, `legacy`, or a rate such as `2MB/s` or `500 KiB/m` (bytes; `i` = base 1024). Anything but `legacy` (unless `disable_max_send_rate_enforcement_overrides`) replaces `max_allowed_request_size`, `pipeline_threshold`, `min_request_spacing_interval`, `max_request_spacing_interval`, `max_log_offset_size` and `max_existing_log_offset_size` with faster values, as Scalyr does. sluice does not throttle uploads to that rate: the rate is checked and kept as `max_send_rate_bytes_per_second`, and the overrides apply.' }),
  s({ name: 'disable_max_send_rate_enforcement_overrides', type: 'bool', live: true, default: false, description: 'Keep the six options above as configured.' }),
  own({ name: 'plugins', type: 'stringArray', live: true, default: [], env: false, description: 'Plugin modules to load: package names, or paths (`./x.js` resolves against the main config file\'s directory). Their components\' options are validated and documented like the built-ins\' (`sluice config-docs --config F` lists them). A plugin added on reload is loaded then.' }),
  // --- what to collect (each entry is a part; a reload starts, restarts or stops just the entries that changed)
  s({ name: 'logs', type: 'array', live: true, default: [], repeatable: true, env: false, description: 'Log files to upload (see "Log entries" below). Fragments append to it.' }),
  s({ name: 'monitors', type: 'array', live: true, default: [], repeatable: true, env: false, description: 'Metric monitors to run (see "Monitor entries" below). Fragments append to it.' }),
  s({ name: 'implicit_agent_log_collection', type: 'bool', live: true, default: true, description: 'Upload the agent\'s own log `<agent_log_path>/agent.log` (parser `scalyrAgentLog`), added after the configured logs.' }),
  s({ name: 'implicit_metric_monitor', type: 'bool', live: true, default: true, description: 'Run the `linux_system_metrics` monitor.' }),
  s({ name: 'implicit_agent_process_metrics_monitor', type: 'bool', live: true, default: true, description: 'Run `linux_process_metrics` for the agent itself (`pid: "$$"`, `id: "agent"`).' }),
  s({ name: 'journald_logs', type: 'array', default: [], repeatable: true, env: false, noEffect: true, description: 'journald inputs of Scalyr\'s agent. Accepted and ignored.' }),
  s({ name: 'k8s_logs', type: 'array', default: [], repeatable: true, env: false, noEffect: true, description: 'Kubernetes log inputs of Scalyr\'s agent. Accepted and ignored.' }),
  s({ name: 'workers', type: 'array', default: [], repeatable: true, env: false, noEffect: true, description: 'Extra upload workers with their own API keys (`api_keys` is its old name). Accepted and ignored: sluice has one upload pipeline.' }),
  own({ name: 'sink', type: 'any', live: true, env: false, description: 'Use another registered sink type (a plugin\'s) instead of `addEvents` (with an `api_key`) or the embedded default: `{type: "name", ...its options}`.' }),
  NAMED_SINKS,
  APM_SECTION,
  own({ name: 'otlp_receiver', type: 'object', live: true, fields: [own({ name: 'enabled', type: 'bool', defaultText: 'true when `otlp_receiver` is present', description: 'Run the receiver; present the section and it runs unless this is false.' }), SINKS_ROUTE], description: 'OTLP/HTTP receiver for OpenTelemetry SDKs (see the `otlp_receiver` component below); absent: not started.' }),
  own({ name: 'http_endpoint', type: 'object', live: true, fields: HTTP_ENDPOINT_OPTIONS, description: 'Local HTTP endpoint for health and metrics (see "http_endpoint" below).' }),
  own({ name: 'tests', type: 'array', live: true, env: false, description: 'Config unit tests run by `sluice test` (passed through unchanged).' }),
  // --- the agent itself
  s({ name: 'agent_data_path', type: 'string', default: '/var/lib/sluice', description: 'Directory for checkpoints, status and the embedded sink. sluice: a relative path resolves against the main config file\'s directory (Scalyr\'s default is `/var/lib/scalyr-agent-2`).' }),
  s({ name: 'agent_log_path', type: 'string', default: '/var/log/sluice', description: 'Directory of the agent\'s own logs; relative `logs[].path` values are joined to it. sluice: a relative path resolves against the main config file\'s directory (Scalyr\'s default is `/var/log/scalyr-agent-2`).' }),
  MAX_PENDING_BYTES,
  s({ name: 'max_allowed_checkpoint_age', type: 'float', default: 0, min: 0, description: 'Checkpoints older than this many seconds are ignored at startup. sluice default 0 = never expire (Scalyr uses 900, which loses whatever was written during a longer outage); a value you set is honoured.' }),
  s({ name: 'ignore_checkpoints_on_startup_path_globs', type: 'stringArray', default: [], description: 'Files matching these globs ignore their checkpoints at startup.' }),
  s({ name: 'full_checkpoint_interval_in_seconds', type: 'float', default: 60, min: 0, noEffect: true, description: 'Seconds between full checkpoint writes in Scalyr\'s agent. sluice writes the whole checkpoint file (atomically) within a second of every acknowledged progress, so there is no separate full write.' }),
  s({ name: 'config_change_check_interval', type: 'float', default: 30, min: 0, noEffect: true, description: 'Seconds between Scalyr\'s checks of the config files for changes. sluice watches the files instead (file system events, plus a look at the files every second in case an event is missed), so a change is applied within about a second.' }),
  s({ name: 'debug_level', type: 'int', live: true, default: 0, min: 0, max: 5, description: 'Verbosity of the agent log, 0 (normal) to 5 (most).' }),
  s({ name: 'stdout_severity', type: 'string', default: 'NOTSET', noEffect: true, description: 'Minimum severity Scalyr\'s agent also writes to standard output. sluice writes its log to standard error as well when it runs in the foreground (`start --foreground`), at the level `debug_level` gives.' }),
  s({ name: 'healthy_max_time_since_last_copy_attempt', type: 'float', live: true, default: 60, min: 0, description: 'Health check: seconds since the last upload attempt before the agent reports unhealthy.' }),
  s({ name: 'agent_status_timeout', type: 'float', live: true, default: 30, min: 0, description: 'Seconds `sluice status` waits for the running agent\'s answer (0: no limit).' }),
  s({ name: 'log_rotation_max_bytes', type: 'int', default: 20971520, min: 0, description: 'Size in bytes at which the agent\'s own log (`agent.log`) rotates; 0 never rotates. Read at start.' }),
  s({ name: 'log_rotation_backup_count', type: 'int', default: 2, min: 0, description: 'Rotated copies of `agent.log` kept (`agent1.log`, …); 0 never rotates. Read at start.' }),
  s({ name: 'enforce_monotonic_timestamps', type: 'bool', default: false, noEffect: true, description: 'Scalyr\'s switch to force strictly increasing event times. sluice sends each event with its own time (the time it was read for plain lines, the parsed time for json/cri lines), as read; nothing changes them.' }),
  s({ name: 'json_library', type: 'string', default: 'auto', noEffect: true, description: 'Scalyr\'s choice of Python JSON library. Ignored.' }),
  s({ name: 'default_sessions_per_worker', type: 'int', default: 1, min: 1, noEffect: true, description: 'Scalyr multi-session uploads. Ignored.' }),
  s({ name: 'use_multiprocess_workers', type: 'bool', default: false, noEffect: true, description: 'Scalyr multi-process uploads. Ignored.' }),
];

/**
 * A schema of the agent's own options only: enough for what must merely find the agent (its
 * data and log directories: `sluice status`, `stop`, `tap`…) without loading every component.
 * The components' options are left to the agent itself (start, reload) and `sluice validate`.
 */
export function agentOnlySchema(): ConfigSchema {
  return schemaFrom({ agent: AGENT_OPTIONS, logEntry: [], monitorEntry: [] }, []);
}
