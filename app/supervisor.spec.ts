import { Supervisor, canonical, type PartSpec, type RunningPart } from './supervisor.js';
import { memoryLogger } from '../lib/logger.js';

interface Fake extends RunningPart {
  name: string;
  stopped: number;
  /** The live values it was created with, then each one `reconfigure` handed it. */
  live: unknown[];
}

interface SpecOpts {
  fail?: () => boolean;
  replace?: boolean;
  live?: Record<string, unknown>;
  /** Give the part a `reconfigure`; `'throws'` makes it fail. */
  reconfigure?: true | 'throws';
}

function spec(key: string, slice: unknown, log: string[], opts: SpecOpts = {}): PartSpec<Fake> {
  const create = (): Fake => {
    if (opts.fail?.()) throw new Error(`cannot start ${key}`);
    log.push(`start ${key}`);
    const part: Fake = {
      name: key,
      stopped: 0,
      live: [opts.live],
      async stop() {
        part.stopped++;
        log.push(`stop ${key}`);
      },
    };
    if (opts.reconfigure) {
      part.reconfigure = (live) => {
        if (opts.reconfigure === 'throws') throw new Error('cannot');
        log.push(`reconfigure ${key}`);
        part.live.push(live);
      };
    }
    return part;
  };
  return {
    key,
    slice,
    live: opts.live,
    create,
    replace: opts.replace
      ? async (old) => {
          const next = create();
          log.push(`handover ${key}`);
          await old.stop();
          return next;
        }
      : undefined,
  };
}

