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
 * - Profiles ({@link PROFILES}): `long` (the above; the default, byte-identical to the generator
 *   before profiles existed), and line profiles whose lines all start with a digit (an ISO
 *   timestamp): `short` (the issue-19 workload: ~184 B lines, ~5 M events/GiB after grouping; 55 %
 *   access lines, 44 % key=value lines of which one in eight carries `password=`, 0.6 % ERROR
 *   lines followed by a Java stack trace whose lines start with a non-digit, 0.4 % WARN lines),
 *   `short-nogroup` (the same lines without traces; no grouping), `tiny` (~120 B lines, ~8 M
 *   events/GiB), `medium` (~300 B lines, ~3 M events/GiB). Each profile carries the agent.json
 *   fields both shippers apply (`config`: lineGroupers `^[0-9]` / continueThrough `^[^0-9]`,
 *   redaction `password=\S+`; `long`: its grouper, DEBUG sampling and redaction).
 * - Live mode ({@link liveWrite}): a writer appends a profile's file to another file in writes
 *   of 1–20 whole lines, at a fixed line rate or as fast as it can, while a shipper tails it.
 *
 * CLI: `node dist/bench/generate.js [--profile long] --size 1024 [--seed 42] --out /tmp/x.log`
 * (writes `<out>.manifest.json` beside it; prints the manifest and the profile's config).
 * Live: `node dist/bench/generate.js --profile short --size 256 --live --out /tmp/tailed.log
 * [--rate 50000]` (lines per second; 0 = as fast as it can). As a module: {@link generateLog},
 * {@link cachedLog}, {@link liveWrite}, {@link PROFILES}.
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
  /** The profile that wrote the file ({@link PROFILES}; `long` is the original generator). */
  profile: ProfileName;
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
  /**
   * Lines a benchmark waits for before it stops the clock. Equal to `expectedLines`, except where
   * the profile's grouping holds the terminator (a line that may start a group waits for its
   * continuation, `line_completion_wait_time`, 5 s by default): then every line but the terminator.
   * The benchmark still waits (untimed) for the terminator, so no event goes unchecked.
   */
  timedLines: number;
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

// ---------------------------------------------------------------- profiles

export type ProfileName = 'long' | 'short' | 'short-nogroup' | 'tiny' | 'medium';
export const PROFILE_NAMES: readonly ProfileName[] = ['long', 'short', 'short-nogroup', 'tiny', 'medium'];

/** What a shipper must do to a profile's lines: the agent.json `logs` entry fields, and the same as plain regexes for the peers. */
export interface ProfileConfig {
  lineGroupers?: { start: string; continueThrough: string }[];
  redaction_rules: { match_expression: string; replacement: string; hash_salt: string }[];
  sampling_rules?: { match_expression: string; sampling_rate: number }[];
}

export interface Profile {
  name: ProfileName;
  description: string;
  /** The agent.json fields of the log entry (both shippers do the same work). */
  config: ProfileConfig;
  /** The last line of the file. */
  terminator: string;
}

/** Redaction of the line profiles (the issue's workload): `password=\S+`. */
export const LINE_REDACTION = [{ match_expression: 'password=\\S+', replacement: 'password=<redacted>', hash_salt: '' }];
/** Grouping of the line profiles: a line starting with a digit (a timestamp) opens an event; lines that do not continue it. */
export const LINE_GROUPER = { start: '^[0-9]', continueThrough: '^[^0-9]' };
/** Terminator of the line profiles: starts with a digit, so it ends an open group; it is alone. */
export const LINE_END = '9999-12-31T23:59:59.999Z END-OF-BENCH\n';

interface LineShape {
  /** Cumulative shares: access lines below `access`, key=value below `kv`, ERROR below `error`, the rest WARN lines. */
  access: number;
  kv: number;
  error: number;
  /** One key=value line in this many carries `password=`. */
  passwordEvery: number;
  /** ERROR lines are followed by a Java stack trace (`\tat` frames, `Caused by:`, `\t... N more`). */
  traces: boolean;
  frames: [number, number];
  style: 'tiny' | 'short' | 'medium';
}

const SHAPES: Record<Exclude<ProfileName, 'long'>, LineShape> = {
  short: { access: 0.55, kv: 0.99, error: 0.996, passwordEvery: 8, traces: true, frames: [14, 34], style: 'short' },
  'short-nogroup': { access: 0.55, kv: 0.99, error: 0.996, passwordEvery: 8, traces: false, frames: [0, 0], style: 'short' },
  tiny: { access: 0.55, kv: 0.99, error: 0.996, passwordEvery: 8, traces: true, frames: [6, 16], style: 'tiny' },
  medium: { access: 0.55, kv: 0.99, error: 0.996, passwordEvery: 8, traces: true, frames: [14, 34], style: 'medium' },
};

export const PROFILES: Record<ProfileName, Profile> = {
  long: {
    name: 'long',
    description: 'the original generator: ~3.6 M events/GiB; access and key=value lines, 10 % DEBUG lines (sampled out), Java stack traces, 2-16 KiB lines',
    config: { lineGroupers: [BENCH_GROUPER], sampling_rules: BENCH_SAMPLING, redaction_rules: BENCH_REDACTION },
    terminator: END_LINE,
  },
  short: {
    name: 'short',
    description: "the issue's independent workload: ~184 B lines, ~5 M events/GiB after grouping; 55 % access lines, 44 % key=value lines (one in eight with password=), 0.6 % ERROR lines with a Java stack trace",
    config: { lineGroupers: [LINE_GROUPER], redaction_rules: LINE_REDACTION },
    terminator: LINE_END,
  },
  'short-nogroup': {
    name: 'short-nogroup',
    description: 'the short lines without stack traces and without grouping',
    config: { redaction_rules: LINE_REDACTION },
    terminator: LINE_END,
  },
  tiny: {
    name: 'tiny',
    description: 'shorter lines (~120 B), ~8 M events/GiB; the short mix',
    config: { lineGroupers: [LINE_GROUPER], redaction_rules: LINE_REDACTION },
    terminator: LINE_END,
  },
  medium: {
    name: 'medium',
    description: 'longer lines (~330 B), ~3 M events/GiB; the short mix',
    config: { lineGroupers: [LINE_GROUPER], redaction_rules: LINE_REDACTION },
    terminator: LINE_END,
  },
};

export function profileOf(name: string): Profile {
  const p = (PROFILES as Record<string, Profile | undefined>)[name];
  if (!p) throw new Error(`unknown profile '${name}' (one of: ${PROFILE_NAMES.join(', ')})`);
  return p;
}

const LEVELS_S = ['INFO', 'INFO', 'INFO', 'INFO', 'WARN'];
const TABLES = ['orders', 'users', 'carts', 'payments', 'sessions', 'inventory'];

/** The line profiles' generator (every profile but `long`). */
async function generateLines(p: Profile, opts: { sizeMiB: number; seed?: number; out: string }): Promise<Manifest> {
  const shape = SHAPES[p.name as Exclude<ProfileName, 'long'>];
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
    profile: p.name,
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
    timedLines: 0,
  };
  let ms = Date.UTC(2026, 0, 1, 0, 0, 0);
  const iso = () => {
    const d = new Date(ms);
    return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${pad3(d.getUTCMilliseconds())}Z`;
  };
  const ip = () => `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
  const frame = () => `\tat ${pick(CLASSES)}.${pick(METHODS_J)}(${pick(CLASSES).split('.').pop()}.java:${int(10, 900)})\n`;

  const fd = fs.openSync(opts.out, 'w');
  const CHUNK = 4 * 1024 * 1024;
  let parts: string[] = [];
  let partLen = 0;
  const flush = () => {
    if (parts.length === 0) return;
    fs.writeSync(fd, Buffer.from(parts.join(''), 'latin1'));
    parts = [];
    partLen = 0;
  };
  const grouped = !!p.config.lineGroupers;
  const emit = (s: string, lines: number) => {
    parts.push(s);
    partLen += s.length;
    m.bytes += s.length;
    m.lines += lines;
    m.records += grouped ? 1 : lines;
    if (partLen >= CHUNK) flush();
  };
  try {
    while (m.bytes < target) {
      ms += int(0, 9);
      const r = rnd();
      if (r < shape.access) {
        const q = rnd() < 0.3 ? `?page=${int(1, 50)}&sort=price` : '';
        const line =
          shape.style === 'tiny'
            ? `${iso()} ${ip()} "${pick(METHODS)} ${pick(PATHS)}${q}" ${pick(STATUS)} ${int(0, 65000)} rt=${int(1, 999)}ms ua="${pick(AGENTS).slice(0, 24)}" req=${word(12)}\n`
            : shape.style === 'short'
              ? `${iso()} ${ip()} - ${rnd() < 0.3 ? pick(USERS) : '-'} "${pick(METHODS)} ${pick(PATHS)}${q} HTTP/1.1" ${pick(STATUS)} ${int(0, 65000)} "https://shop.example.com${pick(PATHS)}" "${pick(AGENTS)}" rt=0.${pad3(int(1, 999))} upstream=10.0.${int(0, 9)}.${int(1, 99)}\n`
              : `${iso()} ${ip()} - ${rnd() < 0.3 ? pick(USERS) : '-'} "${pick(METHODS)} ${pick(PATHS)}${q} HTTP/1.1" ${pick(STATUS)} ${int(0, 65000)} "https://shop.example.com${pick(PATHS)}" "${pick(AGENTS)}" rt=0.${pad3(int(1, 999))} upstream=10.0.${int(0, 9)}.${int(1, 99)}:8080 request_id=${word(24)} session=${word(32)} tenant=${pick(USERS)}-corp\n`;
        emit(line, 1);
        m.accessLines++;
      } else if (r < shape.kv) {
        const withPw = rnd() < 1 / shape.passwordEvery;
        const pw = withPw ? ` password=${word(int(8, 16))}` : '';
        const line =
          shape.style === 'tiny'
            ? `${iso()} ${pick(LEVELS_S)} app=shop user=${pick(USERS)} action=${pick(ACTIONS)}${pw} ip=${ip()} ms=${int(1, 900)} bytes=${int(100, 99999)} req=${word(16)}\n`
            : shape.style === 'short'
              ? `${iso()} ${pick(LEVELS_S)} [worker-${int(1, 16)}] app=shop user=${pick(USERS)} action=${pick(ACTIONS)}${pw} ip=${ip()} latency_ms=${int(1, 900)} request_id=${word(16)} trace_id=${word(28)} bytes=${int(100, 99999)} status=${pick(STATUS)}\n`
              : `${iso()} ${pick(LEVELS_S)} [worker-${int(1, 16)}] app=shop env=production region=eu-west-1 host=web-${int(1, 40)} user=${pick(USERS)} action=${pick(ACTIONS)}${pw} ip=${ip()} latency_ms=${int(1, 900)} db_ms=${int(0, 400)} cache=${rnd() < 0.8 ? 'hit' : 'miss'} request_id=${word(24)} trace_id=${word(32)} span_id=${word(16)} bytes_in=${int(100, 99999)} bytes_out=${int(100, 999999)} status=${pick(STATUS)} session=${word(32)} tenant=${pick(USERS)}-corp\n`;
        emit(line, 1);
        m.kvLines++;
        if (withPw) m.passwordLines++;
      } else if (r < shape.error) {
        const ex = pick(EXCEPTIONS);
        let s = `${iso()} ERROR [worker-${int(1, 16)}] Request failed: ${ex}: ${word(int(10, 30))}\n`;
        let lines = 1;
        if (shape.traces) {
          const frames = int(shape.frames[0], shape.frames[1]);
          for (let i = 0; i < frames; i++, lines++) s += frame();
          if (rnd() < 0.5) {
            s += `Caused by: ${pick(EXCEPTIONS)}: ${word(int(10, 30))}\n`;
            lines++;
            const more = int(3, 10);
            for (let i = 0; i < more; i++, lines++) s += frame();
            s += `\t... ${int(5, 40)} more\n`;
            lines++;
          }
          m.stackTraces++;
          m.stackLines += lines;
        }
        emit(s, lines);
      } else {
        emit(`${iso()} WARN [worker-${int(1, 16)}] slow query table=${pick(TABLES)} took_ms=${int(500, 9000)} rows=${int(0, 99999)}\n`, 1);
      }
    }
    emit(p.terminator, 1);
    flush();
  } finally {
    fs.closeSync(fd);
  }
  m.expectedLines = m.lines;
  m.expectedEvents = m.records;
  m.timedLines = grouped ? m.lines - 1 : m.lines;
  fs.writeFileSync(`${opts.out}.manifest.json`, JSON.stringify(m, null, 2) + '\n');
  return m;
}

/** Generates a file; resolves with its manifest (also written to `<out>.manifest.json`). */
export async function generateLog(opts: { sizeMiB: number; seed?: number; out: string; profile?: ProfileName }): Promise<Manifest> {
  const profile = opts.profile ?? 'long';
  if (profile !== 'long') return generateLines(PROFILES[profile], opts);
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
    profile: 'long',
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
    timedLines: 0,
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
  m.timedLines = m.expectedLines;
  fs.writeFileSync(`${opts.out}.manifest.json`, JSON.stringify(m, null, 2) + '\n');
  return m;
}

/** A generated file under `dir` (default `$SLUICE_BENCH_DIR` or `<tmp>/sluice-bench`), reused when present. */
export async function cachedLog(sizeMiB: number, seed = 42, dir = process.env.SLUICE_BENCH_DIR ?? path.join(os.tmpdir(), 'sluice-bench'), profile: ProfileName = 'long'): Promise<Manifest> {
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, profile === 'long' ? `gen-${sizeMiB}MiB-seed${seed}.log` : `gen-${profile}-${sizeMiB}MiB-seed${seed}.log`);
  try {
    const m = JSON.parse(fs.readFileSync(`${out}.manifest.json`, 'utf8')) as Manifest;
    // Manifests written before the profiles existed: the long file is the same bytes.
    m.profile ??= 'long';
    m.timedLines ??= m.expectedLines;
    if (m.profile === profile && fs.statSync(out).size === m.bytes) return m;
  } catch {
    // not there yet
  }
  return generateLog({ sizeMiB, seed, out, profile });
}

