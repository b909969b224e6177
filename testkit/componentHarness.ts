/**
 * Builds any registered component from its `example` config the way the assembly builds it, and
 * exercises it with real input of its kind, for the component contract spec and the declared =
 * read spec:
 *
 * - operators and parsers: the one stage of a `logs[]` entry's chain (`entryChain`: registry
 *   lookup, declared defaults, boundary counters); batches of real log lines (examples/logs plus
 *   JSON and CRI lines) in, batches out; time runs on a virtual scheduler;
 * - sources: the file source reads real files in a temp dir (the example's `path` re-rooted
 *   there); a `sources[]` source is built by `createSourcePart`; the APM intake gets the Scout
 *   core-agent protocol over its socket (`SOURCE_INPUTS` says how to feed a source by type);
 * - monitors: a real monitor source sampling every 50 ms;
 * - sinks: log and APM batches written, delivered to a local HTTP receiver or the temp dir.
 *
 * Every run reports the component's counters, what went in and out, and how its stop behaved
 * (twice, with a downstream that hangs). With `record`, the component's own config and
 * `ctx.agent` are recording Proxies (testkit/recording.ts), so the run also says which options
 * it read.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Observable, Subject, VirtualTimeScheduler, identity, isObservable, type SchedulerLike, type Subscription } from 'rxjs';
import type { Component, ComponentContext, ComponentKind, OptionDecl } from '../lib/component.js';
import { homeOf, optionsOf, withDefaults } from '../lib/component.js';
import type { AgentConfig, LogEntryConfig } from '../lib/config/types.js';
import { Taps } from '../lib/pipeline/taps.js';
import { chainStages, createEntryStats, entryChain, type EntryStats } from '../app/logPipeline.js';
import { createSourcePart } from '../app/parts/pluginSource.js';
import type { PerFileChain } from '../sources/file/logSource.js';
import { encodeFrame } from '../sources/spanSocket/framing.js';
import { ScoutKeyring } from '../sinks/checkin/keyring.js';
import type { Registry } from '../lib/registry.js';
import type { Batch, ComponentCounters, Event, Sink, Stream } from '../lib/types.js';
import { createCounters, errorMessage, messageBytes } from '../lib/counters.js';
import { memoryLogger } from '../lib/logger.js';
import { Credits } from '../lib/pipeline/credits.js';
import { CheckpointStore } from '../lib/checkpoints/store.js';
import { loadAgentConfig } from '../app/config.js';
import { createMonitorSource } from '../sources/monitors/monitorSource.js';
import { createReadLog, record, type ReadLog } from './recording.js';
import { startTestServer, parseAddEventsBody, type TestServer } from './tlsServer.js';
import { startStatusPeer, toPeer, type StatusPeer } from './statusPeer.js';
import { examplePeers, type ExamplePeers } from './examplePeers.js';
import { otlpRecordCount } from './otlpServer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What a run read (only with `record`). */
export interface Reads {
  own: ReadLog;
  agent: ReadLog;
}

export interface StopRun {
  /** Milliseconds each of the two stop calls took (operators: unsubscribe). */
  ms: number[];
  /** The deadline given to stop (ms). */
  deadlineMs: number;
  /** Errors thrown or rejections from a stop call. */
  errors: string[];
  /** Events emitted after the component was stopped. */
  emittedAfterStop: number;
}

export interface Run {
  component: Component;
  /** The component's counters (its own, or those its boundary wrapper keeps). */
  counters: ComponentCounters | undefined;
  /** Events (and bytes) handed to the component. */
  inEvents: number;
  inBytes: number;
  /** Events (and bytes) that came out of it (sinks: delivered to the receiver or the temp dir). */
  outEvents: number;
  outBytes: number;
  /** Sinks: acked offset per stream id vs the end written. Operators: last `end` seen vs the input's. */
  acked?: { expected: number; got: number };
  stop: StopRun;
  /** Sinks: requests the receiver got whose events cannot be counted (not addEvents bodies). */
  opaqueRequests?: number;
  /** Operators and parsers: the assembly left the stage out of the chain (it is the identity). */
  identity?: boolean;
  reads?: Reads;
  /** Anything that went wrong while driving it (build errors, timeouts). */
  problems: string[];
  notes: string[];
}

