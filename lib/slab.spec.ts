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
});
