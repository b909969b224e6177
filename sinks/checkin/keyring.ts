/**
 * Keeps Scout org keys out of event attributes: APM events carry `scout_key_id` (a short,
 * non-reversible SHA-256 prefix) and the check-in sink resolves it to the real key through the
 * keyring shared with the batcher. One keyring per agent (a value, never a global).
 */
import { createHash } from 'node:crypto';

export class ScoutKeyring {
  private readonly keys = new Map<string, string>();

  /** Remembers `key` and returns its id. */
  add(key: string): string {
    const id = keyId(key);
    if (!this.keys.has(id)) this.keys.set(id, key);
    return id;
  }

  get(id: string): string | undefined {
    return this.keys.get(id);
  }
}

export function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}
