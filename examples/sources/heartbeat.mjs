/**
 * Example source plugin (component shape): a heartbeat line every `interval_secs`.
 *
 * Load it with `plugins: ["./examples/sources/heartbeat.mjs"]` and add it to the top-level
 * `sources` list: `sources: [{ type: "heartbeat", id: "hb", interval_secs: 30 }]`. Its batches
 * go to the sink like those of `logs`.
 *
 * A source's `create(config, ctx)` returns `{ batches$, stop(deadlineMs) }` (or, the old shape,
 * just an Observable of batches). Each batch holds events of one stream; `end` offsets grow, and
 * `stream.ack(end)` is called once the sink delivered everything up to `end` (a file source
 * checkpoints there; this one has nothing to keep). It does not set `countsItself`, so sluice
 * counts every batch it emits at its boundary, and bounds `stop` by its deadline.
 */
import { interval, map, share, Subject, takeUntil } from 'rxjs';

export function heartbeat(config, ctx) {
  const every = Number(config.interval_secs) * 1000;
  const text = String(config.message);
  let end = 0;
  let beats = 0;
  const stream = {
    id: `heartbeat:${ctx.id}`,
    kind: 'log',
    path: `heartbeat/${ctx.id}`,
    attrs: { logfile: `heartbeat/${ctx.id}`, parser: 'heartbeat' },
    ack() {
      /* generated lines: nothing to checkpoint */
    },
  };
  const stopped$ = new Subject();
  const batches$ = interval(every).pipe(
    takeUntil(stopped$),
    map(() => {
      const message = `${new Date().toISOString()} ${text} ${++beats}\n`;
      end += Buffer.byteLength(message);
      return { stream, events: [{ message, end }], end };
    }),
    share(),
  );
  return {
    batches$,
    status: () => ({ beats }),
    async stop() {
      stopped$.next();
      stopped$.complete();
    },
  };
}

export const components = [
  {
    kind: 'source',
    type: 'heartbeat',
    doc: 'Emits one line (`<time> <message> <n>`) every `interval_secs` seconds, for checking that events flow end to end.',
    options: [
      { name: 'interval_secs', type: 'float', origin: 'sluice', default: 30, min: 0.001, description: 'Seconds between two heartbeat lines.' },
      { name: 'message', type: 'string', origin: 'sluice', default: 'heartbeat', description: 'The text of each line (before its number).' },
    ],
    example: { interval_secs: 0.05 },
    create: heartbeat,
  },
];
