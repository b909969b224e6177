/**
 * `core-agent start|probe|shutdown|install`: the launch contract of Scout's core-agent binary, so
 * language agents (Python, Node, PHP, Elixir) can launch and talk to sluice unchanged (behaviour
 * notes §2).
 *
 *   core-agent start [--socket PATH] [--tcp HOST:PORT] [--daemonize true|false]
 *                    [--log-level trace|debug|info|warn|error] [--log-file PATH]
 *                    [--config-file PATH.toml] [--proxy URL]
 *                    [--data-dir DIR] [--minute-secs N] [--grace-secs N]     (sluice additions)
 *   core-agent probe    [--socket PATH | --tcp HOST:PORT]
 *   core-agent shutdown [--socket PATH | --tcp HOST:PORT]
 *   core-agent install  [--dir CORE_AGENT_DIR] [--version V]...   (sluice addition)
 *
 * `install` writes `<dir>/scout_apm_core-<V>-<triple>/{core-agent,manifest.json}` for the triples
 * the language agents compute (coreAgentInstall.ts), so an agent with SCOUT_CORE_AGENT_DIR=<dir>
 * finds and launches sluice instead of downloading Scout's binary.
 *
 * Exit codes: 0 ok; 1 failure (probe/shutdown: nothing answered; install: cannot write); 2 usage;
 * 3 an agent is already listening (start). `start --daemonize true` returns as soon as the background agent listens.
 * Without `--socket`/`--tcp` the agent listens on TCP 127.0.0.1:6590 (the clients' default).
 * SIGTERM/SIGINT/SIGQUIT and a client's CoreAgentShutdown stop after flushing the open minute.
 * `main` returns the exit code; only the bin file exits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import type { ApmConfig } from '../../lib/config/types.js';
import type { Logger } from '../../lib/types.js';
import { encodeFrame, FrameDecoder } from '../../sources/spanSocket/framing.js';
import { DEFAULT_CORE_AGENT_VERSION } from '../../sources/spanSocket/replies.js';
import { isListening, parseTcp } from '../../sources/spanSocket/index.js';
import { errorMessage } from '../../lib/counters.js';
import { DEFAULT_INSTALL_DIR, installCoreAgentDir, versionTag } from './coreAgentInstall.js';

export interface CoreAgentArgs {
  mode: 'start' | 'probe' | 'shutdown' | 'install' | 'help';
  socket?: string;
  tcp?: string;
  daemonize: boolean;
  logLevel: string;
  logFile?: string;
  configFile?: string;
  proxy?: string;
  dataDir?: string;
  minuteSecs?: number;
  graceSecs?: number;
  /** install: the core_agent_dir and the versions (as the agents request them). */
  dir?: string;
  versions: string[];
  /** install: wrappers that find bin/core-agent relative to themselves (a layout that moves with its tree). */
  relative?: boolean;
  warnings: string[];
}

const USAGE = `usage: core-agent start|probe|shutdown [--socket PATH] [--tcp HOST:PORT] [--daemonize true|false]
       [--log-level trace|debug|info|warn|error] [--log-file PATH] [--config-file FILE.toml] [--proxy URL]
       [--data-dir DIR] [--minute-secs N] [--grace-secs N]
       core-agent install [--dir CORE_AGENT_DIR] [--version V]... [--relative]
  install writes <dir>/scout_apm_core-<V>-<triple>/ (core-agent wrapper + manifest.json) for the
  Linux (x86_64/aarch64, gnu and musl) and macOS triples, so a language agent with
  SCOUT_CORE_AGENT_DIR=<dir> SCOUT_CORE_AGENT_DOWNLOAD=false launches sluice.
  Defaults: --dir ${DEFAULT_INSTALL_DIR}, --version v${DEFAULT_CORE_AGENT_VERSION} (repeat or comma-separate
  for more, e.g. --version v1.3.0,v1.4.0,v1.5.1 for older agents' defaults). --relative: each wrapper
  finds bin/core-agent relative to itself and runs the node on PATH (the npm package ships such a
  layout in scout_apm_core/).`;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const DEFAULT_TCP = '127.0.0.1:6590';

export class UsageError extends Error {}

