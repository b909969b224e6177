/**
 * Slab allocation for the hot path's joined messages (grouped lines, a line spanning two read
 * chunks): bytes are copied into views of shared 256 KiB slabs instead of one small Buffer each.
 *
 * Why: messages die in the order they were read (the sink acknowledges in order), so a slab's
 * views die together and the whole slab is freed at once, as one mapping (large allocations are
 * mmapped), instead of leaving thousands of freed small blocks scattered through the C heap,
 * which the process keeps resident. Node's own Buffer pool does the same with 8 KiB slabs.
 *
 * Promises:
 * - `joinBuffers(parts, total)` returns a Buffer holding `parts` one after the other (exactly
 *   `Buffer.concat(parts, total)`'s bytes). When the parts already lie one after another in one
 *   ArrayBuffer (consecutive lines of one read page: most grouped lines), that is a view spanning
 *   them, nothing copied; it shares their memory, which nobody writes to. Otherwise the bytes are
 *   copied, into memory never shared with a live view handed out before (slabs are only
 *   appended to).
 * - Joins of 32 KiB or more get a Buffer of their own. A slab is never reused: once full it is
 *   only referenced by its views and goes when they do.
 */

const SLAB_SIZE = 256 * 1024;
const OWN_BUFFER_FROM = 32 * 1024;

let slab: Buffer | undefined;
let used = 0;

/** `Buffer.concat(parts, total)`: a view spanning adjacent parts, else a copy into a shared slab (see the file header). */
export function joinBuffers(parts: readonly Buffer[], total: number): Buffer {
  const span = spanning(parts, total);
  if (span) return span;
  if (total >= OWN_BUFFER_FROM) return Buffer.concat(parts as Buffer[], total);
  if (!slab || used + total > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    used = 0;
  }
  const out = slab.subarray(used, used + total);
  let at = 0;
  for (const p of parts) {
    if (at >= total) break;
    at += p.copy(out, at, 0, Math.min(p.length, total - at));
  }
  // Keep 8-byte alignment for the next view (cheap, and friendlier to typed-array readers).
  used += (total + 7) & ~7;
  if (at < total) out.fill(0, at); // as Buffer.concat does when the parts are shorter than total
  return out;
}

/** One view over `parts` when each starts where the one before it ends, in one ArrayBuffer, and they hold `total` bytes. */
function spanning(parts: readonly Buffer[], total: number): Buffer | undefined {
  const first = parts[0];
  if (!first || parts.length < 2) return undefined;
  let end = first.byteOffset + first.length;
  for (let k = 1; k < parts.length; k++) {
    const p = parts[k];
    if (p.buffer !== first.buffer || p.byteOffset !== end) return undefined;
    end += p.length;
  }
  if (end - first.byteOffset < total) return undefined; // shorter than total: zero-padded copy, as Buffer.concat does
  return Buffer.from(first.buffer, first.byteOffset, total);
}
