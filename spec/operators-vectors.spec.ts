/**
 * Scalyr behaviour vectors for the log operators: line_grouping.json (groupLines) and
 * sampling_redaction.json (sample, redact), read from spec/fixtures/vectors at test time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Subject, VirtualTimeScheduler, VirtualAction, from, lastValueFrom, toArray } from 'rxjs';
import { groupLines } from '../operators/groupLines.js';
import { sample } from '../operators/sample.js';
import { redact } from '../operators/redact.js';
import { createCounters } from '../lib/counters.js';
import type { Batch, Event, Stream } from '../lib/types.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const load = (name: string) => JSON.parse(fs.readFileSync(path.resolve(repoRoot, 'spec/fixtures/vectors/scalyr', name), 'utf8'));

function testStream(): Stream {
  return { id: 'test', kind: 'log', path: '/test.log', attrs: {}, ack: () => undefined };
}

const text = (m: Buffer | string): string => (typeof m === 'string' ? m : m.toString('utf8'));

interface GroupingCase {
  name: string;
  input: {
    lineGroupers: Record<string, string>[];
    max_line_length: number;
    line_completion_wait_time_secs: number;
    steps: ({ op: 'append'; data: string } | { op: 'read_all'; t: number })[];
  };
  expected: { emitted_per_read_all_step: string[][] };
}

/**
 * Replays a grouping case: `append` adds bytes (split into complete lines the way the reader
 * does); `read_all` at time t first lets virtual time run to just before t (timers that were
 * due fire), then delivers the appended lines as one batch, then reaches t.
 */
function replayGrouping(c: GroupingCase): string[][] {
  const scheduler = new VirtualTimeScheduler(VirtualAction, Infinity);
  const input = new Subject<Batch>();
  const stream = testStream();
  const emitted: string[] = [];
  const ends: number[] = [];
  const sub = input
    .pipe(
      groupLines(c.input.lineGroupers as never, {
        maxLineSize: c.input.max_line_length,
        completionWaitMs: c.input.line_completion_wait_time_secs * 1000,
        scheduler,
      }),
    )
    .subscribe((b) => {
      ends.push(b.end);
      for (const e of b.events) emitted.push(text(e.message));
    });
  let pending = '';
  let offset = 0;
  const perStep: string[][] = [];
  for (const step of c.input.steps) {
    if (step.op === 'append') {
      pending += step.data;
      continue;
    }
    const t = step.t * 1000;
    scheduler.maxFrames = t - 1;
    scheduler.flush();
    scheduler.frame = t - 1;
    const events: Event[] = [];
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = Buffer.from(pending.slice(0, nl + 1));
      offset += line.length;
      events.push({ message: line, end: offset });
      pending = pending.slice(nl + 1);
    }
    if (events.length > 0) input.next({ stream, events, end: offset });
    scheduler.maxFrames = t;
    scheduler.flush();
    scheduler.frame = t;
    perStep.push(emitted.splice(0));
  }
  // Batch ends never go backwards.
  for (let k = 1; k < ends.length; k++) expect(ends[k]).toBeGreaterThanOrEqual(ends[k - 1]);
  sub.unsubscribe();
  return perStep;
}

describe('line_grouping.json', () => {
  const cases = load('line_grouping.json').cases as GroupingCase[];
  for (const c of cases) {
    if (c.input.lineGroupers.length === 0) {
      // Splitting over-long lines happens in the reader (operators/splitLines.ts), before
      // groupLines; without groupers groupLines is the identity, so this case is not ours.
      test.skip(`${c.name} (long-line splitting is splitLines' job)`, () => undefined);
      continue;
    }
    test(c.name, () => {
      expect(replayGrouping(c)).toEqual(c.expected.emitted_per_read_all_step);
    });
  }
});

interface SRCase {
  name: string;
  input: Record<string, any>;
  expected: any;
}

/** A random source that returns the vector's draws in order and fails if asked for more. */
function scriptedRandom(draws: number[]): () => number {
  return () => {
    if (draws.length === 0) throw new Error('unexpected random draw');
    return draws.shift()!;
  };
}

async function run(ops: ((s: any) => any)[], batches: Batch[]): Promise<Batch[]> {
  let obs: any = from(batches);
  for (const op of ops) obs = op(obs);
  return lastValueFrom(obs.pipe(toArray())) as Promise<Batch[]>;
}

function linesBatch(lines: string[]): Batch {
  let offset = 0;
  const events = lines.map((l) => {
    const message = Buffer.from(l);
    offset += message.length;
    return { message, end: offset };
  });
  return { stream: testStream(), events, end: offset };
}

