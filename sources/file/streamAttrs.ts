/**
 * The attributes every event of a file carries, from the options of its `logs[]` entry the file
 * source declares: `attributes`, `parser` (a shortcut for `attributes.parser`) and `logfile` (the
 * real path, or what `rename_logfile` makes of it; the real path is then kept as
 * `original_file`). An explicit `logfile` or `filename` attribute wins over both.
 */
import type { Logger } from '../../lib/types.js';
import { renameLogfile, type RenameRule } from '../../lib/renameLogfile.js';

/** The entry options this reads. */
export interface StreamAttrOptions {
  attributes?: Record<string, string>;
  parser?: unknown;
  rename_logfile?: RenameRule;
}

/** Reads the options now (once) and returns the attributes function for real paths. */
export function fileAttributes(entry: StreamAttrOptions, logger: Logger): (realPath: string) => Record<string, string> {
  const base: Record<string, string> = { ...(entry.attributes ?? {}) };
  if (typeof entry.parser === 'string') base.parser = entry.parser;
  const rule = entry.rename_logfile;
  const named = base.logfile !== undefined || base.filename !== undefined;
  return (realPath) => {
    const attrs = { ...base };
    if (named) return attrs;
    if (rule) {
      const r = renameLogfile(realPath, rule);
      if (r.warning) logger.warn(`rename_logfile for ${realPath}: ${r.warning}`);
      attrs.logfile = r.logfile;
      if (r.logfile !== realPath) attrs.original_file = realPath;
    } else {
      attrs.logfile = realPath;
    }
    return attrs;
  };
}

/** The attributes of one file (the former `app/agent.ts` export, same result). */
export function streamAttrs(entry: StreamAttrOptions, realPath: string, logger: Logger): Record<string, string> {
  return fileAttributes(entry, logger)(realPath);
}
