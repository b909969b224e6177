/**
 * The control socket: how `sluice status`, `reload`, `stop`, `tap` and `top` reach a running
 * agent as an unprivileged user. A Unix socket `<agent_data_path>/sluice.sock` (mode 0600, so only
 * the agent's user can connect), one JSON request line per connection:
 *   {"cmd":"status"}                  → one JSON line (the agent's status)
 *   {"cmd":"reload"}                  → one JSON line (the reload outcome)
 *   {"cmd":"stop"}                    → one JSON line, then the agent stops
 *   {"cmd":"tap","component":"logs[0]:redact","limit":10} → JSON lines until the limit or hang-up
 * Bad requests get `{"error": "..."}`; nothing a client sends can crash the agent.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pidusage from 'pidusage';
import type { Agent } from '../agent.js';
import type { Logger } from '../../lib/types.js';

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

export const CONTROL_SOCKET = 'sluice.sock';
const MAX_REQUEST = 64 * 1024;

export async function startControlServer(agent: Agent, dataPath: string, logger: Logger, onStop: () => void): Promise<ControlServer> {
  const sockPath = path.join(dataPath, CONTROL_SOCKET);
  fs.mkdirSync(dataPath, { recursive: true });
  await removeStale(sockPath);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    sock.setEncoding('utf8');
    const onData = (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_REQUEST) {
        sock.end(JSON.stringify({ error: 'request too large' }) + '\n');
        return;
      }
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.off('data', onData);
      let req: { cmd?: string; component?: string; limit?: number };
      try {
        req = JSON.parse(buf.slice(0, nl));
      } catch {
        sock.end(JSON.stringify({ error: 'request is not JSON' }) + '\n');
        return;
      }
      void handle(req, sock);
    };
    sock.on('data', onData);
  });

  async function handle(req: { cmd?: string; component?: string; limit?: number }, sock: net.Socket): Promise<void> {
    try {
      switch (req.cmd) {
        case 'status':
          sock.end(JSON.stringify({ ...agent.status(), process: await processFigures() }) + '\n');
          return;
        case 'reload':
          sock.end(JSON.stringify(await agent.reload()) + '\n');
          return;
        case 'stop':
          sock.end(JSON.stringify({ ok: true }) + '\n');
          onStop();
          return;
        case 'tap': {
          let left = req.limit && req.limit > 0 ? req.limit : Infinity;
          const unwatch = agent.taps.watch(req.component || undefined, (records) => {
            for (const r of records) {
              if (left <= 0) break;
              left--;
              sock.write(JSON.stringify(r) + '\n');
            }
            if (left <= 0) {
              unwatch();
              sock.end();
            }
          });
          sock.write(JSON.stringify({ tapping: req.component ?? '*', points: [...agent.taps.points, 'sink'] }) + '\n');
          sock.on('close', unwatch);
          return;
        }
        default:
          sock.end(JSON.stringify({ error: `unknown command ${JSON.stringify(req.cmd)}` }) + '\n');
      }
    } catch (err) {
      sock.end(JSON.stringify({ error: String((err as Error)?.message ?? err) }) + '\n');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sockPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  fs.chmodSync(sockPath, 0o600);
  server.on('error', (err) => logger.error(`Control socket error: ${err.message}`));
  return {
    path: sockPath,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The agent process's CPU (% of one core since the last call) and memory, via pidusage. */
async function processFigures(): Promise<{ cpuPercent: number; rssBytes: number; uptimeSecs: number } | undefined> {
  try {
    const u = await pidusage(process.pid);
    return { cpuPercent: Math.round(u.cpu * 10) / 10, rssBytes: u.memory, uptimeSecs: Math.round(u.elapsed / 1000) };
  } catch {
    return undefined;
  }
}

/** Removes a socket file nobody answers on; refuses to steal a live one. */
async function removeStale(sockPath: string): Promise<void> {
  if (!fs.existsSync(sockPath)) return;
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(sockPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new Error(`another agent is already running (control socket ${sockPath} answers)`);
  fs.rmSync(sockPath, { force: true });
}
