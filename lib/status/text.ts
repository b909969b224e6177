/**
 * `sluice status -v` text, following Scalyr's `status -v` layout where it applies, so tools
 * that read it (the `Health check:` line, the `Path ...: copied N bytes` lines) keep working.
 */
import type { AgentStatus } from './types.js';
import { healthOf } from './health.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C `asctime` in UTC plus ` UTC` (`Fri Sep  5 23:14:13 2014 UTC`); `Never` when unset. */
export function asctime(ms: number | null | undefined): string {
  if (!ms) return 'Never';
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()} UTC`;
}

/** One `<label><padding><value>` line with Scalyr's column. */
function row(label: string, value: unknown, width = 25): string {
  return `${label.padEnd(width)}${String(value)}`;
}

export interface FileStatusLike {
  path: string;
  copiedBytes?: number;
  copiedLines?: number;
  pendingBytes?: number;
  skippedBytes?: number;
  failedBytes?: number;
  droppedBytes?: number;
  droppedLines?: number;
  redactions?: number;
  lastChecked?: number | null;
  error?: string | null;
}

/** `copied B bytes (L lines), P bytes pending, [...], last checked T` */
export function fileLine(f: FileStatusLike): string {
  const parts = [`copied ${f.copiedBytes ?? 0} bytes (${f.copiedLines ?? 0} lines)`, `${f.pendingBytes ?? 0} bytes pending`];
  if (f.skippedBytes) parts.push(`${f.skippedBytes} bytes skipped`);
  if (f.failedBytes) parts.push(`${f.failedBytes} bytes failed`);
  if (f.droppedBytes || f.droppedLines) parts.push(`${f.droppedBytes ?? 0} bytes dropped by sampling (${f.droppedLines ?? 0} lines)`);
  if (f.redactions) parts.push(`${f.redactions} redactions`);
  if (f.error) parts.push(`error: ${f.error}`);
  parts.push(`last checked ${asctime(f.lastChecked ?? null)}`);
  return parts.join(', ');
}

export function renderStatusText(s: AgentStatus, agentLogPath: string): string {
  const out: string[] = [];
  const sink = s.sink as Record<string, unknown>;
  out.push('sluice agent status (Scalyr Agent 2 compatible layout).  See docs/getting-started.md for help', '');
  out.push(row('Current time:', asctime(s.now)));
  out.push(row('Agent started at:', asctime(s.startedAt)));
  out.push(row('Main process pid:', s.pid));
  out.push(row('Version:', s.version));
  out.push(row('Agent running as:', s.user));
  if (s.process) out.push(row('Agent CPU and memory:', `${s.process.cpuPercent}% of one core, ${s.process.rssBytes} bytes resident`));
  out.push(row('Agent log:', agentLogPath));
  out.push(row('ServerHost:', s.serverHost));
  const mode = s.mode === 'embedded' ? `embedded default sink (no api_key): ${String(sink.output ?? '')}` : s.mode === 'addEvents' ? `Scalyr addEvents to ${String(sink.server ?? '')}` : `sink "${s.mode}"`;
  out.push(row('Upload mode:', mode));
  if (sink.compressionType) out.push(row('Compression algorithm:', sink.compressionType));
  if (sink.compressionLevel !== undefined) out.push(row('Compression level:', sink.compressionLevel));
  out.push('', '');
  out.push('Agent configuration:', '====================', '');
  const files = s.config.files;
  if (files.length <= 1) out.push(row('Configuration file:', files[0] ?? '(object)', 23));
  else {
    out.push(row('Configuration files:', files[0], 23));
    for (const f of files.slice(1)) out.push(' '.repeat(23) + f);
  }
  out.push(row('Status:', s.config.status === 'good' ? 'Good (files parsed successfully)' : 'Bad (could not parse, using last good version)', 23));
  if (s.config.status === 'bad') for (const e of s.config.errors) out.push(row('Parsing error:', e, 23));
  out.push(row('Last checked:', asctime(s.config.lastChecked), 23));
  out.push(row('Last changed observed:', asctime(s.config.lastChanged), 23));
  if (s.config.warnings.length) for (const w of s.config.warnings) out.push(row('Warning:', w, 23));
  if (s.config.needsRestart?.length) out.push(row('Needs a restart:', `${s.config.needsRestart.join(', ')} (changed since start; the started values stay in force until "sluice restart")`, 23));
  out.push('', '');
  out.push('Log transmission:', '=================', '');
  out.push(`(these statistics cover the period from ${asctime(s.startedAt)})`, '');
  const W = 43;
  out.push(row('Bytes uploaded successfully:', sink.bytesSent ?? (sink.counters as { sentBytes?: number } | undefined)?.sentBytes ?? 0, W));
  out.push(row('Last successful communication with Scalyr:', asctime((sink.lastSuccessTime ?? sink.lastWriteTime) as number | null), W));
  out.push(row('Last attempt:', asctime((sink.lastAttemptTime ?? sink.lastWriteTime) as number | null), W));
  if (sink.lastRequestSize !== undefined) out.push(row('Last copy request size:', sink.lastRequestSize, W));
  if (sink.lastResponseStatus !== undefined) out.push(row('Last copy response status:', sink.lastResponseStatus, W));
  if (sink.lastResponseStatus && sink.lastResponseStatus !== 'success' && sink.lastResponse) {
    out.push(row('Last copy response:', String(sink.lastResponse).replace(/\n/g, '').slice(0, 1000), W));
  }
  if (Number(sink.retries ?? 0) > 0) out.push(row('Retries:', sink.retries, W));
  out.push(row('Bytes pending (read, not yet acknowledged):', s.pendingBytes, W));
  const dropped = (sink.counters as { dropped?: Record<string, number> } | undefined)?.dropped ?? {};
  for (const [reason, n] of Object.entries(dropped)) out.push(row(`Dropped (${reason}):`, n, W));
  out.push(row('Health check:', healthOf(s).reason, W));
  out.push('');
  for (const l of s.logs) {
    const isGlob = /[*?[]/.test(l.path);
    const files = l.files as FileStatusLike[];
    // Sampling and redaction are counted per entry (Scalyr counts them per file).
    const extraParts: string[] = [];
    if (l.droppedBySampling?.lines) extraParts.push(`${l.droppedBySampling.bytes} bytes dropped by sampling (${l.droppedBySampling.lines} lines)`);
    if (l.redactions) extraParts.push(`${l.redactions} redactions`);
    for (const [r, n] of Object.entries(l.counters.dropped)) if (r !== 'sampling') extraParts.push(`${n} events dropped (${r})`);
    const extra = extraParts.join(', ');
    if (!isGlob) {
      const f = files.find((x) => x.path === l.path) ?? files[0];
      if (l.error) out.push(`Path ${l.path}: failed to start: ${l.error}`);
      else if (!f) out.push(`Path ${l.path}: no matching readable file, last checked ${asctime(s.now)}`);
      else out.push(`Path ${l.path}: ${fileLine(f)}`);
      if (extra) out.push(`  entry totals: ${extra}`);
    } else {
      out.push(`Glob: ${l.path}:: last scanned for glob matches at ${asctime(s.now)}`);
      if (l.error) out.push(`  failed to start: ${l.error}`);
      for (const f of files) out.push(`  ${f.path}: ${fileLine(f)}`);
      if (extra) out.push(`  entry totals: ${extra}`);
    }
  }
  out.push('', '');
  out.push('Monitors:', '=========', '');
  out.push(`(these statistics cover the period from ${asctime(s.startedAt)})`, '');
  for (const m of s.monitors) {
    const st = (m.status ?? {}) as { linesEmitted?: number; errors?: number; lastError?: string };
    const err = m.error ? `, failed: ${m.error}` : st.lastError ? `, last error: ${st.lastError}` : '';
    out.push(`${m.key}: ${st.linesEmitted ?? 0} lines emitted, ${st.errors ?? m.counters?.errors ?? 0} errors${err}`);
  }
  if (s.apm) {
    out.push('', '', 'APM intake:', '===========', '', JSON.stringify(s.apm, null, 2));
  }
  return out.join('\n') + '\n';
}
