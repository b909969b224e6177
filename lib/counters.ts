import type { ComponentCounters } from './types.js';

/** Fresh zeroed counters for a component. */
export function createCounters(): ComponentCounters {
  return { receivedEvents: 0, receivedBytes: 0, sentEvents: 0, sentBytes: 0, dropped: {}, errors: 0 };
}

/** Count `n` dropped events under `reason`. */
export function countDrop(c: ComponentCounters, reason: string, n = 1): void {
  c.dropped[reason] = (c.dropped[reason] ?? 0) + n;
}

/** Count an error caught at a component's boundary and remember it for status. */
export function countError(c: ComponentCounters, err: unknown): void {
  c.errors++;
  c.lastError = { time: Date.now(), message: errorMessage(err) };
}

/** A one-line message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Byte size of an event message without copying it. */
export function messageBytes(message: Buffer | string): number {
  return typeof message === 'string' ? Buffer.byteLength(message) : message.length;
}
