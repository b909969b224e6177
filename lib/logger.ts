import type { Logger } from './types.js';

/** A logger that drops everything (tests, embedding without logging). */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};

/** A logger that keeps records in memory (tests assert on them). */
export function memoryLogger(): Logger & { records: { level: string; message: string; meta?: Record<string, unknown> }[] } {
  const records: { level: string; message: string; meta?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => {
    records.push({ level, message, meta });
  };
  return { records, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
