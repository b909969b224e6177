/**
 * `sluice top`: a live view of every component of the running agent, refreshed each second:
 * events/s and bytes/s in and out, drops by reason, pending bytes per file with a progress bar
 * for backlogs, sink retries and last error. In a terminal it redraws in place (alternate
 * screen, colours); when stdout is not a TTY (or with --once) it prints plain text blocks.
 */
import { call, AgentNotRunningError } from '../control/client.js';
import type { AgentStatus } from '../agent.js';
import type { SinkStatus } from '../../lib/status/types.js';
import { healthOf } from '../../lib/status/health.js';
import { configFor, type CliArgs, type Output } from './args.js';
import { formatBytes } from './format.js';

interface Row {
  name: string;
  inEv: number;
  inB: number;
  outEv: number;
  outB: number;
  dropped: string;
  errors: number;
}

type Counters = { receivedEvents: number; receivedBytes: number; sentEvents: number; sentBytes: number; dropped: Record<string, number>; errors: number };

function rows(s: AgentStatus): Row[] {
  const list: [string, Counters | undefined][] = [
    ...s.logs.map((l) => [`log ${l.path}`, l.counters] as [string, Counters]),
    ...s.monitors.map((m) => [`monitor ${m.key}`, m.counters as Counters | undefined] as [string, Counters | undefined]),
    ...sinkList(s).map(([name, x]) => [name === undefined ? 'sink' : `sink ${name}`, x.counters as Counters | undefined] as [string, Counters | undefined]),
  ];
  return list.map(([name, c]) => ({
    name,
    inEv: c?.receivedEvents ?? 0,
    inB: c?.receivedBytes ?? 0,
    outEv: c?.sentEvents ?? 0,
    outB: c?.sentBytes ?? 0,
    dropped: Object.entries(c?.dropped ?? {})
      .map(([r, n]) => `${r}=${n}`)
      .join(' '),
    errors: c?.errors ?? 0,
  }));
}

/** The sinks to show: each named one, or the single sink (name undefined) of a config without `sinks`. */
function sinkList(s: AgentStatus): [string | undefined, Record<string, unknown> & { counters?: unknown }][] {
  const named = Object.entries(s.sinks ?? {});
  if (named.length > 1 || (named.length === 1 && named[0][0] !== 'default')) return named;
  return [[undefined, s.sink]];
}

function bar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return '[' + '#'.repeat(full) + '.'.repeat(width - full) + ']';
}

