/**
 * Scout core-agent framing: every message is a 4-byte unsigned big-endian byte length followed
 * by that many bytes of UTF-8 JSON. {@link FrameDecoder} accumulates chunks and hands back whole
 * frames as Buffers (never decoding partial chunks, so multi-byte UTF-8 split across reads is
 * safe); a length over the limit is reported once and the decoder stops (the caller closes).
 */

export type DecodeResult =
  | { kind: 'frame'; body: Buffer }
  | { kind: 'too_large'; length: number };

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;
  /** Bytes needed before the next frame can complete. */
  private need = 4;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held that do not yet form a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Feeds a chunk; returns the frames completed by it (in order). */
  push(chunk: Buffer): DecodeResult[] {
    if (this.failed || chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    // Still waiting for a frame whose size is known: no copying until it is complete.
    if (this.buffered < this.need) return [];
    const out: DecodeResult[] = [];
    const buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    let off = 0;
    const len = buf.length;
    this.need = 4;
    while (len - off >= 4) {
      const n = buf.readUInt32BE(off);
      if (n > this.maxFrameBytes) {
        this.failed = true;
        out.push({ kind: 'too_large', length: n });
        this.chunks = [];
        this.buffered = 0;
        return out;
      }
      if (len - off - 4 < n) {
        this.need = 4 + n;
        break;
      }
      out.push({ kind: 'frame', body: buf.subarray(off + 4, off + 4 + n) });
      off += 4 + n;
    }
    if (off === len) {
      this.chunks = [];
      this.buffered = 0;
    } else {
      // Keep only the unconsumed tail (a copy when small, so the big chunk can be collected).
      const tail = buf.subarray(off);
      const rest = tail.length < 65536 ? Buffer.from(tail) : tail;
      this.chunks = [rest];
      this.buffered = rest.length;
    }
    return out;
  }
}

/** Encodes one message: length prefix and body in a single Buffer (one write). */
export function encodeFrame(json: string): Buffer {
  const n = Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(4 + n);
  out.writeUInt32BE(n, 0);
  out.write(json, 4, 'utf8');
  return out;
}