describe('sampling_redaction.json', () => {
  const cases = load('sampling_redaction.json').cases as SRCase[];
  for (const c of cases) {
    const i = c.input;
    if (i.redaction_rules && i.lines) {
      test(`redaction: ${c.name}`, async () => {
        const { createRedactionStats } = await import('../operators/redact.js');
        const rules = i.redaction_rules.map((r: any) => ({ replacement: '', hash_salt: '', ...r }));
        const got: { line: string; redacted: boolean }[] = [];
        for (const line of i.lines as string[]) {
          const stats = createRedactionStats();
          const [out] = await run([redact(rules, { stats })], [linesBatch([line])]);
          got.push({ line: text(out.events[0].message), redacted: stats.redactedLines === 1 });
        }
        expect(got).toEqual(c.expected);
      });
    } else if (i.steps) {
      test(`sampling: ${c.name}`, async () => {
        const results: (number | null)[] = [];
        for (const step of i.steps as { line: string; random_draws?: number[] }[]) {
          const draws = [...(step.random_draws ?? [])];
          const [out] = await run([sample(i.sampling_rules, { random: scriptedRandom(draws) })], [linesBatch([step.line])]);
          expect(draws).toEqual([]); // every scripted draw was used, none more
          results.push(out.events.length === 0 ? null : ((out.events[0].attrs?.sample_rate as number | undefined) ?? 1));
          expect(out.end).toBe(Buffer.byteLength(step.line)); // bytes consumed either way
        }
        expect(results).toEqual(c.expected.results);
      });
    } else if (i.file_content !== undefined) {
      test(`processor: ${c.name}`, async () => {
        const counters = createCounters();
        const lines = (i.file_content as string).split(/(?<=\n)/);
        const ops = [
          groupLines(i.lineGroupers ?? [], { maxLineSize: 49900, completionWaitMs: 5000 }),
          sample(i.sampling_rules ?? [], { counters, random: () => 0.5 }),
          redact(i.redaction_rules ?? []),
        ];
        const out = await run(ops, [linesBatch(lines)]);
        const events = out.flatMap((b) => b.events.map((e) => text(e.message)));
        expect(events).toEqual(c.expected.events);
        expect(counters.sentBytes).toBe(c.expected.bytes_copied);
        if (c.expected.lines_dropped_by_sampling !== undefined) expect(counters.dropped.sampling).toBe(c.expected.lines_dropped_by_sampling);
        expect(out[out.length - 1].end).toBe(Buffer.byteLength(i.file_content));
      });
    } else if (i.line !== undefined) {
      // The wire fragment (`sample_rate:0.25` after the message) is the addEvents encoder's job;
      // here we check the attribute it serialises.
      test(`sampling attr: ${c.name}`, async () => {
        const [out] = await run([sample(i.sampling_rules, { random: scriptedRandom([i.random_draw]) })], [linesBatch([i.line])]);
        expect(out.events[0].attrs).toMatchObject(c.expected.event_attrs_contains);
        expect(text(out.events[0].message)).toBe(i.line);
      });
    } else {
      test.skip(`${c.name} (unrecognised case shape)`, () => undefined);
    }
  }
});

describe('chain group → sample → redact (property)', () => {
  test('every byte is accounted once: ends increase, never pass held data, last end = total', async () => {
    const fc = (await import('fast-check')).default;
    const { VirtualTimeScheduler: VTS } = await import('rxjs');
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('Exc password=1\n', '  at x\n', 'DEBUG y\n', 'plain\n', '\n', 'E2\n'), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(30)),
        (ls, rawCuts) => {
          const scheduler = new VTS(VirtualAction, Infinity);
          const input = new Subject<Batch>();
          const stream = testStream();
          const out: Batch[] = [];
          input
            .pipe(
              groupLines([{ start: '^[^\\s]', continueThrough: '^\\s+at' }], { maxLineSize: 30, completionWaitMs: 1000, scheduler }),
              sample([{ match_expression: 'DEBUG', sampling_rate: 0 }]),
              redact([{ match_expression: 'password=\\S*', replacement: 'password=X', hash_salt: '' }]),
            )
            .subscribe((b) => out.push(b));
          let off = 0;
          const events: Event[] = ls.map((l) => ({ message: Buffer.from(l), end: (off += Buffer.byteLength(l)) }));
          const cuts = [...new Set(rawCuts.filter((c) => c < events.length))].sort((a, b) => a - b);
          let prev = 0;
          for (const c of [...cuts, events.length]) {
            const part = events.slice(prev, c);
            if (part.length) input.next({ stream, events: part, end: part[part.length - 1].end });
            prev = c;
            if (c % 3 === 0) scheduler.flush(); // sometimes let the completion timer fire
          }
          input.complete();
          let lastEnd = -1;
          let lastEventEnd = -1;
          for (const b of out) {
            expect(b.end).toBeGreaterThanOrEqual(lastEnd);
            for (const e of b.events) {
              expect(e.end).toBeGreaterThan(lastEventEnd);
              expect(e.end).toBeLessThanOrEqual(b.end);
              expect(text(e.message)).not.toMatch(/password=1/);
              expect(text(e.message)).not.toMatch(/DEBUG/);
              lastEventEnd = e.end;
            }
            lastEnd = b.end;
          }
          expect(lastEnd).toBe(off);
        },
      ),
      { numRuns: 200 },
    );
  });
});
