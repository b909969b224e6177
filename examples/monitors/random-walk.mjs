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
 */
import { defer, of } from 'rxjs';

export default function randomWalk(config, ctx) {
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
      { metric: 'walk.samples', value: samples },
    ]);
  });
}
