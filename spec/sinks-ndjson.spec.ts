/**
 * The embedded (ndjson) sink's file handle: never left to the garbage collector. A reload that
 * hands its parked batches to a successor calls takePending() and then stop(); stop() must still
 * close the file (it once returned early, and Node closed the descriptor at GC with a warning).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNdjsonSink } from '../sinks/ndjson/sink.js';
import { silentLogger } from '../lib/logger.js';
import type { Batch, Stream } from '../lib/types.js';

/** Descriptors of this process open on `file` (Linux /proc). */
function openOn(file: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

const stream = (acks: number[]): Stream => ({ id: 's', kind: 'log', path: '/x.log', attrs: {}, ack: (e) => acks.push(e) });
const batch = (s: Stream, end: number, msg: string): Batch => ({ stream: s, events: [{ message: Buffer.from(msg), end }], end });

describe('embedded sink', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const mk = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ndjson-'));
    dirs.push(dir);
    return { dir, file: path.join(dir, 'events.ndjson'), sink: createNdjsonSink({ dir }, { logger: silentLogger }) };
  };

  it('stop() closes the file, also after takePending(); both idempotent', async () => {
    const acks: number[] = [];
    const s = stream(acks);
    const a = mk();
    a.sink.write(batch(s, 3, 'one'));
    await a.sink.flush(5000);
    expect(acks).toEqual([3]);
    expect(openOn(a.file)).toBe(1);
    expect(a.sink.takePending()).toEqual([]);
    await a.sink.stop(1000);
    expect(openOn(a.file)).toBe(0);
    await a.sink.stop(1000);

    const b = mk();
    b.sink.write(batch(s, 6, 'two'));
    await b.sink.flush(5000);
    await b.sink.stop(1000);
    await b.sink.stop(1000);
    expect(openOn(b.file)).toBe(0);
    expect(fs.readFileSync(b.file, 'utf8')).toContain('"message":"two"');
  });

  it('a batch written while stopping is kept for a successor, not written through a fresh handle', async () => {
    const acks: number[] = [];
    const s = stream(acks);
    const a = mk();
    a.sink.write(batch(s, 3, 'one'));
    const stopping = a.sink.stop(1000);
    await stopping;
    a.sink.write(batch(s, 6, 'late'));
    await new Promise((r) => setTimeout(r, 100));
    expect(openOn(a.file)).toBe(0);
    expect(acks).toEqual([3]);
    expect(a.sink.takePending().map((b) => b.end)).toEqual([6]);
  });
});
