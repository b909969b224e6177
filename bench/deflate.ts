/**
 * Does the request size change what compressing costs? Deflates the same amount of addEvents-like
 * body bytes (level 6, zlib's async API as the sink calls it) as fewer large or more small
 * bodies and prints the CPU-seconds (all threads) and wall time of each.
 *
 *   node dist/bench/deflate.js [--total-mb 1600] [--sizes 5590000,2097152] [--runs 3] [--cpus 0]
 *   node dist/bench/deflate.js --real [--runs 3] [--cpus 0]
 *
 * `--real` instead encodes the first 1.5 MB of the generated benchmark log (seed 42) as sluice's
 * encoder does (one event per line, the benchmark's file attributes: a body of about 3.3 MB) and
 * deflates that body 30 times at level 6 with zlib's memLevel 8 (its default) and 9 (the sink's):
 * ms per MB and ratio.
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import fs from 'node:fs';
import { Flags, isMain, pinSelf, record, spread } from './common.js';
import { cachedLog } from './generate.js';
import { RequestEncoder } from '../sinks/addEvents/encode.js';

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

/** An addEvents body (about 3.3 MB) of real benchmark lines, encoded by sluice's encoder. */
async function realBody(): Promise<Buffer> {
  const m = await cachedLog(1024, 42);
  const fd = fs.openSync(m.file, 'r');
  const head = Buffer.alloc(1_500_000);
  fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const enc = new RequestEncoder({ token: 'k', session: 's', sessionInfo: { serverHost: 'bench' } }, null);
  const baseAttrs = { parser: 'bench', logfile: m.file };
  let at = 0;
  for (let sn = 0; ; sn++) {
    const nl = head.indexOf(0x0a, at);
    if (nl === -1) break;
    enc.addEvent({ threadId: 'log_1', baseAttrs, message: head.subarray(at, nl + 1), ts: 1_796_228_232_175_000_000n + BigInt(sn), si: 'bench', sn: at });
    at = nl + 1;
  }
  enc.addLog('log_1', `Lines for file ${m.file}`, baseAttrs);
  return enc.finish(1_796_228_232);
}

async function real(runs: number): Promise<void> {
  const b = await realBody();
  const out: Record<string, unknown> = {};
  for (const memLevel of [8, 9]) {
    const ms: number[] = [];
    let ratio = 0;
    for (let r = 0; r < runs; r++) {
      const c0 = process.cpuUsage();
      let bytes = 0;
      for (let i = 0; i < 30; i++) bytes += (await deflate(b, { level: 6, memLevel, chunkSize: 256 * 1024 })).length;
      const c = process.cpuUsage(c0);
      ms.push(((c.user + c.system) / 1e3 / (b.length * 30)) * 1e6);
      ratio = (b.length * 30) / bytes;
    }
    process.stdout.write(`deflate level 6, memLevel ${memLevel}, a ${b.length}-byte body of benchmark lines: ${spread(ms, 2)} ms per MB (CPU), ratio ${ratio.toFixed(3)}\n`);
    out[String(memLevel)] = { msPerMB: spread(ms, 2), ratio, results: ms };
  }
  record('deflate-real', { bodyBytes: b.length, runs, memLevels: out });
}

if (isMain(import.meta.url)) {
  const f = new Flags();
  const cpus = f.str('cpus', '0');
  if (cpus) pinSelf(cpus);
  if (f.has('real')) {
    await real(f.num('runs', 3));
    process.exit(0);
  }
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
