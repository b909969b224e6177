/**
 * A parser for the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0 text: what
 * `openmetrics_monitor` scrapes.
 *
 * - `# HELP name text` and `# TYPE name type` lines build the family table (`types`); other
 *   comments and `# EOF` are skipped;
 * - a sample line is `name[{labels}] value [timestamp] [# exemplar]`: label values are quoted
 *   with `\\`, `\"` and `\n` escapes; label names may repeat nothing; a trailing comma is allowed;
 * - the value and the timestamp are kept as text (the monitor converts them the way Scalyr does),
 *   `+Inf`, `-Inf` and `NaN` included; histogram `_bucket{le="…"}`, `_sum`, `_count` and summary
 *   `{quantile="…"}` lines are ordinary samples (their family's type is in `types`);
 * - anything else (a line that is not a sample, broken quoting, a bad name, non-text bytes) is
 *   counted in `invalidLines` with the first few reasons kept, never thrown: the parser is fed
 *   whatever a peer answers.
 */

export interface ParsedSample {
  /** The sample's name as written (`http_requests_total`, `x_bucket`). */
  name: string;
  labels: Record<string, string>;
  /** The value as written (`3`, `1.5e-05`, `+Inf`, `NaN`). */
  value: string;
  /** The timestamp as written, when present. */
  timestamp?: string;
  /** 1-based line number in the body. */
  line: number;
}

export interface ParseResult {
  samples: ParsedSample[];
  /** Family name → type from `# TYPE` lines (`counter`, `gauge`, `histogram`, `summary`, `untyped`…). */
  types: Map<string, string>;
  /** Family name → help text from `# HELP` lines. */
  help: Map<string, string>;
  /** Lines that are neither comments, blank, nor samples. */
  invalidLines: number;
  /** Reasons for the first invalid lines (at most `maxReasons`). */
  reasons: string[];
  /** Samples not returned because `maxSamples` was reached. */
  droppedSamples: number;
}

export interface ParseOptions {
  /** Stop collecting after this many samples (the rest are counted in `droppedSamples`). */
  maxSamples?: number;
  /** How many invalid-line reasons to keep (default 5). */
  maxReasons?: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const VALUE = /^(?:[+-]?(?:Inf|inf|NaN|nan)|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0x[0-9a-fA-F]+)$/;
const TIMESTAMP = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

type LineOutcome = { sample: ParsedSample } | { error: string } | null;

/** Parses the labels starting after `{` at `i`; returns the labels and the index after `}`. */
function parseLabels(s: string, i: number): { labels: Record<string, string>; end: number } | string {
  const labels: Record<string, string> = {};
  for (;;) {
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === '}') return { labels, end: i + 1 };
    const m = LABEL_NAME.exec(s.slice(i, i + 256));
    if (!m) return `bad label name at column ${i + 1}`;
    const key = m[0];
    i += key.length;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '=') return `expected "=" after label ${key}`;
    i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '"') return `label ${key}: value is not quoted`;
    i++;
    let value = '';
    let closed = false;
    while (i < s.length) {
      const c = s[i];
      if (c === '\\') {
        const n = s[i + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else if (n === undefined) break;
        else value += '\\' + n; // 0.0.4: unknown escapes are kept as written
        i += 2;
        continue;
      }
      if (c === '"') {
        closed = true;
        i++;
        break;
      }
      value += c;
      i++;
    }
    if (!closed) return `label ${key}: unterminated value`;
    if (Object.prototype.hasOwnProperty.call(labels, key)) return `label ${key} repeated`;
    labels[key] = value;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] === ',') {
      i++;
      continue;
    }
    if (s[i] === '}') return { labels, end: i + 1 };
    return `expected "," or "}" after label ${key}`;
  }
}

function parseSampleLine(s: string, lineNo: number): LineOutcome {
  const m = NAME.exec(s);
  if (!m) return { error: `line ${lineNo}: not a metric name` };
  const name = m[0];
  let i = name.length;
  let labels: Record<string, string> = {};
  while (s[i] === ' ' || s[i] === '\t') i++;
  if (s[i] === '{') {
    const r = parseLabels(s, i + 1);
    if (typeof r === 'string') return { error: `line ${lineNo}: ${r}` };
    labels = r.labels;
    i = r.end;
  }
  let rest = s.slice(i);
  // OpenMetrics exemplar: ` # {labels} value [ts]` after the sample.
  const ex = rest.indexOf(' # ');
  if (ex >= 0) rest = rest.slice(0, ex);
  const parts = rest.trim().split(/[ \t]+/).filter((p) => p !== '');
  if (parts.length < 1 || parts.length > 2) return { error: `line ${lineNo}: expected "name value [timestamp]"` };
  if (!VALUE.test(parts[0])) return { error: `line ${lineNo}: bad value ${JSON.stringify(parts[0].slice(0, 40))}` };
  if (parts[1] !== undefined && !TIMESTAMP.test(parts[1])) return { error: `line ${lineNo}: bad timestamp ${JSON.stringify(parts[1].slice(0, 40))}` };
  const sample: ParsedSample = { name, labels, value: parts[0], line: lineNo };
  if (parts[1] !== undefined) sample.timestamp = parts[1];
  return { sample };
}

/** Parses a whole body. Never throws. */
export function parseExposition(body: string, opts: ParseOptions = {}): ParseResult {
  const maxSamples = opts.maxSamples ?? Infinity;
  const maxReasons = opts.maxReasons ?? 5;
  const out: ParseResult = { samples: [], types: new Map(), help: new Map(), invalidLines: 0, reasons: [], droppedSamples: 0 };
  const bad = (why: string) => {
    out.invalidLines++;
    if (out.reasons.length < maxReasons) out.reasons.push(why);
  };
  const lines = body.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const lineNo = n + 1;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:[ \t]+(.*))?$/.exec(line);
      if (m) {
        if (m[1] === 'TYPE') {
          const t = (m[3] ?? '').trim();
          if (!/^[a-z]+$/.test(t)) bad(`line ${lineNo}: malformed TYPE line`);
          else out.types.set(m[2], t);
        } else {
          out.help.set(m[2], m[3] ?? '');
        }
      } else if (/^#[ \t]+(HELP|TYPE)\b/.test(line)) {
        bad(`line ${lineNo}: malformed ${line.slice(2, 6)} line`);
      }
      continue; // other comments and `# EOF`
    }
    // A NUL or other control byte means a binary body (protobuf, gzip…), not text.
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000e-\u001f]/.test(line)) {
      bad(`line ${lineNo}: control characters (not a text exposition)`);
      continue;
    }
    const r = parseSampleLine(line, lineNo);
    if (r === null) continue;
    if ('error' in r) {
      bad(r.error);
      continue;
    }
    if (out.samples.length >= maxSamples) {
      out.droppedSamples++;
      continue;
    }
    out.samples.push(r.sample);
  }
  return out;
}
