/**
 * The records that move through sluice's pipeline, and the contracts every component keeps.
 *
 * The hot path moves {@link Batch}es: one batch holds consecutive events of one {@link Stream}
 * (one file incarnation, one monitor, the APM intake). Operators map a batch to a batch; sinks
 * upload them and, once an upload that carried events succeeded, call {@link Stream.ack} with
 * the stream offset that is now safe. Checkpoints and read credits advance only from acks.
 */
import type { TelemetryRecord } from './telemetry.js';

/** One event: a log line or group, a metric line, an aggregated APM record. */
export interface Event {
  /**
   * The message. A `Buffer` holds the raw bytes as read (often a view into the read chunk:
   * never mutate it); a `string` once an operator had to decode it (sampling, redaction, parsing).
   */
  message: Buffer | string;
  /** Stream offset just after the last byte this event consumed (Scalyr's `sn`). */
  end: number;
  /** Event time in nanoseconds since the epoch, when the data carried one (json, cri, monitors). */
  ts?: bigint;
  /** Attributes of this event alone (`sample_rate`, parsed json fields, metric fields…). */
  attrs?: Record<string, unknown>;
  /**
   * The Buffer `message` decoded, left by a built-in operator for the next one so a line is
   * decoded once for all of them (`eventText` in lib/message.ts). Valid only while
   * `textOf === message`; never set on events that reach a sink. Plugins may ignore both fields.
   */
  text?: string;
  textOf?: Buffer;
  /**
   * The event's structure, when its producer knows it (a metric sample, a span, an OTLP log
   * record; lib/telemetry.ts), for sinks that export more than text (OTLP). Operators keep it;
   * addEvents and the embedded sink ignore it.
   */
  record?: TelemetryRecord;
}

/** Where a batch came from. One object per file incarnation (path + device + inode), per monitor… */
export interface Stream {
  /** Unique and stable for the life of the stream, e.g. `file:/var/log/a.log#2049:1234`. */
  id: string;
  /**
   * What kind of producer this is: `log` (a file, a log record), `metric` (a monitor), `apm`
   * (Scout's per-minute aggregates), `trace` (spans). A sink that declares `accepts` gets only
   * the kinds it lists.
   */
  kind: 'log' | 'metric' | 'apm' | 'trace' | string;
  /** The path shown to the user and used as the `logfile` attribute (after `rename_logfile`). */
  path: string;
  /** Attributes shared by every event of the stream (`parser`, `logfile`, the entry's attributes). */
  attrs: Record<string, string>;
  /** Sequence id for the server's de-duplication (`si`); `end` offsets are its sequence numbers. */
  seqId?: string;
  /**
   * Called by a sink, in order, when everything of this stream up to `end` was delivered (or
   * dropped with a counted reason). The source checkpoints it and releases the read credits.
   */
  ack(end: number): void;
}

/** Consecutive events of one stream. */
export interface Batch {
  stream: Stream;
  events: Event[];
  /**
   * Offset after the last byte of the stream this batch accounts for. It can be past the last
   * event's `end` (lines dropped by sampling), and a batch may hold no events at all: the sink
   * must still ack `end` once every earlier event of the stream is delivered.
   *
   * Invariant kept by every operator: `end` never passes bytes an operator still holds (a line
   * group waiting for its continuation, a partial line). Holding data means emitting a smaller
   * `end`; otherwise a checkpoint could skip data that was never delivered.
   */
  end: number;
  /**
   * The source knows more bytes of this stream follow right after this batch (it stopped reading
   * for the page size or for read credits, not at the end of the file). An operator waiting for a
   * continuation (a line group) does not time out while this holds: the rest is in the file.
   */
  more?: boolean;
}

/** The counters every component keeps (Vector's component contract). */
export interface ComponentCounters {
  /** Events (and bytes) that came in. */
  receivedEvents: number;
  receivedBytes: number;
  /** Events (and bytes) passed on / delivered. */
  sentEvents: number;
  sentBytes: number;
  /** Events dropped, by reason (`sampling`, `discardBuffer`, `parse_error`…). Never silent. */
  dropped: Record<string, number>;
  /** Errors caught at the component's boundary. */
  errors: number;
  /** The last error, for status (never contains secrets). */
  lastError?: { time: number; message: string };
}

/** Start/stop lifecycle (OpenTelemetry Collector style). */
export interface Lifecycle {
  /** Quick; may start background work. Calling it twice is harmless. */
  start?(): void | Promise<void>;
  /**
   * Idempotent, bounded in time by `deadlineMs`: stops intake, drains what it can, releases
   * every handle (files, sockets, timers). Never rejects.
   */
  stop(deadlineMs?: number): Promise<void>;
}

/** A logger handed to components (winston underneath, or a silent one in tests). */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

/** A log/metric/apm sink: consumes batches, uploads them, acks streams. */
export interface Sink extends Lifecycle {
  readonly id: string;
  readonly counters: ComponentCounters;
  /**
   * Takes ownership of a batch. Never throws; bad data is counted, not thrown. Once a sink
   * acknowledges a stream up to an offset, it must not read the message Buffers of the events
   * before it any more (copy what is kept): their read pages are reused.
   */
  write(batch: Batch): void;
  /** Resolves when everything written so far was delivered, or `deadlineMs` passed. */
  flush(deadlineMs?: number): Promise<void>;
  /** Sink-specific status (last response, pending bytes…), JSON-serialisable. */
  status(): Record<string, unknown>;
  /**
   * Hands back batches accepted but not yet acknowledged, and stops accepting new ones; used
   * when a sink is replaced by a reload so queued events move to the new sink. Optional.
   */
  takePending?(): Batch[];
  /**
   * Drops queued batches of the streams `superseded` selects that no request has taken yet, and
   * returns how many events went. Called when a log entry restarted (a reload), for the streams
   * its successor found again in the checkpoint and reads again from there: without it, every
   * restart during an outage would queue another read budget's worth of the same lines. Only
   * called once those streams' sources stopped (their acks are ignored), so nothing is lost.
   * Optional.
   */
  discard?(superseded: (stream: Stream) => boolean): number;
}
