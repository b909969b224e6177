/**
 * Side by side, in one run: sluice vs syslog-ng (Debian `syslog-ng-core` + `syslog-ng-mod-http`)
 * reading the same generated file and POSTing to the same local counting receiver, each on
 * `taskset -c <cpus>`, alternating, `--runs` times each. Prints per-run figures, medians and
 * spread, and the sluice/syslog-ng ratios.
 *
 *   node dist/bench/sidebyside.js [--size 1024] [--runs 3] [--cpus 0] [--plain]
 *
 * Equivalent work on both sides: multi-line grouping (a Java trace is one event), DEBUG lines
 * filtered out, `password=[^& ]*` redacted, batches of up to ~5.8 MB POSTed over HTTP/1.1
 * keep-alive to 127.0.0.1, one request in flight. syslog-ng 3.38's http() destination has no
 * body compression, so sluice runs twice: `compression_type: none` (same bytes on the wire as
 * syslog-ng) and `deflate` level 6 (its default). syslog-ng drops the terminator line (its
 * `multi-line-garbage`), so it is expected to deliver one line fewer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import { cachedLog, type Manifest } from './generate.js';
import { startReceiver, noCleartextPassword, type CountingReceiver } from './receiver.js';
import { shipOnce, describeRun, summarize, finishRun, type ShipRun } from './logpath.js';
import { Flags, MiB, isMain, machine, median, pinSelf, procSample, record, sleep, tmpDir } from './common.js';

export function syslogNgConfig(file: string, url: string, plain: boolean): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const src = plain
    ? `file("${esc(file)}" follow-freq(1) flags(no-parse) log-fetch-limit(10000) log-iw-size(100000) log-msg-size(65536))`
    : `file("${esc(file)}" follow-freq(1) flags(no-parse) multi-line-mode(prefix-garbage) multi-line-prefix("^(?!Caused by: )[^\\\\s]") multi-line-garbage("^  END-OF-BENCH") log-fetch-limit(10000) log-iw-size(100000) log-msg-size(65536))`;
  return `@version: 3.38
options { threaded(yes); use-dns(no); use-fqdn(no); dns-cache(no); stats-freq(0); log-fifo-size(100000); };
source s_file { ${src}; };
filter f_nodebug { not message(" DEBUG " type(string) flags(substring)); };
rewrite r_redact { subst("password=[^& ]*", "password=<redacted>", value("MESSAGE") flags(global)); };
destination d_http { http(url("${url}/api/addEvents") method("POST") headers("Content-Type: application/json") workers(1)
  batch-lines(20000) batch-bytes(5800000) batch-timeout(200)
  body-prefix("{\\"token\\":\\"bench\\",\\"session\\":\\"syslog-ng\\",\\"events\\":[") delimiter(",") body-suffix("]}")
  body("{\\"ts\\":\\"\${R_UNIXTIME}000000000\\",\\"attrs\\":$(format-json --scope none message=$MSG parser=bench)}")); };
log { source(s_file); ${plain ? '' : 'filter(f_nodebug); rewrite(r_redact); '}destination(d_http); flags(flow-control); };
`;
}

export function syslogNgVersion(): string | undefined {
  try {
    return execFileSync('syslog-ng', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return undefined;
  }
}

/** Ships the file once through a fresh syslog-ng. */
export async function syslogNgOnce(m: Manifest, receiver: CountingReceiver, cpus: string, plain: boolean, timeoutMs = 600_000): Promise<ShipRun> {
  const dir = tmpDir('sluice-syslogng-');
  const conf = path.join(dir, 'syslog-ng.conf');
  fs.writeFileSync(conf, syslogNgConfig(m.file, receiver.url, plain));
  const expectedLines = plain ? m.lines : m.expectedLines - 1;
  receiver.reset();
  const t0 = process.hrtime.bigint();
  const args = ['-F', '-f', conf, `--persist-file=${dir}/persist`, `--pidfile=${dir}/pid`, `--control=${dir}/ctl`, '--no-caps'];
  const child = spawn('taskset', ['-c', cpus, 'syslog-ng', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  let exited = false;
  const exitP = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const pid = child.pid!;
  let last = procSample(pid);
  const sampler = setInterval(() => (last = procSample(pid) ?? last), 250);
  try {
    const deadline = Date.now() + timeoutMs;
    while (receiver.counts.lines < expectedLines) {
      if (exited) throw new Error(`syslog-ng exited early:\n${out.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`syslog-ng timed out: ${receiver.counts.lines}/${expectedLines} lines\n${out.slice(-2000)}`);
      await sleep(5);
    }
    const s = procSample(pid) ?? last!;
    clearInterval(sampler);
    return await finishRun(m, receiver, t0, s, expectedLines, []);
  } finally {
    clearInterval(sampler);
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitP;
      clearTimeout(t);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const f = new Flags();
  const size = f.num('size', 1024);
  const runs = f.num('runs', 3);
  const cpus = f.str('cpus', '0');
  const plain = f.has('plain');
  const recvCpus = f.str('receiver-cpus', cpus.includes(',') ? '' : cpus === '0' ? '1' : '0');
  if (recvCpus) pinSelf(recvCpus);
  const version = syslogNgVersion();
  if (!version) {
    process.stdout.write('syslog-ng is not installed (apt-get install -y syslog-ng-core syslog-ng-mod-http); nothing to compare.\n');
    process.exitCode = 2;
    return;
  }
  const m = await cachedLog(size, f.num('seed', 42));
  const receiver = await startReceiver({ verify: plain ? undefined : noCleartextPassword, verifyEvery: 101 });
  process.stdout.write(`side by side: ${plain ? 'plain' : 'group+filter+redact'}, CPU ${cpus}, receiver on ${recvCpus || 'any'}; ${version}; ${(m.bytes / MiB).toFixed(0)} MiB, ${m.lines} lines; ${machine()}\n`);
  const contenders: { name: string; run: () => Promise<ShipRun> }[] = [
    { name: 'sluice (none)', run: () => shipOnce(m, receiver, { cpus, compression: 'none', plain }) },
    { name: 'sluice (deflate 6)', run: () => shipOnce(m, receiver, { cpus, compression: 'deflate', plain }) },
    { name: 'syslog-ng 3.38 (none)', run: () => syslogNgOnce(m, receiver, cpus, plain) },
  ];
  const results = new Map<string, ShipRun[]>(contenders.map((c) => [c.name, []]));
  try {
    for (let i = 0; i < runs; i++) {
      for (const c of contenders) {
        const r = await c.run();
        results.get(c.name)!.push(r);
        process.stdout.write(`  run ${i + 1} ${c.name}: ${describeRun(r)}\n`);
      }
    }
  } finally {
    await receiver.close();
  }
  const summaries: Record<string, Record<string, unknown>> = {};
  for (const [name, rs] of results) {
    summaries[name] = summarize(rs);
    const s = summaries[name];
    process.stdout.write(`${name.padEnd(22)} ${s.mbps} MB/s, ${s.cpuPerGiB} CPU-s/GiB, peak RSS ${s.peakRssMiB} MiB\n`);
  }
  const sng = results.get('syslog-ng 3.38 (none)')!;
  const ratios: Record<string, unknown> = {};
  for (const name of ['sluice (none)', 'sluice (deflate 6)']) {
    const rs = results.get(name)!;
    ratios[name] = {
      throughput: +(median(rs.map((r) => r.mbps)) / median(sng.map((r) => r.mbps))).toFixed(2),
      cpuPerGiB: +(median(rs.map((r) => r.cpuPerGiB)) / median(sng.map((r) => r.cpuPerGiB))).toFixed(2),
      peakRss: +(median(rs.map((r) => r.peakRssMiB)) / median(sng.map((r) => r.peakRssMiB))).toFixed(2),
    };
    process.stdout.write(`ratio ${name} / syslog-ng: throughput ×${(ratios[name] as { throughput: number }).throughput}, CPU per GiB ×${(ratios[name] as { cpuPerGiB: number }).cpuPerGiB}, peak RSS ×${(ratios[name] as { peakRss: number }).peakRss}\n`);
  }
  record('sidebyside', {
    sizeMiB: size,
    cpus,
    plain,
    runs,
    syslogNg: version,
    summaries,
    ratios,
    results: Object.fromEntries([...results].map(([k, v]) => [k, v.map(({ rssSeries: _r, ...rest }) => rest)])),
  });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`sidebyside: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
