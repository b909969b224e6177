/**
 * Deterministic benchmark log generator.
 *
 * Promises:
 * - The same `seed` and `sizeMiB` always give the same bytes (a seeded mulberry32 PRNG; no clock,
 *   no Math.random). The file holds whole records only and is at least `sizeMiB` MiB (it stops at
 *   the first record boundary past the size), then ends with the terminator line
 *   {@link END_LINE}, which starts with spaces so it closes an open line group at once and is
 *   itself never grouped (see {@link BENCH_GROUPER}).
 * - The mix: access-log lines (some with `password=` in the query), key=value application lines
 *   with `password=...`, DEBUG lines (the only ones containing ` DEBUG `, dropped by
 *   {@link BENCH_SAMPLING}), multi-line Java stack traces (header, `\tat` frames, `Caused by:`,
 *   `\t... N more`), and long key=value lines of 2–16 KiB (always below Scalyr's 49,900-byte
 *   `max_line_size`, so no line is split).
 * - A manifest counts what was written (lines, records, DEBUG lines, stack traces…) so a
 *   benchmark knows exactly how many lines the receiver must see: `expectedLines` = every line
 *   except the DEBUG ones.
 *
 * CLI: `node dist/bench/generate.js --size 1024 [--seed 42] --out /tmp/x.log` (writes
 * `<out>.manifest.json` beside it). As a module: {@link generateLog}, {@link cachedLog}.
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { seededRandom } from '../lib/random.js';

/** The last line of every generated file. */
export const END_LINE = '  END-OF-BENCH\n';

/** Line grouping used by the benchmarks: Java traces become one event; the terminator is alone. */
export const BENCH_GROUPER = { start: '^[^\\s]', continueThrough: '^\\s+(at |\\.\\.\\. )|^Caused by: ' };

/** Sampling used by the benchmarks: every DEBUG record is dropped, everything else kept. */
export const BENCH_SAMPLING = [{ match_expression: ' DEBUG ', sampling_rate: 0 }];

/** Redaction used by the benchmarks (Scalyr's documented example). */
export const BENCH_REDACTION = [{ match_expression: 'password=[^& ]*', replacement: 'password=<redacted>', hash_salt: '' }];

export interface Manifest {
  file: string;
  seed: number;
  sizeMiB: number;
  bytes: number;
  lines: number;
  /** Events after grouping (a stack trace is one record), the terminator included. */
  records: number;
  debugLines: number;
  accessLines: number;
  kvLines: number;
  passwordLines: number;
  longLines: number;
  stackTraces: number;
  stackLines: number;
  /** Lines a receiver gets when DEBUG lines are sampled out (the terminator included). */
  expectedLines: number;
  /** Events a receiver gets with grouping and DEBUG sampling. */
  expectedEvents: number;
}


