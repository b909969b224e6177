/**
 * The shapes of what `agent.status()` returns. They live here, below the agent, so the status
 * renderers (text, health, the HTTP endpoint) and the CLI read them without importing the agent.
 */
import type { ComponentCounters } from '../types.js';

export interface ConfigStatus {
  status: 'good' | 'bad';
  files: string[];
  errors: string[];
  warnings: string[];
  lastChecked: number | null;
  lastChanged: number | null;
  lastGood: number | null;
  /** Agent options changed since start that take effect only after a restart (absent before the first reload check). */
  needsRestart?: string[];
}

export interface SinkStatus {
  type: string;
  counters?: ComponentCounters;
  error?: string;
  /** Whether it runs, what it takes, batches parked for it, and the streams it holds back. */
  routing?: {
    running: boolean;
    accepts?: readonly string[];
    parkedBatches: number;
    holding: { stream: string; path: string; kind: string; behind: number; since: number }[];
    holdingStreams: number;
  };
  [field: string]: unknown;
}

export interface AgentStatus {
  version: string;
  pid: number;
  startedAt: number;
  now: number;
  user: string;
  serverHost: string;
  /** The sink type in use: `addEvents`, `embedded`, or a registered plugin sink. */
  mode: string;
  config: ConfigStatus;
  /** The first sink (the only one of a config without `sinks`). */
  sink: Record<string, unknown> & { counters?: ComponentCounters };
  /** Every sink by name (`default` without `sinks`): its status, counters, and the streams it holds back. */
  sinks?: Record<string, SinkStatus>;
  /** The read budgets by route (sink names), when there is more than one. */
  routes?: { sinks: readonly string[]; pendingBytes: number; totalBytes: number; waiting: boolean }[];
  logs: {
    key: string;
    path: string;
    files: unknown[];
    counters: ComponentCounters;
    stages?: Record<string, ComponentCounters>;
    redactions?: number;
    droppedBySampling?: { lines: number; bytes: number };
    error?: string;
  }[];
  monitors: { key: string; status: unknown; counters?: ComponentCounters; error?: string }[];
  /** Plugin sources (`sources[]`), present when there are any; `key` is `type(id)`. */
  sources?: { key: string; status?: unknown; counters?: ComponentCounters; error?: string }[];
  apm?: unknown;
  /** The OTLP receiver (present when `otlp_receiver` is configured). */
  otlpReceiver?: unknown;
  pendingBytes: number;
  creditsTotal: number;
  /** Seconds without a successful upload, while data waits, before the agent is unhealthy. */
  healthMaxSecs: number;
  /** The agent process's figures, added by the control socket (pidusage). */
  process?: { cpuPercent: number; rssBytes: number; uptimeSecs: number };
}
