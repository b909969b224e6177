/**
 * Micro-benchmark of the `addEvents` body encoder alone: CPU microseconds per event for
 * `RequestEncoder.addEvent` (5.9 MB requests of ~120-byte access-log lines, file attributes as the
 * log-path benchmark sends them), and for `buildRequest` as the sink calls it (2 MB requests from
 * queued batches of 50 lines of one file with a sequence id, event times from the clock, into a
 * reused buffer). Prints the median [min–max] over runs.
 *
 *   node dist/bench/encoder.js [--events 1000000] [--runs 5] [--cpus 0]
 */
import { RequestEncoder } from '../sinks/addEvents/encode.js';
import { buildRequest, type Pos } from '../sinks/addEvents/request.js';
import type { Batch, Event, Stream } from '../lib/types.js';
import { Flags, isMain, pinSelf, record, spread } from './common.js';

export function encodeOnce(total: number): number {
  const msgs: Buffer[] = [];
  for (let i = 0; i < 1000; i++) {
    msgs.push(Buffer.from(`10.1.2.${i % 255} - - [01/Jan/2026:00:00:00 +0000] "GET /api/v1/orders?page=${i} HTTP/1.1" 200 1234 "https://shop.example.com/" "curl/8.4.0"\n`));
  }
  const attrs = { parser: 'bench', logfile: '/tmp/sluice-bench/gen-1024MiB-seed42.log' };
  let n = 0;
  const c0 = process.cpuUsage();
  while (n < total) {
    const enc = new RequestEncoder({ token: 'k', session: 's', threads: [], sessionInfo: { serverHost: 'h' } }, 5_900_000);
    enc.addLog('log_1', 'Lines for file x', attrs);
    for (let i = 0; i < 5000 && n < total; i++, n++) {
      if (!enc.addEvent({ threadId: 'log_1', baseAttrs: attrs, message: msgs[n % 1000], ts: 1_700_000_000_000_000_000n + BigInt(n), si: 'abc', sn: n * 100 })) break;
    }
    enc.finish(1_700_000_000);
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

/** `buildRequest` over queued batches until `total` events are built; CPU µs per event. */
export function buildOnce(total: number): number {
  const path = '/tmp/sluice-bench/gen-1024MiB-seed42.log';
  const stream: Stream = { id: 's', kind: 'log', path, attrs: { parser: 'bench', logfile: path }, seqId: 'ed4cb9b2-d07e-46ba-b420-433a7b83e802', ack: () => undefined };
  const batches: Batch[] = [];
  let off = 0;
  for (let b = 0; b < 200; b++) {
    const events: Event[] = [];
    for (let k = 0; k < 50; k++) {
      const m = Buffer.from(`10.1.2.${k} - - [01/Jan/2026:00:00:00 +0000] "GET /api/v1/orders?page=${b * 50 + k} HTTP/1.1" 200 1234 "https://shop.example.com/" "curl/8.4.0"\n`);
      off += m.length;
      events.push({ message: m, end: off });
    }
    batches.push({ stream, events, end: off });
  }
  const q = { batch: (seq: number) => batches[seq] };
  const scratch = Buffer.allocUnsafe(2 << 20);
  const base = { token: 'k', session: 's', threads: [], sessionInfo: { serverHost: 'h' } };
  let n = 0;
  const c0 = process.cpuUsage();
  while (n < total) {
    let from: Pos = { b: 0, e: 0, o: 0 };
    while (batches[from.b] && n < total) {
      const r = buildRequest(q, from, null, 2_000_000, base, 1_700_000_000, scratch);
      n += r.events;
      from = r.to;
    }
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

if (isMain(import.meta.url)) {
  const f = new Flags();
  const cpus = f.str('cpus', '0');
  if (cpus) pinSelf(cpus);
  const total = f.num('events', 1_000_000);
  const runs = f.num('runs', 5);
  const us: number[] = [];
  for (let i = 0; i < runs; i++) us.push(encodeOnce(total));
  process.stdout.write(`RequestEncoder.addEvent: ${spread(us, 3)} µs CPU per event (${total} events per run, ${runs} runs)\n`);
  const built: number[] = [];
  for (let i = 0; i < runs; i++) built.push(buildOnce(total));
  process.stdout.write(`buildRequest: ${spread(built, 3)} µs CPU per event (${total} events per run, ${runs} runs)\n`);
  record('encoder', { events: total, runs, usPerEvent: spread(us, 3), results: us, buildUsPerEvent: spread(built, 3), buildResults: built });
}
