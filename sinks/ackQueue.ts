/**
 * The FIFO of batches a request-sending sink (addEvents, otlp) holds until they are delivered,
 * and their acknowledgements (design: docs/design/delivery.md).
 *
 * Promises:
 * - Batches get consecutive sequence numbers in the order they are pushed; only the batches not
 *   yet acknowledged are held, `entries[i]` being the one with sequence number `baseSeq + i`.
 * - {@link AckQueue.settle} acknowledges everything before a position (batch sequence number,
 *   event index): each earlier batch up to its `end`, the batch at the position up to the end of
 *   its event before it. The sink passes the start of its first unfinished request, so a stream
 *   is acknowledged only once every earlier request carrying it is finished (at-least-once).
 *   A stream's acks never repeat the offset just acked; an ack that throws is counted and
 *   logged, never thrown on.
 * - {@link AckQueue.flushed} resolves once everything pushed before the call is acknowledged, or
 *   at the deadline; {@link AckQueue.stopOnce} runs a sink's stop (flush, then shut down) once,
 *   never rejects, and says what was left unacknowledged.
 * - Nothing here walks events: pushing is O(1), settling O(batches acknowledged).
 */
import { FlushWaiters } from '../lib/flushWaiters.js';
import type { Batch, ComponentCounters, Logger, Stream } from '../lib/types.js';
import { countError, errorMessage } from '../lib/counters.js';

/** What the queue holds per batch; sinks add their own fields. */
export interface Queued {
  batch: Batch;
  /** Message bytes of its events (the read budget they hold). */
  bytes: number;
  /** When it was written (ms), for the linger. */
  arrived: number;
}

/** A place in the queue: batch sequence number, event index in that batch. */
export interface QueuePos {
  b: number;
  e: number;
}

/** Who the queue speaks for in logs and counters. */
export interface QueueOwner {
  /** The sink type, as log lines start (`addEvents`, `otlp`). */
  name: string;
  id: string;
  counters: ComponentCounters;
  logger: Logger;
  /** Hides secrets in text shown to people. */
  redact(s: string): string;
}

export class AckQueue<E extends Queued> {
  /** The unacknowledged batches, oldest first: `entries[i]` has sequence number `baseSeq + i`. */
  readonly entries: E[] = [];
  private base = 0;
  private next = 0;
  private pending = 0;
  private readonly lastAck = new WeakMap<Stream, number>();
  private readonly flushes = new FlushWaiters();
  private stopping?: Promise<void>;

  constructor(private readonly owner: QueueOwner) {}

  /** Sequence number of the oldest unacknowledged batch. */
  get baseSeq(): number {
    return this.base;
  }

  /** Sequence number the next batch pushed gets. */
  get nextSeq(): number {
    return this.next;
  }

  /** Message bytes of the batches held. */
  get pendingBytes(): number {
    return this.pending;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Whether a flush (or a stop) is waiting: requests then go out without lingering. */
  get flushing(): boolean {
    return this.flushes.active;
  }

  /** Appends a batch; returns its sequence number. */
  push(en: E): number {
    this.entries.push(en);
    this.pending += en.bytes;
    return this.next++;
  }

  /** The entry with sequence number `seq`, if still held. */
  at(seq: number): E | undefined {
    return this.entries[seq - this.base];
  }

  /** The batch with sequence number `seq`, if still held (request.ts's `QueueView`). */
  batch(seq: number): Batch | undefined {
    return this.entries[seq - this.base]?.batch;
  }

  /**
   * Empties a held entry (a reload superseded its stream): its events and bytes go, its place
   * (sequence number, `end`) stays, so it is acknowledged in turn. Returns the events removed.
   */
  hollow(en: E): number {
    const n = en.batch.events.length;
    this.pending -= en.bytes;
    en.bytes = 0;
    en.batch = { stream: en.batch.stream, events: [], end: en.batch.end };
    return n;
  }

  /** Acknowledges everything before `p` (see the promises above) and ends the flushes it completes. */
  settle(p: QueuePos): void {
    while (this.entries.length > 0 && this.base < p.b) {
      const en = this.entries.shift()!;
      this.base++;
      this.pending -= en.bytes;
      this.ack(en.batch.stream, en.batch.end);
    }
    const head = this.entries[0];
    if (head && this.base === p.b && p.e > 0) this.ack(head.batch.stream, head.batch.events[p.e - 1].end);
    this.flushes.settled(this.base);
  }

  /**
   * Hands back every batch from `p` on (the batch at `p` without its events before it) and
   * empties the queue: for the sink that replaces this one on reload.
   */
  takeFrom(p: QueuePos): Batch[] {
    const out: Batch[] = [];
    for (let i = 0; i < this.entries.length; i++) {
      const seq = this.base + i;
      const en = this.entries[i];
      if (seq < p.b) continue;
      if (seq === p.b && p.e > 0) out.push({ stream: en.batch.stream, events: en.batch.events.slice(p.e), end: en.batch.end });
      else out.push(en.batch);
    }
    this.entries.length = 0;
    this.pending = 0;
    return out;
  }

  /** Resolves when everything pushed so far is acknowledged, or after `deadlineMs`. */
  flushed(deadlineMs?: number): Promise<void> {
    return this.flushes.wait(this.next - 1, deadlineMs);
  }

  /**
   * The sink's stop, run once (later calls get the same promise): `flush`, then `shutdown`
   * whatever the flush did; a warning when batches are left (they are read again next time).
   */
  stopOnce(flush: () => Promise<void>, shutdown: () => void): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await flush();
      } catch {
        /* never rejects */
      }
      shutdown();
      if (this.entries.length > 0) {
        this.owner.logger.warn(`${this.owner.name}: stopped with ${this.entries.length} batches (${this.pending} bytes) not acknowledged; they will be read again`, { sink: this.owner.id });
      }
    })();
    return this.stopping;
  }

  /** Ends every flush (the sink shut down). */
  finishFlushes(): void {
    this.flushes.finishAll();
  }

  private ack(stream: Stream, end: number): void {
    if (this.lastAck.get(stream) === end) return;
    this.lastAck.set(stream, end);
    try {
      stream.ack(end);
    } catch (err) {
      countError(this.owner.counters, err);
      this.owner.logger.error(`${this.owner.name}: ack of ${stream.id} threw: ${this.owner.redact(errorMessage(err))}`, { sink: this.owner.id });
    }
  }
}