// ---------------------------------------------------------------- live writer

export interface LiveResult {
  file: string;
  bytes: number;
  lines: number;
  writes: number;
  seconds: number;
  /** Lines per second asked for (0 = as fast as the writer can). */
  rate: number;
}

/**
 * Appends the lines of `source` to `out` in many small writes, as a live application does:
 * each write holds 1–20 whole lines (seeded, so the same seed cuts the same writes; a stack trace
 * may be cut between writes), one `write(2)` each. `rate` lines per second, paced in 10 ms ticks
 * (0 = as fast as it can). The bytes of `out` end up identical to `source`.
 */
export async function liveWrite(o: { source: string; out: string; rate: number; seed?: number }): Promise<LiveResult> {
  const src = fs.readFileSync(o.source);
  const rnd = seededRandom((o.seed ?? 42) ^ 0x5eed);
  const fd = fs.openSync(o.out, 'a');
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  let pos = 0;
  let lines = 0;
  let writes = 0;
  try {
    while (pos < src.length) {
      // Lines allowed so far at the rate; as fast as possible: one write at a time, no pacing.
      const allowed = o.rate > 0 ? Math.floor(elapsed() * o.rate) + 1 : Infinity;
      while (pos < src.length && lines < allowed) {
        const k = 1 + Math.floor(rnd() * 20);
        let end = pos;
        let n = 0;
        while (n < k && end < src.length) {
          const nl = src.indexOf(0x0a, end);
          end = nl === -1 ? src.length : nl + 1;
          n++;
        }
        fs.writeSync(fd, src, pos, end - pos);
        pos = end;
        lines += n;
        writes++;
      }
      if (pos < src.length && o.rate > 0) await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    fs.closeSync(fd);
  }
  return { file: path.resolve(o.out), bytes: src.length, lines, writes, seconds: elapsed(), rate: o.rate };
}

function argOf(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function cli(argv: string[]): Promise<void> {
  const size = Number(argOf(argv, 'size') ?? 64);
  const seed = Number(argOf(argv, 'seed') ?? 42);
  const profile = profileOf(argOf(argv, 'profile') ?? 'long').name;
  if (argv.includes('--live')) {
    // Live: append the profile's lines (generated once, cached) to --out in small writes.
    const out = argOf(argv, 'out');
    if (!out) throw new Error('--live needs --out FILE (the file the shipper tails)');
    const m = argOf(argv, 'source') ? undefined : await cachedLog(size, seed, undefined, profile);
    const r = await liveWrite({ source: argOf(argv, 'source') ?? m!.file, out, rate: Number(argOf(argv, 'rate') ?? 0), seed });
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const out = argOf(argv, 'out') ?? path.join(os.tmpdir(), profile === 'long' ? `sluice-bench-${size}MiB.log` : `sluice-bench-${profile}-${size}MiB.log`);
  const t0 = process.hrtime.bigint();
  const m = await generateLog({ sizeMiB: size, seed, out, profile });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ ...m, config: PROFILES[profile].config }, null, 2) + '\n');
  process.stderr.write(`generated ${(m.bytes / 1048576).toFixed(1)} MiB (${profile}: ${((m.expectedEvents / m.bytes) * 1073741824 / 1e6).toFixed(2)} M events/GiB, ${(m.bytes / m.lines).toFixed(0)} B/line) in ${secs.toFixed(1)} s\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`generate: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
