/**
 * Benchmark of the Scout span intake (+ aggregation): N concurrent clients (spread over child
 * processes so they do not share the server's core) each send realistic per-request
 * BatchCommands (Node/Python style: StartRequest, TagRequests, nested spans with tags,
 * FinishRequest) in a closed loop, waiting for each reply.
 *
 *   npm run build && node dist/bench/apm-intake.js [--clients 50] [--seconds 10] [--procs 4]
 *
 * Prints commands/s (sub-commands counted), server CPU seconds per million commands, reply
 * latency p50/p99 and the server's peak RSS. Target: ≥ 150k commands/s with 50 clients on one core.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { merge } from 'rxjs';
import { createSpanIntake } from '../sources/spanSocket/index.js';
import { aggregateSpans } from '../operators/aggregateSpans.js';
import { encodeFrame, FrameDecoder } from '../sources/spanSocket/framing.js';
import { silentLogger } from '../lib/logger.js';

const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};

function requestBatch(n: number, client: number): { frame: Buffer; commands: number } {
  const rid = `req-${client}-${n}`;
  const t0 = Date.now();
  const ts = (d: number) => new Date(t0 + d).toISOString();
  const commands: unknown[] = [
    { StartRequest: { request_id: rid, timestamp: ts(0) } },
    { TagRequest: { request_id: rid, tag: 'path', value: `/users/${n % 100}`, timestamp: ts(0) } },
    { TagRequest: { request_id: rid, tag: 'scout.queue_time_ns', value: '1500000', timestamp: ts(0) } },
    { TagRequest: { request_id: rid, tag: 'user_id', value: String(n), timestamp: ts(0) } },
  ];
  const span = (id: string, parent: string | undefined, op: string, a: number, b: number, tags: Record<string, unknown> = {}) => {
    commands.push({ StartSpan: { request_id: rid, span_id: id, parent_id: parent ?? null, operation: op, timestamp: ts(a) } });
    for (const [tag, value] of Object.entries(tags)) commands.push({ TagSpan: { request_id: rid, span_id: id, tag, value, timestamp: ts(a) } });
    commands.push({ StopSpan: { request_id: rid, span_id: id, timestamp: ts(b) } });
  };
  // Python-style post-order (children first).
  span(`${rid}-sql1`, `${rid}-ctl`, 'SQL/Query', 2, 4, { 'db.statement': 'SELECT * FROM users WHERE id = $1' });
  span(`${rid}-sql2`, `${rid}-ctl`, 'SQL/Query', 5, 6, { 'db.statement': 'SELECT * FROM posts WHERE user_id = $1 LIMIT 10' });
  span(`${rid}-http`, `${rid}-ctl`, 'HTTP/GET', 6, 9, { url: 'https://api.example.com/x' });
  span(`${rid}-tpl`, `${rid}-ctl`, 'Template/Render/users/show.html', 9, 11);
  span(`${rid}-mw`, `${rid}-ctl`, 'Middleware/auth', 1, 2);
  span(`${rid}-ctl`, undefined, `Controller/users#show${n % 20}`, 0, 12, { 'http.status_code': 200 });
  commands.push({ FinishRequest: { request_id: rid, timestamp: ts(12) } });
  return { frame: encodeFrame(JSON.stringify({ BatchCommand: { commands } })), commands: commands.length };
}

async function clientProcess(sock: string, clients: number, seconds: number, base: number): Promise<void> {
  const until = Date.now() + seconds * 1000;
  const lat: number[] = [];
  let commands = 0;
  await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        const id = base + i;
        const s = net.connect(sock);
        const dec = new FrameDecoder(1 << 20);
        let n = 0;
        let sent = 0;
        let pending = 0;
        const next = () => {
          if (Date.now() >= until) {
            s.end();
            return resolve();
          }
          const b = requestBatch(n++, id);
          pending = b.commands;
          sent = performance.now();
          s.write(b.frame);
        };
        s.once('connect', () => {
          s.write(encodeFrame(JSON.stringify({ Register: { app: 'bench', key: 'BenchKey', api_version: '1.0' } })));
        });
        let registered = false;
        s.on('data', (c) => {
          for (const r of dec.push(c)) {
            if (r.kind !== 'frame') continue;
            if (!registered) registered = true;
            else {
              lat.push(performance.now() - sent);
              commands += pending;
            }
            next();
          }
        });
        s.on('error', reject);
      }),
    ),
  );
  process.send!({ lat, commands });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--client') {
    await clientProcess(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]));
    return;
  }
  const clients = arg('clients', 50);
  const seconds = arg('seconds', 10);
  const procs = Math.min(clients, arg('procs', Math.max(1, Math.min(4, os.cpus().length - 1))));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  const sock = path.join(dir, 'bench.sock');
  const intake = createSpanIntake(
    { enabled: true, socket_path: sock, max_frame_bytes: 1 << 24, request_timeout_secs: 60 },
    { logger: silentLogger },
  );
  let minutes = 0;
  const sub = merge(intake.completed$, intake.appEvents$)
    .pipe(aggregateSpans({ graceMs: 1000 }))
    .subscribe(() => minutes++);
  await intake.listen();
  const cpu0 = process.cpuUsage();
  const cmd0 = intake.counters.receivedEvents;
  const t0 = performance.now();
  const self = fileURLToPath(import.meta.url);
  const results = await Promise.all(
    Array.from({ length: procs }, (_, p) => {
      const share = Math.floor(clients / procs) + (p < clients % procs ? 1 : 0);
      const child = fork(self, ['--client', sock, String(share), String(seconds), String(p * 1000)], { stdio: 'inherit' });
      return new Promise<{ lat: number[]; commands: number }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as { lat: number[]; commands: number }));
        child.once('error', reject);
      });
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const commands = intake.counters.receivedEvents - cmd0;
  const lat = results.flatMap((r) => r.lat).sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  await intake.stop();
  sub.unsubscribe();
  fs.rmSync(dir, { recursive: true, force: true });
  const out = {
    clients,
    client_processes: procs,
    seconds: Math.round(wall * 100) / 100,
    commands,
    frames: lat.length,
    commands_per_sec: Math.round(commands / wall),
    server_cpu_sec: Math.round(cpuSec * 100) / 100,
    server_cpu_share: Math.round((cpuSec / wall) * 100) / 100,
    cpu_sec_per_million_commands: Math.round((cpuSec / commands) * 1e6 * 100) / 100,
    reply_p50_ms: Math.round(q(0.5) * 1000) / 1000,
    reply_p99_ms: Math.round(q(0.99) * 1000) / 1000,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    dropped: intake.counters.dropped,
  };
  console.log(JSON.stringify(out, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