const PATHS = ['/', '/index.html', '/api/v1/orders', '/api/v1/users/login', '/static/app.js', '/static/style.css', '/cart', '/checkout', '/search', '/health'];
const METHODS = ['GET', 'GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const STATUS = [200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 500, 503];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  'curl/8.4.0',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
];
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];
const ACTIONS = ['login', 'logout', 'purchase', 'refund', 'view', 'update_profile', 'reset_password'];
const LEVELS = ['INFO', 'INFO', 'INFO', 'WARN', 'ERROR'];
const CLASSES = ['com.example.shop.OrderService', 'com.example.shop.CartController', 'com.example.db.ConnectionPool', 'org.springframework.web.servlet.FrameworkServlet', 'java.util.concurrent.ThreadPoolExecutor'];
const METHODS_J = ['process', 'handle', 'doGet', 'execute', 'run', 'acquire', 'invoke', 'apply'];
const EXCEPTIONS = ['java.lang.IllegalStateException', 'java.lang.NullPointerException', 'java.sql.SQLTransientConnectionException', 'java.io.IOException', 'java.util.concurrent.TimeoutException'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

const pad2 = (n: number) => (n < 10 ? '0' + n : String(n));
const pad3 = (n: number) => (n < 10 ? '00' + n : n < 100 ? '0' + n : String(n));

/** Generates a file; resolves with its manifest (also written to `<out>.manifest.json`). */
export async function generateLog(opts: { sizeMiB: number; seed?: number; out: string }): Promise<Manifest> {
  const seed = opts.seed ?? 42;
  const rnd = seededRandom(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const word = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += ALNUM[Math.floor(rnd() * 62)];
    return s;
  };
  const target = Math.round(opts.sizeMiB * 1024 * 1024);
  const m: Manifest = {
    file: path.resolve(opts.out),
    seed,
    sizeMiB: opts.sizeMiB,
    bytes: 0,
    lines: 0,
    records: 0,
    debugLines: 0,
    accessLines: 0,
    kvLines: 0,
    passwordLines: 0,
    longLines: 0,
    stackTraces: 0,
    stackLines: 0,
    expectedLines: 0,
    expectedEvents: 0,
  };
  let ms = Date.UTC(2026, 0, 1, 0, 0, 0); // fixed start: deterministic
  const iso = () => {
    const d = new Date(ms);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad3(d.getUTCMilliseconds())}Z`;
  };
  const clf = () => {
    const d = new Date(ms);
    return `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
  };
  const ip = () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;

  const fd = fs.openSync(opts.out, 'w');
  const CHUNK = 4 * 1024 * 1024;
  let parts: string[] = [];
  let partLen = 0;
  const flush = () => {
    if (parts.length === 0) return;
    const buf = Buffer.from(parts.join(''), 'latin1'); // generated text is ASCII
    fs.writeSync(fd, buf);
    parts = [];
    partLen = 0;
  };
  const emit = (s: string, lines: number) => {
    parts.push(s);
    partLen += s.length;
    m.bytes += s.length;
    m.lines += lines;
    m.records++;
    if (partLen >= CHUNK) flush();
  };

  try {
    while (m.bytes < target) {
      ms += int(0, 40);
      const r = rnd();
      if (r < 0.55) {
        // Access log (combined format); one in ten carries a password in its query.
        const withPw = rnd() < 0.1;
        const q = withPw ? `?user=${pick(USERS)}&password=${word(int(6, 14))}&next=%2Fcart` : rnd() < 0.3 ? `?page=${int(1, 50)}&sort=price` : '';
        emit(
          `${ip()} - ${rnd() < 0.3 ? pick(USERS) : '-'} [${clf()}] "${pick(METHODS)} ${pick(PATHS)}${q} HTTP/1.1" ${pick(STATUS)} ${int(0, 65000)} "https://shop.example.com${pick(PATHS)}" "${pick(AGENTS)}"\n`,
          1,
        );
        m.accessLines++;
        if (withPw) m.passwordLines++;
      } else if (r < 0.85) {
        // key=value application line; a third carry a password.
        const withPw = rnd() < 0.35;
        emit(
          `${iso()} ${pick(LEVELS)} [worker-${int(1, 16)}] app=shop user=${pick(USERS)} action=${pick(ACTIONS)}${withPw ? ` password=${word(int(8, 16))}` : ''} ip=${ip()} latency_ms=${int(1, 900)} request_id=${word(16)} bytes=${int(100, 99999)}\n`,
          1,
        );
        m.kvLines++;
        if (withPw) m.passwordLines++;
      } else if (r < 0.95) {
        emit(`${iso()} DEBUG [worker-${int(1, 16)}] cache lookup key=${word(12)} hit=${rnd() < 0.8} took_us=${int(1, 5000)}\n`, 1);
        m.debugLines++;
      } else if (r < 0.997) {
        // Java stack trace: header + frames (+ cause), one event after grouping.
        const ex = pick(EXCEPTIONS);
        let s = `${iso()} ERROR [worker-${int(1, 16)}] Request failed: ${ex}: ${word(int(10, 30))}\n`;
        let lines = 1;
        const frames = int(8, 30);
        for (let i = 0; i < frames; i++) {
          s += `\tat ${pick(CLASSES)}.${pick(METHODS_J)}(${pick(CLASSES).split('.').pop()}.java:${int(10, 900)})\n`;
          lines++;
        }
        if (rnd() < 0.5) {
          s += `Caused by: ${pick(EXCEPTIONS)}: ${word(int(10, 30))}\n`;
          lines++;
          const more = int(3, 10);
          for (let i = 0; i < more; i++) {
            s += `\tat ${pick(CLASSES)}.${pick(METHODS_J)}(${pick(CLASSES).split('.').pop()}.java:${int(10, 900)})\n`;
            lines++;
          }
          s += `\t... ${int(5, 40)} more\n`;
          lines++;
        }
        emit(s, lines);
        m.stackTraces++;
        m.stackLines += lines;
      } else {
        // Long line: 2-16 KiB payload, below max_line_size.
        const n = int(2048, 16384);
        let payload = '';
        while (payload.length < n) payload += word(64) + ' ';
        emit(`${iso()} INFO [worker-${int(1, 16)}] app=shop action=export payload="${payload.slice(0, n)}"\n`, 1);
        m.longLines++;
      }
    }
    emit(END_LINE, 1);
    flush();
  } finally {
    fs.closeSync(fd);
  }
  m.expectedLines = m.lines - m.debugLines;
  m.expectedEvents = m.records - m.debugLines;
  fs.writeFileSync(`${opts.out}.manifest.json`, JSON.stringify(m, null, 2) + '\n');
  return m;
}

/** A generated file under `dir` (default `$SLUICE_BENCH_DIR` or `<tmp>/sluice-bench`), reused when present. */
export async function cachedLog(sizeMiB: number, seed = 42, dir = process.env.SLUICE_BENCH_DIR ?? path.join(os.tmpdir(), 'sluice-bench')): Promise<Manifest> {
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, `gen-${sizeMiB}MiB-seed${seed}.log`);
  try {
    const m = JSON.parse(fs.readFileSync(`${out}.manifest.json`, 'utf8')) as Manifest;
    if (fs.statSync(out).size === m.bytes) return m;
  } catch {
    // not there yet
  }
  return generateLog({ sizeMiB, seed, out });
}

function argOf(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function cli(argv: string[]): Promise<void> {
  const size = Number(argOf(argv, 'size') ?? 64);
  const seed = Number(argOf(argv, 'seed') ?? 42);
  const out = argOf(argv, 'out') ?? path.join(os.tmpdir(), `sluice-bench-${size}MiB.log`);
  const t0 = process.hrtime.bigint();
  const m = await generateLog({ sizeMiB: size, seed, out });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify(m, null, 2) + '\n');
  process.stderr.write(`generated ${(m.bytes / 1048576).toFixed(1)} MiB in ${secs.toFixed(1)} s\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`generate: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