/** Renders one frame from the current and previous status (rates from their difference). */
export function renderTop(s: AgentStatus, prev: AgentStatus | undefined, opts: { color: boolean; width: number }): string {
  const dt = prev ? Math.max(0.001, (s.now - prev.now) / 1000) : 0;
  const before = new Map(prev ? rows(prev).map((r) => [r.name, r]) : []);
  const c = (code: string, t: string) => (opts.color ? `\x1b[${code}m${t}\x1b[0m` : t);
  const health = healthOf(s);
  const out: string[] = [];
  out.push(
    `${c('1', 'sluice top')}  v${s.version}  pid ${s.pid}  host ${s.serverHost}  mode ${s.mode}  health ${health.healthy ? c('32', 'Good') : c('31', health.reason)}`,
  );
  const proc = s.process ? `  cpu ${s.process.cpuPercent}%  rss ${formatBytes(s.process.rssBytes)}  up ${s.process.uptimeSecs}s` : '';
  out.push(`pending ${formatBytes(s.pendingBytes)} of ${formatBytes(s.creditsTotal)} budget ${bar(s.creditsTotal ? s.pendingBytes / s.creditsTotal : 0)}${proc}`);
  out.push('');
  const nameW = Math.max(20, Math.min(48, opts.width - 70));
  out.push(c('7', `${'COMPONENT'.padEnd(nameW)} ${'IN ev/s'.padStart(9)} ${'IN B/s'.padStart(10)} ${'OUT ev/s'.padStart(9)} ${'OUT B/s'.padStart(10)} ${'ERR'.padStart(5)}  DROPPED`));
  for (const r of rows(s)) {
    const p = before.get(r.name);
    const rate = (a: number, b: number | undefined) => (p && dt ? Math.max(0, (a - (b ?? 0)) / dt) : 0);
    const name = r.name.length > nameW ? '…' + r.name.slice(-(nameW - 1)) : r.name;
    out.push(
      `${name.padEnd(nameW)} ${rate(r.inEv, p?.inEv).toFixed(0).padStart(9)} ${formatBytes(rate(r.inB, p?.inB)).padStart(10)} ${rate(r.outEv, p?.outEv).toFixed(0).padStart(9)} ${formatBytes(rate(r.outB, p?.outB)).padStart(10)} ${String(r.errors).padStart(5)}  ${r.dropped}`,
    );
  }
  out.push('');
  out.push(c('1', 'Files'));
  for (const l of s.logs) {
    for (const f of l.files as { path: string; pendingBytes?: number; copiedBytes?: number }[]) {
      const pending = f.pendingBytes ?? 0;
      const total = pending + (f.copiedBytes ?? 0);
      out.push(`  ${f.path}  ${bar(total ? (f.copiedBytes ?? 0) / total : 1)} ${formatBytes(pending)} pending`);
    }
  }
  out.push('');
  for (const [name, sink] of sinkList(s)) {
    const sinkCounters = sink.counters as (Counters & { lastError?: { message: string } }) | undefined;
    const lastError = (sink.lastError as string | null | undefined) ?? (sink.error as string | undefined) ?? sinkCounters?.lastError?.message;
    const status = sink.lastResponseStatus ?? sink.lastHttpStatus ?? (sink.lastWriteTime ? 'written' : '-');
    const retries = sink.retries ?? sink.consecutiveFailures ?? 0;
    const routing = (s.sinks?.[name ?? 'default'] ?? sink).routing as SinkStatus['routing'];
    const state = routing && !routing.running ? `  ${c('31', 'not running')}` : '';
    out.push(
      `${c('1', name === undefined ? 'Sink' : `Sink ${name}`)} (${String(sink.type ?? s.mode)})${state}  last status ${String(status)}  retries ${String(retries)}  errors ${sinkCounters?.errors ?? 0}  last error ${lastError ? c('31', lastError) : '-'}`,
    );
    // Which streams this sink holds back (delivered to it, not acknowledged) and for how long.
    if (routing && (routing.holdingStreams > 0 || routing.parkedBatches > 0)) {
      if (routing.parkedBatches > 0) out.push(`  ${routing.parkedBatches} batch(es) parked until it runs`);
      for (const h of routing.holding.slice(0, 5)) {
        out.push(`  holds back ${h.path || h.stream} (${h.kind}): ${h.stream.startsWith('file:') ? formatBytes(h.behind) : `${h.behind} event(s)`} unacknowledged for ${Math.max(0, Math.round((s.now - h.since) / 1000))}s`);
      }
      if (routing.holdingStreams > 5) out.push(`  … and ${routing.holdingStreams - 5} more stream(s)`);
    }
  }
  for (const r of s.routes ?? []) {
    if (r.waiting) out.push(`route ${r.sinks.join('+') || '(no sinks)'}: budget ${bar(r.totalBytes ? r.pendingBytes / r.totalBytes : 0, 10)} ${formatBytes(r.pendingBytes)} of ${formatBytes(r.totalBytes)}: ${c('33', 'reading paused')}`);
  }
  return out.join('\n') + '\n';
}

export async function top(args: CliArgs, out: Output): Promise<number> {
  const cfg = configFor(args, out);
  if (!cfg) return 1;
  const tty = Boolean(process.stdout.isTTY) && !args.flags.has('once');
  const interval = Number(args.flags.get('interval') ?? 1) * 1000;
  const frames = args.flags.has('once') ? 2 : Number(args.flags.get('frames') ?? Infinity);
  let prev: AgentStatus | undefined;
  let stop = false;
  const onInt = () => (stop = true);
  process.on('SIGINT', onInt);
  if (tty) process.stdout.write('\x1b[?1049h\x1b[?25l');
  try {
    for (let i = 0; i < frames && !stop; i++) {
      let s: AgentStatus;
      try {
        s = await call<AgentStatus>(cfg.agent_data_path, { cmd: 'status' }, 10_000);
      } catch (err) {
        if (err instanceof AgentNotRunningError) {
          if (tty) process.stdout.write('\x1b[?25h\x1b[?1049l');
          out.err(err.message);
          return 4;
        }
        throw err;
      }
      // With --once the first sample only seeds the rates.
      if (!(args.flags.has('once') && i === 0)) {
        const frame = renderTop(s, prev, { color: tty && !args.flags.has('no-color'), width: process.stdout.columns ?? 120 });
        if (tty) process.stdout.write('\x1b[H\x1b[2J' + frame);
        else out.out(frame);
      }
      prev = s;
      if (i + 1 < frames) await new Promise((r) => setTimeout(r, interval));
    }
  } finally {
    process.off('SIGINT', onInt);
    if (tty) process.stdout.write('\x1b[?25h\x1b[?1049l');
  }
  return 0;
}
