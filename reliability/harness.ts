/**
 * The conservation harness: writer → files → agent (a real child process) → HTTPS receiver,
 * with faults on the wire, kills and restarts of the agent, and config edits while it runs; then
 * the judge. Used by spec/conservation.spec.ts (short form) and `npm run soak` (long form).
 *
 * Verdict (all must hold for `passed`):
 * - every id written was accepted at least once (lost = 0), byte-exact (corrupt = 0; a stack-trace
 *   group is one event, a half-written line was never cut);
 * - per file incarnation, ids were first accepted in the order written;
 * - every duplicate is explained (late answer, acknowledged-but-not-checkpointed at a kill -9 within
 *   the window, or in flight at a reload) — none after a graceful stop, none unexplained;
 * - the receiver could parse every body, and at the end `sluice status -H` exits 0 and the agent
 *   stops cleanly on SIGTERM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTestCa } from '../testkit/tlsServer.js';
import { AgentProcess, checkpointNames, runCli } from './agentProcess.js';
import { Ledger, type Verdict } from './ledger.js';
import { LINE_GROUPERS } from './lines.js';
import { FAULT_KINDS, Receiver, type FaultKind } from './receiver.js';
import { Rng } from './rng.js';
import { Writer, type RotationKind } from './writer.js';

export interface HarnessOptions {
  /** Total writing time. */
  durationMs: number;
  /** Share of `durationMs` at the end without kills (faults and reloads go on): RSS of one process. */
  calmFraction?: number;
  seed?: number;
  /** Files per log entry (two entries: `a/*.log` and `b/*.log`). */
  filesPerEntry?: number;
  /** Events per second over all files. */
  rate?: number;
  rotateBytes?: number;
  keep?: number;
  /** Pause between chaos actions (kill -9, SIGTERM, config edit), ms. */
  chaosEveryMs?: [number, number];
  /** Pause between injected faults, ms. */
  faultEveryMs?: [number, number];
  /** How long the agent stays down after a kill, ms. */
  downMs?: [number, number];
  /** request_deadline given to the agent, seconds. */
  requestDeadlineSecs?: number;
  drainTimeoutMs?: number;
  rssEveryMs?: number;
  /** Where to put files, data and logs (default: a new temp dir). Kept when the run fails. */
  workDir?: string;
  log?: (line: string) => void;
}

export interface RssSample {
  t: number;
  run: number;
  rss: number;
}

export interface HarnessReport extends Verdict {
  seed: number;
  durationMs: number;
  workDir: string;
  restarts: number;
  kills: number;
  sigterms: number;
  sigtermTimeouts: number;
  reloads: number;
  faults: Record<FaultKind, number>;
  faultsTotal: number;
  requests: number;
  acceptedRequests: number;
  badBodies: number;
  badBodySamples: string[];
  sessions: number;
  writer: Writer['stats'];
  health: { code: number; output: string };
  /** Config edits: the `edition` attribute last written to the config and last seen on events, per entry. */
  editions: { written: Record<string, string>; seen: Record<string, string> };
  cleanStop: boolean;
  drainMs: number;
  rss: RssSample[];
  dupSamples: string[];
  passed: boolean;
  failures: string[];
  /** Findings that are not failures (printed with the report). */
  notes: string[];
}

export const API_KEY = 'rel-TEST-key-0123456789abcdef';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sleeps up to `ms`, waking early (within 100 ms) once `stop()` is true. */
async function nap(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) await sleep(Math.min(100, until - Date.now()));
}

