/**
 * Declared = read (issue 16, point 2): every registered component that declares its options
 * (built-ins and the example plugins) is built through the registry from its `example` config
 * with its own config and `ctx.agent` wrapped in recording Proxies (testkit/recording.ts), then
 * exercised with real input of its kind (testkit/componentHarness.ts). Then:
 *
 * - every own option it reads is one it declares (or one the part it lives in declares: the
 *   monitor entry's `id`, `module`…, the log part's `parse_format`…), every agent option it reads
 *   is one it declares as `global`;
 * - every option it declares that is not `noEffect` was read;
 * - no option declared `noEffect` was read.
 *
 * A component that declares nothing (the old plugin shape) is not checked here: it reads
 * whatever it likes, unvalidated, and any change to its config restarts it.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { createDefaultRegistry } from '../app/builtins.js';
import { LOG_PART_OPTIONS } from '../app/logPipeline.js';
import { MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { homeOf, optionsOf, withDefaults, type Component, type ComponentContext } from '../lib/component.js';
import type { Batch } from '../lib/types.js';
import { createEnv, declarationProblems, exercise, label, type HarnessEnv, type PartKeys } from '../testkit/componentHarness.js';
import { createReadLog, record } from '../testkit/recording.js';
import { loadExamplePlugins } from '../testkit/examplePlugins.js';

const builtins = createDefaultRegistry();
const loaded = await loadExamplePlugins(builtins);
const declaring = loaded.registry.components().filter((c) => c.options !== undefined);

/** The keys the part a component lives in declares on the same config object. */
function partKeys(c: Component): PartKeys {
  const home = homeOf(c);
  const names = (decls: readonly { name: string; scope?: string }[]) => new Set(decls.filter((o) => (o.scope ?? 'own') === 'own').map((o) => o.name));
  if (c.kind === 'monitor' && home === 'item') return { own: names(MONITOR_ENTRY_OPTIONS) };
  if (home === 'entry') return { own: names(LOG_PART_OPTIONS) };
  return { own: new Set() };
}

let env: HarnessEnv;
beforeAll(async () => {
  env = await createEnv(loaded.registry);
});
afterAll(async () => {
  await env?.close();
});

test('there are declaring components of every kind to check', () => {
  expect([...new Set(declaring.map((c) => c.kind))].sort()).toEqual(['monitor', 'operator', 'parser', 'sink', 'source']);
});

test.each(declaring.map((c) => [label(c), c] as const))('%s reads exactly what it declares', async (_name, c: Component) => {
  const run = await exercise(c, { registry: loaded.registry, env, record: true });
  expect({ component: label(c), problems: [...run.problems, ...declarationProblems(run, partKeys(c))] }).toEqual({ component: label(c), problems: [] });
});

test.each(declaring.filter((c) => c.check).map((c) => [label(c), c] as const))('%s: its check reads only declared options', (_name, c: Component) => {
  const log = createReadLog();
  c.check!(record(withDefaults(c, c.example ?? {}), log));
  const declared = new Set([...optionsOf(c).map((o) => o.name), ...partKeys(c).own]);
  expect({ component: label(c), undeclared: [...log.keys].filter((k) => !declared.has(k)) }).toEqual({ component: label(c), undeclared: [] });
});

describe('the check can fail', () => {
  const s = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'string' as const, origin: 'sluice' as const, description: name, ...extra });
  /** Declares `mode`, `unused`, `legacy` (noEffect) and global `wrong_global_option`; reads `mode`, `secret`, `legacy` and agent `debug_level`. */
  const wrong: Component = {
    kind: 'operator',
    type: 'wrong',
    options: [s('mode', { default: 'a' }), s('unused'), s('legacy', { noEffect: true }), { ...s('wrong_global_option'), scope: 'global' }],
    example: { mode: 'b' },
    create: ((own: Record<string, unknown>, ctx: ComponentContext): OperatorFunction<Batch, Batch> => {
      const mode = own.mode;
      const secret = 'secret' in own;
      const legacy = own.legacy;
      const debug = ctx.agent.debug_level;
      return (source) => new Observable<Batch>((sub) => source.subscribe({ next: (b) => sub.next(b), complete: () => sub.complete(), error: (e) => sub.error(e) }) && void [mode, secret, legacy, debug]);
    }) as never,
  };

  test('on a component that reads undeclared options, leaves declared ones unread and reads a noEffect one', async () => {
    const run = await exercise(wrong, { registry: builtins.with().add(wrong), env, record: true });
    expect(declarationProblems(run)).toEqual([
      'reads own option(s) it does not declare: secret',
      'reads agent option(s) it does not declare as global: debug_level',
      'declares own option(s) it never read: unused (read it, or mark it noEffect with the reason)',
      'reads own option(s) declared noEffect: legacy',
      'declares global option(s) it never read: wrong_global_option (read it, or mark it noEffect with the reason)',
    ]);
  });

  test('a part key is accepted only where the part declares it', async () => {
    const readsId: Component = { ...wrong, type: 'readsId', options: optionsOf(wrong).filter((o) => o.name === 'mode'), create: ((own: Record<string, unknown>) => (void own.id, (src: Observable<Batch>) => src)) as never };
    const run = await exercise(readsId, { registry: builtins.with().add(readsId), env, record: true });
    expect(declarationProblems(run)).toEqual(['reads own option(s) it does not declare: id', 'declares own option(s) it never read: mode (read it, or mark it noEffect with the reason)']);
    expect(declarationProblems(run, { own: new Set(['id', 'mode']) })).toEqual(['declares own option(s) it never read: mode (read it, or mark it noEffect with the reason)']);
  });

  test('the recording proxy sees get, in, hasOwn and enumeration, and refuses writes', () => {
    const log = createReadLog();
    const cfg = record({ a: 1, b: 2, c: 3 } as Record<string, unknown>, log);
    void cfg.a;
    void ('b' in cfg);
    void Object.hasOwn(cfg, 'z');
    void String(cfg);
    expect([...log.keys].sort()).toEqual(['a', 'b', 'z']);
    expect(log.enumerated).toBe(false);
    void { ...cfg };
    expect(log.enumerated).toBe(true);
    expect([...log.keys].sort()).toEqual(['a', 'b', 'c', 'z']);
    expect(() => {
      cfg.a = 2;
    }).toThrow(/read-only/);
  });
});
