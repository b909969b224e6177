import { Supervisor, canonical, type PartSpec, type RunningPart } from './supervisor.js';
import { memoryLogger } from '../lib/logger.js';

interface Fake extends RunningPart {
  name: string;
  stopped: number;
}

function spec(key: string, slice: unknown, log: string[], opts: { fail?: () => boolean; replace?: boolean } = {}): PartSpec<Fake> {
  const create = (): Fake => {
    if (opts.fail?.()) throw new Error(`cannot start ${key}`);
    log.push(`start ${key}`);
    const part: Fake = {
      name: key,
      stopped: 0,
      async stop() {
        part.stopped++;
        log.push(`stop ${key}`);
      },
    };
    return part;
  };
  return {
    key,
    slice,
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

  it('canonical() ignores key order but not array order', () => {
    expect(canonical({ a: 1, b: { c: 2, d: 3 } })).toBe(canonical({ b: { d: 3, c: 2 }, a: 1 }));
    expect(canonical([1, 2])).not.toBe(canonical([2, 1]));
  });
});