export async function runConservation(o: HarnessOptions): Promise<HarnessReport> {
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const seed = o.seed ?? (Date.now() & 0x7fffffff);
  const rng = new Rng(seed);
  const work = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-reliability-'));
  fs.mkdirSync(work, { recursive: true });
  const dataPath = path.join(work, 'data');
  const logPath = path.join(work, 'log');
  const filesA = path.join(work, 'files', 'a');
  const filesB = path.join(work, 'files', 'b');
  for (const d of [dataPath, logPath, filesA, filesB]) fs.mkdirSync(d, { recursive: true });
  const configPath = path.join(work, 'agent.json');
  const deadline = o.requestDeadlineSecs ?? 2;
  log(`reliability: seed ${seed}, work dir ${work}`);

  const ca = makeTestCa('sluice reliability CA');
  const ledger = new Ledger(5000);
  const receiver = new Receiver({ certPem: ca.certPem, keyPem: ca.keyPem, ledger, slowMs: deadline * 1000 + 1500, apiKey: API_KEY });
  await receiver.start();

  let edition = 0;
  const writeConfig = () => {
    const cfg = {
      api_key: API_KEY,
      scalyr_server: receiver.url,
      ca_cert_path: ca.caPath,
      agent_data_path: dataPath,
      agent_log_path: logPath,
      request_deadline: deadline,
      implicit_metric_monitor: false,
      implicit_agent_process_metrics_monitor: false,
      implicit_agent_log_collection: false,
      max_new_log_detection_time: 1,
      server_attributes: { serverHost: 'reliability-harness' },
      upload: { retry_base_ms: 100, retry_max_ms: 2000, linger_ms: 100 },
      logs: [
        { path: path.join(filesA, '*.log'), copy_from_start: true, lineGroupers: LINE_GROUPERS, attributes: { entry: 'a', edition: String(edition) } },
        { path: path.join(filesB, '*.log'), copy_from_start: true, lineGroupers: LINE_GROUPERS, attributes: { entry: 'b', edition: String(edition >> 1) } },
      ],
    };
    const tmp = configPath + '.tmp';
    fs.writeFileSync(tmp, JSON.stringify(cfg, null, 2));
    fs.renameSync(tmp, configPath);
  };
  writeConfig();

  const agent = new AgentProcess(configPath, dataPath, path.join(work, 'agent.out'));
  // Looked up fresh every time: a cached answer can name an inode the agent has closed since,
  // which the file system may already have reused for a new copy or live file (the writer would
  // then delete a copytruncate copy the agent never saw, or rotate a file it does not hold).
  const holds = (dev: number, ino: number) => agent.openFiles().has(`${dev}:${ino}`);
  const knows = (live: string, dev: number, ino: number, needHead: boolean) => checkpointNames(dataPath, live, dev, ino, needHead);

  const rate = o.rate ?? 1000;
  const per = o.filesPerEntry ?? 2;
  const rotations: RotationKind[] = ['rename', 'copytruncate'];
  // Entry a deletes a rotated file as soon as the agent holds it (it must drain a deleted file);
  // entry b keeps two rotated files, deleted once delivered or held.
  const mkWriter = (dir: string, prefix: string, keep: number) =>
    new Writer({
      dir,
      tags: Array.from({ length: per }, (_, i) => `${prefix}${i}`),
      rotations,
      rate: rate / 2,
      rotateBytes: o.rotateBytes ?? 256 * 1024,
      keep,
      rng,
      ledger,
      agentHolds: holds,
      agentKnows: knows,
      agentUp: () => agent.up,
    });
  const writers = [mkWriter(filesA, 'a', 0), mkWriter(filesB, 'b', o.keep ?? 2)];

  const counts = { kills: 0, sigterms: 0, sigtermTimeouts: 0, reloads: 0 };
  const rss: RssSample[] = [];
  const t0 = Date.now();
  let stopChaos = false;
  let stopFaults = false;
  const failures: string[] = [];
  const notes: string[] = [];

  await agent.start();
  ledger.mark('start');
  for (const w of writers) w.start();

  const rssTimer = setInterval(() => {
    const v = agent.rss();
    if (v !== undefined) rss.push({ t: Date.now() - t0, run: agent.starts, rss: v });
  }, o.rssEveryMs ?? 5000);

  const faultLoop = (async () => {
    const [lo, hi] = o.faultEveryMs ?? [1500, 4000];
    while (!stopFaults) {
      await nap(rng.int(lo, hi), () => stopFaults);
      if (stopFaults) break;
      const kind = rng.pick(FAULT_KINDS);
      receiver.inject(kind, kind === 'refuse' ? rng.int(500, 3000) : rng.int(1, 2));
    }
  })();

  const calmAt = t0 + o.durationMs * (1 - (o.calmFraction ?? 0));
  const chaosLoop = (async () => {
    const [lo, hi] = o.chaosEveryMs ?? [3000, 8000];
    const [dlo, dhi] = o.downMs ?? [200, 2500];
    while (!stopChaos) {
      await nap(rng.int(lo, hi), () => stopChaos);
      if (stopChaos) break;
      const calm = Date.now() >= calmAt;
      const action = calm ? 'reload' : rng.pick(['kill9', 'kill9', 'sigterm', 'reload'] as const);
      if (action === 'reload') {
        edition++;
        writeConfig();
        ledger.mark('reload');
        counts.reloads++;
        continue;
      }
      // Only kills the agent promises to survive: not while it drains a deleted file, not right
      // after a copytruncate it may not have processed yet.
      const waitUntil = Date.now() + 20_000;
      while (!stopChaos && Date.now() < waitUntil && (writers.some((w) => w.undrainedDeleted().length > 0) || writers.some((w) => Date.now() - w.lastCopyTruncateAt < 3000))) {
        await sleep(200);
      }
      if (stopChaos || Date.now() >= waitUntil) continue;
      if (action === 'kill9') {
        ledger.mark('kill9');
        await agent.kill9();
        counts.kills++;
      } else {
        const at = Date.now();
        const clean = await agent.term(15_000);
        ledger.mark(clean ? 'sigterm' : 'sigterm-timeout-kill9', at);
        counts.sigterms++;
        if (!clean) counts.sigtermTimeouts++;
      }
      await sleep(rng.int(dlo, dhi));
      try {
        await agent.start();
        ledger.mark('start');
      } catch (err) {
        failures.push(`restart failed: ${(err as Error).message}`);
        log(`reliability: restart failed: ${(err as Error).message}`);
        await sleep(1000);
        try {
          await agent.start();
        } catch {
          /* reported */
        }
      }
    }
  })();

  const progress = setInterval(() => {
    const written = writers.reduce((n, w) => n + w.written, 0);
    log(
      `reliability: +${Math.round((Date.now() - t0) / 1000)}s written ${written}, accepted events ${receiver.acceptedEvents}, requests ${receiver.requests}, restarts ${agent.starts - 1}, faults ${Object.values(receiver.faults).reduce((a, b) => a + b, 0)}, rss ${Math.round((agent.rss() ?? 0) / 1048576)} MiB`,
    );
  }, 10_000);

  await sleep(Math.max(0, t0 + o.durationMs - Date.now()));
  stopChaos = true;
  stopFaults = true;
  await chaosLoop;
  await faultLoop;
  for (const w of writers) w.stop();
  receiver.clearFaults();
  if (!agent.up) {
    try {
      await agent.start();
    } catch (err) {
      failures.push(`final start failed: ${(err as Error).message}`);
    }
  }
  // Drain: wait until everything written was accepted (no faults now).
  const drainStart = Date.now();
  const drainUntil = drainStart + (o.drainTimeoutMs ?? 60_000);
  while (Date.now() < drainUntil && ledger.verdict().lost > 0) await sleep(500);
  const drainMs = Date.now() - drainStart;
  clearInterval(progress);
  const health = await runCli(['status', '-H', '--config', configPath], { timeoutMs: 40_000 });
  const v = agent.rss();
  if (v !== undefined) rss.push({ t: Date.now() - t0, run: agent.starts, rss: v });
  clearInterval(rssTimer);
  const cleanStop = await agent.term(20_000);
  // Late copies (answers in flight) are counted before the verdict.
  await sleep(200);
  await receiver.close();
  const verdict = ledger.verdict();

  if (verdict.lost > 0) failures.push(`${verdict.lost} lines lost, e.g. ${verdict.lostSamples.slice(0, 3).join('; ')}`);
  if (verdict.corrupt > 0) failures.push(`${verdict.corrupt} events with wrong bytes, e.g. ${verdict.corruptSamples.slice(0, 2).join('; ')}`);
  if (verdict.foreign > 0) failures.push(`${verdict.foreign} events without an id (split groups or cut lines), e.g. ${verdict.foreignSamples.slice(0, 2).join('; ')}`);
  if (verdict.orderViolations > 0) failures.push(`${verdict.orderViolations} order violations, e.g. ${verdict.orderSamples.slice(0, 2).join('; ')}`);
  // Outside the time window but re-sent under the first copy's (si, sn): still at-least-once with
  // server-side de-duplication (reported, not failed). A new (si, sn) would be a real double.
  if (verdict.outsideWindowNewSequence > 0) failures.push(`${verdict.outsideWindowNewSequence} duplicates outside the window under a new (si, sn), e.g. ${verdict.dupSamples.slice(0, 2).join('; ')}`);
  else if (verdict.dups['outside-window'] > 0) notes.push(`${verdict.dups['outside-window']} duplicates outside the time window, all under their first copy's (si, sn), e.g. ${verdict.dupSamples.slice(0, 2).join('; ')}`);
  if (verdict.dups['after-stop'] > 0) failures.push(`${verdict.dups['after-stop']} duplicates after a graceful stop`);
  if (receiver.badBodies > 0) failures.push(`${receiver.badBodies} request bodies could not be parsed: ${receiver.badBodySamples.join('; ')}`);
  if (receiver.badTokens > 0) failures.push(`${receiver.badTokens} requests carried a wrong token`);
  if (health.code !== 0) failures.push(`sluice status -H exited ${health.code}: ${health.stdout.trim()} ${health.stderr.trim()}`);
  if (!cleanStop) failures.push('the agent did not stop within 20 s of SIGTERM at the end');

  const faultsTotal = Object.values(receiver.faults).reduce((a, b) => a + b, 0);
  const report: HarnessReport = {
    ...verdict,
    seed,
    durationMs: Date.now() - t0,
    workDir: work,
    restarts: agent.starts - 1,
    ...counts,
    faults: { ...receiver.faults },
    faultsTotal,
    requests: receiver.requests,
    acceptedRequests: receiver.acceptedRequests,
    badBodies: receiver.badBodies,
    badBodySamples: receiver.badBodySamples,
    sessions: ledger.sessionCount,
    writer: sumStats(writers),
    health: { code: health.code, output: (health.stdout + health.stderr).trim() },
    editions: { written: { a: String(edition), b: String(edition >> 1) }, seen: { ...receiver.lastEdition } },
    cleanStop,
    drainMs,
    rss,
    passed: failures.length === 0,
    failures,
    notes,
  };
  if (report.passed && !o.workDir) fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(ca.dir, { recursive: true, force: true });
  return report;
}

