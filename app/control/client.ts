/**
 * Client side of the control socket (see server.ts): one request, JSON line replies.
 */
import net from 'node:net';
import path from 'node:path';
import { CONTROL_SOCKET } from './server.js';

export class AgentNotRunningError extends Error {
  constructor(sockPath: string) {
    super(`The agent does not appear to be running (no answer on ${sockPath}).`);
    this.name = 'AgentNotRunningError';
  }
}

export function controlSocketPath(dataPath: string): string {
  return path.join(dataPath, CONTROL_SOCKET);
}

/** Sends one request and calls `onLine` for each JSON reply line; resolves when the agent hangs up. */
export function request(dataPath: string, req: Record<string, unknown>, onLine: (value: unknown) => void, timeoutMs = 30_000): Promise<void> {
  const sockPath = controlSocketPath(dataPath);
  return new Promise<void>((resolve, reject) => {
    const sock = net.connect(sockPath);
    let buf = '';
    let connected = false;
    const timer = timeoutMs > 0 ? setTimeout(() => { sock.destroy(); reject(new Error(`No answer from the agent within ${timeoutMs / 1000} seconds.`)); }, timeoutMs) : undefined;
    sock.setEncoding('utf8');
    sock.on('connect', () => {
      connected = true;
      sock.write(JSON.stringify(req) + '\n');
    });
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) {
          try {
            onLine(JSON.parse(line));
          } catch {
            /* ignore a garbled line */
          }
        }
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(connected ? err : new AgentNotRunningError(sockPath));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** One request, one reply. */
export async function call<T = unknown>(dataPath: string, req: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
  let reply: unknown;
  await request(dataPath, req, (v) => (reply ??= v), timeoutMs);
  if (reply === undefined) throw new Error('The agent closed the connection without answering.');
  return reply as T;
}
