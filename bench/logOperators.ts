/**
 * Throughput of the per-file log chain groupLines → sample → redact on one core, fed with the
 * deterministic benchmark log (bench/generate.ts) already split into line events in 64 KiB
 * batches (the reader's page size), so only the operators are measured.
 *
 * CLI: `node dist/bench/logOperators.js [--size 64] [--stage all|group|sample|redact|tail-all]`
 * (`tail-all` also runs the reader's line splitter on 64 KiB chunks: splitLines → group → sample → redact).
 * Prints MB/s of input bytes. No assertions (timed results vary by machine).
 */
import fs from 'node:fs';
import { Subject, type MonoTypeOperatorFunction } from 'rxjs';
import { cachedLog, BENCH_GROUPER, BENCH_REDACTION, BENCH_SAMPLING } from './generate.js';
import { groupLines } from '../operators/groupLines.js';
import { sample } from '../operators/sample.js';
import { redact } from '../operators/redact.js';
import { splitLines, type FileChunk } from '../operators/splitLines.js';
import type { Batch, Event, Stream } from '../lib/types.js';

function toBatches(buf: Buffer, stream: Stream, page = 65536): Batch[] {
  const batches: Batch[] = [];
  let events: Event[] = [];
  let pageStart = 0;
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl < 0) break;
    events.push({ message: buf.subarray(start, nl + 1), end: nl + 1 });
    start = nl + 1;
    if (start - pageStart >= page) {
      batches.push({ stream, events, end: start });
      events = [];
      pageStart = start;
    }
  }
  if (events.length) batches.push({ stream, events, end: start });
  return batches;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const size = Number(arg('size', '64'));
  const stage = arg('stage', 'all');
  const manifest = await cachedLog(size);
  const buf = fs.readFileSync(manifest.file);
  const stream: Stream = { id: 'bench', kind: 'log', path: manifest.file, attrs: {}, ack: () => undefined };
  const ops: MonoTypeOperatorFunction<Batch>[] = [];
  if (stage === 'all' || stage === 'group') ops.push(groupLines([BENCH_GROUPER], { maxLineSize: 49900, completionWaitMs: 5000 }));
  if (stage === 'all' || stage === 'sample') ops.push(sample(BENCH_SAMPLING));
  if (stage === 'all' || stage === 'redact') ops.push(redact(BENCH_REDACTION.map((r) => ({ ...r, hash_salt: '' }))));

  if (stage === 'tail-all') {
    ops.push(groupLines([BENCH_GROUPER], { maxLineSize: 49900, completionWaitMs: 5000 }), sample(BENCH_SAMPLING), redact(BENCH_REDACTION.map((r) => ({ ...r, hash_salt: '' }))));
  }
  for (let round = 0; round < 3; round++) {
    let events = 0;
    let feed: () => void;
    if (stage === 'tail-all') {
      const chunks = new Subject<FileChunk>();
      let obs = chunks.pipe(splitLines(stream, { maxLineSize: 49900, lineCompletionWaitMs: 5000 }));
      for (const op of ops) obs = obs.pipe(op);
      obs.subscribe((b) => (events += b.events.length));
      feed = () => {
        for (let off = 0; off < buf.length; off += 65536) chunks.next({ buf: buf.subarray(off, Math.min(buf.length, off + 65536)), start: off });
        chunks.complete();
      };
    } else {
      const batches = toBatches(buf, stream);
      const input = new Subject<Batch>();
      let obs = input.asObservable();
      for (const op of ops) obs = obs.pipe(op);
      obs.subscribe((b) => (events += b.events.length));
      feed = () => {
        for (const b of batches) input.next(b);
        input.complete();
      };
    }
    const t0 = process.hrtime.bigint();
    feed();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${stage}: ${(buf.length / 1e6 / secs).toFixed(1)} MB/s (${events} events, ${(buf.length / 1e6).toFixed(1)} MB in ${secs.toFixed(3)} s)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
