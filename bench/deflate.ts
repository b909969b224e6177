/**
 * Does the request size change what compressing costs? Deflates the same amount of addEvents-like
 * body bytes (level 6, zlib's async API as the sink calls it) as fewer large or more small
 * bodies and prints the CPU-seconds (all threads) and wall time of each.
 *
 *   node dist/bench/deflate.js [--total-mb 1600] [--sizes 5590000,2097152] [--runs 3] [--cpus 0]
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { Flags, isMain, pinSelf, record, spread } from './common.js';

const deflate = promisify(zlib.deflate);

/** An addEvents-like body of about `size` bytes (access-log events with attrs, ts, si/sn). */
function body(size: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const l = `{thread:"1",log:"1",attrs:{message:\`127.0.0.1 - - [02/Dec/2026:14:00:${String(i % 60).padStart(2, '0')}] "GET /api/v1/items/${(i * 7919) % 100000}?q=${i} HTTP/1.1" 200 ${i % 5000}\`},ts:"17966${i}000000",si:"abc",sn:${i * 130}},\n`;
    parts.push(l);
    n += l.length;
  }
  return Buffer.from(parts.join(''));
}

async function once(size: number, totalBytes: number): Promise<{ cpuS: number; wallS: number; bodies: number }> {
  const b = body(size);
  const bodies = Math.max(1, Math.round(totalBytes / size));
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < bodies; k++) await deflate(b, { level: 6, chunkSize: Math.min(256 * 1024, Math.max(16 * 1024, b.length >>> 2)) });
  const c = process.cpuUsage(c0);
  return { cpuS: (c.user + c.system) / 1e6, wallS: Number(process.hrtime.bigint() - t0) / 1e9, bodies };
}

if (isMain(import.meta.url)) {
  const f = new Flags();
  const cpus = f.str('cpus', '0');
  if (cpus) pinSelf(cpus);
  const total = f.num('total-mb', 1600) * 1e6;
  const sizes = f.str('sizes', '5590000,2097152').split(',').map(Number);
  const runs = f.num('runs', 3);
  const out: Record<string, unknown> = {};
  for (const size of sizes) {
    const cpu: number[] = [];
    let bodies = 0;
    for (let i = 0; i < runs; i++) {
      const r = await once(size, total);
      cpu.push(r.cpuS);
      bodies = r.bodies;
    }
    process.stdout.write(`deflate level 6, ${(total / 1e6).toFixed(0)} MB as ${bodies} bodies of ${size} bytes: ${spread(cpu, 2)} CPU-s\n`);
    out[String(size)] = { bodies, cpuS: spread(cpu, 2), results: cpu };
  }
  record('deflate', { totalBytes: total, runs, sizes: out });
}
