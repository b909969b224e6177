/**
 * The options the file source reads (a `logs[]` entry and top-level reading options), declared
 * once: `component.ts` lists them for the registry, `logSource.ts` takes its defaults from them
 * (`withDefaults`), so no default is written twice.
 */
import type { OptionDecl } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { LINE_COMPLETION_WAIT_TIME, MAX_LINE_SIZE } from '../../lib/config/sharedOptions.js';

export const FILE_SOURCE_OPTIONS: OptionDecl[] = [
  // --- the logs[] entry
  s({ name: 'path', type: 'string', required: true, description: 'File path or glob (`*`, `?`, `**` for any directory depth). A relative path is joined to `agent_log_path` (Scalyr); sluice: a path starting with `./` or `../` resolves against the main config file\'s directory.' }),
  s({ name: 'attributes', type: 'stringMap', default: {}, description: 'Fields attached to every event of the file (e.g. `parser`, `service`).' }),
  s({ name: 'parser', type: 'string', description: 'Shortcut for `attributes.parser`: the name of the server-side parser for this log.' }),
  s({ name: 'exclude', type: 'stringArray', default: [], description: 'Globs (not regular expressions) of paths to skip; `*` also matches `/` here.' }),
  s({ name: 'copy_from_start', type: 'bool', default: false, description: 'A file that exists when the agent starts and has no checkpoint is read from its beginning instead of its end.' }),
  s({ name: 'rename_logfile', type: 'any', description: 'Changes the `logfile` attribute: a template string (`$PATH1`, `$BASENAME`, `$EXTENSION`, ...) or `{match, replacement}` with a regular expression.' }),
  s({ name: 'ignore_stale_files', type: 'bool', default: false, description: 'Skip files not modified for `staleness_threshold_secs`.' }),
  s({ name: 'staleness_threshold_secs', type: 'float', default: 300, min: 0, description: 'Seconds without modification after which a file counts as stale.' }),
  s({ name: 'minimum_scan_interval', type: 'float', min: 0, noEffect: true, description: 'Scalyr checks the file\'s size at most this often (seconds). Accepted and ignored: sluice reads a file as soon as the file system reports a change, and checks idle files every 30 s.' }),
  s({ name: 'worker_id', type: 'string', default: 'default', noEffect: true, description: 'Which upload worker handles the file (Scalyr multi-worker uploads). sluice has one upload pipeline.' }),
  // --- top-level reading options
  MAX_LINE_SIZE,
  LINE_COMPLETION_WAIT_TIME,
  s({ name: 'read_page_size', type: 'int', default: 65536, min: 1024, scope: 'global', description: 'Bytes read from a file at a time.' }),
  s({ name: 'log_deletion_delay', type: 'float', default: 600, min: 0, scope: 'global', description: 'Seconds a deleted file is kept open (and read) before it is closed.' }),
  s({ name: 'max_new_log_detection_time', type: 'float', default: 60, min: 0, scope: 'global', description: 'Seconds between scans for new files matching the globs.' }),
  s({ name: 'copy_staleness_threshold', type: 'float', default: 900, min: 0, scope: 'global', description: 'Seconds without progress after which a file is reported stale.' }),
  s({ name: 'max_log_offset_size', type: 'int', default: 5242880, min: 0, scope: 'global', defaultText: '200000000 (5242880 with `legacy`)', description: 'How far (bytes) a file may be behind before Scalyr skips to its end. sluice only skips when `skip_too_far_behind` is true.' }),
  s({ name: 'max_existing_log_offset_size', type: 'int', default: 104857600, min: 0, scope: 'global', defaultText: '200000000 (104857600 with `legacy`)', description: 'As `max_log_offset_size`, for files that existed at startup.' }),
  s({ name: 'close_old_files_duration_in_seconds', type: 'float', default: 3600, min: 0, scope: 'global', noEffect: true, description: 'Scalyr closes the handle of a fully read file not modified for this many seconds (and reopens it when it changes). Accepted and ignored: sluice keeps one descriptor open per followed file; `ignore_stale_files` closes idle files (keeping their checkpoints).' }),
  s({ name: 'minimum_scan_interval', type: 'float', min: 0, scope: 'global', noEffect: true, description: 'Scalyr\'s default for the entry option `minimum_scan_interval`. Accepted and ignored: sluice reads a file as soon as the file system reports a change, and checks idle files every 30 s.' }),
  own({ name: 'skip_too_far_behind', type: 'bool', default: false, scope: 'global', description: 'When true, a file more than `max_log_offset_size` bytes behind jumps to its end as in Scalyr (the skipped bytes are counted as dropped). Default false: sluice never skips data silently.' }),
];
