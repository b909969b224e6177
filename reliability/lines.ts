/**
 * The content the writer puts in the files, derived only from `(tag, seq)` so the judge can
 * re-create every expected event byte for byte without keeping what was written.
 *
 * - Every event starts with its id `<tag>:<seq> ` (tag = the file's short name, seq counts from 0
 *   per file across all its rotations).
 * - Most events are one line; every {@link GROUP_EVERY}th is a stack-trace group: a first line and
 *   1–5 continuation lines `\tat frame<k>(<tag>:<seq>)` that the config's lineGrouper
 *   (`start: "^\\S"`, `continueThrough: "^\\s+at "`) keeps together as ONE event.
 * - Payload lengths vary with seq (10–210 bytes) so batches and requests cut lines at many places.
 */

export const GROUP_EVERY = 23;

/** The lineGroupers entry that keeps the writer's groups whole. */
export const LINE_GROUPERS = [{ start: '^\\S', continueThrough: '^\\s+at ' }];

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+';

function payload(seq: number, len: number): string {
  let out = '';
  let x = (seq * 2654435761) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out += ALPHA[x >>> 26];
  }
  return out;
}

/** True when event `seq` is a multi-line group. */
export function isGroup(seq: number): boolean {
  return seq % GROUP_EVERY === GROUP_EVERY - 1;
}

/** The exact bytes of event `(tag, seq)`, trailing newline included. */
export function eventText(tag: string, seq: number): string {
  const id = `${tag}:${seq}`;
  const len = 10 + ((seq * 7919) % 201);
  if (!isGroup(seq)) return `${id} INFO ${payload(seq, len)}\n`;
  const frames = 1 + (seq % 5);
  let s = `${id} ERROR java.lang.IllegalStateException: ${payload(seq, 20)}\n`;
  for (let k = 0; k < frames; k++) s += `\tat com.example.Frame${k}.run(${id})\n`;
  return s;
}

/** Parses the id at the start of a message; undefined when the message carries none. */
export function parseId(message: Buffer): { tag: string; seq: number } | undefined {
  const sp = message.indexOf(0x20);
  if (sp <= 0 || sp > 64) return undefined;
  const head = message.subarray(0, sp).toString('latin1');
  const m = /^([A-Za-z0-9_]+):(\d+)$/.exec(head);
  if (!m) return undefined;
  return { tag: m[1], seq: Number(m[2]) };
}
