/**
 * `sluice start`: in the foreground, runs the agent until SIGTERM/SIGINT or `sluice stop`
 * (SIGHUP re-reads the config); otherwise starts itself detached, waits until the control
 * socket answers and returns. A second start while one runs says so and exits 1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createAgent, ConfigInvalidError } from '../agent.js';
import { startControlServer, type ControlServer } from '../control/server.js';
import { call } from '../control/client.js';
import { configFor, configPathOf, type CliArgs, type Output } from './args.js';
import { formatBytes } from './format.js';
import { AGENT_ENV, AGENT_NODE_FLAGS } from './nodeFlags.js';
import { acquireLock, lockHolder, LOCK_FILE } from '../../lib/dataDirLock.js';

export const PID_FILE = 'sluice.pid';
/** Written by the agent at the very end of its stop: what was left undelivered (see `StopReport`). */
export const STOP_REPORT_FILE = 'last-stop.json';

export interface StopReport {
  pid: number;
  stoppedAt: number;
  why: string;
  /** Bytes read but not acknowledged by the sink (the agent's credits still in use). */
  pendingBytes: number;
  /** The sink's own figures, when it reports them. */
  sinkPendingBytes?: number;
  batchesPending?: number;
}

function heldMessage(dataPath: string, pid: number): string {
  const who = pid > 0 ? `pid ${pid}` : 'another sluice, starting up';
  return `The agent is already running (${who}) on agent_data_path ${dataPath} (lock ${path.join(dataPath, LOCK_FILE)}); it may still be shutting down. Use "sluice stop" first, or wait until it has exited.`;
}

export async function start(args: CliArgs, out: Output): Promise<number> {
  const cfg = configFor(args, out);
  if (!cfg) return 1;
  const holder = lockHolder(cfg.agent_data_path);
  if (holder !== undefined && holder !== process.pid) {
    out.err(heldMessage(cfg.agent_data_path, holder));
    return 1;
  }
  if (await isRunning(cfg.agent_data_path)) {
    out.err(`The agent is already running (agent_data_path ${cfg.agent_data_path}). Use "sluice stop" first.`);
    return 1;
  }
  if (!args.flags.has('foreground')) return daemonize(args, out, cfg.agent_data_path);
  // One agent per data directory, from before the agent opens anything until this process exits.
  const lock = acquireLock(cfg.agent_data_path);
  if (!lock.ok) {
    out.err(heldMessage(cfg.agent_data_path, lock.pid));
    return 1;
  }
  try {
    return await foreground(args, out);
  } finally {
    lock.release();
  }
}

/** The pid in the data directory's pid file, if any. */
export function pidFromFile(dataPath: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(path.join(dataPath, PID_FILE), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** "N bytes (B batches) read but not delivered; ..." for a stop that left something behind. */
export function undeliveredText(r: StopReport): string {
  const bytes = Math.max(r.pendingBytes, r.sinkPendingBytes ?? 0);
  const batches = r.batchesPending ? ` in ${r.batchesPending} batch(es)` : '';
  return `${formatBytes(bytes)}${batches} read but not yet delivered: log lines stay in their files (the checkpoints were not advanced past them) and are sent on the next start.`;
}

export function readStopReport(dataPath: string): StopReport | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dataPath, STOP_REPORT_FILE), 'utf8')) as StopReport;
  } catch {
    return undefined;
  }
}

export async function isRunning(dataPath: string): Promise<boolean> {
  try {
    await call(dataPath, { cmd: 'status' }, 5000);
    return true;
  } catch {
    return false;
  }
}

