/** Marble and content tests for aggregateSpans. */
import { TestScheduler } from 'rxjs/testing';
import { lastValueFrom, map, of, toArray } from 'rxjs';
import { aggregateSpans } from './aggregateSpans.js';
import type { AppEvent, ApmMinute, CompletedRequest, CompletedSpan } from '../lib/apm/types.js';
import { createCounters } from '../lib/counters.js';

let n = 0;
function req(stop: number, endpoint: string, extra: Partial<CompletedRequest> & { children?: Partial<CompletedSpan>[] } = {}): CompletedRequest {
  const id = `req-${++n}`;
  const start = stop - 100;
  const root: CompletedSpan = { id: `${id}-root`, operation: endpoint, start, stop, tags: {} };
  const children = (extra.children ?? []).map((c, i) => ({ id: `${id}-c${i}`, parentId: root.id, operation: 'Custom/x', start: start + 10, stop: start + 30, tags: {}, ...c }) as CompletedSpan);
  const { children: _c, ...rest } = extra;
  return { type: 'request', requestId: id, appKey: 'k1', appName: 'app', start, stop, receivedAt: stop, tags: {}, spans: [root, ...children], ...rest };
}
function ev(timestamp: number, eventType: string, value: unknown, app = 'app'): AppEvent {
  return { type: 'app_event', appKey: 'k1', appName: app, eventType, value, source: 'Pid: 1', timestamp, receivedAt: timestamp };
}
const summary = (m: ApmMinute) => `${m.appName}@${m.minute}:` + m.endpoints.map((e) => `${e.name}x${e.callCount}`).join(',');

describe('aggregateSpans timing (marbles)', () => {
  const ts = () => new TestScheduler((a, b) => expect(a).toEqual(b));

  test('a minute is emitted after it closes plus grace; late frames within grace join it; later ones go to the current minute; complete flushes', () => {
    ts().run(({ cold, expectObservable }) => {
      const src = cold('100ms a 799ms b 199ms c 199ms d 198ms |', {
        a: [req(100, 'Controller/a')],
        b: [req(900, 'Controller/a')],
        c: [req(950, 'Controller/a')], // arrives at 1100: late, but within grace
        d: [req(990, 'Controller/a')], // arrives at 1300: minute 0 already emitted
      });
      const out = src.pipe(aggregateSpans({ graceMs: 200, minuteMs: 1000 }), map(summary));
      expectObservable(out).toBe('1200ms x 298ms (y|)', { x: 'app@0:Controller/ax3', y: 'app@1000:Controller/ax1' });
    });
  });

  test('nothing is emitted before grace passes; apps are split; minutes come out in order', () => {
    ts().run(({ cold, expectObservable }) => {
      const other = { ...req(1500, 'Controller/b'), appName: 'other' };
      const src = cold('a 1499ms b 2000ms |', {
        a: [req(0, 'Controller/a')],
        b: [req(1500, 'Controller/a'), other],
      });
      const out = src.pipe(aggregateSpans({ graceMs: 500, minuteMs: 1000 }), map(summary));
      expectObservable(out).toBe('1500ms x 999ms (yz) 997ms |', {
        x: 'app@0:Controller/ax1',
        y: 'app@1000:Controller/ax1',
        z: 'other@1000:Controller/bx1',
      });
    });
  });

  test('a timer that fires before the wall clock reaches the minute end is armed again (the minute never waits for more items)', () => {
    const sched = ts();
    sched.run(({ cold, expectObservable }) => {
      // The wall clock falls 1 ms behind the timers after 500 ms (Node times timers from the event
      // loop's cached time, which trails Date.now() under load): the timer due at 1200 fires when
      // the wall clock reads 1199.
      const wall = () => sched.now() - (sched.now() >= 500 ? 1 : 0);
      const src = cold('100ms a 3000ms |', { a: [req(100, 'Controller/a')] });
      const out = src.pipe(aggregateSpans({ graceMs: 200, minuteMs: 1000, scheduler: sched, now: wall }), map(summary));
      expectObservable(out).toBe('1201ms x 1899ms |', { x: 'app@0:Controller/ax1' });
    });
  });

  test('items claiming the future are clamped to the current minute; unsubscribe cancels timers', () => {
    ts().run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('10ms a 5000ms |', { a: [req(999_999, 'Controller/f')] });
      const out = src.pipe(aggregateSpans({ graceMs: 100, minuteMs: 1000 }), map(summary));
      expectObservable(out).toBe('1100ms x 3910ms |', { x: 'app@0:Controller/fx1' });
      const unsub = '2000ms !';
      expectObservable(src.pipe(aggregateSpans({ graceMs: 100, minuteMs: 1000 }), map(summary)), unsub).toBe('1100ms x', { x: 'app@0:Controller/fx1' });
      expectSubscriptions(src.subscriptions).toBe(['^ 5010ms !', '^ 1999ms !']);
    });
  });
});

async function aggregate(items: (CompletedRequest | AppEvent)[], counters = createCounters()): Promise<ApmMinute[]> {
  return lastValueFrom(of(items).pipe(aggregateSpans({ graceMs: 0, now: () => 0, counters }), toArray()));
}

