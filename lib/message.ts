import type { Event } from './types.js';

/**
 * An event message as text, and back: the one rule for operators that decode messages to run
 * regexes on them (grouping, sampling, redaction).
 *
 * - `eventText` decodes a Buffer as UTF-8 with replacement characters (Python's
 *   `errors="replace"`, which Scalyr uses); a string is returned as it is. An operator followed by
 *   another that decodes (the entry chain tells it: `keepText`) leaves the text on the events it
 *   passes on (`textEvent`, `keepText`), so a line is decoded once for grouping, sampling and
 *   redaction; the last decoding stage leaves it off.
 * - `keptMessage(raw, text)`: the message to pass on when the text was not changed. The original
 *   Buffer when its bytes were valid UTF-8 (no U+FFFD after decoding: re-encoding would give the
 *   same bytes, so pending lines are held once, not as bytes plus a string); the decoded text
 *   otherwise, so invalid bytes leave as replacement characters.
 */
/**
 * The decoded message of an event: the text an earlier operator left on it (`text`, valid only
 * while `textOf` is still its message, so an operator that replaced the message, even on a copy
 * made with `{ ...ev }`, is never answered with a stale text), else the Buffer decoded now.
 */
export function eventText(ev: Event): string {
  const m = ev.message;
  if (typeof m === 'string') return m;
  return ev.textOf === m ? (ev.text as string) : m.toString('utf8');
}

/** The event `{ message, end }`, carrying `text` (its message decoded) when `keep` and the message is a Buffer. */
export function textEvent(message: Buffer | string, end: number, text: string, keep: boolean): Event {
  return keep && typeof message !== 'string' ? { message, end, text, textOf: message } : { message, end };
}

/** The option of the operators that decode messages (groupLines, sample, redact). */
export interface KeepTextOption {
  /**
   * Leave the decoded text on the events passed on (`Event.text`), for a later operator that
   * decodes them too (set by the entry chain; the last decoding stage leaves it off, so events
   * waiting in a sink never hold their text).
   */
  keepText?: boolean;
}

/** Leaves `text` on an event passed on as it is (its message is a Buffer decoded as `text`). */
export function keepText(ev: Event, text: string): void {
  if (typeof ev.message !== 'string' && ev.textOf !== ev.message) {
    ev.text = text;
    ev.textOf = ev.message;
  }
}

export function keptMessage(raw: Buffer | string, text: string): Buffer | string {
  return typeof raw === 'string' || text.includes('\ufffd') ? text : raw;
}
