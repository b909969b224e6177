/**
 * The component contract (issue 16, point 4), over the whole registry: every built-in and every
 * example plugin's component, built through the registry from its `example` config (declared
 * defaults filled in), fed real input of its kind (testkit/componentHarness.ts), must
 *
 * - keep counters: received / sent (events and bytes), dropped by reason, errors; received and
 *   sent move as data passes, and match what went in and came out (operators and parsers: events
 *   in vs out, drops with a reason; sources: lines written to real files; monitors: samples at a
 *   50 ms interval; sinks: written vs delivered to a local HTTP receiver or the temp dir);
 *   components that do not count themselves are counted by the boundary wrapper;
 * - stop idempotently and in bounded time: stop twice, with a downstream that hangs, both calls
 *   resolve within the deadline, and nothing comes out afterwards.
 *
 * A component that declares options must have an `example`; one that declares nothing (the old
 * plugin shape: its config passes unvalidated) is built with an empty config.
 */
import { NEVER, Observable, of, tap } from 'rxjs';
import { createDefaultRegistry } from '../app/builtins.js';
import type { Component, ComponentContext } from '../lib/component.js';
import type { Batch, Event } from '../lib/types.js';
import { createCounters } from '../lib/counters.js';
import { batchesOf, contractProblems, createEnv, exampleDiagnostics, exercise, label, recordingStream, type HarnessEnv } from '../testkit/componentHarness.js';
import { loadExamplePlugins } from '../testkit/examplePlugins.js';

const builtins = createDefaultRegistry();
const loaded = await loadExamplePlugins(builtins);
const fromExamples = new Set([...loaded.byFile.values()].flat().map(label));
const everything = loaded.registry.components();

let env: HarnessEnv;
beforeAll(async () => {
  env = await createEnv(loaded.registry);
});
afterAll(async () => {
  await env?.close();
});

describe('the registry the contract runs over', () => {
  test('holds every built-in and every example plugin component', () => {
    expect(builtins.components().length).toBeGreaterThan(5);
    const names = everything.map(label);
    for (const c of builtins.components()) expect(everything).toContain(c);
    for (const [file, cs] of loaded.byFile) {
      expect({ file, added: cs.map(label) }).toEqual({ file, added: expect.arrayContaining([expect.any(String)]) });
      for (const c of cs) expect(names).toContain(label(c));
    }
  });

  test('each kind that can be registered has at least one component to run the contract on', () => {
    const kinds = new Set(everything.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['monitor', 'operator', 'parser', 'sink', 'source']);
  });

  test.each(builtins.components().map((c) => [label(c), c] as const))('built-in %s is a declared component (options and an example)', (_name, c: Component) => {
    const missing = [c.options === undefined && 'options (it is registered as a bare factory)', c.example === undefined && 'example'].filter(Boolean);
    expect({ component: label(c), missing }).toEqual({ component: label(c), missing: [] });
  });
});

describe.each(everything.map((c) => [`${label(c)}${fromExamples.has(label(c)) ? ' (example plugin)' : ''}`, c] as const))('%s', (_name, c: Component) => {
  test('has an example config (or declares nothing)', () => {
    const why = c.options !== undefined && c.example === undefined ? `${label(c)} declares options but has no \`example\`: add a small working config to its component value` : undefined;
    expect(why).toBeUndefined();
  });

  test('its example passes its own check', () => {
    expect(c.check?.(c.example ?? {}) ?? []).toEqual([]);
  });

  test('its example loads as a config without errors or warnings (where its options live)', async () => {
    expect({ component: label(c), diagnostics: await exampleDiagnostics(c, loaded.registry, env.dir) }).toEqual({ component: label(c), diagnostics: [] });
  });

  test('counts what passes and stops twice in bounded time', async () => {
    if (c.options !== undefined && c.example === undefined) throw new Error(`${label(c)}: no \`example\` to build it from; add one to its component value`);
    const run = await exercise(c, { registry: loaded.registry, env, stopDeadlineMs: 300 });
    const problems = contractProblems(run);
    // On failure the counters and what went in and out are shown after the problems.
    if (problems.length > 0) problems.push(`(in ${run.inEvents}, out ${run.outEvents}, counters ${JSON.stringify(run.counters)}${run.notes.length ? `, ${run.notes.join('; ')}` : ''})`);
    expect({ component: label(c), problems }).toEqual({ component: label(c), problems: [] });
  });
});

