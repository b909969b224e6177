/**
 * An event message as text, and back: the one rule for operators that decode messages to run
 * regexes on them (sampling, redaction).
 *
 * - `messageText` decodes a Buffer as UTF-8 with replacement characters (Python's
 *   `errors="replace"`, which Scalyr uses); a string is returned as it is.
 * - `keptMessage(raw, text)`: the message to pass on when the text was not changed. The original
 *   Buffer when its bytes were valid UTF-8 (no U+FFFD after decoding: re-encoding would give the
 *   same bytes, so pending lines are held once, not as bytes plus a string); the decoded text
 *   otherwise, so invalid bytes leave as replacement characters.
 */
export function messageText(m: Buffer | string): string {
  return typeof m === 'string' ? m : m.toString('utf8');
}

export function keptMessage(raw: Buffer | string, text: string): Buffer | string {
  return typeof raw === 'string' || text.includes('\ufffd') ? text : raw;
}
