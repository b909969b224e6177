/**
 * Example operator plugin: upper-cases every event's message.
 *
 * Load it with `plugins: ["./examples/operators/uppercase.mjs"]`; it registers the operator type
 * `uppercase`. An operator factory `(config, ctx) => OperatorFunction<Batch, Batch>` maps whole
 * Batches (never one emission per line) and keeps each batch's `stream` and `end`, so acks and
 * checkpoints stay right. Option `field`: upper-case this event attribute instead of the message.
 */
import { map } from 'rxjs';

export function uppercase(config = {}, ctx) {
  const field = typeof config.field === 'string' ? config.field : undefined;
  return map((batch) => ({
    ...batch,
    events: batch.events.map((e) => {
      if (field) {
        const v = e.attrs?.[field];
        return typeof v === 'string' ? { ...e, attrs: { ...e.attrs, [field]: v.toUpperCase() } } : e;
      }
      const text = typeof e.message === 'string' ? e.message : e.message.toString('utf8');
      return { ...e, message: text.toUpperCase() };
    }),
  }));
}

/** Called by sluice's plugin loader with the registry to extend. */
export function register(registry) {
  registry.register('operator', 'uppercase', uppercase);
}
