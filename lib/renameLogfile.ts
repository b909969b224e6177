/**
 * `rename_logfile` (behavior §2.7): the `logfile` attribute a matched file is shown under.
 *
 * - String form: a Python `string.Template`: `$NAME` / `${NAME}` (NAME = `[_A-Za-z][_A-Za-z0-9]*`),
 *   `$$` is a literal `$`. Placeholders: `PATH1..PATHn` (path components after the root:
 *   `/var/log/x.log` → PATH1 `var`, PATH2 `log`, PATH3 `x.log`), `BASENAME`, `BASENAME_NO_EXT`
 *   (Python's `os.path.splitext`: a leading dot is not an extension). An unknown placeholder or a
 *   stray `$` → the original path and a warning.
 * - Object form `{match, replacement}`: Python `re.sub` on the full path with a Python replacement
 *   template (`\1`, `\g<name>`); an invalid regex or group reference → the original path and a
 *   warning; a result equal to the path → a warning (the path is kept).
 * Never throws.
 */
import path from 'node:path';
import { pythonSub } from './regex.js';

export type RenameRule = string | { match: string; replacement: string };

export interface RenameResult {
  /** The value for the `logfile` attribute (the original path when renaming failed). */
  logfile: string;
  /** Why the rule could not be applied, for the log. */
  warning?: string;
}

/** Python `os.path.splitext(basename)[0]`. */
function stripExtension(base: string): string {
  let lead = 0;
  while (lead < base.length && base[lead] === '.') lead++;
  const dot = base.lastIndexOf('.');
  return dot >= lead ? base.slice(0, dot) : base;
}

/** The placeholder values for one path. */
export function renameVariables(filePath: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const parts = filePath.split('/');
  for (let i = 1; i < parts.length; i++) vars[`PATH${i}`] = parts[i];
  const base = path.posix.basename(filePath);
  vars.BASENAME = base;
  vars.BASENAME_NO_EXT = stripExtension(base);
  return vars;
}

/** Applies a `rename_logfile` rule to `filePath` (see the file header). */
export function renameLogfile(filePath: string, rule: RenameRule): RenameResult {
  if (typeof rule === 'string') {
    const vars = renameVariables(filePath);
    let out = '';
    const re = /\$(?:(\$)|([_A-Za-z][_A-Za-z0-9]*)|\{([_A-Za-z][_A-Za-z0-9]*)\}|())/g;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(rule)) !== null) {
      out += rule.slice(last, m.index);
      last = m.index + m[0].length;
      if (m[1] !== undefined) out += '$';
      else {
        const name = m[2] ?? m[3];
        if (name === undefined) {
          return { logfile: filePath, warning: `rename_logfile ${JSON.stringify(rule)}: invalid placeholder at position ${m.index}; keeping ${filePath}` };
        }
        if (!(name in vars)) {
          return { logfile: filePath, warning: `rename_logfile ${JSON.stringify(rule)}: unknown placeholder $${name} for ${filePath}; keeping the original name` };
        }
        out += vars[name];
      }
    }
    out += rule.slice(last);
    return { logfile: out };
  }
  if (!rule || typeof rule !== 'object' || typeof rule.match !== 'string' || typeof rule.replacement !== 'string') {
    return { logfile: filePath, warning: 'rename_logfile: expected a template string or {"match": regex, "replacement": string}; keeping the original name' };
  }
  let result: string;
  try {
    result = pythonSub(rule.match, rule.replacement, filePath).text;
  } catch (err) {
    return { logfile: filePath, warning: `rename_logfile: ${(err as Error).message}; keeping ${filePath}` };
  }
  if (result === filePath) return { logfile: filePath, warning: `rename_logfile: ${JSON.stringify(rule.match)} did not change ${filePath}` };
  return { logfile: result };
}