describe('Supervisor', () => {
  it('starts, restarts only changed slices, stops removed keys, and leaves the rest alone', async () => {
    const log: string[] = [];
    const sup = new Supervisor(memoryLogger(), { stopDeadlineMs: 100 });
    const r1 = await sup.apply([spec('a', { x: 1, y: [1, 2] }, log), spec('b', { z: 1 }, log), spec('c', 1, log)]);
    expect(r1.started).toEqual(['a', 'b', 'c']);
    const a = sup.get<Fake>('a');
    log.length = 0;
    // Same content, different key order: unchanged.
    const r2 = await sup.apply([spec('a', { y: [1, 2], x: 1 }, log), spec('b', { z: 2 }, log), spec('d', 0, log)]);
    expect(r2).toMatchObject({ unchanged: ['a'], restarted: ['b'], started: ['d'], stopped: ['c'] });
    expect(log).toEqual(['stop c', 'stop b', 'start b', 'start d']);
    expect(sup.get('a')).toBe(a);
    expect(a!.stopped).toBe(0);
  });

  it('lets a part take over from its predecessor', async () => {
    const log: string[] = [];
    const sup = new Supervisor(memoryLogger(), { stopDeadlineMs: 100 });
    await sup.apply([spec('sink', 1, log, { replace: true })]);
    log.length = 0;
    await sup.apply([spec('sink', 2, log, { replace: true })]);
    expect(log).toEqual(['start sink', 'handover sink', 'stop sink']);
  });

  it('records a part that fails to start, keeps the others, and retries with backoff', async () => {
    const log: string[] = [];
    let failures = 2;
    const sup = new Supervisor(memoryLogger(), { stopDeadlineMs: 100, retryBaseMs: 10 });
    const r = await sup.apply([spec('bad', 1, log, { fail: () => failures-- > 0 }), spec('good', 1, log)]);
    expect(r.failed.map((f) => f.key)).toEqual(['bad']);
    expect(r.started).toEqual(['good']);
    expect(sup.list().find((p) => p.key === 'bad')?.error).toMatch(/cannot start bad/);
    for (let i = 0; i < 100 && !sup.get('bad'); i++) await new Promise((res) => setTimeout(res, 10));
    expect(sup.get('bad')).toBeDefined();
    expect(sup.list().find((p) => p.key === 'bad')?.error).toBeUndefined();
    await sup.stopAll();
  });

  it('stopAll is idempotent and stops in the given order', async () => {
    const log: string[] = [];
    const sup = new Supervisor(memoryLogger(), { stopDeadlineMs: 100 });
    await sup.apply([spec('sink', 1, log), spec('log:a', 1, log)]);
    log.length = 0;
    await sup.stopAll((keys) => [...keys.filter((k) => k !== 'sink'), 'sink']);
    await sup.stopAll();
    expect(log).toEqual(['stop log:a', 'stop sink']);
    expect((await sup.apply([spec('x', 1, log)])).started).toEqual([]);
  });

  it('hands changed live values to the running part instead of restarting it', async () => {
    const log: string[] = [];
    const sup = new Supervisor(memoryLogger(), { stopDeadlineMs: 100 });
    await sup.apply([spec('sink', { url: 'a' }, log, { live: { attrs: { h: '1' } }, reconfigure: true }), spec('log:a', 1, log)]);
    const sink = sup.get<Fake>('sink')!;
    log.length = 0;
    // Same live values in another key order: nothing to do.
    const same = await sup.apply([spec('sink', { url: 'a' }, log, { live: { attrs: { h: '1' } }, reconfigure: true }), spec('log:a', 1, log)]);
    expect(same.reconfigured).toEqual([]);
    const r = await sup.apply([spec('sink', { url: 'a' }, log, { live: { attrs: { h: '2' } }, reconfigure: true }), spec('log:a', 1, log)]);
    expect(r).toMatchObject({ reconfigured: ['sink'], unchanged: ['sink', 'log:a'], restarted: [], started: [], stopped: [] });
    expect(log).toEqual(['reconfigure sink']);
    expect(sup.get('sink')).toBe(sink);
    expect(sink.live).toEqual([{ attrs: { h: '1' } }, { attrs: { h: '2' } }]);
    expect(sink.stopped).toBe(0);
    // The restart key and the live values both change: a restart (built with the new values), no reconfigure.
    log.length = 0;
    const both = await sup.apply([spec('sink', { url: 'b' }, log, { live: { attrs: { h: '3' } }, reconfigure: true }), spec('log:a', 1, log)]);
    expect(both).toMatchObject({ restarted: ['sink'], reconfigured: [] });
    expect(log).toEqual(['stop sink', 'start sink']);
    expect(sup.get<Fake>('sink')!.live).toEqual([{ attrs: { h: '3' } }]);
    // Reconfigured once more, the latest live values are remembered: applying them again is a no-op.
    await sup.apply([spec('sink', { url: 'b' }, log, { live: { attrs: { h: '4' } }, reconfigure: true })]);
    log.length = 0;
    const again = await sup.apply([spec('sink', { url: 'b' }, log, { live: { attrs: { h: '4' } }, reconfigure: true })]);
    expect(again.reconfigured).toEqual([]);
    expect(log).toEqual([]);
  });

  it('restarts a part whose live values changed when it cannot take them live', async () => {
    const log: string[] = [];
    const logger = memoryLogger();
    const sup = new Supervisor(logger, { stopDeadlineMs: 100 });
    await sup.apply([spec('plain', 1, log, { live: { x: 1 } }), spec('failing', 1, log, { live: { x: 1 }, reconfigure: 'throws' })]);
    log.length = 0;
    const r = await sup.apply([spec('plain', 1, log, { live: { x: 2 } }), spec('failing', 1, log, { live: { x: 2 }, reconfigure: 'throws' })]);
    expect(r).toMatchObject({ restarted: ['plain', 'failing'], reconfigured: [], unchanged: [] });
    expect(log).toEqual(['stop plain', 'start plain', 'stop failing', 'start failing']);
    expect(logger.records.some((x) => /Could not apply the live settings of failing \(cannot\); restarting it/.test(x.message))).toBe(true);
    await sup.stopAll();
  });

  it('list() gives each part with the spec it runs under', async () => {
    const log: string[] = [];
    const sup = new Supervisor(memoryLogger(), { stopDeadlineMs: 100 });
    const a = { ...spec('a', 1, log), kind: 'log' };
    await sup.apply([a]);
    const b = { ...spec('a', 1, log), kind: 'log' };
    await sup.apply([b]);
    expect(sup.list().map((p) => [p.key, p.spec, p.part === sup.get('a')])).toEqual([['a', b, true]]);
    await sup.stopAll();
  });

  it('canonical() ignores key order but not array order', () => {
    expect(canonical({ a: 1, b: { c: 2, d: 3 } })).toBe(canonical({ b: { d: 3, c: 2 }, a: 1 }));
    expect(canonical([1, 2])).not.toBe(canonical([2, 1]));
  });
});