describe('the check can fail', () => {
  /** An operator that passes batches on, keeping the events `keep` selects. */
  const passOn = (keep: (e: Event) => boolean) => () => (source: Observable<Batch>) =>
    new Observable<Batch>((sub) => source.subscribe({ next: (b) => sub.next({ ...b, events: b.events.filter(keep) }), complete: () => sub.complete() }));

  test('an operator that says it counts itself but counts nothing breaks it', async () => {
    const liar: Component = { kind: 'operator', type: 'liar', countsItself: true, options: [], example: {}, create: passOn(() => true) as never };
    const problems = contractProblems(await exercise(liar, { registry: builtins.with().add(liar), env }));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^received 0 events, \d+ went in$/), expect.stringMatching(/^sent 0 events, \d+ came out$/)]));
  });

  test('an operator that drops silently while counting itself breaks it', async () => {
    const dropper: Component = {
      kind: 'operator',
      type: 'dropper',
      countsItself: true,
      options: [],
      example: {},
      create: ((_c: unknown, ctx: ComponentContext) => (source: Observable<Batch>) =>
        passOn((e) => !String(e.message).includes('DEBUG'))()(source.pipe(tap((b) => {
          ctx.counters!.receivedEvents += b.events.length;
          ctx.counters!.sentEvents += b.events.length;
        })))) as never,
    };
    const problems = contractProblems(await exercise(dropper, { registry: builtins.with().add(dropper), env }));
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^sent \d+ events, \d+ came out$/)]));
  });

  test('an example of the wrong type, or with a key the component does not declare, does not load cleanly', async () => {
    const bad: Component = {
      kind: 'operator',
      type: 'badExample',
      options: [{ name: 'count', type: 'int', origin: 'sluice', description: 'A number.' }],
      example: { count: 'many', cuont: 1 },
      create: (() => (src: Observable<Batch>) => src) as never,
    };
    const diagnostics = await exampleDiagnostics(bad, builtins.with().add(bad), env.dir);
    expect(diagnostics).toEqual([expect.stringMatching(/^logs\[0\]\.operators\[0\]\.count: /), expect.stringMatching(/^logs\[0\]\.operators\[0\]\.cuont: unknown option/)]);
  });

  test('a sink whose stop never resolves breaks it', async () => {
    const hangs: Component = {
      kind: 'sink',
      type: 'hangs',
      options: [],
      example: {},
      create: ((_c: unknown, ctx: ComponentContext) => ({
        id: ctx.id,
        counters: createCounters(),
        write: (b: Batch) => b.stream.ack(b.end),
        flush: async () => {},
        status: () => ({}),
        stop: () => new Promise(() => {}),
      })) as never,
    };
    const problems = contractProblems(await exercise(hangs, { registry: builtins.with().add(hangs), env, stopDeadlineMs: 50 }));
    expect(problems).toEqual(expect.arrayContaining(['stop failed: did not resolve within 2050 ms', expect.stringMatching(/^received 0 events, \d+ were written to it$/)]));
  });

  test('an old-shape source (a bare Observable) is wrapped and counted by the assembly; one that emits nothing fails', async () => {
    const { stream } = recordingStream('bare');
    const bare: Component = { kind: 'source', type: 'bare', create: (() => of(...batchesOf(stream, ['a\n', 'b\n', 'c\n'], 1))) as never };
    expect(contractProblems(await exercise(bare, { registry: builtins.with().add(bare), env }))).toEqual([]);
    const silent: Component = { kind: 'source', type: 'silent', create: (() => NEVER) as never };
    expect(contractProblems(await exercise(silent, { registry: builtins.with().add(silent), env }))).toEqual(['sent nothing: the sent counters did not move', 'received nothing: the received counters did not move']);
  });
});