describe('aggregateSpans content', () => {
  test('drops ignored requests and requests without Controller/Job spans (counted)', async () => {
    const counters = createCounters();
    const out = await aggregate(
      [req(10, 'Controller/ok'), req(20, 'Controller/ign', { tags: { ignore_transaction: true } }), req(30, 'HTTP/UNKNOWN')],
      counters,
    );
    expect(out.map(summary)).toEqual(['app@0:Controller/okx1']);
    expect(counters.dropped).toEqual({ ignored: 1, no_endpoint: 1 });
  });

  test('endpoint, exclusive and child metrics; SQL rename; errors; queue time; histogram', async () => {
    const r = req(1000, 'Controller/GET /users/:id', {
      tags: { error: 'true', 'scout.queue_time_ns': '5000000', path: '/users/1' },
      children: [
        { operation: 'SQL/Query', tags: { 'db.statement': "SELECT * FROM users WHERE id = 'x'" }, start: 910, stop: 930 },
        { operation: 'SQL/Query', tags: { 'db.statement': 'SELECT * FROM users WHERE id = 7' }, start: 930, stop: 940 },
        { operation: 'HTTP/GET', start: 940, stop: 990 },
      ],
    });
    const [m] = await aggregate([r, req(1000, 'Controller/GET /users/:id', { start: 800 })]);
    const ep = m!.endpoints[0]!;
    expect(ep.callCount).toBe(2);
    expect(ep.errors).toBe(1);
    expect(m!.errorsTotal).toBe(1);
    expect(ep.totalCallTime).toBeCloseTo(0.2);
    expect(ep.totalExclusiveTime).toBeCloseTo(0.02 + 0.1); // 100 ms - 80 ms of children, + 100 ms
    expect(ep.children['SQL/all']).toMatchObject({ callCount: 2 });
    expect(ep.children['SQL/all']!.totalCallTime).toBeCloseTo(0.03);
    expect(ep.children['HTTP/all']!.totalCallTime).toBeCloseTo(0.05);
    expect(ep.queueTime).toMatchObject({ callCount: 1, totalCallTime: 0.005 });
    expect(ep.histogram.reduce((s, [, c]) => s + c, 0)).toBe(2);
    expect(m!.dbQueries).toEqual([
      expect.objectContaining({ model: 'User', operation: 'select', scope: 'Controller/GET /users/:id', callCount: 2, transactionCount: 1 }),
    ]);
    const trace = m!.traces[0]!;
    expect(trace.uri).toBe('/users/1');
    const sql = trace.spans.filter((s) => s.operation === 'SQL/User/select');
    expect(sql).toHaveLength(2);
    expect(sql[0]!.tags).toEqual({ desc: 'SELECT * FROM users WHERE id = ?' });
  });

  test('jobs by queue, samplers, metadata, per-app split', async () => {
    const out = await aggregate([
      req(10, 'Job/report', { tags: { queue: 'low' } }),
      req(20, 'Job/report'),
      req(30, 'Job/report', { tags: { queue: 'low', error: true } }),
      ev(5, 'CPU/Utilization', 12.5),
      ev(6, 'CPU/Utilization', 7.5),
      ev(7, 'Memory/Physical', 34.8),
      ev(8, 'scout.metadata', { language: 'nodejs' }),
      ev(9, 'CPU/Utilization', 1, 'other'),
      ev(9, 'Weird/Thing', 1),
    ]);
    expect(out).toHaveLength(2);
    const [app, other] = out;
    expect(app!.endpoints.map((e) => [e.name, e.queue, e.callCount, e.errors])).toEqual([
      ['Job/report', 'default', 1, 0],
      ['Job/report', 'low', 2, 1],
    ]);
    expect(app!.samplers['CPU/Utilization']).toEqual({ callCount: 2, totalCallTime: 20, totalExclusiveTime: 20, minCallTime: 7.5, maxCallTime: 12.5 });
    expect(app!.samplers['Memory/Physical']!.callCount).toBe(1);
    expect(app!.metadata).toEqual({ source: 'Pid: 1', value: { language: 'nodejs' }, timestamp: 8 });
    expect(other!.appName).toBe('other');
  });

  test('at most 10 traces a minute, one per endpoint, the best score kept', async () => {
    const items: CompletedRequest[] = [];
    for (let e = 0; e < 15; e++) for (let i = 0; i < 3; i++) items.push(req(1000, `Controller/e${e}`, { start: 1000 - 10 * (i + 1) * (e + 1) }));
    const [m] = await aggregate(items);
    expect(m!.traces).toHaveLength(10);
    expect(new Set(m!.traces.map((t) => t.endpoint)).size).toBe(10);
  });

  test('spans over the trace cap are cut and flagged', async () => {
    const children = Array.from({ length: 1600 }, () => ({}));
    const [m] = await aggregate([req(1000, 'Controller/big', { children })]);
    expect(m!.traces[0]!.spans).toHaveLength(1500);
    expect(m!.traces[0]!.truncated).toBe(true);
    expect(m!.traces[0]!.tags['scout.reached_span_cap']).toBe(true);
  });
});
