/**
 * Property test: random batches from several streams, random server faults and sizes. Whatever
 * happens, every event reaches the server in a successful request, acks per stream increase and
 * end at the last batch end, no ack comes before the request holding its data succeeded, and a
 * stream's events are never reordered with max_in_flight 1.
 */
import fc from 'fast-check';
import type { Batch, Stream } from '../lib/types.js';
import { memoryLogger } from '../lib/logger.js';
import { createAddEventsSink } from '../sinks/addEvents/sink.js';
import { makeTestCa, parseAddEventsBody, resolveSequence, startTestServer, type Fault, type TestCa } from '../testkit/tlsServer.js';

let ca: TestCa;
beforeAll(() => {
  ca = makeTestCa();
});

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.constant<Fault>({}),
  fc.constant<Fault>({ status: 500, body: '{"status":"error/server"}' }),
  fc.constant<Fault>({ status: 429, body: '' }),
  fc.constant<Fault>({ reset: true }),
  fc.constant<Fault>({ body: 'not json' }),
  fc.constant<Fault>({ body: '{"status":"error/client/requestTooLarge"}' }),
);

test('no loss, ordered acks, acks only after success', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.array(fc.uint8Array({ minLength: 0, maxLength: 700 }), { maxLength: 6 })), { minLength: 1, maxLength: 12 }),
      fc.array(faultArb, { maxLength: 6 }),
      fc.integer({ min: 1, max: 2 }),
      fc.integer({ min: 1100, max: 4000 }),
      async (plan, faults, maxInFlight, maxSize) => {
        const server = await startTestServer(ca);
        server.faults.push(...faults);
        const logger = memoryLogger();
        const sink = createAddEventsSink(
          {
            api_key: 'k-123456',
            scalyr_server: server.url,
            ca_cert_path: ca.caPath,
            retry_base_ms: 1,
            retry_max_ms: 5,
            linger_ms: 0,
            max_in_flight: maxInFlight,
            max_allowed_request_size: maxSize,
            min_allowed_request_size: 1024,
            env: {},
          },
          { logger },
        );
        const streams: (Stream & { acks: number[]; ackReq: number[]; off: number })[] = [0, 1, 2].map((i) => {
          const s = {
            id: `s${i}`,
            kind: 'log',
            path: `/l/${i}`,
            attrs: { logfile: `/l/${i}` },
            seqId: `seq${i}`,
            acks: [] as number[],
            ackReq: [] as number[],
            off: 0,
            ack(end: number) {
              s.acks.push(end);
              s.ackReq.push(server.requests.length);
            },
          };
          return s;
        });
        const written: { stream: number; end: number; message: Buffer }[] = [];
        try {
          for (const [si, msgs] of plan) {
            const s = streams[si];
            const events = msgs.map((m) => {
              const message = Buffer.from(m);
              s.off += message.length + 1; // pretend one dropped byte between events
              written.push({ stream: si, end: s.off, message });
              return { message, end: s.off };
            });
            const batch: Batch = { stream: s, events, end: s.off };
            sink.write(batch);
          }
          await sink.flush(5000);
          expect(sink.status().bytesPending).toBe(0);
          // Every stream acked to its last end, increasing.
          for (const s of streams) {
            const sorted = [...s.acks].sort((a, b) => a - b);
            expect(s.acks).toEqual(sorted);
            expect(new Set(s.acks).size).toBe(s.acks.length);
            if (s.off > 0) expect(s.acks[s.acks.length - 1]).toBe(s.off);
          }
          // Delivered content: events of successful requests, with pieces joined by sn.
          const ok = server.requests.filter((r) => !r.fault.status && !r.fault.reset && !r.fault.body);
          const got = new Map<string, Buffer[]>();
          for (const r of ok) {
            for (const e of resolveSequence(parseAddEventsBody(r.body).events)) {
              const key = `${e.seq ?? e.thread}:${e.num ?? 'piece'}`;
              if (!got.has(key)) got.set(key, []);
              got.get(key)!.push(e.message);
            }
          }
          for (const w of written) {
            const parts = got.get(`seq${w.stream}:${w.end}`);
            expect(parts).toBeDefined();
            // A split event's last piece carries sn = end; the whole message is the concatenation of its pieces.
            const last = parts![parts!.length - 1];
            expect(w.message.subarray(w.message.length - last.length)).toEqual(last);
          }
          // No ack before the request holding its data succeeded: at the time of each ack, every
          // event of that stream up to the acked end was in a successful request already received.
          const okUpTo = (n: number, si: number) =>
            new Set(
              server.requests
                .slice(0, n)
                .filter((r) => !r.fault.status && !r.fault.reset && !r.fault.body)
                .flatMap((r) => resolveSequence(parseAddEventsBody(r.body).events))
                .filter((e) => e.seq === `seq${si}`)
                .map((e) => e.num),
            );
          streams.forEach((s, si) => {
            s.acks.forEach((end, k) => {
              const seen = okUpTo(s.ackReq[k], si);
              for (const w of written) if (w.stream === si && w.end <= end) expect(seen.has(w.end)).toBe(true);
            });
          });
          // Per-stream order within the successful requests (strict with max_in_flight 1).
          if (maxInFlight === 1) {
            for (let i = 0; i < 3; i++) {
              const nums = ok.flatMap((r) => resolveSequence(parseAddEventsBody(r.body).events).filter((e) => e.seq === `seq${i}` && e.num !== undefined).map((e) => e.num!));
              const dedup = nums.filter((n, j) => j === 0 || n > nums[j - 1]);
              expect(dedup.length).toBeGreaterThanOrEqual(new Set(nums).size);
            }
          }
          expect(JSON.stringify(logger.records)).not.toContain('k-123456');
        } finally {
          await sink.stop(100);
          await server.close();
        }
      },
    ),
    { numRuns: 30 },
  );
}, 60_000);
