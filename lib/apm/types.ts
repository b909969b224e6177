/**
 * Shapes shared by the APM intake (`sources/spanSocket`), the aggregation operator
 * (`operators/aggregateSpans.ts`) and the APM outputs (`sinks/checkin/toBatches.ts`, `sinks/checkin`).
 *
 * Times are milliseconds since the epoch as floats (microsecond precision survives: 2^53 ms
 * leaves ~0.1 µs of resolution in this century).
 */

/** A finished span inside a {@link CompletedRequest}. */
export interface CompletedSpan {
  id: string;
  /** Parent span id, `undefined` for roots (or when the parent never arrived). */
  parentId?: string;
  /** Operation as the client sent it (`Controller/GET /users/:id`, `SQL/Query`…). */
  operation: string;
  start: number;
  stop: number;
  /** True when the span was still open at FinishRequest and was closed at the request's stop. */
  autoClosed?: boolean;
  tags: Record<string, unknown>;
}

/** One request tree assembled at FinishRequest (children-before-parents and late tags tolerated). */
export interface CompletedRequest {
  type: 'request';
  requestId: string;
  /** Org key and app name from the Register of the connection that started the request. */
  appKey: string;
  appName: string;
  start: number;
  stop: number;
  /** Wall-clock receive time of FinishRequest (ms). */
  receivedAt: number;
  tags: Record<string, unknown>;
  /** Spans in arrival order of their StartSpan. */
  spans: CompletedSpan[];
  /** Spans refused because the request hit the span cap. */
  droppedSpans?: number;
}

/** An ApplicationEvent (`scout.metadata`, `CPU/Utilization`, `Memory/Physical`, others). */
export interface AppEvent {
  type: 'app_event';
  appKey: string;
  appName: string;
  eventType: string;
  value: unknown;
  source: string;
  timestamp: number;
  receivedAt: number;
}

export type ApmItem = CompletedRequest | AppEvent;

/** Call statistics of one metric in one minute (seconds, floats). */
export interface MetricStats {
  callCount: number;
  totalCallTime: number;
  totalExclusiveTime: number;
  minCallTime: number;
  maxCallTime: number;
}

/** An endpoint (web `Controller/…` or background `Job/…`) in one minute. */
export interface EndpointMetric extends MetricStats {
  name: string;
  kind: 'web' | 'job';
  /** Job queue (`queue` request tag, `default` when absent); web endpoints have none. */
  queue?: string;
  errors: number;
  /** Approximate histogram of total time: `[value_seconds, count]`, ≤ 50 bins. */
  histogram: [number, number][];
  /** Histogram of exclusive time (jobs). */
  exclusiveHistogram: [number, number][];
  /** Child metrics scoped to this endpoint, by span type (`SQL/all`, `HTTP/all`, `Custom/all`). */
  children: Record<string, MetricStats>;
  /** `QueueTime/Request` (web) or job latency scoped to this endpoint, when tagged. */
  queueTime?: MetricStats;
}

/** DB query metric per (model, operation, endpoint scope). */
export interface DbQueryMetric extends MetricStats {
  model: string;
  operation: string;
  scope: string;
  transactionCount: number;
  histogram: [number, number][];
}

/** A slow trace kept for the minute (≤ 10 a minute, ≤ 1 per endpoint). */
export interface SlowTrace {
  requestId: string;
  endpoint: string;
  kind: 'web' | 'job';
  score: number;
  start: number;
  stop: number;
  totalCallTime: number;
  uri?: string;
  tags: Record<string, unknown>;
  spans: TraceSpan[];
  truncated: boolean;
}

export interface TraceSpan {
  id: string;
  parentId?: string;
  operation: string;
  start: number;
  stop: number;
  tags: Record<string, unknown>;
}

/** Everything of one (app key, app name) for one wall-clock minute. */
export interface ApmMinute {
  /** Start of the minute, ms since epoch (UTC, truncated). */
  minute: number;
  /** Minute length used (60 000 in production). */
  minuteMs: number;
  appKey: string;
  appName: string;
  endpoints: EndpointMetric[];
  /** `Errors/Request` total and other unscoped aggregates. */
  errorsTotal: number;
  /** `CPU/Utilization`, `Memory/Physical` (one call per sample). */
  samplers: Record<string, MetricStats>;
  dbQueries: DbQueryMetric[];
  traces: SlowTrace[];
  /** Latest `scout.metadata` value received in the minute, with its source. */
  metadata?: { source: string; value: unknown; timestamp: number };
  /** Requests aggregated in the minute. */
  requests: number;
}
