/**
 * The log chain of a `logs[]` entry is built only through the registry (app/logPipeline.ts):
 * the parser by `parse_format`, the built-in line stages by their registered components, the
 * plugin operators of `operators[]`; components that do not count themselves are counted at
 * their boundary (lib/countAtBoundary.ts), so `summarize` reports what really went on.
 */
import { Subject, map, Observable, type OperatorFunction } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createDefaultRegistry } from '../app/builtins.js';
import { chainStages, createEntryStats, entryChain, summarize, LOG_PART_OPTIONS } from '../app/logPipeline.js';
import { countAtBoundary } from '../lib/countAtBoundary.js';
import { countDrop, createCounters } from '../lib/counters.js';
import { defineComponent, type Component } from '../lib/component.js';
import { silentLogger } from '../lib/logger.js';
import { Credits } from '../lib/pipeline/credits.js';
import { Taps } from '../lib/pipeline/taps.js';
import type { AgentConfig, LogEntryConfig } from '../lib/config/types.js';
import type { Batch, ComponentCounters, Event, Stream } from '../lib/types.js';
import type { Registry } from '../lib/registry.js';

const agent = { max_line_size: 49900, line_completion_wait_time: 5, read_page_size: 65536, agent_data_path: '/tmp/none' } as unknown as AgentConfig;

function entry(extra: Partial<LogEntryConfig> = {}): LogEntryConfig {
  return { path: '/x.log', attributes: {}, exclude: [], lineGroupers: [], sampling_rules: [], redaction_rules: [], copy_from_start: false, parse_format: 'raw', json_message_field: 'log', json_timestamp_field: 'time', ignore_stale_files: false, staleness_threshold_secs: 300, ...extra };
}

const stream: Stream = { id: 's', kind: 'log', path: '/x.log', attrs: {}, ack: () => undefined };

function lines(texts: string[], start = 0): Batch {
  let end = start;
  const events: Event[] = texts.map((t) => {
    end += Buffer.byteLength(t);
    return { message: Buffer.from(t), end };
  });
  return { stream, events, end };
}

const text = (e: Event) => (typeof e.message === 'string' ? e.message : e.message.toString('utf8'));

/** Runs batches through the entry's chain; returns the events out, the stats and a source's counters. */
function run(e: LogEntryConfig, batches: Batch[], registry: Registry = createDefaultRegistry(), agentConfig: AgentConfig = agent) {
  const stats = createEntryStats();
  const chain = entryChain({ id: 'logs[0]', entry: e, agent: agentConfig, registry, taps: new Taps(), stats, logger: silentLogger, credits: new Credits(1) });
  const source = createCounters();
  const out: Event[] = [];
  const input = new Subject<Batch>();
  chain(stream)(input).subscribe((b) => out.push(...b.events));
  for (const b of batches) {
    source.receivedEvents += b.events.length;
    input.next(b);
  }
  input.complete();
  return { out, stats, summary: summarize(source, stats), chain };
}

