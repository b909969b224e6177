/**
 * Content fingerprints that guard file identity (dev + inode) against inode reuse: a hash of the
 * first up to 256 bytes, stored as `<len>:<sha1 hex>`. A fingerprint taken while the file was
 * shorter covers only the bytes that existed; it still matches once the file grows.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';

/** How many leading bytes identify a file. */
export const FINGERPRINT_BYTES = 256;

/** `<len>:<sha1>` of `head` (at most FINGERPRINT_BYTES bytes). */
export function fingerprintOf(head: Buffer): string {
  return `${head.length}:${createHash('sha1').update(head).digest('hex')}`;
}

/** Reads up to `len` leading bytes through an open handle. */
export async function readHead(fh: fsp.FileHandle, len = FINGERPRINT_BYTES): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, 0);
  return buf.subarray(0, bytesRead);
}

/**
 * True when the file behind `fh` starts with the bytes `fingerprint` was taken from. A missing
 * fingerprint matches anything (checkpoints from older versions or from Scalyr).
 */
export async function fingerprintMatches(fh: fsp.FileHandle, fingerprint: string | undefined): Promise<boolean> {
  if (!fingerprint) return true;
  const len = Number(fingerprint.slice(0, fingerprint.indexOf(':')));
  if (!Number.isInteger(len) || len < 0 || len > FINGERPRINT_BYTES) return true;
  if (len === 0) return true;
  const head = await readHead(fh, len);
  return head.length === len && fingerprintOf(head) === fingerprint;
}

/** True when the two files start with the same bytes (over the shorter of their first FINGERPRINT_BYTES). */
export async function sameHead(a: fsp.FileHandle, b: fsp.FileHandle): Promise<boolean> {
  const [ha, hb] = await Promise.all([readHead(a), readHead(b)]);
  const n = Math.min(ha.length, hb.length);
  return ha.subarray(0, n).equals(hb.subarray(0, n));
}
