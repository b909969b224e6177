import { Subject } from 'rxjs';
import { Taps } from './taps.js';
import type { Batch } from '../types.js';

const stream = { id: 's', kind: 'log', path: '/x.log', attrs: { parser: 'p' }, ack() {} };
const batch = (msgs: string[]): Batch => ({ stream, events: msgs.map((m, i) => ({ message: Buffer.from(m), end: i + 1 })), end: msgs.length });

describe('Taps', () => {
  it('passes batches through untouched and reports them only to watchers of that point', () => {
    const taps = new Taps();
    const input = new Subject<Batch>();
    const out: Batch[] = [];
    input.pipe(taps.point('logs[0]:source')).subscribe((b) => out.push(b));
    const seen: string[] = [];
    const b1 = batch(['a\n']);
    input.next(b1); // nobody watching: no copy made
    const unwatch = taps.watch('logs[0]:source', (recs) => seen.push(...recs.map((r) => r.message)));
    const other: string[] = [];
    taps.watch('elsewhere', (recs) => other.push(...recs.map((r) => r.message)));
    input.next(batch(['b\n', 'c\n']));
    unwatch();
    input.next(batch(['d\n']));
    expect(out[0]).toBe(b1);
    expect(out).toHaveLength(3);
    expect(seen).toEqual(['b\n', 'c\n']);
    expect(other).toEqual([]);
  });

  it('shows watchers what `present` makes of a batch (redaction before the redact stage)', () => {
    const taps = new Taps();
    const input = new Subject<Batch>();
    const out: string[] = [];
    input.pipe(taps.point('p', (b) => ({ ...b, events: b.events.map((e) => ({ ...e, message: 'REDACTED' })) }))).subscribe((b) => out.push(String(b.events[0].message)));
    const seen: string[] = [];
    taps.watch(undefined, (recs) => seen.push(...recs.map((r) => r.message)));
    input.next(batch(['secret\n']));
    expect(seen).toEqual(['REDACTED']);
    expect(out).toEqual(['secret\n']);
  });

  it('a throwing watcher never breaks the pipeline', () => {
    const taps = new Taps();
    const input = new Subject<Batch>();
    const out: Batch[] = [];
    input.pipe(taps.point('p')).subscribe((b) => out.push(b));
    taps.watch('p', () => {
      throw new Error('boom');
    });
    input.next(batch(['x\n']));
    expect(out).toHaveLength(1);
  });
});
