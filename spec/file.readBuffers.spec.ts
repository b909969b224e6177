/**
 * Reused read pages: a page goes back to the pool only once every byte in it is acknowledged,
 * so the message Buffers of unacknowledged events stay intact while pages are recycled.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Credits } from '../lib/pipeline/credits.js';
import { ReadBuffers } from '../lib/pipeline/readBuffers.js';
import type { Batch } from '../lib/types.js';
import { entryFor, startRun, tmpDir, waitFor } from './file.harness.js';

const PAGE = 65536;

function writeLines(file: string, n: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`${i} ${'abcdefghij'.repeat(1 + (i % 23))} end-${i}\n`);
  fs.writeFileSync(file, lines.join(''));
  return lines;
}

describe('ReadBuffers', () => {
  test('reuses given-back pages; ignores a second give and foreign buffers; small reads are not pooled', () => {
    const rb = new ReadBuffers(PAGE, 4);
    const a = rb.take(PAGE);
    const b = rb.take(PAGE - 10);
    expect(b.length).toBe(PAGE - 10);
    rb.give(a);
    rb.give(a); // twice: ignored
    rb.give(Buffer.alloc(PAGE)); // not ours: ignored
    expect(rb.freePages).toBe(1);
    expect(rb.take(PAGE).buffer).toBe(a.buffer);
    expect(rb.reused).toBe(1);
    const small = rb.take(100);
    rb.give(small);
    expect(rb.freePages).toBe(0);
    rb.give(b);
    expect(rb.freePages).toBe(1);
    rb.clear();
    expect(rb.freePages).toBe(0);
  });

  test('an idle pool drops its pages', async () => {
    const rb = new ReadBuffers(PAGE, 4, 30);
    rb.give(rb.take(PAGE));
    expect(rb.freePages).toBe(1);
    await waitFor(() => rb.freePages === 0, 2000, 'idle trim');
  });
});

describe('the file source with reused pages', () => {
  test('events stay intact until acked, pages are recycled, every line arrives once in order', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'big.log');
    const expected = writeLines(file, 40_000); // ≈ 5 MB, ≈ 80 pages
    const readBuffers = new ReadBuffers(PAGE, 16);
    const held: Batch[] = [];
    const got: string[] = [];
    const ackOldest = () => {
      const b = held.shift()!;
      // Read the bytes only now, just before the ack: they must still be what was read.
      for (const e of b.events) got.push(Buffer.isBuffer(e.message) ? e.message.toString('latin1') : e.message);
      b.stream.ack(b.end);
    };
    const run = await startRun({
      entry: entryFor(file, { copy_from_start: true }),
      dataDir: path.join(dir, 'data'),
      credits: new Credits(8 * PAGE), // pages must be recycled to get through the file
      readBuffers,
      onBatch: (b) => {
        held.push(b);
        // Keep a few batches unacknowledged while later pages are read.
        while (held.length > 3) ackOldest();
      },
    });
    try {
      await waitFor(() => got.length + held.reduce((n, b) => n + b.events.length, 0) >= expected.length, 20_000, 'all lines read');
      while (held.length > 0) ackOldest();
      expect(got.length).toBe(expected.length);
      expect(got).toEqual(expected);
      expect(readBuffers.reused).toBeGreaterThan(20);
    } finally {
      await run.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no page is reused before the ack passed all its bytes', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'big.log');
    writeLines(file, 4000); // ≈ 500 KB
    const readBuffers = new ReadBuffers(PAGE, 16);
    const held: Batch[] = [];
    const run = await startRun({
      entry: entryFor(file, { copy_from_start: true }),
      dataDir: path.join(dir, 'data'),
      credits: new Credits(4 * PAGE),
      readBuffers,
      onBatch: (b) => void held.push(b),
    });
    try {
      await waitFor(() => run.credits.free < PAGE / 2, 5000, 'the budget to be used up');
      await new Promise((r) => setTimeout(r, 100));
      expect(readBuffers.freePages).toBe(0);
      expect(readBuffers.reused).toBe(0);
      // Ack up to the middle of the second page: only the first page may come back.
      const firstPageEnds = held.flatMap((b) => b.events.map((e) => e.end)).filter((end) => end > PAGE && end < 2 * PAGE);
      held[0].stream.ack(firstPageEnds[0]);
      expect(readBuffers.freePages + readBuffers.reused).toBe(1);
    } finally {
      await run.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
