/**
 * The agent's own log: winston writing `<agent_log_path>/agent.log` (rotated by size), plus the
 * console when running in the foreground. `debug_level` maps to winston levels and can change
 * live. Messages never contain log line contents or the API key (components log counts and
 * paths only), so redaction rules cannot be bypassed through this log.
 */
import fs from 'node:fs';
import path from 'node:path';
import winston from 'winston';
import type { Logger } from './types.js';

export interface AgentLogOptions {
  dir: string;
  debugLevel: number;
  console?: boolean;
  maxBytes?: number;
  maxFiles?: number;
}

export interface AgentLog extends Logger {
  setDebugLevel(level: number): void;
  close(): Promise<void>;
  /** The file written. */
  file: string;
}

/** Scalyr's debug_level 0..5: 0 is info, anything above adds debug output. */
export function levelFor(debugLevel: number): string {
  return debugLevel > 0 ? 'debug' : 'info';
}

/** Mode of the agent's own log files (owner read/write, group read). */
const LOG_FILE_MODE = 0o640;

export function createAgentLog(opts: AgentLogOptions): AgentLog {
  fs.mkdirSync(opts.dir, { recursive: true });
  const file = path.join(opts.dir, 'agent.log');
  // The agent's log names files and hosts: never world-readable (0640 before the umask, also for
  // the files rotation creates; an existing log readable by others loses those bits).
  try {
    fs.closeSync(fs.openSync(file, 'a', LOG_FILE_MODE));
    const st = fs.statSync(file);
    if (st.mode & 0o007) fs.chmodSync(file, st.mode & 0o770);
  } catch {
    /* winston reports a log file it cannot open */
  }
  // Scalyr's agent.log line shape: `2024-05-01 12:00:00.123Z INFO [core] message`.
  const lineFormat = winston.format.printf((info) => {
    const { level, message, timestamp, ...meta } = info as Record<string, unknown>;
    const extra = Object.keys(meta).length ? ' ' + JSON.stringify(meta) : '';
    return `${String(timestamp)} ${String(level).toUpperCase()} [sluice] ${String(message)}${extra}`;
  });
  const timestamp = winston.format.timestamp({ format: () => new Date().toISOString().replace('T', ' ') });
  // Rotation (log_rotation_max_bytes / _backup_count): agent.log → agent1.log → …, newest first.
  // Known limit: winston's file transport loses lines written in the few milliseconds it spends
  // renaming; a burst of hundreds of lines right at the rotation point can lose some of them.
  const transports: winston.transport[] = [
    new winston.transports.File({
      filename: file,
      maxsize: opts.maxBytes ?? 20 * 1024 * 1024,
      maxFiles: opts.maxFiles ?? 3,
      tailable: true,
      options: { flags: 'a', mode: LOG_FILE_MODE },
      format: winston.format.combine(timestamp, lineFormat),
    }),
  ];
  if (opts.console) {
    transports.push(new winston.transports.Console({ format: winston.format.combine(timestamp, lineFormat), stderrLevels: ['error', 'warn'] }));
  }
  const w = winston.createLogger({ level: levelFor(opts.debugLevel), transports, exitOnError: false });
  w.on('error', () => undefined); // a broken log file must not crash the host
  const at = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string, meta?: Record<string, unknown>) => {
    try {
      w.log(level, message, meta ?? {});
    } catch {
      /* never throw from logging */
    }
  };
  return {
    file,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    setDebugLevel(level: number) {
      w.level = levelFor(level);
    },
    close() {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        timer.unref();
        w.on('finish', () => {
          clearTimeout(timer);
          resolve();
        });
        w.end();
      });
    },
  };
}
