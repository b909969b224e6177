/**
 * The harness's own parts, without the agent: the real addEvents sink uploads id-carrying events
 * to the fault-injecting receiver; the ledger must count every id once accepted, classify the
 * late-answer duplicates, and find nothing lost. Also checks the writer's content generator and
 * the ledger's loss / order / corruption accounting on hand-made input.
 */
import type { Batch, Stream } from '../lib/types.js';
import { silentLogger } from '../lib/logger.js';
import { createAddEventsSink } from '../sinks/addEvents/sink.js';
import { makeTestCa } from '../testkit/tlsServer.js';
import { waitFor } from '../spec/helpers/wait.js';
import { Ledger } from './ledger.js';
import { eventText, parseId, isGroup } from './lines.js';
import { Receiver } from './receiver.js';

describe('ledger', () => {
  it('counts written, delivered, lost, duplicates, corruption and order', () => {
    const l = new Ledger(1000);
    l.beginIncarnation('x', 0, 'x.log', 'created');
    l.wrote('x', 5);
    const acc = (seq: number, text = eventText('x', seq), late = false) => l.accept(Buffer.from(text), parseId(Buffer.from(text)), 1, late);
    acc(0);
    acc(2);
    acc(1); // out of order within one incarnation
    acc(2, undefined, false); // duplicate, same session, no restart: outside the window
    acc(3, 'x:3 cut');
    acc(4, undefined, true);
    acc(4);
    l.accept(Buffer.from('\tat frame'), undefined, 1, false);
    const v = l.verdict();
    expect(v.written).toBe(5);
    expect(v.delivered).toBe(4);
    expect(v.lost).toBe(1);
    expect(v.lostSamples[0]).toMatch(/^x:3 /);
    expect(v.corrupt).toBe(1);
    expect(v.foreign).toBe(1);
    expect(v.orderViolations).toBe(1);
    expect(v.dups['outside-window']).toBe(1);
    expect(v.dups['late-answer']).toBe(1);
  });

  it('classifies a duplicate after a kill -9 inside the window', () => {
    const l = new Ledger(60_000);
    l.beginIncarnation('y', 0, 'y.log', 'created');
    l.wrote('y', 1);
    const m = Buffer.from(eventText('y', 0));
    l.accept(m, parseId(m), 1, false);
    l.mark('kill9');
    l.accept(m, parseId(m), 2, false);
    expect(l.verdict().dups['crash-window']).toBe(1);
  });

  it('generates groups that carry their id on every line', () => {
    const seq = [...Array(100).keys()].find(isGroup)!;
    const text = eventText('g', seq);
    expect(text.split('\n').length).toBeGreaterThan(2);
    for (const line of text.trimEnd().split('\n').slice(1)) expect(line).toMatch(new RegExp(`^\\tat .*\\(g:${seq}\\)$`));
    expect(parseId(Buffer.from(text))).toEqual({ tag: 'g', seq });
  });
});

describe('receiver with faults, fed by the real addEvents sink', () => {
  it('accepts only answered requests and loses nothing through every fault kind', async () => {
    const ca = makeTestCa();
    const ledger = new Ledger();
    const receiver = new Receiver({ certPem: ca.certPem, keyPem: ca.keyPem, ledger, slowMs: 1200, apiKey: 'k-0123456789' });
    await receiver.start();
    const sink = createAddEventsSink(
      { api_key: 'k-0123456789', scalyr_server: receiver.url, ca_cert_path: ca.caPath, request_deadline: 0.5, retry_base_ms: 20, retry_max_ms: 100, linger_ms: 5 },
      { logger: silentLogger },
    );
    let acked = 0;
    const stream: Stream = { id: 'file:t', kind: 'log', path: '/t.log', attrs: { logfile: '/t.log' }, seqId: 'seq-t', ack: (end) => (acked = end) };
    const n = 420;
    ledger.beginIncarnation('t', 0, 't.log', 'created');
    let off = 0;
    try {
      for (const [i, kind] of (['http500', 'http502', 'http429', 'backoff', 'slow', 'reset', 'refuse'] as const).entries()) {
        receiver.inject(kind, kind === 'refuse' ? 300 : 1);
        const events = [];
        for (let s = (i * n) / 7; s < ((i + 1) * n) / 7; s++) {
          const msg = Buffer.from(eventText('t', s));
          off += msg.length;
          events.push({ message: msg, end: off });
        }
        const batch: Batch = { stream, events, end: off };
        sink.write(batch);
        ledger.wrote('t', ((i + 1) * n) / 7);
        await waitFor(`batch ${i} (${kind}) acked`, () => acked === off, 10_000);
      }
      const v = ledger.verdict();
      expect(v.lost).toBe(0);
      expect(v.corrupt).toBe(0);
      expect(v.orderViolations).toBe(0);
      expect(v.dups['outside-window']).toBe(0);
      // The late answer made the sink resend: those copies are classified, not unexplained.
      expect(v.dups['late-answer']).toBeGreaterThan(0);
      // …and it resent the very same request: same (si, sn), so a Scalyr server would drop them.
      expect(v.dupsWithSameSequence).toBe(v.duplicated);
      expect(receiver.badBodies).toBe(0);
      expect(Object.values(receiver.faults).every((c) => c === 1)).toBe(true);
    } finally {
      await sink.stop(1000);
      await receiver.close();
    }
  }, 20_000);
});
