/**
 * Replays the frames real Scout Node agents sent (vectors/scout/node-agent-capture.jsonl) over a
 * real Unix socket (and TCP for the TCP runs) and compares every reply with the capture.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSpanIntake } from '../sources/spanSocket/index.js';
import { silentLogger } from '../lib/logger.js';
import type { CompletedRequest, AppEvent } from '../lib/apm/types.js';
import { FrameClient, waitFor } from './apmHelpers.js';
import { lastValueFrom, of, toArray } from 'rxjs';
import { aggregateSpans } from '../operators/aggregateSpans.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const capturePath = path.resolve(repoRoot, 'spec/fixtures/vectors/scout/node-agent-capture.jsonl');

interface Line {
  run: string;
  event: string;
  conn: number;
  seq?: number;
  transport: string;
  frame?: unknown;
  response?: unknown;
}
const lines: Line[] = fs.readFileSync(capturePath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const runs = [...new Set(lines.map((l) => l.run))];

/** Replace version strings so replies compare modulo version. */
const normalise = (v: unknown) => JSON.parse(JSON.stringify(v).replace(/"version":"[^"]*"/g, '"version":"X"'));

describe('replay of real Node agent frames', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-replay-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const run of runs) {
    for (const transport of ['unix', 'tcp'] as const) {
      test(`${run} over ${transport}`, async () => {
        const sock = path.join(dir, `${run}-${transport}.sock`);
        const intake = createSpanIntake(
          { enabled: true, socket_path: sock, tcp: transport === 'tcp' ? '127.0.0.1:0' : undefined, max_frame_bytes: 1 << 24, request_timeout_secs: 60 },
          { logger: silentLogger },
        );
        const completed: CompletedRequest[] = [];
        const events: AppEvent[] = [];
        intake.completed$.subscribe((b) => completed.push(...b));
        intake.appEvents$.subscribe((b) => events.push(...b));
        await intake.listen();
        const tcpAddr = (intake.status().listening as { port?: number }[]).find((a) => a && typeof a === 'object' && 'port' in a);
        const target = transport === 'tcp' ? tcpAddr!.port! : sock;
        const clients = new Map<number, FrameClient>();
        const runLines = lines.filter((l) => l.run === run);
        let frames = 0;
        for (const l of runLines) {
          if (l.event === 'connect') clients.set(l.conn, await FrameClient.connect(target));
          else if (l.event === 'close') await clients.get(l.conn)!.close();
          else if (l.event === 'frame') {
            const reply = await clients.get(l.conn)!.request(l.frame);
            expect(normalise(reply)).toEqual(normalise(l.response));
            frames++;
          }
        }
        expect(frames).toBe(runLines.filter((l) => l.event === 'frame').length);
        for (const c of clients.values()) await c.close();
        const expectedFinished = runLines.reduce((n, l) => n + JSON.stringify(l.frame ?? '').split('"FinishRequest"').length - 1, 0);
        await waitFor(() => completed.length === expectedFinished, 5000, 'completed requests');
        const ops = new Set(completed.flatMap((r) => r.spans.map((s) => s.operation)).filter((o) => /^(Controller|Job)\//.test(o)));
        expect([...ops].sort()).toEqual(['Controller/GET /hello', 'Controller/GET /slow', 'Controller/GET /users/:id', 'Job/nightly_report']);
        expect(completed.every((r) => r.appName === 'capture-node' && r.appKey === 'FakeKey0123456789abc')).toBe(true);
        expect(events.some((e) => e.eventType === 'scout.metadata')).toBe(true);
        expect(intake.counters.dropped).toEqual({});
        // The per-minute aggregates hold exactly these endpoints (HTTP/UNKNOWN-only requests dropped).
        const minutes = await lastValueFrom(of([...completed, ...events]).pipe(aggregateSpans({ graceMs: 0 }), toArray()));
        const names = new Set(minutes.flatMap((m) => m.endpoints.map((e) => e.name)));
        expect([...names].sort()).toEqual(['Controller/GET /hello', 'Controller/GET /slow', 'Controller/GET /users/:id', 'Job/nightly_report']);
        expect(minutes.every((m) => m.appName === 'capture-node')).toBe(true);
        const users = minutes.flatMap((m) => m.endpoints).filter((e) => e.name === 'Controller/GET /users/:id');
        expect(users.some((e) => 'SQL/all' in e.children)).toBe(true);
        expect(minutes.some((m) => m.samplers['CPU/Utilization'] && m.samplers['Memory/Physical'])).toBe(true);
        await intake.stop();
        expect(fs.existsSync(sock)).toBe(false);
      });
    }
  }
});

describe('Python-agent style frames (behaviour notes §1.4–1.6)', () => {
  test('post-order batches, +00:00 timestamps, int tags, ignore_transaction, error, missing socket dir created', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-py-'));
    const sock = path.join(dir, 'scout_apm_core', 'scout-agent.sock');
    const intake = createSpanIntake({ enabled: true, socket_path: sock, max_frame_bytes: 1 << 24, request_timeout_secs: 60 }, { logger: silentLogger });
    const completed: CompletedRequest[] = [];
    intake.completed$.subscribe((b) => completed.push(...b));
    await intake.listen();
    expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o700);
    const c = await FrameClient.connect(sock);
    expect(await c.request({ Register: { app: 'capture-python', key: 'FakeKey0123456789abc', host: 'capture-host', language: 'python', api_version: '1.0' } })).toEqual({ Register: { id: null, result: 'Success' } });
    const batch = (rid: string, view: string, tags: Record<string, unknown>) => ({
      BatchCommand: {
        commands: [
          { StartRequest: { timestamp: '2026-11-23T08:53:35.745515+00:00', request_id: rid } },
          ...Object.entries(tags).map(([tag, value]) => ({ TagRequest: { timestamp: '2026-11-23T08:53:35.745515+00:00', request_id: rid, tag, value } })),
          { StartSpan: { timestamp: '2026-11-23T08:53:35.76+00:00', request_id: rid, span_id: `${rid}-sql`, parent_id: `${rid}-ctl`, operation: 'SQL/Query' } },
          { TagSpan: { timestamp: '2026-11-23T08:53:35.76+00:00', request_id: rid, span_id: `${rid}-sql`, tag: 'db.statement', value: 'SELECT "users".* FROM "users" WHERE "users"."id" = %s' } },
          { StopSpan: { timestamp: '2026-11-23T08:53:35.770000+00:00', request_id: rid, span_id: `${rid}-sql` } },
          { StartSpan: { timestamp: '2026-11-23T08:53:35+00:00', request_id: rid, span_id: `${rid}-ctl`, parent_id: null, operation: view } },
          { StopSpan: { timestamp: '2026-11-23T08:53:35.781931+00:00', request_id: rid, span_id: `${rid}-ctl` } },
          { FinishRequest: { timestamp: '2026-11-23T08:53:35.781931+00:00', request_id: rid } },
        ],
      },
    });
    for (const [rid, view, tags] of [
      ['req-1', 'Controller/__main__.user', { path: '/user/42', user_id: 42, mem_delta: 0.0039, 'scout.queue_time_ns': 1500000 }],
      ['req-2', 'Controller/__main__.boom', { path: '/boom', error: 'true' }],
      ['req-3', 'Controller/__main__.ignored', { ignore_transaction: true }],
    ] as const) {
      expect(await c.request(batch(rid, view, tags))).toEqual({ BatchCommand: { result: 'Success' } });
    }
    await waitFor(() => completed.length === 3);
    const [m] = await lastValueFrom(of(completed).pipe(aggregateSpans({ graceMs: 0 }), toArray()));
    expect(m!.endpoints.map((e) => [e.name, e.callCount, e.errors])).toEqual([
      ['Controller/__main__.boom', 1, 1],
      ['Controller/__main__.user', 1, 0],
    ]);
    const user = m!.endpoints.find((e) => e.name === 'Controller/__main__.user')!;
    expect(user.totalCallTime).toBeCloseTo(0.781931, 6);
    expect(user.children['SQL/all']!.totalCallTime).toBeCloseTo(0.01, 6);
    expect(user.queueTime!.totalCallTime).toBeCloseTo(0.0015, 9);
    expect(m!.dbQueries.map((d) => `${d.model}/${d.operation}`)).toEqual(['User/select', 'User/select']);
    await c.close();
    await intake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
