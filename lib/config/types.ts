/**
 * The validated, fully defaulted configuration. Field names are those of Scalyr's agent.json so
 * existing files work unchanged; `lib/config/` turns files into this shape (see its schema for
 * every option, default and description).
 */

export interface LineGrouperConfig {
  start: string;
  continueThrough?: string;
  continuePast?: string;
  haltBefore?: string;
  haltWith?: string;
}

export interface SamplingRuleConfig {
  match_expression: string;
  sampling_rate: number;
}

export interface RedactionRuleConfig {
  match_expression: string;
  replacement: string;
  hash_salt: string;
}

export interface LogEntryConfig {
  /** Absolute path or glob (relative paths are joined to `agent_log_path`). */
  path: string;
  attributes: Record<string, string>;
  exclude: string[];
  lineGroupers: LineGrouperConfig[];
  sampling_rules: SamplingRuleConfig[];
  redaction_rules: RedactionRuleConfig[];
  copy_from_start: boolean;
  rename_logfile?: string | { match: string; replacement: string };
  parse_format: 'raw' | 'json' | 'cri' | string;
  json_message_field: string;
  json_timestamp_field: string;
  ignore_stale_files: boolean;
  staleness_threshold_secs: number;
  /** Set for entries the agent adds itself (its own log). */
  implicit?: boolean;
  /** The sinks it goes to (default: all). */
  sinks?: string[];
  /** Anything else the entry carried (kept for plugins). */
  [extra: string]: unknown;
}

export interface MonitorConfig {
  /** Full module name as in Scalyr (`scalyr_agent.builtin_monitors.shell_monitor`), a short name, or a plugin path. */
  module: string;
  id?: string;
  sample_interval?: number;
  /** Set for monitors the agent adds itself (`implicit_metric_monitor`, `implicit_agent_process_metrics_monitor`). */
  implicit?: boolean;
  /** The sinks it goes to (default: all). */
  sinks?: string[];
  [option: string]: unknown;
}

export interface ApmConfig {
  enabled: boolean;
  socket_path: string;
  tcp?: string;
  ingest_url?: string;
  key?: string;
  /** Application name used when a language agent sends none. */
  name?: string;
  max_frame_bytes: number;
  request_timeout_secs: number;
  [option: string]: unknown;
}

export interface AgentConfig {
  api_key: string;
  scalyr_server: string;
  server_attributes: Record<string, string>;
  logs: LogEntryConfig[];
  monitors: MonitorConfig[];
  implicit_metric_monitor: boolean;
  implicit_agent_process_metrics_monitor: boolean;
  implicit_agent_log_collection: boolean;
  agent_data_path: string;
  agent_log_path: string;
  compression_type: 'deflate' | 'none' | string;
  compression_level: number;
  https_proxy?: string;
  http_proxy?: string;
  ca_cert_path?: string;
  verify_server_certificate: boolean;
  allow_http: boolean;
  max_line_size: number;
  line_completion_wait_time: number;
  read_page_size: number;
  max_allowed_request_size: number;
  request_deadline: number;
  debug_level: number;
  log_rotation_max_bytes: number;
  log_rotation_backup_count: number;
  config_directory: string;
  global_monitor_sample_interval: number;
  global_monitor_sample_interval_enable_jitter: boolean;
  log_deletion_delay: number;
  max_new_log_detection_time: number;
  max_allowed_checkpoint_age: number;
  /** Byte budget between reading and acknowledgement (sluice option). */
  max_pending_bytes: number;
  /** APM intake (sluice option; the `core-agent` command builds one from its flags). */
  apm?: ApmConfig;
  /** Optional HTTP endpoint for /health and /metrics (sluice option). */
  http_endpoint?: { enabled: boolean; host: string; port: number };
  /** Where the embedded default sink writes (sluice option). */
  embedded_output?: string;
  /** A registered sink type to use instead of addEvents/embedded (sluice option). */
  sink?: { type: string; [option: string]: unknown };
  /** Named sinks, each `{type, ...options}` (sluice option; absent: one sink named `default`). */
  sinks?: Record<string, { type: string; [option: string]: unknown }>;
  /** OTLP/HTTP receiver (sluice option). */
  otlp_receiver?: Record<string, unknown>;
  /** Tuning of the addEvents upload (sluice option). */
  upload?: Record<string, unknown>;
  /** Plugin modules to load (sluice option). */
  plugins: string[];
  /** Config unit tests (`sluice test`). */
  tests?: unknown[];
  /** True when no `api_key` is set: the embedded default sink receives the events (set by the loader). */
  embedded_default?: boolean;
  /** Parsed `max_send_rate_enforcement` rate in bytes/s, or null for `unlimited`/`legacy` (set by the loader). */
  max_send_rate_bytes_per_second?: number | null;
  /** Jump to the end of files more than `max_log_offset_size` behind, as Scalyr does (sluice option, default false). */
  skip_too_far_behind?: boolean;
  /** Drop pending data after this many seconds without a successful upload; 0 = never (sluice option). */
  max_no_success_secs?: number;
  [extra: string]: unknown;
}
