/**
 * Tap points: named places in the pipeline (`logs[0]:source`, `logs[0]:redact`, `sink`…) where
 * `sluice tap` can watch batches go by. A tap point costs one Map lookup per batch when nobody
 * is watching; events are copied out (as JSON-ready records) only for active watchers.
 */
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { Batch } from '../types.js';

export interface TapRecord {
  component: string;
  logfile: string;
  attrs: Record<string, unknown>;
  message: string;
  ts?: string;
}

type Listener = (records: TapRecord[]) => void;

export class Taps {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly any = new Set<Listener>();
  readonly points = new Set<string>();

  /**
   * An identity operator that reports batches passing `component`. `present` rewrites what the
   * watcher sees (points before the redaction stage pass the entry's redaction here, so a tap
   * never shows text that would not be uploaded).
   */
  point(component: string, present?: (batch: Batch) => Batch): MonoTypeOperatorFunction<Batch> {
    this.points.add(component);
    return (source) =>
      new Observable<Batch>((subscriber) =>
        source.subscribe({
          next: (batch) => {
            if (this.any.size > 0 || this.listeners.has(component)) this.emit(component, present ? present(batch) : batch);
            subscriber.next(batch);
          },
          error: (e) => subscriber.error(e),
          complete: () => subscriber.complete(),
        }),
      );
  }

  /** Reports a batch at `component` (for places that are not operator chains, e.g. the sink). */
  observe(component: string, batch: Batch): void {
    if (this.any.size > 0 || this.listeners.has(component)) this.emit(component, batch);
  }

  /** Watches one component (or every component when `component` is undefined). Returns an unsubscribe function. */
  watch(component: string | undefined, listener: Listener): () => void {
    if (component === undefined) {
      this.any.add(listener);
      return () => this.any.delete(listener);
    }
    let set = this.listeners.get(component);
    if (!set) this.listeners.set(component, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0) this.listeners.delete(component);
    };
  }

  get active(): boolean {
    return this.any.size > 0 || this.listeners.size > 0;
  }

  private emit(component: string, batch: Batch): void {
    const records: TapRecord[] = batch.events.map((ev) => ({
      component,
      logfile: batch.stream.path,
      attrs: ev.attrs ? { ...batch.stream.attrs, ...ev.attrs } : { ...batch.stream.attrs },
      message: typeof ev.message === 'string' ? ev.message : ev.message.toString('utf8'),
      ts: ev.ts?.toString(),
    }));
    if (records.length === 0) return;
    for (const l of this.any) safeCall(l, records);
    const set = this.listeners.get(component);
    if (set) for (const l of set) safeCall(l, records);
  }
}

function safeCall(l: Listener, records: TapRecord[]): void {
  try {
    l(records);
  } catch {
    /* a broken watcher never affects the pipeline */
  }
}