/** Where a run happens: a temp dir, an HTTP receiver, the validated default agent config. */
export interface HarnessEnv {
  dir: string;
  receiver: TestServer;
  /** Answers the loopback URLs of scraping monitors' examples (testkit/statusPeer.ts). */
  peer: StatusPeer;
  /** Real servers the examples of database monitors need (testkit/examplePeers.ts). */
  examplePeers: ExamplePeers;
  /** Services the assembly shares between the parts it builds (the APM parts' key ring). */
  shared: { keyring: ScoutKeyring };
  /** The whole validated agent config (defaults), pointed at the temp dir and the receiver. */
  agent: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * Options the harness points at its own temp world (the data and log dirs, the upload server,
 * the APM socket and ingest URL). They are put in whichever config holds them: `ctx.agent`
 * always, the component's own config when it declares them there.
 */
function environment(dir: string, receiver: TestServer): Record<string, unknown> {
  return {
    agent_data_path: path.join(dir, 'data'),
    agent_log_path: path.join(dir, 'log'),
    scalyr_server: receiver.url,
    allow_http: true,
    api_key: 'harness-api-key',
    socket_path: path.join(dir, 'core-agent.sock'),
    ingest_url: receiver.url,
  };
}

/** The environment; the agent config is validated with the schema of `registry` (its declarations). */
/** The validated agent config (every declared default) with its data and log dirs under `dir`. */
async function validatedAgent(registry: Registry, dir: string, receiver: TestServer): Promise<Record<string, unknown>> {
  const env = environment(dir, receiver);
  fs.mkdirSync(String(env.agent_data_path), { recursive: true });
  fs.mkdirSync(String(env.agent_log_path), { recursive: true });
  const parsed = await loadAgentConfig({ config: { agent_data_path: env.agent_data_path, agent_log_path: env.agent_log_path, logs: [] }, baseDir: dir, env: {}, hostname: 'harness-host', registry });
  if (!parsed.ok) throw new Error(`harness: the default agent config does not validate: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return { ...(parsed.config as unknown as Record<string, unknown>), ...env };
}

/** The environment; agent configs are validated with the schema of `registry` (its declarations). */
export async function createEnv(registry: Registry): Promise<HarnessEnv> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-component-'));
  const receiver = await startTestServer();
  const peer = await startStatusPeer();
  const peers = examplePeers(dir);
  return {
    dir,
    receiver,
    peer,
    examplePeers: peers,
    shared: { keyring: new ScoutKeyring() },
    agent: await validatedAgent(registry, dir, receiver),
    async close() {
      await receiver.close();
      await peer.close();
      await peers.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The configs a component is built with: its example with the declared defaults of its own
 * options, and the validated agent config (data and log dirs under `runDir`) with the declared
 * defaults of its global ones.
 */
export async function configsFor(c: Component, registry: Registry, env: HarnessEnv, runDir: string): Promise<{ own: Record<string, unknown>; agent: Record<string, unknown> }> {
  // `endpoint`: a sink's (OTLP) is the receiver's URL; a source's (the OTLP receiver) a free loopback port.
  const envOpts = { ...environment(runDir, env.receiver), endpoint: c.kind === 'sink' ? env.receiver.url : '127.0.0.1:0' };
  const ownNames = new Set(optionsOf(c, 'own').map((o) => o.name));
  const ownEnv: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(envOpts)) if (ownNames.has(k)) ownEnv[k] = v;
  const example = structuredClone(c.example ?? {});
  if (c.kind === 'source' && typeof example.path === 'string') example.path = path.join(runDir, 'files', example.path);
  const agent = withDefaults(c, await validatedAgent(registry, runDir, env.receiver), 'global');
  // A sink's config is its `sink` object laid over the agent config and `upload`, as the sink
  // part builds it (app/parts/sinkPart.ts); the others get their own object only.
  const under = c.kind === 'sink' ? { ...agent, ...((agent.upload as object | undefined) ?? {}) } : {};
  const own = withDefaults(c, { ...under, ...example, ...ownEnv }, 'own');
  return { own, agent };
}

/** A registry copy where `c` (every name it answers to) reads through recording Proxies. */
export function instrumented(registry: Registry, c: Component, reads: Reads): Registry {
  const copy = registry.with();
  const readLineLimit = c.readLineLimit;
  copy.add({
    ...c,
    create: ((config: Record<string, unknown>, ctx: ComponentContext) => c.create(record(config, reads.own) as never, { ...ctx, agent: record(ctx.agent as object, reads.agent) } as never)) as never,
    // What the reader's line limit comes from is read too (the assembly asks once per entry).
    ...(readLineLimit ? { readLineLimit: (own: Readonly<Record<string, unknown>>, agent: Readonly<Record<string, unknown>>) => readLineLimit.call(c, record(own, reads.own), record(agent, reads.agent)) } : {}),
  } as Component);
  return copy;
}

export interface RunOptions {
  registry: Registry;
  env: HarnessEnv;
  /** Record the options it reads. */
  record?: boolean;
  /** Deadline handed to stop() (ms). */
  stopDeadlineMs?: number;
}

/** Builds `c` through the registry from its example config and drives it with input of its kind. */
export async function exercise(c: Component, opts: RunOptions): Promise<Run> {
  const runDir = fs.mkdtempSync(path.join(opts.env.dir, `${c.kind}-${c.type.replace(/[^\w.-]/g, '_')}-`));
  const reads: Reads | undefined = opts.record ? { own: createReadLog(), agent: createReadLog() } : undefined;
  const registry = reads ? instrumented(opts.registry, c, reads) : opts.registry;
  const built = registry.component(c.kind, c.type) as Component;
  const { own, agent } = await configsFor(c, opts.registry, opts.env, runDir);
  const run: Run = {
    component: c,
    counters: undefined,
    inEvents: 0,
    inBytes: 0,
    outEvents: 0,
    outBytes: 0,
    stop: { ms: [], deadlineMs: opts.stopDeadlineMs ?? 300, errors: [], emittedAfterStop: 0 },
    reads,
    problems: [],
    notes: [],
  };
  const drive = DRIVERS[c.kind];
  try {
    await drive({ c: built, own, agent, registry, env: opts.env, runDir, run });
  } catch (err) {
    run.problems.push(`${c.kind} ${c.type}: ${errorMessage(err)}`);
  }
  return run;
}

interface DriveArgs {
  c: Component;
  own: Record<string, unknown>;
  agent: Record<string, unknown>;
  registry: Registry;
  env: HarnessEnv;
  runDir: string;
  run: Run;
}

const DRIVERS: Record<ComponentKind, (a: DriveArgs) => Promise<void>> = {
  operator: driveOperator,
  parser: driveOperator,
  source: driveSource,
  monitor: driveMonitor,
  sink: driveSink,
};

function context(a: DriveArgs, counters: ComponentCounters, services?: Record<string, unknown>): ComponentContext {
  return {
    id: `harness:${a.c.kind}:${a.c.type}`,
    logger: memoryLogger(),
    agent: a.agent,
    credits: new Credits(1 << 20),
    dataPath: String(a.agent.agent_data_path),
    counters,
    services,
  };
}

/** Runs `fn`, giving up after `limitMs` (a stop that never resolves is reported, not waited for). */
async function timed(fn: () => unknown, limitMs = 5000): Promise<{ ms: number; error?: string }> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const gaveUp = new Promise<'gave up'>((r) => (timer = setTimeout(() => r('gave up'), limitMs)));
    const result = await Promise.race([Promise.resolve().then(fn), gaveUp]);
    if (result === 'gave up') return { ms: performance.now() - t0, error: `did not resolve within ${limitMs} ms` };
    return { ms: performance.now() - t0 };
  } catch (err) {
    return { ms: performance.now() - t0, error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
}

export async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

// --- input --------------------------------------------------------------------------------

/** Real log lines: the example logs, JSON lines (Docker json-file) and CRI lines (a partial one joined). */
export function inputLines(): string[] {
  const lines: string[] = [];
  for (const f of ['examples/logs/app.log', 'examples/logs/access.log']) {
    for (const l of fs.readFileSync(path.join(ROOT, f), 'utf8').split('\n')) if (l !== '') lines.push(`${l}\n`);
  }
  lines.push(
    '{"log":"json line one\\n","stream":"stdout","time":"2026-11-23T10:00:10.000000001Z"}\n',
    '{"log":"json line two password=hunter2\\n","stream":"stderr","time":"2026-11-23T10:00:11.5Z"}\n',
    '2026-11-23T10:00:12.000000000Z stdout F cri full line\n',
    '2026-11-23T10:00:13.000000000Z stdout P cri partial \n',
    '2026-11-23T10:00:13.100000000Z stdout F line joined\n',
    'level=info msg="key value line" user=alice\n',
  );
  return lines;
}

export interface Recorded {
  stream: Stream;
  acks: number[];
}

export function recordingStream(id: string, p = `/harness/${id}.log`): Recorded {
  const acks: number[] = [];
  return { stream: { id, kind: 'log', path: p, attrs: { logfile: p }, seqId: `seq-${id}`, ack: (end) => acks.push(end) }, acks };
}

/** `lines` as batches of one stream; messages are views into one Buffer, as a file read gives them. */
export function batchesOf(stream: Stream, lines: string[], perBatch = 5, startAt = 0): Batch[] {
  const page = Buffer.from(lines.join(''));
  const out: Batch[] = [];
  let at = 0;
  for (let i = 0; i < lines.length; i += perBatch) {
    const events: Event[] = [];
    for (const l of lines.slice(i, i + perBatch)) {
      const n = Buffer.byteLength(l);
      events.push({ message: page.subarray(at, at + n), end: startAt + at + n });
      at += n;
    }
    out.push({ stream, events, end: startAt + at });
  }
  return out;
}

const sumEvents = (bs: Batch[]) => bs.reduce((n, b) => n + b.events.length, 0);
const sumBytes = (bs: Batch[]) => bs.reduce((n, b) => n + b.events.reduce((m, e) => m + messageBytes(e.message), 0), 0);

// --- operators and parsers ----------------------------------------------------------------

/**
 * The `logs[]` entry whose chain holds `c` as its one stage: a parser as the entry's
 * `parse_format`, a line stage living in the entry (`home: 'entry'`) with its example's rules,
 * any other operator as the one item of `operators[]`.
 */
export function entryFor(c: Component, own: Record<string, unknown>): Record<string, unknown> {
  const base = { path: '/harness/chain.log', lineGroupers: [], sampling_rules: [], redaction_rules: [], operators: [], parse_format: 'raw' };
  if (c.kind === 'parser') return { ...base, ...own, parse_format: c.type };
  if (homeOf(c) === 'entry') return { ...base, ...own };
  return { ...base, operators: [{ ...own, type: c.type }] };
}

/**
 * Builds the per-file chain of an entry holding `c` through the assembly (`entryChain` in
 * app/logPipeline.ts: the registry lookup, the declared defaults of an `operators[]` item, the
 * boundary counter for a component that does not count itself). Returns the chain and the
 * counters of `c`'s stage (undefined when the assembly leaves it out: an identity stage).
 */
export function buildChain(c: Component, a: Pick<DriveArgs, 'own' | 'agent' | 'registry'>, scheduler: SchedulerLike): { chain: PerFileChain; stats: EntryStats; stage: string } {
  const entry = entryFor(c, a.own) as unknown as LogEntryConfig;
  const stats = createEntryStats();
  const stages = chainStages('logs[0]', entry, a.registry);
  const stage = stages.find((st) => st.component.kind === c.kind && st.component.type === c.type)?.name;
  if (!stage) throw new Error(`the chain built for ${c.kind} ${c.type} does not hold it (stages: ${stages.map((st) => st.name).join(', ')})`);
  const chain = entryChain({ id: 'logs[0]', entry, agent: a.agent as unknown as AgentConfig, registry: a.registry, taps: new Taps(), stats, logger: memoryLogger(), credits: new Credits(1 << 20), scheduler });
  return { chain, stats, stage };
}

async function driveOperator(a: DriveArgs): Promise<void> {
  const { run } = a;
  const scheduler = new VirtualTimeScheduler();
  const { stream } = recordingStream('op');
  const built = buildChain(a.c, a, scheduler);
  const limit = built.chain.lineLimit;
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) run.problems.push(`readLineLimit gave ${limit}, not a positive whole number of bytes`);
  const op = built.chain(stream);
  // Building a stream's operators creates the stages (and drops the counters of an identity one).
  const stats = built.stats.stages[built.stage];
  const input = batchesOf(stream, inputLines());
  run.inEvents = sumEvents(input);
  run.inBytes = sumBytes(input);

  // 1. Everything through, then complete (a stage holding lines back sends them on completion).
  const subject = new Subject<Batch>();
  const out: Batch[] = [];
  let failed: unknown;
  subject.pipe(op).subscribe({ next: (b) => out.push(b), error: (e) => (failed = e) });
  for (const b of input) subject.next(b);
  scheduler.flush();
  subject.complete();
  scheduler.flush();
  if (failed !== undefined) run.problems.push(`the stage errored: ${errorMessage(failed)}`);
  run.outEvents = sumEvents(out);
  run.outBytes = sumBytes(out);
  run.acked = { expected: input[input.length - 1].end, got: out.length > 0 ? Math.max(...out.map((b) => b.end)) : 0 };
  if (stats) run.counters = structuredClone(stats);
  else {
    // The assembly left the stage out (it is the identity): nothing to count, and nothing may change.
    run.identity = true;
    run.notes.push(`${built.stage}: an identity stage, left out of the chain`);
  }

  // 2. Stop: a second stream's chain gets lines and is unsubscribed (twice) while it may hold
  // some; nothing may come out after that, even once its timers are due.
  const op2 = built.chain(recordingStream('op2').stream);
  const subject2 = new Subject<Batch>();
  let after = 0;
  let stopped = false;
  const sub: Subscription = subject2.pipe(op2).subscribe({ next: () => stopped && after++ });
  for (const b of input) subject2.next(b);
  for (let i = 0; i < 2; i++) {
    const t = await timed(() => {
      stopped = true;
      sub.unsubscribe();
    });
    run.stop.ms.push(t.ms);
    if (t.error) run.stop.errors.push(t.error);
  }
  subject2.next(batchesOf(stream, ['after stop\n'], 1, input[input.length - 1].end)[0]);
  scheduler.flush();
  run.stop.emittedAfterStop = after;
}

// --- sources --------------------------------------------------------------------------------

/** A file name the glob matches (`*` → `harness`, `?` → `x`, `**` → nothing). */
function fileFor(glob: string): string {
  return glob.replace(/\*\*\//g, '').replace(/\*/g, 'harness').replace(/\?/g, 'x');
}

/**
 * How to feed a source that reads neither files nor nothing: by type. `events`/`bytes` went in,
 * `expectOut` events should come out. A source without an entry here that has no `path` is
 * taken to make its own data.
 */
const SOURCE_INPUTS: Record<string, (src: RunningSource) => Promise<{ events: number; bytes: number; expectOut: number }>> = {
  /** The Scout core-agent protocol over the intake's TCP address: one request with two spans. */
  async apm_intake(src) {
    const status = (src.status?.() ?? {}) as { intake?: { listening?: unknown[] } };
    const tcp = (status.intake?.listening ?? []).find((l): l is net.AddressInfo => typeof l === 'object' && l !== null && 'port' in l);
    if (!tcp) throw new Error(`the APM intake listens on no TCP address (status: ${JSON.stringify(status)})`);
    const t = '2026-11-23T08:53:35.';
    const commands = [
      { Register: { app: 'harness', key: 'k', api_version: '1.0' } },
      { StartRequest: { request_id: 'r1', timestamp: `${t}000Z` } },
      { StartSpan: { request_id: 'r1', span_id: 's1', parent_id: null, operation: 'Controller/harness', timestamp: `${t}001Z` } },
      { StartSpan: { request_id: 'r1', span_id: 's2', parent_id: 's1', operation: 'SQL/Query', timestamp: `${t}002Z` } },
      { TagSpan: { request_id: 'r1', span_id: 's2', tag: 'db.statement', value: 'SELECT 1', timestamp: `${t}003Z` } },
      { StopSpan: { request_id: 'r1', span_id: 's2', timestamp: `${t}010Z` } },
      { StopSpan: { request_id: 'r1', span_id: 's1', timestamp: `${t}020Z` } },
      { FinishRequest: { request_id: 'r1', timestamp: `${t}021Z` } },
    ];
    const frames = commands.map((c) => encodeFrame(JSON.stringify(c)));
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(tcp.port, tcp.address);
      let replies = 0;
      let got = Buffer.alloc(0);
      sock.on('error', reject);
      sock.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        while (got.length >= 4 && got.length >= 4 + got.readUInt32BE(0)) {
          got = got.subarray(4 + got.readUInt32BE(0));
          if (++replies === frames.length) {
            sock.end();
            resolve();
          }
        }
      });
      sock.on('connect', () => {
        for (const f of frames) sock.write(f);
      });
    });
    return { events: commands.length, bytes: frames.reduce((n, f) => n + f.length, 0), expectOut: 1 };
  },
  /** OTLP/JSON over HTTP to the receiver's address: three log records and a span, gzip'd. */
  async otlp_receiver(src) {
    const listening = String(((src.status?.() ?? {}) as { listening?: unknown }).listening ?? '');
    const m = /^(.*):(\d+)$/.exec(listening);
    if (!m) throw new Error(`the OTLP receiver listens on no address (status: ${JSON.stringify(src.status?.())})`);
    const ns = `${Date.now()}000000`;
    const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'harness' } }] };
    const logs = { resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'h' }, logRecords: ['one', 'two password=x', 'three'].map((b) => ({ timeUnixNano: ns, severityNumber: 9, body: { stringValue: b } })) }] }] };
    const traces = { resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'h' }, spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'GET /h', kind: 2, startTimeUnixNano: ns, endTimeUnixNano: ns }] }] }] };
    let bytes = 0;
    for (const [p, msg] of [['/v1/logs', logs], ['/v1/traces', traces]] as const) {
      const body = zlib.gzipSync(JSON.stringify(msg));
      bytes += body.length;
      const status = await new Promise<number>((resolve, reject) => {
        const r = http.request({ host: m[1], port: Number(m[2]), path: p, method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        r.on('error', reject);
        r.end(body);
      });
      if (status !== 200) throw new Error(`the OTLP receiver answered ${p} with ${status}`);
    }
    return { events: 4, bytes, expectOut: 4 };
  },
};

interface RunningSource {
  batches$: Observable<Batch>;
  counters: ComponentCounters;
  stop(deadlineMs?: number): Promise<void>;
  ready?(): Promise<void>;
  status?(): unknown;
}

/**
 * A source living in a `logs[]` entry (the file source) is built as the log part builds it: its
 * create with the part's services (checkpoints, the per-file chain: here none). Any other is a
 * `sources[]` item built by the assembly's `createSourcePart` (declared defaults, a bare
 * Observable wrapped, counted at its boundary, stop bounded by its deadline).
 */
async function buildSource(a: DriveArgs, checkpoints: CheckpointStore): Promise<RunningSource> {
  const ctx = context(a, createCounters());
  const home = homeOf(a.c);
  if (home.startsWith('section:')) {
    // A section's source (the APM intake) is built by its part from the section object; the
    // minute it aggregates over is shortened for the run (its part's `minuteMs` service).
    return (a.c.create as (cfg: Record<string, unknown>, ctx: ComponentContext) => RunningSource)(a.own, { ...ctx, services: { ...a.env.shared, minuteMs: 100, graceMs: 0 } });
  }
  if (home === 'entry') {
    const perFile = (() => identity) as PerFileChain;
    const made = (a.c.create as (cfg: Record<string, unknown>, ctx: ComponentContext) => unknown)(a.own, { ...ctx, services: { checkpoints, startup: true, perFile, pollIntervalMs: 50 } });
    if (isObservable(made)) throw new Error('create returned a bare Observable where a source instance (batches$, counters, stop) is needed');
    return made as RunningSource;
  }
  return createSourcePart({ ...a.own, type: a.c.type }, { registry: a.registry, logger: ctx.logger, agent: a.agent, credits: ctx.credits, dataPath: ctx.dataPath, services: { checkpoints } });
}

async function driveSource(a: DriveArgs): Promise<void> {
  const checkpoints = await CheckpointStore.open(path.join(a.runDir, 'data', 'checkpoints'), { flushIntervalMs: 50 });
  try {
    await sourceRun(a, await buildSource(a, checkpoints));
  } finally {
    await checkpoints.close();
  }
}

async function sourceRun(a: DriveArgs, src: RunningSource): Promise<void> {
  const { run } = a;
  const file = typeof a.own.path === 'string' ? fileFor(a.own.path) : undefined;
  if (file) fs.mkdirSync(path.dirname(file), { recursive: true });
  if (file) fs.writeFileSync(file, 'before start: read from its end unless copy_from_start\n');
  const out: Batch[] = [];
  let stopped = false;
  let ackLast = true;
  const sub = src.batches$.subscribe({
    next: (b) => {
      if (stopped) run.stop.emittedAfterStop += b.events.length;
      out.push(b);
      if (ackLast) b.stream.ack(b.end);
    },
    error: (e) => run.problems.push(`batches$ errored: ${errorMessage(e)}`),
  });
  await Promise.race([src.ready?.(), new Promise((r) => setTimeout(r, 3000))]);
  const lines = inputLines();
  const feed = SOURCE_INPUTS[a.c.type];
  if (feed) {
    const fed = await feed(src);
    run.inEvents = fed.events;
    run.inBytes = fed.bytes;
    if (!(await waitUntil(() => sumEvents(out) >= fed.expectOut, 8000))) run.problems.push(`${sumEvents(out)} of ${fed.expectOut} events came out within 8 s`);
  } else if (file) {
    fs.appendFileSync(file, lines.join(''));
    run.inEvents = lines.length;
    run.inBytes = Buffer.byteLength(lines.join(''));
    if (!(await waitUntil(() => sumEvents(out) >= run.inEvents && src.counters.sentEvents >= run.inEvents, 8000))) {
      run.problems.push(`read ${sumEvents(out)} of ${run.inEvents} lines written to ${file} within 8 s`);
    }
  } else {
    // A source that reads no file makes its own data: give it a moment to produce some.
    await waitUntil(() => sumEvents(out) >= 2, 2000);
    run.inEvents = src.counters.receivedEvents;
    run.inBytes = src.counters.receivedBytes;
  }
  run.outEvents = sumEvents(out);
  run.outBytes = sumBytes(out);
  run.counters = structuredClone(src.counters);
  // Stop while the downstream hangs: more lines come in and are never acknowledged.
  ackLast = false;
  if (file) {
    fs.appendFileSync(file, 'one more line nobody acknowledges\n');
    await waitUntil(() => sumEvents(out) > run.outEvents, 2000);
  }
  for (let i = 0; i < 2; i++) {
    const t = await timed(() => src.stop(run.stop.deadlineMs), run.stop.deadlineMs + 2000);
    stopped = true;
    run.stop.ms.push(t.ms);
    if (t.error) run.stop.errors.push(t.error);
  }
  if (file) fs.appendFileSync(file, 'after stop\n');
  await new Promise((r) => setTimeout(r, 150));
  sub.unsubscribe();
}

// --- monitors -------------------------------------------------------------------------------

async function driveMonitor(a: DriveArgs): Promise<void> {
  const { run } = a;
  // A scraping monitor's example names a loopback server: the harness's status peer answers it.
  // A database monitor's example gets a real server (or, where it is not installed, runs without one).
  const real = await a.env.examplePeers.get(a.c.type);
  const skip = real && 'skip' in real ? real.skip : undefined;
  if (skip) {
    console.warn(`${a.c.type}: the harness checks it without samples: ${skip}`);
    run.notes.push(`no real server: ${skip}`);
  }
  const own = real && 'own' in real ? real.own(a.own) : a.own;
  // Samples every 50 ms; a declared `timeout` would default to that, too short on a busy machine.
  const slack = a.c.options?.some((o) => o.name === 'timeout') && own.timeout === undefined ? { timeout: 5 } : {};
  const entry = { ...toPeer(own, a.env.peer.origin), ...slack, module: own.module ?? a.c.type, id: own.id ?? 'harness', sample_interval: 0.05 };
  const agent = { ...a.agent, global_monitor_sample_interval_enable_jitter: false };
  // A monitor that writes log files (syslog's and journald's message logs, `Component.logs`):
  // its output is the lines of those files, not samples.
  let logFiles: string[] = [];
  try {
    logFiles = a.c.logs?.(entry, agent).map((l) => l.path) ?? [];
  } catch (err) {
    run.problems.push(`logs() threw: ${errorMessage(err)}`);
  }
  const written = () => logFiles.map((f) => (fs.existsSync(f) ? fs.readFileSync(f) : Buffer.alloc(0)));
  const writtenLines = () => written().reduce((n, b) => n + b.toString('utf8').split('\n').filter((l) => l !== '').length, 0);
  const logger = memoryLogger();
  const src = createMonitorSource(entry as never, { logger, agent: agent as never, registry: a.registry, baseDir: a.runDir });
  run.counters = src.counters;
  const out: Batch[] = [];
  let stopped = false;
  const sub = src.batches$.subscribe({
    next: (b) => {
      if (stopped) run.stop.emittedAfterStop += b.events.length;
      out.push(b);
    },
  });
  const enough = () => (logFiles.length > 0 ? writtenLines() >= 2 : out.length >= 2);
  if (!(await waitUntil(enough, skip ? 300 : 8000)) && !skip) {
    const what = logFiles.length > 0 ? `${writtenLines()} lines written to ${logFiles.join(', ')} in 8 s` : `${out.length} samples in 8 s at a 50 ms interval`;
    run.problems.push(`${what} (status: ${JSON.stringify(src.status())}; log: ${logger.records.map((r) => r.message).join(' | ')})`);
  }
  const st = src.status();
  if (st.errors > 0 && !skip) run.problems.push(`the monitor reported errors: ${st.lastError}`);
  run.outEvents = sumEvents(out);
  run.outBytes = sumBytes(out);
  run.counters = structuredClone(src.counters);
  // A monitor's input is what its samples produced: every line it counted as received.
  run.inEvents = run.counters.receivedEvents;
  run.inBytes = run.counters.receivedBytes;
  for (let i = 0; i < 2; i++) {
    const t = await timed(() => src.stop(), run.stop.deadlineMs + 2000);
    stopped = true;
    run.stop.ms.push(t.ms);
    if (t.error) run.stop.errors.push(t.error);
  }
  await new Promise((r) => setTimeout(r, 150));
  sub.unsubscribe();
  if (logFiles.length > 0) {
    // Stopped: everything it counted as sent is in its files (samples it emitted count too).
    run.outEvents += writtenLines();
    run.outBytes += written().reduce((n, b) => n + b.length, 0);
    run.counters = structuredClone(src.counters);
    run.inEvents = run.counters.receivedEvents;
    run.inBytes = run.counters.receivedBytes;
  }
}

// --- sinks ----------------------------------------------------------------------------------

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/**
 * Events delivered: in addEvents (or OTLP) requests the receiver got, plus lines in files the sink wrote;
 * `opaque`: requests whose body is not addEvents (a check-in), whose events cannot be counted.
 */
function delivered(env: HarnessEnv, from: number, dataDir: string): { events: number; opaque: number } {
  let n = 0;
  let opaque = 0;
  for (const r of env.receiver.requests.slice(from)) {
    try {
      // An OTLP export (the otlp sink) counts its records, an addEvents body its events; anything
      // else (a Scout check-in, JSON the test server already gunzipped) is opaque.
      const otlp = otlpRecordCount(r.url, r.headers['content-type'], r.body);
      if (otlp !== undefined) n += otlp;
      else if (r.url.split('?')[0].endsWith('/addEvents')) n += parseAddEventsBody(r.body).events.length;
      else opaque++;
    } catch {
      opaque++;
    }
  }
  for (const f of filesUnder(dataDir)) {
    if (/checkpoint|\.lock$|status/.test(path.basename(f))) continue;
    n += fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
  }
  return { events: n, opaque };
}

/**
 * Real `apm` batches: what the registry's APM intake (`apm_intake`) makes of one request sent
 * over its socket (none when no such source is registered). Their streams ack into `acks`.
 */
async function apmBatches(a: DriveArgs): Promise<{ batches: Batch[]; acked: Recorded[] }> {
  const intake = a.registry.component('source', 'apm_intake');
  if (!intake) return { batches: [], acked: [] };
  const runDir = fs.mkdtempSync(path.join(a.runDir, 'apm-'));
  const { own, agent } = await configsFor(intake, a.registry, a.env, runDir);
  const scratch: Run = { component: intake, counters: undefined, inEvents: 0, inBytes: 0, outEvents: 0, outBytes: 0, stop: { ms: [], deadlineMs: 300, errors: [], emittedAfterStop: 0 }, problems: [], notes: [] };
  const out: Batch[] = [];
  const checkpoints = await CheckpointStore.open(path.join(runDir, 'data', 'checkpoints'));
  try {
    const src = await buildSource({ ...a, c: intake, own, agent, runDir, run: scratch }, checkpoints);
    const sub = src.batches$.subscribe((b) => out.push(b));
    await src.ready?.();
    await SOURCE_INPUTS.apm_intake(src);
    await waitUntil(() => out.length > 0, 5000);
    await src.stop(1000);
    sub.unsubscribe();
  } finally {
    await checkpoints.close();
  }
  if (out.length === 0) throw new Error('the APM intake made no batch to feed the sink with');
  // Fresh streams that record their acks (the intake's own are left behind with it).
  const acked: Recorded[] = [];
  const batches = out.map((b) => {
    const r = recordingStream(`apm-${acked.length}`, b.stream.path);
    r.stream.kind = b.stream.kind;
    Object.assign(r.stream.attrs, b.stream.attrs);
    acked.push(r);
    return { ...b, stream: r.stream };
  });
  return { batches, acked };
}

async function driveSink(a: DriveArgs): Promise<void> {
  const { run, env } = a;
  const ctx = context(a, createCounters(), { ...env.shared });
  const apm = await apmBatches(a);
  const sink = (a.c.create as (cfg: Record<string, unknown>, ctx: ComponentContext) => Sink)(a.own, ctx);
  run.counters = sink.counters;
  const from = env.receiver.requests.length;
  const s1 = recordingStream('sink-a');
  const s2 = recordingStream('sink-b');
  // Log lines of two files, and the APM records of a minute.
  const input = [...batchesOf(s1.stream, inputLines().slice(0, 10), 4), ...batchesOf(s2.stream, inputLines().slice(10), 4), ...apm.batches];
  run.inEvents = sumEvents(input);
  run.inBytes = sumBytes(input);
  for (const b of input) sink.write(b);
  await sink.flush(5000);
  const acked = (r: Recorded, bs: Batch[]) => ({ expected: Math.max(...bs.filter((b) => b.stream === r.stream).map((b) => b.end)), got: Math.max(0, ...r.acks) });
  const all = [s1, s2, ...apm.acked].map((r) => acked(r, input));
  run.acked = { expected: all.reduce((n, x) => n + x.expected, 0), got: all.reduce((n, x) => n + x.got, 0) };
  const got = delivered(env, from, String(a.agent.agent_data_path));
  run.outEvents = got.events;
  run.opaqueRequests = got.opaque;
  run.outBytes = sink.counters.sentBytes;
  run.counters = structuredClone(sink.counters);
  // Stop while the downstream hangs: the receiver never answers the next requests.
  env.receiver.faults.push(...Array.from({ length: 20 }, () => ({ hang: true })));
  const s3 = recordingStream('sink-c');
  for (const b of batchesOf(s3.stream, ['hangs 1\n', 'hangs 2\n'], 1)) sink.write(b);
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 2; i++) {
    const t = await timed(() => sink.stop(run.stop.deadlineMs), run.stop.deadlineMs + 2000);
    run.stop.ms.push(t.ms);
    if (t.error) run.stop.errors.push(t.error);
  }
  env.receiver.faults.length = 0;
}

// --- checks ---------------------------------------------------------------------------------

const COUNTER_FIELDS = ['receivedEvents', 'receivedBytes', 'sentEvents', 'sentBytes', 'errors'] as const;

/** What breaks the component contract in a run (empty when it keeps it). */
export function contractProblems(run: Run): string[] {
  const p = [...run.problems];
  const c = run.counters;
  const kind = run.component.kind;
  if (run.identity) {
    // Left out of the chain by the assembly: what comes out must be exactly what went in.
    if (run.outEvents !== run.inEvents || run.outBytes !== run.inBytes) p.push(`an identity stage changed the data: ${run.inEvents} events (${run.inBytes} B) in, ${run.outEvents} (${run.outBytes} B) out`);
    return [...p, ...stopProblems(run)];
  }
  if (!c) return [...p, 'no counters (received/sent/dropped/errors)'];
  for (const f of COUNTER_FIELDS) if (typeof c[f] !== 'number' || !Number.isFinite(c[f])) p.push(`counters.${f} is not a number (${String(c[f])})`);
  if (!c.dropped || typeof c.dropped !== 'object') p.push('counters.dropped is not an object of reasons');
  else for (const [reason, n] of Object.entries(c.dropped)) if (reason === '' || !(Number.isInteger(n) && n > 0)) p.push(`counters.dropped[${JSON.stringify(reason)}] = ${n}: a drop needs a reason and a positive count`);
  const drops = Object.values(c.dropped ?? {}).reduce((n, v) => n + v, 0);
  if (kind === 'operator' || kind === 'parser') {
    if (c.receivedEvents !== run.inEvents) p.push(`received ${c.receivedEvents} events, ${run.inEvents} went in`);
    if (c.receivedBytes !== run.inBytes) p.push(`received ${c.receivedBytes} bytes, ${run.inBytes} went in`);
    if (c.sentEvents !== run.outEvents) p.push(`sent ${c.sentEvents} events, ${run.outEvents} came out`);
    if (c.sentBytes !== run.outBytes) p.push(`sent ${c.sentBytes} bytes, ${run.outBytes} came out`);
    if (c.sentEvents + drops > c.receivedEvents) p.push(`sent ${c.sentEvents} + dropped ${drops} > received ${c.receivedEvents}`);
    if (!run.component.countsItself && c.sentEvents + drops !== c.receivedEvents) p.push(`counted at the boundary: sent ${c.sentEvents} + dropped ${drops} ≠ received ${c.receivedEvents}`);
    if (run.acked && run.acked.got !== run.acked.expected) p.push(`the last batch out ends at ${run.acked.got}, the input at ${run.acked.expected} (acks would not reach the end)`);
  } else if (kind === 'source') {
    if (run.inEvents === 0 && homeOf(run.component) === 'entry') p.push('no input: the source has no `path` to write files to');
    if (c.receivedEvents < run.inEvents) p.push(`received ${c.receivedEvents} events, ${run.inEvents} lines written`);
    if (c.sentEvents !== run.outEvents) p.push(`sent ${c.sentEvents} events, ${run.outEvents} came out`);
  } else if (kind === 'monitor') {
    if (c.receivedEvents === 0) p.push('received nothing: no sample was counted');
    if (c.sentEvents !== run.outEvents) p.push(`sent ${c.sentEvents} events, ${run.outEvents} came out`);
    if (c.sentEvents + drops < c.receivedEvents) p.push(`received ${c.receivedEvents}, sent ${c.sentEvents} + dropped ${drops}: lines lost without a reason`);
  } else if (kind === 'sink') {
    if (c.receivedEvents !== run.inEvents) p.push(`received ${c.receivedEvents} events, ${run.inEvents} were written to it`);
    if (run.opaqueRequests) {
      // Requests of another format (a check-in per minute): their events cannot be counted here.
      if (c.sentEvents > 0 && run.opaqueRequests === 0) p.push(`sent ${c.sentEvents} events, the receiver got nothing`);
      if (c.sentEvents + drops < run.inEvents) p.push(`sent ${c.sentEvents} + dropped ${drops} of ${run.inEvents} written`);
    } else {
      if (c.sentEvents !== run.outEvents) p.push(`sent ${c.sentEvents} events, ${run.outEvents} were delivered to the receiver / temp dir`);
      if (run.outEvents + drops < run.inEvents) p.push(`delivered ${run.outEvents} + dropped ${drops} of ${run.inEvents} written`);
    }
    if (c.sentEvents === 0) p.push('sent nothing: the sent counters did not move');
    if (run.acked && run.acked.got < run.acked.expected) p.push(`acked up to ${run.acked.got} of ${run.acked.expected} (sum over streams) after flush`);
  }
  // A monitor whose real server is not installed here produced no sample: only the rest is checked.
  const noServer = kind === 'monitor' && run.notes.some((n) => n.startsWith('no real server'));
  if (noServer) return [...p.filter((x) => !x.startsWith('received nothing')), ...stopProblems(run)];
  if (c.sentEvents === 0 && kind !== 'sink') p.push('sent nothing: the sent counters did not move');
  if (c.receivedEvents === 0) p.push('received nothing: the received counters did not move');
  return [...p, ...stopProblems(run)];
}

/** Stop twice: no error, each within its deadline (plus scheduling slack), nothing after. */
function stopProblems(run: Run): string[] {
  const p: string[] = [];
  const s = run.stop;
  if (s.ms.length !== 2) p.push(`stop ran ${s.ms.length} of 2 times`);
  for (const e of s.errors) p.push(`stop failed: ${e}`);
  const bound = s.deadlineMs + 500;
  s.ms.forEach((ms, i) => ms > bound && p.push(`stop #${i + 1} took ${Math.round(ms)} ms (deadline ${s.deadlineMs} ms)`));
  if (s.emittedAfterStop > 0) p.push(`${s.emittedAfterStop} events came out after stop`);
  return p;
}

/** Where part-level keys of a component's own config are declared (not by the component). */
export interface PartKeys {
  /** Keys the assembly declares on the object the component's own options live in. */
  own: ReadonlySet<string>;
}

/** Declared = read: problems with what a recorded run read against what the component declares. */
export function declarationProblems(run: Run, part: PartKeys = { own: new Set() }): string[] {
  const c = run.component;
  const reads = run.reads;
  if (!reads) return ['the run was not recorded'];
  const p: string[] = [];
  const decl = (scope: 'own' | 'global') => new Map<string, OptionDecl>(optionsOf(c, scope).map((o) => [o.name, o]));
  const own = decl('own');
  const global = decl('global');
  const undeclaredOwn = [...reads.own.keys].filter((k) => !own.has(k) && !part.own.has(k)).sort();
  const undeclaredAgent = [...reads.agent.keys].filter((k) => !global.has(k)).sort();
  if (undeclaredOwn.length) p.push(`reads own option(s) it does not declare: ${undeclaredOwn.join(', ')}`);
  if (undeclaredAgent.length) p.push(`reads agent option(s) it does not declare as global: ${undeclaredAgent.join(', ')}`);
  const how = (log: ReadLog) => (log.enumerated ? ' (it enumerates that config: a spread or Object.keys copies every key, so every present key counts as read)' : '');
  for (const [scope, map, log] of [
    ['own', own, reads.own],
    ['global', global, reads.agent],
  ] as const) {
    const unread = [...map.values()].filter((o) => !o.noEffect && !log.keys.has(o.name)).map((o) => o.name);
    const readNoEffect = [...map.values()].filter((o) => o.noEffect && log.keys.has(o.name)).map((o) => o.name);
    if (unread.length) p.push(`declares ${scope} option(s) it never read: ${unread.join(', ')} (read it, or mark it noEffect with the reason)`);
    if (readNoEffect.length) p.push(`reads ${scope} option(s) declared noEffect: ${readNoEffect.join(', ')}${how(log)}`);
  }
  return p;
}

/**
 * An agent config that uses `c` configured by its example, placed where its own options live:
 * a `logs[]` entry (parsers by `parse_format`, the entry's line stages), an item of
 * `logs[].operators`, a `monitors[]` entry, the `sink` object, a `sources[]` item, or the
 * top-level section object.
 */
export function exampleAgentConfig(c: Component, dir: string): Record<string, unknown> {
  const ex = structuredClone(c.example ?? {});
  // An api_key: otherwise the loader warns that events go to the embedded sink.
  const base = { api_key: 'harness-api-key', agent_data_path: path.join(dir, 'data'), agent_log_path: path.join(dir, 'log') };
  const logPath = path.join(dir, 'files', '*.log');
  const home = homeOf(c);
  if (home.startsWith('section:')) return { ...base, [home.slice('section:'.length)]: ex };
  switch (c.kind) {
    case 'parser':
      return { ...base, logs: [{ path: logPath, ...ex, parse_format: c.type }] };
    case 'source':
      return home === 'entry' ? { ...base, logs: [{ ...ex, path: path.join(dir, 'files', String(ex.path ?? '*.log')) }] } : { ...base, sources: [{ ...ex, type: c.type }] };
    case 'operator':
      return home === 'entry' ? { ...base, logs: [{ path: logPath, ...ex }] } : { ...base, logs: [{ path: logPath, operators: [{ ...ex, type: c.type }] }] };
    case 'monitor':
      return { ...base, monitors: [{ module: c.type, ...ex }] };
    case 'sink':
      return { ...base, sink: { ...ex, type: c.type } };
  }
}

/** Errors and warnings the config loader gives for `c`'s example (validated with `registry`'s schema). */
export async function exampleDiagnostics(c: Component, registry: Registry, dir: string): Promise<string[]> {
  const result = await loadAgentConfig({ config: exampleAgentConfig(c, dir), baseDir: dir, env: {}, hostname: 'harness-host', registry });
  const all = result.ok ? result.warnings : [...result.errors, ...result.warnings];
  return all.map((e) => `${e.path}: ${e.message}`);
}

/** One line per component for reports. */
export function label(c: Pick<Component, 'kind' | 'type'>): string {
  return `${c.kind}:${c.type}`;
}
