/**
 * Robustness of the span intake under hostile input (fast-check): random bytes, truncated frames,
 * huge lengths, invalid UTF-8/JSON, deep nesting, unknown commands, data before Register, floods
 * of unfinished requests and many idle connections — while a well-behaved client keeps getting
 * exactly the right replies and its requests keep completing. Plus the framing decoder under
 * every split of the byte stream.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import fc from 'fast-check';
import { createSpanIntake, type SpanIntake } from '../sources/spanSocket/index.js';
import { FrameDecoder, encodeFrame } from '../sources/spanSocket/framing.js';
import { silentLogger } from '../lib/logger.js';
import type { CompletedRequest } from '../lib/apm/types.js';
import { FrameClient, waitFor } from './apmHelpers.js';

const MAX = 64 * 1024;
const frame = (o: unknown) => encodeFrame(JSON.stringify(o));
const header = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const framed = (body: Buffer) => Buffer.concat([header(body.length), body]);

type Attack =
  | { kind: 'bytes'; data: Uint8Array }
  | { kind: 'truncated'; len: number; have: number }
  | { kind: 'huge'; len: number }
  | { kind: 'badUtf8'; data: Uint8Array }
  | { kind: 'badJson'; text: string }
  | { kind: 'deep'; depth: number }
  | { kind: 'unknown'; name: string }
  | { kind: 'unregistered'; cmd: string }
  | { kind: 'flood'; n: number }
  | { kind: 'idle'; n: number }
  | { kind: 'oddShapes'; value: unknown };

const attackArb: fc.Arbitrary<Attack> = fc.oneof(
  fc.record({ kind: fc.constant('bytes' as const), data: fc.uint8Array({ minLength: 1, maxLength: 300 }) }),
  fc.record({ kind: fc.constant('truncated' as const), len: fc.integer({ min: 10, max: MAX }), have: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('huge' as const), len: fc.integer({ min: MAX + 1, max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('badUtf8' as const), data: fc.constantFrom(new Uint8Array([0xff, 0xfe]), new Uint8Array([0x7b, 0xc3]), new Uint8Array([0xed, 0xa0, 0x80])) }),
  fc.record({ kind: fc.constant('badJson' as const), text: fc.oneof(fc.string(), fc.constantFrom('{', '{"Register":', 'nul', '[1,2', '{"a":1}{"b":2}')) }),
  fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: 1000, max: 20000 }) }),
  fc.record({ kind: fc.constant('unknown' as const), name: fc.string({ minLength: 1, maxLength: 20 }) }),
  fc.record({ kind: fc.constant('unregistered' as const), cmd: fc.constantFrom('StartRequest', 'StartSpan', 'BatchCommand', 'ApplicationEvent', 'TagRequest') }),
  fc.record({ kind: fc.constant('flood' as const), n: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('idle' as const), n: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant('oddShapes' as const), value: fc.jsonValue({ maxDepth: 4 }) }),
);

function rawConnect(sock: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(sock);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('span intake under hostile input', () => {
  let dir: string;
  let sock: string;
  let intake: SpanIntake;
  let good: FrameClient;
  const completed: CompletedRequest[] = [];
  const idle: net.Socket[] = [];
  let round = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-fuzz-'));
    sock = path.join(dir, 'f.sock');
    intake = createSpanIntake(
      { enabled: true, socket_path: sock, max_frame_bytes: MAX, request_timeout_secs: 0.3, max_live_requests: 100, max_spans_per_request: 50, frame_timeout_secs: 0.2, max_connections: 200 },
      { logger: silentLogger },
    );
    intake.completed$.subscribe((b) => completed.push(...b));
    await intake.listen();
    good = await FrameClient.connect(sock);
    expect(await good.request({ Register: { app: 'good', key: 'gk', api_version: '1.0' } })).toEqual({ Register: { id: null, result: 'Success' } });
  });

  afterAll(async () => {
    for (const s of idle) s.destroy();
    await good.close();
    await intake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function goodRound(): Promise<void> {
    const id = `req-good-${++round}`;
    const t = '2026-11-23T08:51:59.5Z';
    expect(await good.request({ StartRequest: { request_id: id, timestamp: t } })).toEqual({ StartRequest: { result: 'Success' } });
    const batch = await good.request({
      BatchCommand: {
        commands: [
          { StartSpan: { request_id: id, span_id: 'c', parent_id: 'p', operation: 'SQL/Query', timestamp: t } },
          { StopSpan: { request_id: id, span_id: 'c', timestamp: t } },
          { StartSpan: { request_id: id, span_id: 'p', operation: 'Controller/good', timestamp: '2026-11-23T08:51:59+00:00' } },
          { StopSpan: { request_id: id, span_id: 'p', timestamp: '2026-11-23T08:51:59.600000+00:00' } },
          { TagSpan: { request_id: id, span_id: 'c', tag: 'db.statement', value: 'SELECT 1', timestamp: t } },
        ],
      },
    });
    expect(batch).toEqual({ BatchCommand: { result: 'Success' } });
    expect(await good.request({ CoreAgentVersion: {} })).toEqual({ CoreAgentVersion: { version: expect.stringMatching(/^\d+\.\d+\.\d+$/), result: 'Success' } });
    expect(await good.request({ FinishRequest: { request_id: id, timestamp: t } })).toEqual({ FinishRequest: { result: 'Success' } });
    await waitFor(() => completed.some((r) => r.requestId === id), 3000, `completion of ${id}`);
    const r = completed.find((x) => x.requestId === id)!;
    expect(r.spans.map((s) => s.operation).sort()).toEqual(['Controller/good', 'SQL/Query']);
  }

  async function attack(a: Attack): Promise<void> {
    if (a.kind === 'idle') {
      for (let i = 0; i < a.n && idle.length < 100; i++) idle.push(await rawConnect(sock));
      return;
    }
    if (a.kind === 'flood') {
      const c = await FrameClient.connect(sock);
      await c.request({ Register: { app: 'flood', key: 'fk', api_version: '1.0' } });
      for (let i = 0; i < a.n; i++) {
        const reply = (await c.request({ StartRequest: { request_id: `flood-${round}-${i}-${Math.random()}` } })) as Record<string, unknown>;
        expect(['StartRequest', 'Failure']).toContain(Object.keys(reply)[0]);
      }
      await c.close();
      return;
    }
    const s = await rawConnect(sock);
    const replies = new FrameClientLike(s);
    switch (a.kind) {
      case 'bytes':
        s.write(Buffer.from(a.data));
        break;
      case 'truncated':
        s.write(Buffer.concat([header(a.len), Buffer.alloc(a.have, 0x7b)]));
        break;
      case 'huge':
        s.write(header(a.len));
        expect(await replies.next()).toEqual({ Failure: { message: expect.stringContaining('over the limit') } });
        await replies.closed();
        return;
      case 'badUtf8':
        s.write(framed(Buffer.from(a.data)));
        expect(await replies.next()).toEqual({ Failure: { message: 'frame is not valid UTF-8' } });
        break;
      case 'badJson': {
        let ok = true;
        try {
          JSON.parse(a.text);
        } catch {
          ok = false;
        }
        s.write(framed(Buffer.from(a.text)));
        const r = (await replies.next()) as Record<string, unknown>;
        expect(Object.keys(r)).toEqual(['Failure']);
        if (!ok) expect(r).toEqual({ Failure: { message: 'frame is not valid JSON' } });
        break;
      }
      case 'deep': {
        const deep = '['.repeat(a.depth) + ']'.repeat(a.depth);
        s.write(frame({ Register: { app: 'deep', key: 'dk', api_version: '1.0' } }));
        expect(await replies.next()).toEqual({ Register: { id: null, result: 'Success' } });
        s.write(framed(Buffer.from(`{"TagRequest":{"request_id":"deep-${round}","tag":"x","value":${deep}}}`)));
        expect(await replies.next()).toEqual({ TagRequest: { result: 'Success' } });
        s.write(framed(Buffer.from(deep)));
        expect(await replies.next()).toEqual({ Failure: { message: expect.any(String) } });
        break;
      }
      case 'unknown':
        s.write(frame({ [`X${a.name}`]: {} }));
        expect(await replies.next()).toEqual({ Failure: { message: expect.stringContaining('unknown command') } });
        break;
      case 'unregistered':
        s.write(frame({ [a.cmd]: a.cmd === 'BatchCommand' ? { commands: [] } : { request_id: 'x', event_type: 'y', span_id: 'z', operation: 'o', tag: 't' } }));
        expect(await replies.next()).toEqual({ Failure: { message: 'unregistered client' } });
        break;
      case 'oddShapes': {
        s.write(frame({ Register: { app: 'odd', key: 'ok', api_version: '1.0' } }));
        await replies.next();
        for (const cmd of ['StartRequest', 'StartSpan', 'StopSpan', 'TagSpan', 'TagRequest', 'FinishRequest', 'ApplicationEvent', 'BatchCommand']) {
          s.write(frame({ [cmd]: a.value }));
          const r = (await replies.next()) as Record<string, unknown>;
          expect([cmd, 'Failure']).toContain(Object.keys(r)[0]);
          s.write(frame({ [cmd]: { request_id: a.value, span_id: a.value, operation: a.value, tag: 'x', value: a.value, commands: [a.value], event_type: 'e', timestamp: a.value } }));
          const r2 = (await replies.next()) as Record<string, unknown>;
          expect([cmd, 'Failure']).toContain(Object.keys(r2)[0]);
        }
        break;
      }
    }
    s.destroy();
  }

  test('a well-behaved client is unaffected by any sequence of attacks', async () => {
    await goodRound();
    await fc.assert(
      fc.asyncProperty(fc.array(attackArb, { minLength: 1, maxLength: 4 }), async (attacks) => {
        for (const a of attacks) {
          await attack(a);
          await goodRound();
        }
      }),
      { numRuns: 40 },
    );
    // Unfinished flood requests expire; stalled partial frames are cut.
    await new Promise((r) => setTimeout(r, 400));
    intake.sweep();
    expect(intake.status().liveRequests).toBe(0);
    const d = intake.counters.dropped;
    for (const reason of Object.keys(d)) expect(d[reason]).toBeGreaterThan(0);
    expect(Object.keys(d).length).toBeGreaterThan(3);
    await goodRound();
  }, 60_000);
});

/** Minimal reply reader on a raw socket. */
class FrameClientLike {
  private decoder = new FrameDecoder(1 << 24);
  private queue: unknown[] = [];
  private waiters: ((v: unknown) => void)[] = [];
  private isClosed = false;
  private closeWaiters: (() => void)[] = [];
  constructor(s: net.Socket) {
    s.on('data', (c) => {
      for (const r of this.decoder.push(c)) {
        if (r.kind !== 'frame') continue;
        const v = JSON.parse(r.body.toString());
        const w = this.waiters.shift();
        if (w) w(v);
        else this.queue.push(v);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.isClosed = true;
      for (const w of this.waiters.splice(0)) w(undefined);
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }
  next(): Promise<unknown> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }
  closed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }
}

describe('FrameDecoder', () => {
  test('any split of a stream of frames (multi-byte UTF-8 included) yields the same frames', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (texts, cuts) => {
        const stream = Buffer.concat(texts.map((t) => frame({ TagSpan: { value: t } })));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const d = new FrameDecoder(1 << 20);
        const out: string[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          for (const r of d.push(stream.subarray(prev, p))) if (r.kind === 'frame') out.push(JSON.parse(r.body.toString('utf8')).TagSpan.value);
          prev = p;
        }
        expect(out).toEqual(texts);
        expect(d.pendingBytes).toBe(0);
      }),
    );
  });

  test('one byte at a time, and zero-length frames', () => {
    const stream = Buffer.concat([frame({ a: 'é😀' }), header(0), frame({ b: 1 })]);
    const d = new FrameDecoder(100);
    const bodies: string[] = [];
    for (let i = 0; i < stream.length; i++) for (const r of d.push(stream.subarray(i, i + 1))) if (r.kind === 'frame') bodies.push(r.body.toString());
    expect(bodies).toEqual(['{"a":"é😀"}', '', '{"b":1}']);
  });
});
