/**
 * Config diagnostics: what `loadConfig` / `parseConfigObject` return instead of throwing.
 *
 * Every diagnostic names the key path (`logs[2].redaction_rules[0].match_expression`) and, when the
 * value came from a file, the file, line and column of the value (or of the key, for unknown keys).
 */
import type { AgentConfig } from './types.js';
import type { SourceLocation } from './lenientJson.js';

/** One error or warning about the configuration. */
export interface ConfigError {
  /** The file the value came from (absent for values from the environment or an embedded object). */
  file?: string;
  /** 1-based line in `file`. */
  line?: number;
  /** 1-based column in `file`. */
  column?: number;
  /** Key path, e.g. `logs[2].redaction_rules[0].match_expression` (`''` for the whole file). */
  path: string;
  /** What is wrong, for people. */
  message: string;
  /**
   * Scalyr's error code when the same problem has one in Scalyr's agent (`emptyApiKey`,
   * `multipleKeys`, `notRegexp`, `missingRequired`, `notPercentage`, `notNumber`, `badDebugLevel`,
   * `invalidConfigFragmentType`, `parseError`, `badType`, `badValue`, `unknownKey`, `readError`).
   */
  code?: string;
}

/** The outcome of loading a configuration. Never thrown; always returned. */
export type ConfigResult =
  | { ok: true; config: AgentConfig; files: string[]; warnings: ConfigError[] }
  | { ok: false; errors: ConfigError[]; warnings: ConfigError[]; files: string[] };

/**
 * `file:line:col: path: message` (parts that are unknown are left out), e.g.
 * `/etc/x/agent.json:12:7: logs[2].redaction_rules[0].match_expression: invalid regular expression: ...`.
 */
export function formatConfigError(e: ConfigError): string {
  let where = '';
  if (e.file !== undefined) {
    where = e.file;
    if (e.line !== undefined) {
      where += `:${e.line}`;
      if (e.column !== undefined) where += `:${e.column}`;
    }
    where += ': ';
  }
  const path = e.path ? `${e.path}: ` : '';
  return `${where}${path}${e.message}`;
}

/** Collects diagnostics while a config is being read. */
export class Diagnostics {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigError[] = [];

  error(path: string, message: string, loc?: SourceLocation, code?: string): void {
    this.errors.push(make(path, message, loc, code));
  }

  warn(path: string, message: string, loc?: SourceLocation, code?: string): void {
    this.warnings.push(make(path, message, loc, code));
  }
}

function make(path: string, message: string, loc: SourceLocation | undefined, code: string | undefined): ConfigError {
  const e: ConfigError = { path, message };
  if (loc) {
    if (loc.file !== undefined) e.file = loc.file;
    e.line = loc.line;
    e.column = loc.column;
  }
  if (code !== undefined) e.code = code;
  return e;
}

/** `a.b`, `a[0]`: appends a key or an index to a key path. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base ? `${base}.${key}` : key;
}