async function foreground(args: CliArgs, out: Output): Promise<number> {
  const configPath = configPathOf(args);
  const agent = createAgent({ configPath, consoleLog: !args.flags.has('quiet') });
  try {
    await agent.start();
  } catch (err) {
    if (err instanceof ConfigInvalidError) out.err(err.message);
    else out.err(`sluice could not start: ${(err as Error).message}`);
    await agent.stop(2000);
    return 1;
  }
  const cfg = agent.config!;
  let control: ControlServer | undefined;
  try {
    control = await startControlServer(agent, cfg.agent_data_path, { error: out.err, warn: out.err, info: () => {}, debug: () => {} }, () => void shutdown('stop command'));
  } catch (err) {
    out.err(`sluice could not start: ${(err as Error).message}`);
    await agent.stop(2000);
    return 1;
  }
  const pidFile = path.join(cfg.agent_data_path, PID_FILE);
  fs.writeFileSync(pidFile, `${process.pid}\n`);
  fs.rmSync(path.join(cfg.agent_data_path, STOP_REPORT_FILE), { force: true });

  const where = (name: string, o: Record<string, unknown>) => `${name} (${o.type}${o.type === 'addEvents' ? ` ${o.scalyr_server ?? cfg.scalyr_server}` : o.endpoint ? ` ${o.endpoint}` : o.type === 'embedded' ? ` ${o.dir ?? cfg.embedded_output}` : ''})`;
  const mode = cfg.sinks
    ? `sending to ${Object.entries(cfg.sinks).map(([n, o]) => where(n, o)).join(', ')}`
    : cfg.api_key
      ? `uploading to ${cfg.scalyr_server}`
      : `writing to the embedded default sink ${cfg.embedded_output}`;
  out.out(`sluice is running (pid ${process.pid}), ${mode}. Config ${configPath}. Stop with Ctrl-C or "sluice stop".`);
  const progress = setInterval(() => {
    const s = agent.status();
    const files = s.logs.reduce((n, l) => n + l.files.length, 0);
    // Every sink's deliveries (one sink without `sinks`).
    const all = s.sinks ? Object.values(s.sinks).map((x) => x.counters) : [s.sink.counters];
    const c = all.reduce((t: { sentEvents: number; sentBytes: number }, x) => ({ sentEvents: t.sentEvents + (x?.sentEvents ?? 0), sentBytes: t.sentBytes + (x?.sentBytes ?? 0) }), { sentEvents: 0, sentBytes: 0 });
    out.out(
      `sluice: reading ${files} file(s) from ${s.logs.length} log entr${s.logs.length === 1 ? 'y' : 'ies'}, ${s.monitors.length} monitor(s); shipped ${c.sentEvents} events (${formatBytes(c.sentBytes)}); ${formatBytes(s.pendingBytes)} pending.`,
    );
  }, Number(process.env.SLUICE_PROGRESS_MS ?? 10_000));
  progress.unref();

  // Scalyr's stop_agent_on_failure: a monitor that asks for it stops the agent when it stays
  // failed (three checks in a row, 5 s apart; one failed sample that recovers does not count).
  const failedChecks = new Map<string, number>();
  const watchdog = setInterval(() => {
    for (const m of agent.status().monitors) {
      const st = m.status as { alive?: boolean; stopAgentOnFailure?: boolean } | undefined;
      const n = st?.stopAgentOnFailure && st.alive === false ? (failedChecks.get(m.key) ?? 0) + 1 : 0;
      failedChecks.set(m.key, n);
      if (n >= 3) {
        out.err(`sluice: monitor ${m.key} failed and has stop_agent_on_failure set; stopping.`);
        void shutdown(`monitor ${m.key} failed`, 2);
        return;
      }
    }
  }, 5000);
  watchdog.unref();

  let done: (code: number) => void;
  const finished = new Promise<number>((r) => (done = r));
  let stopping = false;
  async function shutdown(why: string, code = 0): Promise<void> {
    if (stopping) return;
    stopping = true;
    out.out(`sluice: stopping (${why})...`);
    clearInterval(progress);
    clearInterval(watchdog);
    await control?.close();
    // What was still undelivered once the sink (stopped last) stopped.
    const report: StopReport = { pid: process.pid, stoppedAt: 0, why, ...(await agent.stop()) };
    report.stoppedAt = Date.now();
    try {
      fs.writeFileSync(path.join(cfg.agent_data_path, STOP_REPORT_FILE), JSON.stringify(report) + '\n', { mode: 0o600 });
    } catch {
      /* best effort: the data dir may be gone */
    }
    fs.rmSync(pidFile, { force: true });
    const left = report.pendingBytes > 0 || (report.sinkPendingBytes ?? 0) > 0;
    out.out(
      left
        ? `sluice: stopped; ${undeliveredText(report)}`
        : 'sluice: stopped; everything read was delivered.',
    );
    done(code);
  }
  const onTerm = () => void shutdown('SIGTERM');
  const onInt = () => void shutdown('SIGINT');
  const onHup = () => void agent.reload();
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  const code = await finished;
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);
  process.off('SIGHUP', onHup);
  return code;
}

async function daemonize(args: CliArgs, out: Output, dataPath: string): Promise<number> {
  const bin = fileURLToPath(new URL('../../../bin/sluice', import.meta.url));
  fs.mkdirSync(dataPath, { recursive: true });
  const holder = lockHolder(dataPath);
  if (holder !== undefined) {
    out.err(heldMessage(dataPath, holder));
    return 1;
  }
  const errFile = path.join(dataPath, 'sluice.out');
  const fd = fs.openSync(errFile, 'w');
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, bin, 'start', '--foreground', '--quiet', '--config', configPathOf(args)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...AGENT_ENV, ...process.env },
  });
  fs.closeSync(fd);
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? 1));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited !== null) {
      out.err(`sluice failed to start:\n${fs.readFileSync(errFile, 'utf8')}`);
      return 1;
    }
    if (await isRunning(dataPath)) {
      out.out(`sluice started (pid ${child.pid}).`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  out.err(`sluice did not answer within 20 seconds; see ${errFile}.`);
  return 1;
}
