import { AckQueue, type Queued } from './ackQueue.js';
import { createCounters } from '../lib/counters.js';
import type { Batch, Logger, Stream } from '../lib/types.js';

function mkStream(id: string, acks: number[], fail = false): Stream {
  return {
    id,
    ack: (end: number) => {
      acks.push(end);
      if (fail) throw new Error(`ack of secret-key failed`);
    },
  } as unknown as Stream;
}

function batch(stream: Stream, ends: number[], end = ends[ends.length - 1] ?? 0): Batch {
  return { stream, events: ends.map((e) => ({ message: 'x', end: e })), end } as unknown as Batch;
}

function mkQueue() {
  const lines: { level: string; message: string }[] = [];
  const log = (level: string) => (message: string) => lines.push({ level, message });
  const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } as unknown as Logger;
  const counters = createCounters();
  const q = new AckQueue<Queued>({ name: 'test', id: 't', counters, logger, redact: (s) => s.split('secret-key').join('<k>') });
  const push = (b: Batch, bytes = 10) => q.push({ batch: b, bytes, arrived: 0 });
  return { q, push, lines, counters };
}

describe('AckQueue', () => {
  it('acks whole batches before the position and the events before it in the batch at it, once each', () => {
    const { q, push } = mkQueue();
    const acks: number[] = [];
    const s = mkStream('s', acks);
    expect(push(batch(s, [1, 2, 3]))).toBe(0);
    expect(push(batch(s, [4, 5]))).toBe(1);
    expect(q.pendingBytes).toBe(20);
    q.settle({ b: 0, e: 0 });
    expect(acks).toEqual([]);
    q.settle({ b: 0, e: 2 });
    q.settle({ b: 0, e: 2 });
    expect(acks).toEqual([2]);
    q.settle({ b: 1, e: 1 });
    expect(acks).toEqual([2, 3, 4]);
    expect(q.baseSeq).toBe(1);
    expect(q.at(1)?.batch.events.length).toBe(2);
    expect(q.batch(0)).toBeUndefined();
    expect(q.pendingBytes).toBe(10);
  });

  it('counts and logs an ack that throws (redacted), and goes on', () => {
    const { q, push, lines, counters } = mkQueue();
    const acks: number[] = [];
    push(batch(mkStream('bad', acks, true), [1]));
    push(batch(mkStream('good', acks), [7]));
    q.settle({ b: 2, e: 0 });
    expect(acks).toEqual([1, 7]);
    expect(counters.errors).toBe(1);
    expect(lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(['test: ack of bad threw: ack of <k> failed']);
  });

  it('takeFrom hands back the batches from the position, the one at it trimmed, and empties the queue', () => {
    const { q, push } = mkQueue();
    const s = mkStream('s', []);
    push(batch(s, [1, 2]));
    push(batch(s, [3, 4, 5]));
    push(batch(s, [6]));
    q.settle({ b: 1, e: 0 });
    const out = q.takeFrom({ b: 1, e: 2 });
    expect(out.map((b) => [b.events.map((e) => e.end), b.end])).toEqual([
      [[5], 5],
      [[6], 6],
    ]);
    expect(q.length).toBe(0);
    expect(q.pendingBytes).toBe(0);
  });

  it('hollow empties an entry but keeps its place and end', () => {
    const { q, push } = mkQueue();
    const acks: number[] = [];
    const s = mkStream('s', acks);
    push(batch(s, [1, 2], 9), 30);
    expect(q.hollow(q.entries[0])).toBe(2);
    expect(q.pendingBytes).toBe(0);
    expect(q.entries[0].batch.events).toEqual([]);
    q.settle({ b: 1, e: 0 });
    expect(acks).toEqual([9]);
  });

  it('flushed resolves once everything pushed before is acked', async () => {
    const { q, push } = mkQueue();
    const s = mkStream('s', []);
    push(batch(s, [1]));
    let done = false;
    const p = q.flushed(5000).then(() => (done = true));
    push(batch(s, [2]));
    expect(q.flushing).toBe(true);
    q.settle({ b: 1, e: 0 });
    await p;
    expect(done).toBe(true);
    expect(q.flushing).toBe(false);
  });

  it('stopOnce runs flush and shutdown once, never rejects, and warns about what is left', async () => {
    const { q, push, lines } = mkQueue();
    push(batch(mkStream('s', []), [1]), 12);
    let shutdowns = 0;
    const first = q.stopOnce(
      () => Promise.reject(new Error('no')),
      () => shutdowns++,
    );
    const again = q.stopOnce(
      () => Promise.resolve(),
      () => shutdowns++,
    );
    expect(again).toBe(first);
    await first;
    expect(shutdowns).toBe(1);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(['test: stopped with 1 batches (12 bytes) not acknowledged; they will be read again']);
  });
});
