/**
 * Real status-page peers for the nginx and apache monitor specs: the Debian `nginx` and `apache2`
 * binaries started as foreground processes with their own config in a temp dir on a loopback
 * port, plus fake peers for the fault cases (an HTTP server answering garbage, a TCP server that
 * answers non-HTTP bytes, one that never answers). Also a runner for one monitor entry through
 * the real monitor source.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { createDefaultRegistry } from '../app/builtins.js';
import type { Component } from '../lib/component.js';
import { memoryLogger } from '../lib/logger.js';
import type { Batch } from '../lib/types.js';
import { createMonitorSource, type MonitorSource } from '../sources/monitors/monitorSource.js';

/** The first of `candidates` that exists and runs, or why none does. */
export function findBinary(candidates: string[], versionArgs: string[]): { path?: string; reason?: string } {
  for (const c of candidates) {
    if (!fs.existsSync(c)) continue;
    const r = spawnSync(c, versionArgs, { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0) return { path: c };
    return { reason: `${c} ${versionArgs.join(' ')} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}` };
  }
  return { reason: `none of ${candidates.join(', ')} is installed` };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Peer {
  port: number;
  /** What the server wrote to its error log / stderr (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

async function startProcess(bin: string, args: string[], port: number, logFile: string): Promise<Peer> {
  let stderr = '';
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  let exited = false;
  const exitedP = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const log = () => stderr + (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  if (!(await waitFor(async () => exited || (await canConnect(port)), 15_000)) || exited) {
    child.kill('SIGKILL');
    throw new Error(`${path.basename(bin)} did not start on 127.0.0.1:${port}: ${log()}`);
  }
  return {
    port,
    log,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitedP;
      clearTimeout(t);
      // The workers close their listeners with the parent; wait until the port is free.
      await waitFor(async () => !(await canConnect(port)), 5000);
    },
  };
}

/** nginx with `stub_status` at `/nginx_status` on 127.0.0.1:`port`, prefix `dir`. */
export async function startNginx(bin: string, dir: string, port: number): Promise<Peer> {
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, 'tmp', t)};`).join('\n');
  fs.writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')};
events { worker_connections 64; }
http {
  access_log off;
${temp}
  server {
    listen 127.0.0.1:${port};
    location /nginx_status { stub_status on; allow 127.0.0.1; deny all; }
    location / { return 404; }
  }
}
`,
  );
  return startProcess(bin, ['-p', dir, '-c', conf, '-g', 'daemon off;'], port, path.join(dir, 'error.log'));
}

/** apache2 (event MPM) with `mod_status` at `/server-status` on 127.0.0.1:`port`, ServerRoot `dir`. */
export async function startApache(bin: string, dir: string, port: number, modules = '/usr/lib/apache2/modules'): Promise<Peer> {
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'httpd.conf');
  const errorLog = path.join(dir, 'error.log');
  const root = process.getuid?.() === 0;
  fs.writeFileSync(
    conf,
    `ServerRoot ${dir}
ServerName localhost
Listen 127.0.0.1:${port}
LoadModule mpm_event_module ${modules}/mod_mpm_event.so
LoadModule authz_core_module ${modules}/mod_authz_core.so
LoadModule authz_host_module ${modules}/mod_authz_host.so
LoadModule status_module ${modules}/mod_status.so
PidFile ${path.join(dir, 'httpd.pid')}
ErrorLog ${errorLog}
Mutex file:${dir} default
DefaultRuntimeDir ${dir}
ScoreBoardFile ${path.join(dir, 'scoreboard')}
${root ? 'User nobody\nGroup nogroup\n' : ''}ExtendedStatus On
<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>
`,
  );
  return startProcess(bin, ['-DFOREGROUND', '-f', conf], port, errorLog);
}

/** An HTTP server on 127.0.0.1:`port` (0: any) that answers every request with `status` and `body`. */
export async function startHttpAnswering(port: number, body: string, status = 200): Promise<Peer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    log: () => '',
    stop: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/** A TCP server that writes `bytes` then closes (`bytes` undefined: accepts and never answers). */
export async function startTcpPeer(bytes: string | undefined): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (bytes !== undefined) s.end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    log: () => '',
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** One monitor entry run through the real monitor source (registry: the defaults plus `component`). */
export function runMonitor(component: Component, entry: Record<string, unknown>, dir: string) {
  const registry = createDefaultRegistry();
  if (!registry.component('monitor', component.type)) registry.add(component);
  const logger = memoryLogger();
  const agent = {
    agent_log_path: path.join(dir, 'log'),
    agent_data_path: path.join(dir, 'data'),
    global_monitor_sample_interval: 30,
    global_monitor_sample_interval_enable_jitter: false,
  };
  const src: MonitorSource = createMonitorSource(entry as never, { logger, agent: agent as never, registry });
  const batches: Batch[] = [];
  const sub = src.batches$.subscribe((b) => batches.push(b));
  const lines = () => batches.flatMap((b) => b.events.map((e) => String(e.message)));
  return {
    src,
    logger,
    batches,
    lines,
    errors: () => logger.records.filter((r) => r.level === 'error').map((r) => r.message),
    async stop() {
      await src.stop();
      sub.unsubscribe();
    },
  };
}

/** `[module(id)] metric value` lines as `{ metric: value }` of the last sample that has `metric`. */
export function lastValues(lines: string[], name: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = new RegExp(`\\[${name.replace(/[()]/g, '\\$&')}\\] (\\S+) (\\S+)`);
  for (const l of lines) {
    const m = re.exec(l);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