describe('the log chain is built through the registry', () => {
  it('a plugin operator that removes events: sent is what it passed on, the rest is dropped as operator:<type>', () => {
    const registry = createDefaultRegistry();
    registry.register('operator', 'noDebug', () => map((b: Batch) => ({ ...b, events: b.events.filter((ev) => !text(ev).startsWith('DEBUG')) })));
    const { out, summary, stats } = run(entry({ operators: [{ type: 'noDebug' }] }), [lines(['a\n', 'DEBUG b\n', 'c\n', 'DEBUG d\n'])], registry);
    expect(out.map(text)).toEqual(['a\n', 'c\n']);
    expect(summary.receivedEvents).toBe(4);
    expect(summary.sentEvents).toBe(2);
    expect(summary.sentBytes).toBe(4);
    expect(summary.dropped).toEqual({ 'operator:noDebug': 2 });
    expect(Object.keys(stats.stages)).toEqual(['operators[0]']);
  });

  it('drops a plugin operator counts itself are not counted twice', () => {
    const registry = createDefaultRegistry();
    registry.register('operator', 'noDebug', (_c, ctx) =>
      map((b: Batch) => ({
        ...b,
        events: b.events.filter((ev) => {
          const keep = !text(ev).startsWith('DEBUG');
          if (!keep) countDrop(ctx.counters!, 'debug');
          return keep;
        }),
      })),
    );
    const { summary } = run(entry({ operators: [{ type: 'noDebug' }] }), [lines(['a\n', 'DEBUG b\n', 'DEBUG c\n'])], registry);
    expect(summary.sentEvents).toBe(1);
    expect(summary.dropped).toEqual({ debug: 2 });
  });

  it('an event held back (its end not yet passed) is not counted as dropped; it is once the operator completes without it', () => {
    const counters = createCounters();
    // Holds the last event of every batch until the next one; the batch end stops before it.
    const holdLast: OperatorFunction<Batch, Batch> = (source) =>
      new Observable<Batch>((sub) => {
        let held: Event | undefined;
        let sentEnd = 0;
        return source.subscribe({
          next(b) {
            const evs = [...(held ? [held] : []), ...b.events];
            held = evs.pop();
            const end = evs.length > 0 ? evs[evs.length - 1].end : sentEnd;
            sentEnd = end;
            sub.next({ stream: b.stream, events: evs, end });
          },
          complete: () => sub.complete(), // drops the held one
        });
      });
    const input = new Subject<Batch>();
    const out: Batch[] = [];
    countAtBoundary(holdLast, counters, { reason: 'operator:holdLast' })(input).subscribe((b) => out.push(b));
    input.next(lines(['a\n', 'b\n']));
    expect(counters).toMatchObject({ receivedEvents: 2, sentEvents: 1, dropped: {} });
    input.next(lines(['c\n'], 4));
    expect(counters).toMatchObject({ receivedEvents: 3, sentEvents: 2, dropped: {} });
    input.complete();
    expect(counters.dropped).toEqual({ 'operator:holdLast': 1 });
  });

  it('a time-based plugin operator (marbles): events in flight are not drops; removed ones are, once settled', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable, flush }) => {
      const counters = createCounters();
      const b1 = lines(['a\n', 'DEBUG x\n']);
      const b2 = lines(['c\n'], b1.end);
      // Waits 5 ms per batch, then removes DEBUG lines (the batch end is kept, as the contract asks).
      const slowFilter: OperatorFunction<Batch, Batch> = (src) =>
        new Observable<Batch>((sub) =>
          src.subscribe({
            next: (b) => scheduler.schedule(() => sub.next({ ...b, events: b.events.filter((ev) => !text(ev).startsWith('DEBUG')) }), 5),
            complete: () => scheduler.schedule(() => sub.complete(), 5),
          }),
        );
      const seen: ComponentCounters[] = [];
      const out$ = countAtBoundary(slowFilter, counters, { reason: 'operator:slow' })(cold('a 9ms b|', { a: b1, b: b2 }));
      scheduler.schedule(() => seen.push(structuredClone(counters)), 3); // b1 in flight
      scheduler.schedule(() => seen.push(structuredClone(counters)), 7); // b1 out
      expectObservable(out$.pipe(map((b) => b.events.length))).toBe('5ms a 9ms b|', { a: 1, b: 1 });
      flush();
      expect(seen[0]).toMatchObject({ receivedEvents: 2, sentEvents: 0, dropped: {} });
      expect(seen[1]).toMatchObject({ receivedEvents: 2, sentEvents: 1, dropped: { 'operator:slow': 1 } });
      expect(counters).toMatchObject({ receivedEvents: 3, sentEvents: 2, dropped: { 'operator:slow': 1 } });
    });
  });

  it('the built-in stages come from the registry: a replaced component is the one used, in order groupLines, sample, redact, then operators', () => {
    const registry = createDefaultRegistry().with();
    const order: string[] = [];
    for (const type of ['groupLines', 'sample', 'redact']) {
      const real = registry.component('operator', type) as Component<'operator'>;
      registry.add(defineComponent({ ...real, create: (c, ctx) => (order.push(type), real.create(c, ctx)) }));
    }
    registry.register('operator', 'tag', () => (order.push('tag'), map((b: Batch) => b)));
    const e = entry({
      lineGroupers: [{ start: '^\\S', continueThrough: '^\\s' }],
      sampling_rules: [{ match_expression: 'never', sampling_rate: 0 }],
      redaction_rules: [{ match_expression: 'secret', replacement: 'x', hash_salt: '' }],
      operators: [{ type: 'tag' }],
    });
    const { out, stats, summary } = run(e, [lines(['one secret\n', '  more\n', 'two\n'])], registry);
    expect(order).toEqual(['groupLines', 'sample', 'redact', 'tag']);
    expect(out.map(text)).toEqual(['one x\n  more\n', 'two\n']);
    expect(Object.keys(stats.stages)).toEqual(['groupLines', 'sample', 'redact', 'operators[0]']);
    // The last stage is the plugin operator: its boundary counters give the entry's sent figures.
    expect(summary.sentEvents).toBe(2);
    expect(stats.stages['operators[0]']).toMatchObject({ receivedEvents: 2, sentEvents: 2 });
  });

  it('raw is left out of the chain (no stage, no counters); sent then comes from the source', () => {
    const { stats, summary, out } = run(entry(), [lines(['a\n'])]);
    expect(out.map(text)).toEqual(['a\n']);
    expect(stats.stages).toEqual({});
    expect(summary.sentEvents).toBe(1);
  });

  it('a plugin parser is looked up by parse_format and counted at its boundary', () => {
    const registry = createDefaultRegistry();
    registry.register('parser', 'upper', () => map((b: Batch) => ({ ...b, events: b.events.map((ev) => ({ ...ev, message: text(ev).toUpperCase() })) })));
    const { out, stats, summary } = run(entry({ parse_format: 'upper' }), [lines(['a\n', 'b\n'])], registry);
    expect(out.map(text)).toEqual(['A\n', 'B\n']);
    expect(stats.stages.parse).toMatchObject({ receivedEvents: 2, sentEvents: 2, receivedBytes: 4, sentBytes: 4 });
    expect(summary.sentEvents).toBe(2);
  });

  it('names the option when a type is not registered', () => {
    const registry = createDefaultRegistry();
    expect(() => chainStages('logs[3]', entry({ operators: [{ type: 'nope' }] }), registry)).toThrow(/logs\[3\]\.operators\[0\]\.type: no operator named "nope"/);
    expect(() => chainStages('logs[3]', entry({ parse_format: 'nope' }), registry)).toThrow(/logs\[3\]\.parse_format: no parser named "nope"/);
  });

  it('json and cri ask the reader for lines up to internal_parse_max_line_size; raw does not', () => {
    const big = { ...agent, internal_parse_max_line_size: 100000 } as unknown as AgentConfig;
    expect(run(entry({ parse_format: 'json' }), [], undefined, big).chain.lineLimit).toBe(100000);
    expect(run(entry({ parse_format: 'cri' }), [], undefined, big).chain.lineLimit).toBe(100000);
    // Absent (a config not through the validator): read_page_size, as Scalyr's default.
    expect(run(entry({ parse_format: 'json' }), []).chain.lineLimit).toBe(65536);
    expect(run(entry(), [], undefined, big).chain.lineLimit).toBeUndefined();
  });

  it('a json line longer than max_line_size is parsed whole and its message cut to max_line_size; an unparsable one is cut too', () => {
    const small = { ...agent, max_line_size: 10, internal_parse_max_line_size: 1000 } as unknown as AgentConfig;
    const json = JSON.stringify({ log: 'abcdefghijklmnopqrstuvwxyz', time: '2024-01-02T03:04:05Z', k: 'v' }) + '\n';
    const { out } = run(entry({ parse_format: 'json' }), [lines([json, 'not json at all, long\n'])], undefined, small);
    expect(out.map(text)).toEqual(['abcdefghij', 'klmnopqrst', 'uvwxyz', 'not json a', 't all, lon', 'g\n']);
    expect(out[0].attrs).toEqual({ k: 'v', raw_timestamp: '2024-01-02T03:04:05Z' });
    expect(out.every((e) => Buffer.byteLength(text(e)) <= 10)).toBe(true);
  });

  it('include_raw_timestamp_field: false leaves raw_timestamp out (json and cri)', () => {
    const noRaw = { ...agent, include_raw_timestamp_field: false } as unknown as AgentConfig;
    const json = run(entry({ parse_format: 'json' }), [lines(['{"log":"m\\n","time":"2024-01-02T03:04:05Z"}\n'])], undefined, noRaw).out;
    expect(json[0].attrs).toBeUndefined();
    const cri = run(entry({ parse_format: 'cri' }), [lines(['2024-01-02T03:04:05Z stdout F hello\n'])], undefined, noRaw).out;
    expect(cri[0].attrs).toEqual({ stream: 'stdout' });
    const withRaw = run(entry({ parse_format: 'cri' }), [lines(['2024-01-02T03:04:05Z stdout F hello\n'])]).out;
    expect(withRaw[0].attrs).toEqual({ stream: 'stdout', raw_timestamp: '2024-01-02T03:04:05Z' });
  });

  it('tap points before the redaction stage show the batch redacted; the redact point shows what it sent', () => {
    const taps = new Taps();
    const seen: { component: string; message: string }[] = [];
    taps.watch(undefined, (records) => seen.push(...records.map((r) => ({ component: r.component, message: r.message }))));
    const e = entry({ sampling_rules: [{ match_expression: 'never', sampling_rate: 0 }], redaction_rules: [{ match_expression: 'password=\\S+', replacement: 'password=XXX', hash_salt: '' }] });
    const chain = entryChain({ id: 'logs[0]', entry: e, agent, registry: createDefaultRegistry(), taps, stats: createEntryStats(), logger: silentLogger, credits: new Credits(1) });
    const input = new Subject<Batch>();
    chain(stream)(input).subscribe();
    input.next(lines(['login password=hunter2 ok\n']));
    expect(seen).toEqual([
      { component: 'logs[0]:source', message: 'login password=XXX ok\n' },
      { component: 'logs[0]:sample', message: 'login password=XXX ok\n' },
      { component: 'logs[0]:redact', message: 'login password=XXX ok\n' },
    ]);
  });

  it('declares the keys the log part reads itself', () => {
    expect(LOG_PART_OPTIONS.map((o) => o.name).sort()).toEqual(['operators', 'parse_format', 'parse_lines_as_json']);
  });
});