function sumStats(ws: Writer[]): Writer['stats'] {
  const out = { ...ws[0].stats };
  for (const w of ws.slice(1)) for (const k of Object.keys(out) as (keyof Writer['stats'])[]) out[k] += w.stats[k];
  return out;
}

/** The judge's printout. */
export function formatReport(r: HarnessReport): string {
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const lines = [
    `conservation run: ${r.passed ? 'PASSED' : 'FAILED'} (seed ${r.seed}, ${Math.round(r.durationMs / 1000)} s, drain ${Math.round(r.drainMs / 1000)} s)`,
    `  lines written     ${r.written}`,
    `  delivered         ${r.delivered}`,
    `  duplicated        ${r.duplicated}  (late-answer ${r.dups['late-answer']}, crash-window ${r.dups['crash-window']} [max ${r.maxCrashWindowMs} ms before the kill], after-reload ${r.dups['after-reload']}, after-stop ${r.dups['after-stop']}, outside-window ${r.dups['outside-window']}); ${r.dupsWithSameSequence} of them carried the first copy's (si, sn), so a Scalyr server drops them`,
    `  lost              ${r.lost}`,
    `  corrupt / foreign ${r.corrupt} / ${r.foreign}; order violations ${r.orderViolations}; cross-rotation interleavings ${r.crossIncarnationInterleavings}`,
    `  restarts          ${r.restarts}  (kill -9 ${r.kills}, SIGTERM ${r.sigterms}, of which timed out ${r.sigtermTimeouts}); config edits ${r.reloads}; upload sessions ${r.sessions}`,
    `  faults injected   ${r.faultsTotal}  (${Object.entries(r.faults).map(([k, v]) => `${k} ${v}`).join(', ')}); requests ${r.requests}, accepted ${r.acceptedRequests}`,
    `  writer            events ${r.writer.events}, ${mib(r.writer.bytes)}, renames ${r.writer.renames}, copytruncates ${r.writer.copytruncates}, deletions ${r.writer.deletions} (${r.writer.deletedWhileOpen} while open), partial writes ${r.writer.partialWrites}, rotations deferred ${r.writer.rotationsDeferred}`,
    `  config edits      edition written a=${r.editions.written.a} b=${r.editions.written.b}, last seen on events a=${r.editions.seen.a ?? '-'} b=${r.editions.seen.b ?? '-'}`,
    `  health            exit ${r.health.code}: ${r.health.output.split('\n')[0]}; clean stop ${r.cleanStop}`,
  ];
  if (r.rss.length > 0) {
    const vals = r.rss.map((s) => s.rss);
    lines.push(`  agent RSS         min ${mib(Math.min(...vals))}, max ${mib(Math.max(...vals))}, last ${mib(vals[vals.length - 1])} (${r.rss.length} samples)`);
    const lastRun = r.rss[r.rss.length - 1].run;
    const longest = r.rss.filter((s) => s.run === lastRun);
    if (longest.length >= 4) {
      const q = Math.max(1, Math.floor(longest.length / 4));
      const avg = (xs: RssSample[]) => xs.reduce((a, s) => a + s.rss, 0) / xs.length;
      lines.push(
        `  RSS of the last run (${Math.round((longest[longest.length - 1].t - longest[0].t) / 1000)} s without restart): first quarter avg ${mib(avg(longest.slice(0, q)))}, last quarter avg ${mib(avg(longest.slice(-q)))}`,
      );
    }
  }
  for (const n of r.notes ?? []) lines.push(`  note: ${n}`);
  for (const f of r.failures) lines.push(`  FAIL: ${f}`);
  if (!r.passed) lines.push(`  work dir kept: ${r.workDir}`);
  return lines.join('\n');
}
