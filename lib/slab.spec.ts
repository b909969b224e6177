import { joinBuffers } from './slab.js';

describe('joinBuffers', () => {
  it('gives the bytes of Buffer.concat, in views that never overlap earlier ones', () => {
    const made: { buf: Buffer; want: Buffer }[] = [];
    for (let i = 0; i < 3000; i++) {
      const parts = [Buffer.alloc(1 + (i % 300), i & 0xff), Buffer.from(`-${i}-`), Buffer.alloc(i % 7, 0x41)];
      const total = parts.reduce((n, p) => n + p.length, 0);
      const want = Buffer.concat(parts, total);
      const buf = joinBuffers(parts, total);
      expect(buf.equals(want)).toBe(true);
      made.push({ buf, want });
    }
    // Later joins did not write over earlier ones (several slabs were filled on the way).
    for (const { buf, want } of made) expect(buf.equals(want)).toBe(true);
    expect(new Set(made.map((m) => m.buf.buffer)).size).toBeGreaterThan(1);
  });

  it('pads with zeros when the parts are shorter than total, like Buffer.concat', () => {
    expect(joinBuffers([Buffer.from('ab')], 4)).toEqual(Buffer.concat([Buffer.from('ab')], 4));
  });

  it('gives a large join its own buffer', () => {
    const big = Buffer.alloc(40 * 1024, 1);
    const out = joinBuffers([big, Buffer.from('x')], big.length + 1);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBeGreaterThanOrEqual(big.length + 1);
    expect(out[out.length - 1]).toBe(0x78);
  });

  it('gives a view spanning parts that already lie one after another in one buffer (no copy)', () => {
    const page = Buffer.from('line one\n\tat a\n\tat b\nnext\n');
    const lines = [page.subarray(0, 9), page.subarray(9, 15), page.subarray(15, 21)];
    const joined = joinBuffers(lines, 21);
    expect(joined.toString()).toBe('line one\n\tat a\n\tat b\n');
    expect(joined.buffer).toBe(page.buffer);
    expect(joined.byteOffset).toBe(page.byteOffset);
    // A total below the parts' length (a cut group) is a shorter view of the same bytes.
    expect(joinBuffers(lines, 12)).toEqual(Buffer.concat(lines, 12));
    expect(joinBuffers(lines, 12).buffer).toBe(page.buffer);
  });

  it('copies parts that are not adjacent, or shorter than total', () => {
    const page = Buffer.from('aaaa|bbbb|cccc');
    const gap = [page.subarray(0, 4), page.subarray(5, 9)];
    const out = joinBuffers(gap, 8);
    expect(out.toString()).toBe('aaaabbbb');
    expect(out.buffer).not.toBe(page.buffer);
    const swapped = [page.subarray(5, 9), page.subarray(0, 4)];
    expect(joinBuffers(swapped, 8).toString()).toBe('bbbbaaaa');
    const short = joinBuffers([page.subarray(0, 2), page.subarray(2, 4)], 6);
    expect(short).toEqual(Buffer.concat([page.subarray(0, 2), page.subarray(2, 4)], 6));
    expect(short.buffer).not.toBe(page.buffer);
  });
});
