/** The addEvents body encoder against Scalyr's vectors (add_events.json) plus splitting/size rules. */
import fs from 'node:fs';
import path from 'node:path';
import { RequestEncoder, newSessionId, type EncoderPosition } from '../sinks/addEvents/encode.js';
import { mapResponseStatus } from '../sinks/addEvents/retry.js';
import { nowNsText } from '../sinks/addEvents/request.js';
import { parseAddEventsBody } from '../testkit/tlsServer.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const vectors = JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr/add_events.json'), 'utf8')) as {
  cases: { name: string; kind: string; input: any; expected: any }[];
};
const cases = (kind: string) => vectors.cases.filter((c) => c.kind === kind);

describe('addEvents body vectors', () => {
  for (const c of cases('addEvents_body').filter((c) => c.input.ops)) {
    test(c.name, () => {
      const enc = new RequestEncoder(c.input.base_body, c.input.max_size);
      let mark: EncoderPosition | undefined;
      const results: (boolean | null)[] = [];
      for (const op of c.input.ops) {
        if (op.op === 'mark') {
          mark = enc.position();
          results.push(null);
        } else if (op.op === 'rollback') {
          enc.setPosition(mark!);
          results.push(null);
        } else if (op.op === 'log') {
          results.push(enc.addLog(op.id, op.name, op.attrs));
        } else {
          results.push(
            enc.addEvent({
              threadId: op.base?.thread_id,
              baseAttrs: op.base?.attrs,
              lineAttrs: op.line_attrs,
              message: op.message,
              ts: BigInt(op.ts),
              si: op.si,
              sn: op.sn,
              sampleRate: op.sampling_rate,
            }),
          );
        }
      }
      const body = enc.finish(c.input.client_time);
      expect(results).toEqual(c.expected.op_results);
      expect(body.toString('latin1')).toBe(c.expected.payload_latin1);
      expect(body.length).toBe(c.expected.payload_length);
    });
  }

  test('empty_keepalive_request_from_session', () => {
    const c = vectors.cases.find((x) => x.name === 'empty_keepalive_request_from_session')!;
    const session = newSessionId();
    expect(session).toMatch(/^[A-Za-z0-9_-]{27}=$/);
    const enc = new RequestEncoder({ token: c.input.api_key, session, threads: [], sessionInfo: c.input.session_info }, null);
    const body = enc.finish(1700000001).toString('latin1');
    expect(body).toBe(c.expected.payload_pattern.replace('<SESSION_ID>', session));
  });

  for (const c of cases('sequence_fields')) {
    test(c.name, () => {
      const enc = new RequestEncoder({ token: 'k' }, null);
      for (const call of c.input.calls) enc.addEvent({ message: 'x', ts: 1n, si: call.si, sn: call.sn });
      const parsed = parseAddEventsBody(enc.finish(1));
      expect(parsed.events.map((e) => ({ si: e.si ?? null, sn: e.sn ?? null, sd: e.sd ?? null }))).toEqual(c.expected);
    });
  }

  for (const c of cases('response_status')) {
    test(c.name, () => {
      expect(mapResponseStatus(c.input.http_status, c.input.body)).toBe(c.expected.status);
    });
  }

  for (const c of cases('request_pacing')) {
    // Skipped on purpose: sluice paces by exponential backoff with jitter on failures (capped) and
    // sends as soon as a request is full or the linger passed; Scalyr's 5 s multiplicative spacing
    // is not reproduced. requestTooLarge halving (floor 102400) is tested in addEventsSink.spec.ts.
    test.skip(`${c.name} (pacing differs by design)`, () => {});
  }
});

