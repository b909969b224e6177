/** Test helpers for the APM specs: a framed core-agent client and bounded waiting. */
import net from 'node:net';
import { FrameDecoder, encodeFrame } from '../sources/spanSocket/framing.js';

export class FrameClient {
  readonly socket: net.Socket;
  private decoder = new FrameDecoder(64 * 1024 * 1024);
  private replies: unknown[] = [];
  private waiters: ((v: unknown) => void)[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      for (const r of this.decoder.push(chunk)) {
        if (r.kind !== 'frame') continue;
        const v = JSON.parse(r.body.toString('utf8'));
        const w = this.waiters.shift();
        if (w) w(v);
        else this.replies.push(v);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    });
  }

  static connect(target: string | number): Promise<FrameClient> {
    return new Promise((resolve, reject) => {
      const s = typeof target === 'string' ? net.connect(target) : net.connect(target, '127.0.0.1');
      s.once('connect', () => resolve(new FrameClient(s)));
      s.once('error', reject);
    });
  }

  /** Next reply (undefined when the connection closed). */
  next(timeoutMs = 5000): Promise<unknown> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reply within ' + timeoutMs + ' ms')), timeoutMs);
      this.waiters.push((v) => {
        clearTimeout(t);
        resolve(v);
      });
    });
  }

  sendRaw(buf: Buffer): void {
    this.socket.write(buf);
  }

  async request(obj: unknown): Promise<unknown> {
    this.sendRaw(encodeFrame(JSON.stringify(obj)));
    return this.next();
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((r) => {
      this.socket.once('close', () => r());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 500).unref();
    });
  }
}

/** Polls `cond` every 10 ms; on timeout throws, naming `what` (a function is called then, so it can describe the state). */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what: string | (() => string) = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Makes sure dist/ holds an up-to-date build of the core-agent command (bin/core-agent runs
 * dist/). `npm test` builds first; when run alone and stale, compile just that import graph.
 */
export function ensureCoreAgentBuilt(root: string): void {
  const out = path.join(root, 'dist/app/cli/coreAgent.js');
  const srcs = ['app/cli/coreAgent.ts', 'lib/apm', 'sources/spanSocket', 'operators/aggregateSpans.ts', 'operators/spans', 'sinks/checkin', 'sinks/ndjson'];
  const newest = (p: string): number => {
    const abs = path.join(root, p);
    const st = fs.statSync(abs);
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(0, ...fs.readdirSync(abs).map((f) => newest(path.join(p, f))));
  };
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= Math.max(...srcs.map(newest))) return;
  const cfg = ts.getParsedCommandLineOfConfigFile(path.join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: () => undefined,
  } as ts.ParseConfigFileHost)!;
  const program = ts.createProgram([path.join(root, 'app/cli/coreAgent.ts')], { ...cfg.options, noEmitOnError: false });
  program.emit();
}
