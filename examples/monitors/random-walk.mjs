/**
 * Example monitor plugin: a random walk.
 *
 * Use it from agent.json (paths are relative to the config file's directory):
 *
 *   monitors: [ { module: "./examples/monitors/random-walk.mjs", id: "demo", step: 2, sample_interval: 10 } ]
 *
 * A monitor plugin exports a factory (`default` or `monitor`) `(config, ctx) => Observable`.
 * sluice subscribes to the Observable at every sample interval; what it emits (one sample or an
 * array of samples) until it completes is that sample. The factory itself runs once, so state
 * kept in its closure (here: the walker's position) lives across samples.
 *
 * Named by path in `monitors[].module`, the module is the old shape: a bare factory whose
 * options nobody declares (they pass unvalidated; any change restarts the monitor). Loaded as a
 * plugin (`plugins: ["./examples/monitors/random-walk.mjs"]`), its `components` export registers
 * the same factory as the monitor type `random_walk` with declared options: then
 * `monitors: [{ module: "random_walk", step: 2 }]` is validated, documented and reloaded from
 * the declarations like a built-in monitor.
 */
import { defer, of } from 'rxjs';

export default function randomWalk(config, ctx) {
  // Through the component the declared defaults are filled in; by path they may be absent.
  const step = Number(config.step ?? 1);
  if (!Number.isFinite(step) || step <= 0) throw new Error('random-walk: "step" must be a positive number');
  let position = Number(config.start ?? 0);
  let samples = 0;
  ctx.logger.info(`random-walk ${ctx.id}: starting at ${position}, step ${step}, every ${ctx.sampleInterval}s`);
  return defer(() => {
    position += Math.random() < 0.5 ? -step : step;
    samples++;
    return of([
      { metric: 'walk.position', value: position, fields: { walker: String(config.id ?? 'default') } },
      // A running total: marked as a counter, it is exported over OTLP as a monotonic sum (the
      // position goes up and down: a gauge). A component may list its counters in
      // `counterMetrics` instead; on the sample it works for the bare factory too.
      { metric: 'walk.samples', value: samples, counter: true },
    ]);
  });
}

/** The component value (a plain object; sluice's `defineComponent` only adds types). */
export const components = [
  {
    kind: 'monitor',
    type: 'random_walk',
    doc: 'A random walk: each sample moves `walk.position` one `step` up or down and counts `walk.samples`.',
    options: [
      { name: 'step', type: 'float', origin: 'sluice', default: 1, min: 0.000001, description: 'How far each sample moves the walker.' },
      { name: 'start', type: 'float', origin: 'sluice', default: 0, description: 'Where the walker starts.' },
    ],
    example: { step: 2 },
    create: randomWalk,
  },
];
