/**
 * Top-level options both built-in parsers (json, cri) read: one declaration each, listed by
 * both components (the schema refuses two different declarations of one name).
 */
import type { OptionDecl } from '../lib/component.js';
import { scalyrOption as s } from '../lib/config/schema.js';

/**
 * Scalyr's limit for internally parsed lines: for a json or cri entry the reader waits for (and
 * cuts at) this many bytes instead of `max_line_size`, so a JSON object or CRI line longer than
 * `max_line_size` is parsed whole; the parsed message is then cut into `max_line_size` events.
 * The validator fills it with `read_page_size` when absent.
 */
export const INTERNAL_PARSE_MAX_LINE_SIZE: OptionDecl = s({
  name: 'internal_parse_max_line_size',
  type: 'int',
  min: 1,
  scope: 'global',
  defaultText: '`read_page_size`',
  description:
    'Longest line, in bytes, read whole for the json and cri parsers (entries with `parse_format` `json` or `cri`): such a line is parsed as one, and the message it yields is then split into `max_line_size` events. A longer line is cut at this size (its pieces are sent unparsed). Other entries cut lines at `max_line_size`.',
});

export const INCLUDE_RAW_TIMESTAMP_FIELD: OptionDecl = s({
  name: 'include_raw_timestamp_field',
  type: 'bool',
  default: true,
  scope: 'global',
  description: 'The json and cri parsers keep the timestamp text they read as the event attribute `raw_timestamp`.',
});

export const MERGE_JSON_PARSED_LINES: OptionDecl = s({
  name: 'merge_json_parsed_lines',
  type: 'bool',
  default: false,
  scope: 'global',
  description:
    'The json parser joins a message that does not end with a newline (Docker splits long lines at 16 KB) with the messages of the following lines, up to the one that ends with a newline: one event, with the first line\'s time and fields. A join is sent as it is after `line_completion_wait_time` × 60 seconds without its last piece, or once it holds `internal_parse_max_line_size` bytes. (CRI partial lines are always joined by the cri parser.)',
});

/** The reader's line limit a json/cri parser asks for (see {@link INTERNAL_PARSE_MAX_LINE_SIZE}). */
export function internalParseLineLimit(agent: Readonly<Record<string, unknown>>): number | undefined {
  const v = Number(agent.internal_parse_max_line_size ?? agent.read_page_size);
  return Number.isFinite(v) && v >= 1 ? v : undefined;
}