/** Parses arguments (process.argv, or only the arguments after the program name). */
export function parseArgs(argv: string[]): CoreAgentArgs {
  const modeAt = argv.findIndex((a) => a === 'start' || a === 'probe' || a === 'shutdown' || a === 'install' || a === 'help' || a === '--help' || a === '-h');
  if (modeAt < 0) throw new UsageError('missing mode (start, probe, shutdown or install)');
  const m = argv[modeAt]!;
  const out: CoreAgentArgs = { mode: m.startsWith('-') ? 'help' : (m as CoreAgentArgs['mode']), daemonize: false, logLevel: 'info', versions: [], warnings: [] };
  const rest = argv.slice(modeAt + 1);
  for (let i = 0; i < rest.length; i++) {
    let flag = rest[i]!;
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const take = () => {
      if (value !== undefined) return value;
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    // install's own options; other modes ignore them like any unknown option.
    const installOnly = (flag === '--dir' || flag === '--version' || flag === '--relative') && out.mode !== 'install';
    switch (installOnly ? '' : flag) {
      case '--socket':
        out.socket = take();
        break;
      case '--tcp':
        out.tcp = take();
        parseTcp(out.tcp);
        break;
      case '--daemonize': {
        const v = take().toLowerCase();
        if (v !== 'true' && v !== 'false') throw new UsageError(`--daemonize expects true or false, got ${v}`);
        out.daemonize = v === 'true';
        break;
      }
      case '--log-level': {
        // The Python agent passes its own `log_level` here when set (SCOUT_LOG_LEVEL=warning).
        const v = take().toLowerCase().replace(/^warning$/, 'warn');
        out.logLevel = LEVELS.includes(v) ? v : 'info';
        if (!LEVELS.includes(v)) out.warnings.push(`unknown --log-level ${v}; using info`);
        break;
      }
      case '--log-file':
        out.logFile = take();
        break;
      case '--config-file':
        out.configFile = take();
        break;
      case '--proxy':
        out.proxy = take();
        break;
      case '--data-dir':
        out.dataDir = take();
        break;
      case '--minute-secs':
      case '--grace-secs': {
        const n = Number(take());
        if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} expects a number of seconds`);
        if (flag === '--minute-secs') out.minuteSecs = n;
        else out.graceSecs = n;
        break;
      }
      case '--dir':
        out.dir = take();
        break;
      case '--relative':
        out.relative = value === undefined || value === 'true';
        break;
      case '--version':
        for (const v of take().split(',')) {
          const t = v.trim();
          if (!/^(v?\d+\.\d+\.\d+|latest)$/.test(t)) throw new UsageError(`--version expects a version like v1.5.1 or latest, got ${JSON.stringify(t)}`);
          if (!out.versions.includes(versionTag(t))) out.versions.push(versionTag(t));
        }
        break;
      case '--help':
      case '-h':
        out.mode = 'help';
        break;
      default:
        // Newer language agents may pass flags we do not know: never refuse to start for that.
        if (flag.startsWith('-')) {
          out.warnings.push(`ignoring unknown option ${flag}`);
          if (value === undefined && rest[i + 1] !== undefined && !rest[i + 1]!.startsWith('-')) i++;
        } else out.warnings.push(`ignoring argument ${flag}`);
    }
  }
  if (out.minuteSecs === 0) throw new UsageError('--minute-secs must be positive');
  return out;
}

/** A logger in the real core agent's line format: `[2022-05-18T10:26:49][core_agent][INFO] …`. */
export function createCoreAgentLogger(level: string, file?: string): Logger & { close(): Promise<void> } {
  const min = LEVELS.indexOf(level === 'trace' ? 'debug' : level);
  const stream = file ? fs.createWriteStream(file, { flags: 'a' }) : undefined;
  stream?.on('error', () => undefined);
  const write = (lvl: string) => (message: string, meta?: Record<string, unknown>) => {
    if (LEVELS.indexOf(lvl) < min) return;
    const t = new Date().toISOString().slice(0, 19);
    const line = `[${t}][core_agent][${lvl.toUpperCase()}] ${message}${meta && Object.keys(meta).length ? ' ' + JSON.stringify(meta) : ''}\n`;
    if (stream) stream.write(line);
    else process.stdout.write(line);
  };
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    close: () => new Promise<void>((r) => (stream ? stream.end(() => r()) : r())),
  };
}

/** Reads `[debug] ingest_url` (and optional `key`, `proxy`, `[apm]` overrides) from a TOML file. */
export function readConfigFile(file: string): Partial<ApmConfig> & { proxy?: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--config-file ${file}: ${errorMessage(err)}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--config-file ${file}: invalid TOML: ${errorMessage(err)}`);
  }
  const out: Partial<ApmConfig> & { proxy?: string } = {};
  const debug = (doc.debug ?? {}) as Record<string, unknown>;
  const apm = (doc.apm ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(apm)) (out as Record<string, unknown>)[k] = v;
  if (typeof debug.ingest_url === 'string') out.ingest_url = debug.ingest_url;
  if (typeof doc.ingest_url === 'string') out.ingest_url = doc.ingest_url;
  if (typeof doc.key === 'string') out.key = doc.key;
  if (typeof doc.proxy === 'string') out.proxy = doc.proxy;
  return out;
}

type Target = string | { host: string; port: number };
const targets = (a: CoreAgentArgs): Target[] => {
  const t: Target[] = [];
  if (a.socket) t.push(a.socket);
  if (a.tcp) t.push(parseTcp(a.tcp));
  if (t.length === 0) t.push(parseTcp(DEFAULT_TCP));
  return t;
};
const describe = (t: Target) => (typeof t === 'string' ? t : `${t.host}:${t.port}`);

/**
 * Sends one command and returns the parsed reply (undefined when nothing answered in time).
 * With `awaitClose`, waits (bounded) after the reply until the agent closes the connection.
 */
export function sendCommand(target: Target, command: unknown, timeoutMs = 3000, awaitCloseMs = 0): Promise<unknown> {
  return new Promise((resolve) => {
    const s = typeof target === 'string' ? net.connect(target) : net.connect(target.port, target.host);
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    let reply: unknown;
    let settled = false;
    const finish = (v: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    let t = setTimeout(() => finish(undefined), timeoutMs);
    s.once('connect', () => s.write(encodeFrame(JSON.stringify(command))));
    s.on('data', (c) => {
      if (reply !== undefined) return;
      for (const r of decoder.push(c)) {
        if (r.kind !== 'frame') return finish(undefined);
        try {
          reply = JSON.parse(r.body.toString('utf8'));
        } catch {
          return finish(undefined);
        }
        if (!awaitCloseMs) return finish(reply);
        clearTimeout(t);
        t = setTimeout(() => finish(reply), awaitCloseMs);
        return;
      }
    });
    s.once('error', () => finish(reply));
    s.once('close', () => finish(reply));
  });
}

async function probe(a: CoreAgentArgs, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  for (const t of targets(a)) {
    const reply = (await sendCommand(t, { CoreAgentVersion: {} })) as { CoreAgentVersion?: { version?: unknown } } | undefined;
    const v = reply?.CoreAgentVersion?.version;
    if (typeof v === 'string') {
      out(`Agent found: CoreAgentVersion { raw: ${JSON.stringify(v)} }\n`);
      return 0;
    }
  }
  err(`No agent found at ${targets(a).map(describe).join(', ')}\n`);
  return 1;
}

async function shutdown(a: CoreAgentArgs, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  for (const t of targets(a)) {
    // The agent keeps this connection open until it flushed the open minute to every sink.
    const reply = (await sendCommand(t, { CoreAgentShutdown: {} }, 3000, 15_000)) as Record<string, unknown> | undefined;
    if (reply && 'CoreAgentShutdown' in reply) {
      const until = Date.now() + 5_000;
      while (Date.now() < until && (await isListening(t, 300))) await new Promise((r) => setTimeout(r, 100));
      out(`Agent at ${describe(t)} shut down\n`);
      return 0;
    }
  }
  err(`No agent found at ${targets(a).map(describe).join(', ')}\n`);
  return 1;
}

function apmConfig(a: CoreAgentArgs): { apm: ApmConfig; proxy?: string } {
  const fromFile = a.configFile ? readConfigFile(a.configFile) : {};
  const { proxy: fileProxy, ...rest } = fromFile;
  const apm: ApmConfig = {
    max_frame_bytes: 64 * 1024 * 1024,
    request_timeout_secs: 120,
    ...rest,
    enabled: true,
    socket_path: a.socket ?? '',
    ...(a.tcp || !a.socket ? { tcp: a.tcp ?? DEFAULT_TCP } : {}),
  };
  if (!apm.socket_path) delete (apm as Partial<ApmConfig>).socket_path;
  return { apm, proxy: a.proxy ?? fileProxy };
}

function defaultDataDir(a: CoreAgentArgs): string {
  if (a.dataDir) return a.dataDir;
  if (process.env.SLUICE_CORE_AGENT_DATA) return process.env.SLUICE_CORE_AGENT_DATA;
  const base = a.socket ? path.dirname(path.resolve(a.socket)) : os.tmpdir();
  return path.join(base, 'sluice-apm');
}

/** The bin file of this command, to re-run ourselves in the background (and for install's wrapper). */
function selfBin(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../../bin/core-agent', '../../bin/core-agent']) {
    const p = path.resolve(here, rel);
    if (fs.existsSync(p)) return fs.realpathSync(p);
  }
  throw new Error('cannot find bin/core-agent');
}

function install(a: CoreAgentArgs, out: (s: string) => void, err: (s: string) => void): number {
  if (a.dir === '') throw new UsageError('--dir needs a directory');
  const dir = path.resolve(a.dir ?? DEFAULT_INSTALL_DIR);
  for (const w of a.warnings) err(`core-agent: ${w}\n`);
  let written;
  try {
    written = installCoreAgentDir({
      dir,
      versions: a.versions.length ? a.versions : [versionTag(DEFAULT_CORE_AGENT_VERSION)],
      reportedVersion: DEFAULT_CORE_AGENT_VERSION,
      bin: selfBin(),
      node: process.execPath,
      relative: a.relative,
    });
  } catch (e) {
    err(`core-agent install: ${errorMessage(e)}\n`);
    return 1;
  }
  for (const w of written) out(`${w.binary} (sha256 ${w.sha256})\n`);
  out(`Installed sluice as the core agent in ${dir}. Set SCOUT_CORE_AGENT_DIR=${dir} SCOUT_CORE_AGENT_DOWNLOAD=false in the app's environment.\n`);
  return 0;
}

async function startDaemon(a: CoreAgentArgs, argv: string[], err: (s: string) => void): Promise<number> {
  for (const t of targets(a)) if (await isListening(t)) return 3;
  const modeAt = argv.indexOf('start');
  const args = argv.slice(modeAt + 1);
  // Replace the daemonize value; everything else is passed through unchanged.
  const childArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--daemonize') i++;
    else if (args[i]!.startsWith('--daemonize=')) continue;
    else childArgs.push(args[i]!);
  }
  const child = spawn(process.execPath, [selfBin(), 'start', '--daemonize', 'false', ...childArgs], {
    detached: true,
    stdio: 'ignore',
    cwd: process.cwd(),
    env: process.env,
  });
  let exitCode: number | null = null;
  child.once('exit', (code) => (exitCode = code ?? 1));
  child.once('error', () => (exitCode = 1));
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    if (exitCode !== null) return exitCode === 3 ? 3 : exitCode === 0 ? 1 : exitCode;
    let up = true;
    for (const t of targets(a)) if (!(await isListening(t, 200))) up = false;
    if (up) {
      child.unref();
      return 0;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.unref();
  err('core-agent: the background agent did not start listening within 10 s\n');
  return 1;
}

async function startForeground(a: CoreAgentArgs): Promise<number> {
  const logger = createCoreAgentLogger(a.logLevel, a.logFile);
  for (const w of a.warnings) logger.warn(w);
  let cfg: { apm: ApmConfig; proxy?: string };
  try {
    cfg = apmConfig(a);
  } catch (e) {
    logger.error(errorMessage(e));
    await logger.close();
    return 2;
  }
  logger.info(`Starting ScoutApm CoreAgent version: "${DEFAULT_CORE_AGENT_VERSION}" (sluice)`);
  let stopRequested!: () => void;
  const stopSignal = new Promise<void>((r) => (stopRequested = r));
  let handle;
  try {
    // Loaded here so probe/shutdown start fast (no aggregation or SQL parser).
    const { runCoreAgent } = await import('./runCoreAgent.js');
    handle = await runCoreAgent({
      apm: cfg.apm,
      logger,
      dataDir: defaultDataDir(a),
      proxy: cfg.proxy,
      minuteMs: a.minuteSecs !== undefined ? a.minuteSecs * 1000 : undefined,
      graceMs: a.graceSecs !== undefined ? a.graceSecs * 1000 : undefined,
      onShutdownRequest: () => stopRequested(),
    });
  } catch (e) {
    const code = (e as { code?: string }).code === 'EADDRINUSE_LIVE' ? 3 : 1;
    logger.error(`cannot start: ${errorMessage(e)}`);
    await logger.close();
    return code;
  }
  const onSignal = (sig: string) => {
    logger.info(`received ${sig}; flushing and stopping`);
    stopRequested();
  };
  const signals = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
  const handlers = signals.map((s) => [s, () => onSignal(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  await stopSignal;
  await handle.stop(10_000);
  for (const [s, h] of handlers) process.off(s, h);
  logger.info('CoreAgent stopped');
  await logger.close();
  return 0;
}

/** Runs the command; returns the exit code. `argv` may be process.argv or just the arguments. */
export async function main(argv: string[]): Promise<number> {
  const out = (s: string) => void process.stdout.write(s);
  const err = (s: string) => void process.stderr.write(s);
  let a: CoreAgentArgs;
  try {
    a = parseArgs(argv);
  } catch (e) {
    err(`core-agent: ${errorMessage(e)}\n${USAGE}\n`);
    return 2;
  }
  try {
    switch (a.mode) {
      case 'help':
        out(USAGE + '\n');
        return 0;
      case 'probe':
        return await probe(a, out, err);
      case 'shutdown':
        return await shutdown(a, out, err);
      case 'install':
        return install(a, out, err);
      case 'start':
        if (a.configFile) readConfigFile(a.configFile); // report a bad file before forking
        return a.daemonize ? await startDaemon(a, argv, err) : await startForeground(a);
    }
  } catch (e) {
    err(`core-agent: ${errorMessage(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
