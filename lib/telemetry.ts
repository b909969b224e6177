/**
 * Structured forms of events, for sinks that need more than the text and its attributes (the
 * OTLP exporter). A producer that knows the structure of what it emits (a monitor's metric
 * sample, an assembled Scout request, what the OTLP receiver decoded) sets `Event.record`
 * beside the message; sinks that have no use for it (addEvents, the embedded sink) ignore it.
 *
 * A log line read from a file has no record: its message is the body, its stream's and its own
 * attributes are the attributes.
 */

/** A value as OTLP's AnyValue carries it (nested arrays and maps allowed; bytes as Buffers). */
export type AttrValue = string | number | boolean | bigint | Buffer | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

/** Where a record came from, when its producer knows (OTLP's Resource and InstrumentationScope). */
export interface RecordOrigin {
  resource?: Attributes;
  scope?: { name: string; version?: string; attributes?: Attributes };
}

/** One metric sample (a monitor's, or a data point the OTLP receiver took in). */
export interface MetricRecord extends RecordOrigin {
  kind: 'metric';
  /** Metric name (`proc.stat.cpu`, `http.server.duration`…). */
  name: string;
  /** Numbers go out as OTLP doubles (integers as ints); strings and booleans as attributes of a gauge of 1. */
  value: number | string | boolean;
  /** The sample's `k=v` fields (Scalyr) or data point attributes (OTLP). */
  fields?: Record<string, string | number | boolean>;
  /** A cumulative, monotonic counter (an OTLP Sum); otherwise a gauge. */
  monotonic?: boolean;
  unit?: string;
  description?: string;
  /** The monitor that produced it (`linux_system_metrics`…). */
  monitor?: string;
  /** Start of a cumulative sum's period, ns since the epoch. */
  startNs?: bigint;
}

/** OTLP's Status.code: 0 unset, 1 ok, 2 error. */
export type SpanStatusCode = 0 | 1 | 2;

/** One finished span. Ids are lowercase hex (32 digits for a trace, 16 for a span). */
export interface SpanRecord extends RecordOrigin {
  kind: 'span';
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  spanKind?: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Attributes;
  status?: { code: SpanStatusCode; message?: string };
  events?: { name: string; timeNs: bigint; attributes?: Attributes }[];
  links?: { traceId: string; spanId: string; attributes?: Attributes }[];
  traceState?: string;
}

/** A log record the OTLP receiver took in (a file's lines have none). */
export interface LogRecord extends RecordOrigin {
  kind: 'log';
  /** OTLP SeverityNumber (1–24) and text. */
  severityNumber?: number;
  severityText?: string;
  attributes?: Attributes;
  /** A body that is not a string (a map, an array…); a string body is the event's message. */
  body?: AttrValue;
  traceId?: string;
  spanId?: string;
  observedNs?: bigint;
}

export type TelemetryRecord = MetricRecord | SpanRecord | LogRecord;