describe('the parsers and line stages read exactly what they declare', () => {
  /** A config object that records which of its keys are read. */
  function recording(values: Record<string, unknown>) {
    const read = new Set<string>();
    const proxy = new Proxy(values, {
      get(t, k, r) {
        if (typeof k === 'string') read.add(k);
        return Reflect.get(t, k, r);
      },
    });
    return { proxy, read };
  }
  const registry = createDefaultRegistry();
  const stages: [kind: 'parser' | 'operator', type: string][] = [
    ['parser', 'raw'],
    ['parser', 'json'],
    ['parser', 'cri'],
    ['operator', 'groupLines'],
    ['operator', 'sample'],
    ['operator', 'redact'],
  ];
  it.each(stages)('%s %s', (kind, type) => {
    const c = registry.component(kind, type)!;
    const own = recording({ ...entry(), ...c.example, unrelated: 1 });
    const agentRec = recording({ ...agent, internal_parse_max_line_size: 70000, include_raw_timestamp_field: true, merge_json_parsed_lines: false, unrelated: 2 });
    c.readLineLimit?.(own.proxy, agentRec.proxy);
    (c.create as (o: Record<string, unknown>, x: unknown) => unknown)(own.proxy, { id: 'x', logger: silentLogger, agent: agentRec.proxy, credits: new Credits(1), dataPath: '/tmp', counters: createCounters(), services: {} });
    const wants = (scope: 'own' | 'global') => (c.options ?? []).filter((o) => (o.scope ?? 'own') === scope && !o.noEffect).map((o) => o.name).sort();
    expect([...own.read].filter((k) => k !== 'then').sort()).toEqual(wants('own'));
    expect([...agentRec.read].sort()).toEqual(wants('global'));
  });
});
