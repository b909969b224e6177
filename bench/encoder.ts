/**
 * Micro-benchmark of the `addEvents` body encoder alone: CPU microseconds per event for
 * `RequestEncoder.addEvent` (5.9 MB requests of ~120-byte access-log lines, file attributes as the
 * log-path benchmark sends them). Prints the median [min–max] over runs.
 *
 *   node dist/bench/encoder.js [--events 1000000] [--runs 5] [--cpus 0]
 */
import { RequestEncoder } from '../sinks/addEvents/encode.js';
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

if (isMain(import.meta.url)) {
  const f = new Flags();
  const cpus = f.str('cpus', '0');
  if (cpus) pinSelf(cpus);
  const total = f.num('events', 1_000_000);
  const runs = f.num('runs', 5);
  const us: number[] = [];
  for (let i = 0; i < runs; i++) us.push(encodeOnce(total));
  process.stdout.write(`RequestEncoder.addEvent: ${spread(us, 3)} µs CPU per event (${total} events per run, ${runs} runs)\n`);
  record('encoder', { events: total, runs, usPerEvent: spread(us, 3), results: us });
}