describe('encoder details', () => {
  test('binary message bytes are copied as-is with a big-endian length', () => {
    const enc = new RequestEncoder({ token: 'k' }, null);
    const msg = Buffer.from([0xff, 0x00, 0x22, 0x0a, 0x60, 0x73]);
    enc.addEvent({ threadId: 'log_1', baseAttrs: { parser: 'p' }, message: msg, ts: 5n, si: 'A', sn: 6 });
    const body = enc.finish(1);
    const i = body.indexOf('message:`s') + 'message:`s'.length;
    expect(body.readInt32BE(i)).toBe(6);
    expect(body.subarray(i + 4, i + 10)).toEqual(msg);
    const parsed = parseAddEventsBody(body);
    expect(parsed.events[0].message).toEqual(msg);
    expect(parsed.events[0].attrs).toEqual({ parser: 'p' });
  });

  test('size never passes maxSize and refusing leaves the body intact', () => {
    const enc = new RequestEncoder({ token: 'k' }, 300);
    let n = 0;
    while (enc.addEvent({ message: 'line number ' + n + '\n', ts: 1n })) n++;
    expect(n).toBeGreaterThan(0);
    const before = enc.size;
    const body = enc.finish(1700000000);
    expect(body.length).toBe(before);
    expect(body.length).toBeLessThanOrEqual(300);
    expect(parseAddEventsBody(body).events).toHaveLength(n);
  });

  test('measure matches what addEvent adds', () => {
    const enc = new RequestEncoder({ token: 'k' }, null);
    enc.addEvent({ message: 'a', ts: 1n, si: 's', sn: 1 });
    const ev = { message: 'bcd', ts: 2n, si: 's', sn: 4, threadId: 'log_3', baseAttrs: { a: 'b' } };
    const m = enc.measure(ev);
    const s = enc.size;
    enc.addEvent(ev);
    expect(enc.size - s).toBe(m);
  });

  test('the sd tail written byte by byte is the text tail, for any delta and timestamp form', () => {
    const cases: { sd: number; ts: bigint | string }[] = [
      { sd: 0, ts: '1700000000123000000' },
      { sd: 7, ts: 1700000000123000001n },
      { sd: 10, ts: '1' },
      { sd: 99_999, ts: '1700000000123999999' },
      { sd: 2 ** 40 + 3, ts: '1700000000124000000' },
      { sd: -5, ts: '1700000000124000001' }, // a negative delta takes the text path
      { sd: 3, ts: 'tś' }, // a non-ASCII ts string too
    ];
    for (const { sd, ts } of cases) {
      const enc = new RequestEncoder({ token: 'k' }, null);
      enc.addEvent({ threadId: 'log_1', baseAttrs: { p: 'x' }, message: Buffer.from('first\n'), ts: '1', si: 'S', sn: 1000 });
      const ev = { threadId: 'log_1', baseAttrs: { p: 'x' }, message: Buffer.from('second\n'), ts, si: 'S', sn: 1000 + sd };
      const m = enc.measure(ev);
      const before = enc.size;
      expect(enc.addEvent(ev)).toBe(true);
      expect(enc.size - before).toBe(m);
      const text = enc.finish(1).toString('utf8');
      expect(text).toContain(`second\n},sd:${sd},ts:"${String(ts)}"}], logs:`);
    }
  });
});

describe('event clock', () => {
  it('gives strictly increasing nanosecond times near the wall clock', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const n = 1_500_000; // more values than one millisecond's counter holds
    let prev = 0n;
    for (let i = 0; i < n; i++) {
      const t = nowNsText();
      const v = BigInt(t);
      if (t.length !== 19 || v <= prev) throw new Error(`at ${i}: ${prev} then ${t}`);
      prev = v;
    }
    expect(prev).toBeGreaterThanOrEqual(before);
    expect(prev - BigInt(Date.now()) * 1_000_000n).toBeLessThan(2_000_000_000n); // at most ~2 s ahead
  });

  it('carries into the next millisecond when a million values share one', () => {
    const frozen = Date.now() + 10_000;
    let t = '';
    for (let i = 0; i < 1_000_000; i++) t = nowNsText(frozen);
    expect(t).toBe(`${frozen}999999`);
    expect(nowNsText(frozen)).toBe(`${frozen + 1}000000`);
    expect(nowNsText(frozen)).toBe(`${frozen + 1}000001`);
    expect(nowNsText(frozen + 1)).toBe(`${frozen + 1}000002`); // the clock caught up: still increasing
  });
});

describe('non-ASCII attributes and paths', () => {
  test('sizes count UTF-8 bytes, so the limit holds with multi-byte attrs', () => {
    const attrs = { logfile: '/var/log/jövő/日本.log', note: 'ünïcödé' };
    for (let limit = 200; limit < 700; limit += 7) {
      const enc = new RequestEncoder({ token: 'k' }, limit);
      if (enc.addLog('log_1', 'Lines for file /var/log/jövő/日本.log', attrs)) {
        while (enc.addEvent({ threadId: 'log_1', baseAttrs: attrs, message: 'ß\n', ts: 1n })) {}
      }
      const predicted = enc.size;
      const body = enc.finish(1700000000);
      expect(body.length).toBe(predicted);
      expect(body.length).toBeLessThanOrEqual(limit);
    }
  });
});
