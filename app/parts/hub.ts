/**
 * The hub: every part writes its batches here with its route (the sink names it goes to), and
 * the hub hands each batch to every running sink of the route that takes its kind
 * (`Component.accepts`). Delivery stays at-least-once per destination:
 *
 * - Each sink gets the batch on its own view of the stream (a proxy whose `ack` is the sink's).
 *   The source's real `stream.ack(end)` is called with the smallest offset every routed sink
 *   acknowledged, so a checkpoint (and the read budget) never passes the slowest sink.
 * - A routed sink that is not running (starting, being replaced, failed to start) gets its
 *   batches parked here until it runs; parking is bounded by the route's read budget, since
 *   nothing parked is acknowledged.
 * - A batch no routed sink takes (a kind none accepts) is acknowledged once everything before it
 *   was: it goes to the sinks already holding that stream as an empty batch, or is acked at once.
 *
 * The hub also keeps, per sink, which streams it holds back (offset delivered vs acknowledged),
 * for status and `top`. A sink change makes the new sink current before the old one hands over
 * its queue (see `sinkPart.ts`).
 */
import type { Batch, Logger, Sink, Stream } from '../../lib/types.js';
import type { Taps } from '../../lib/pipeline/taps.js';
import { RouteBudgets } from '../../lib/pipeline/routeBudgets.js';

/** A sink as the agent uses it; live options go to `reconfigure`, or `setServerAttributes` for `server_attributes`. */
export type AgentSink = Sink & {
  setServerAttributes?(attrs: Record<string, string>): void;
  reconfigure?(live: Readonly<Record<string, unknown>>): void;
};

/** One stream a sink has not acknowledged all of. */
export interface HeldStream {
  stream: string;
  path: string;
  kind: string;
  /** Stream offsets (bytes for files, events for monitors and spans) delivered but not acknowledged. */
  behind: number;
  /** Since when (ms epoch) this sink is behind on it. */
  since: number;
}

export interface SinkRoutingStatus {
  running: boolean;
  accepts?: readonly string[];
  /** Batches waiting here for the sink to run. */
  parkedBatches: number;
  /** Streams it holds back, the most behind first (at most 20). */
  holding: HeldStream[];
  holdingStreams: number;
}

export interface Hub {
  /** Writes `batch` to the sinks of `route` (default: every configured sink). */
  deliver(batch: Batch, route?: readonly string[]): void;
  /** Resolves when the running sinks of `route` delivered what they have, or at the deadline. */
  flush(deadlineMs?: number, route?: readonly string[]): Promise<void>;
  /** Asks every sink to drop queued batches of the streams `superseded` selects (source streams); returns the events dropped. */
  discard(superseded: (stream: Stream) => boolean): number;
  /** The configured sink names, in config order (set for each config before its parts are built). */
  configure(names: readonly string[]): void;
  readonly names: readonly string[];
  /** A running sink (or none) under `name`; a new one takes the batches parked for it. */
  setSink(name: string, sink: AgentSink | undefined, accepts?: readonly string[]): void;
  readonly sinks: ReadonlyMap<string, AgentSink>;
  /** The last sink each name had, stopped ones included (what they left undelivered at stop). */
  readonly lastSinks: ReadonlyMap<string, AgentSink>;
  /** The first configured sink that runs (the single sink of a config without `sinks`). */
  readonly sink: AgentSink | undefined;
  /** The read budgets by route. */
  readonly budgets: RouteBudgets;
  /** The sinks a route means now (`undefined`: every configured sink). */
  route(names?: readonly string[]): readonly string[];
  routing(name: string): SinkRoutingStatus;
}

interface Slot {
  /** The stream as this sink sees it. */
  proxy: Stream;
  delivered: number;
  acked: number;
  behindSince: number;
}

interface Fan {
  stream: Stream;
  slots: Map<string, Slot>;
  /** What was acknowledged to the source. */
  forwarded: number;
  /** The end of the last batch delivered. */
  lastEnd: number;
}

export function createHub(taps: Taps, logger: Logger, budgetBytes = 64 << 20): Hub {
  const sinks = new Map<string, { sink: AgentSink; accepts?: readonly string[] }>();
  const acceptsOf = new Map<string, readonly string[] | undefined>();
  const lastSinks = new Map<string, AgentSink>();
  const parked = new Map<string, Batch[]>();
  const fans = new WeakMap<Stream, Fan>();
  /** Fans with data some sink has not acknowledged (for status, and when a sink goes away). */
  const open = new Set<Fan>();
  const originals = new WeakMap<Stream, Stream>();
  const budgets = new RouteBudgets(budgetBytes);
  let names: readonly string[] = [];
  let noSinkLogged = false;

  const settle = (fan: Fan) => {
    let min = Infinity;
    let caughtUp = true;
    for (const slot of fan.slots.values()) {
      if (slot.acked < min) min = slot.acked;
      if (slot.acked < slot.delivered) caughtUp = false;
    }
    if (min !== Infinity && min > fan.forwarded) {
      fan.forwarded = min;
      fan.stream.ack(min);
    }
    if (caughtUp) open.delete(fan);
  };

  const slotFor = (fan: Fan, name: string): Slot => {
    let slot = fan.slots.get(name);
    if (!slot) {
      const stream = fan.stream;
      const proxy = Object.create(stream, {
        ack: {
          enumerable: true,
          value: (end: number) => {
            const s = fan.slots.get(name);
            if (!s || s.proxy !== proxy) return;
            if (end > s.acked) s.acked = end;
            if (s.acked >= s.delivered) s.behindSince = 0;
            settle(fan);
          },
        },
      }) as Stream;
      originals.set(proxy, stream);
      // Data before this batch was never routed to this sink: it does not hold it back.
      slot = { proxy, delivered: fan.lastEnd, acked: fan.lastEnd, behindSince: 0 };
      fan.slots.set(name, slot);
    }
    return slot;
  };

  const send = (name: string, batch: Batch) => {
    const running = sinks.get(name);
    if (running) {
      running.sink.write(batch);
      noSinkLogged = false;
      return;
    }
    // Not acknowledged, so not checkpointed: it waits here (bounded by the route's budget).
    let q = parked.get(name);
    if (!q) parked.set(name, (q = []));
    q.push(batch);
    if (!noSinkLogged) {
      noSinkLogged = true;
      logger.error(`Sink "${name}" is not running (see status for why); what is routed to it waits, and reading pauses once its budget is used.`);
    }
  };

  const takes = (name: string, kind: string) => {
    const accepts = sinks.get(name)?.accepts ?? acceptsOf.get(name);
    return accepts === undefined || accepts.includes(kind);
  };

  const hub: Hub = {
    budgets,
    get names() {
      return names;
    },
    lastSinks,
    get sinks() {
      return new Map([...sinks].map(([n, s]) => [n, s.sink]));
    },
    get sink() {
      for (const n of names) {
        const s = sinks.get(n);
        if (s) return s.sink;
      }
      return sinks.values().next().value?.sink;
    },
    route: (wanted) => (wanted && wanted.length > 0 ? wanted : names),
    configure(next) {
      const gone = names.filter((n) => !next.includes(n));
      names = [...next];
      if (gone.length === 0) return;
      for (const n of gone) {
        parked.delete(n);
        lastSinks.delete(n);
      }
      // A sink taken out of the config no longer holds anything back.
      for (const fan of [...open]) {
        for (const n of gone) fan.slots.delete(n);
        settle(fan);
      }
    },
    setSink(name, sink, accepts) {
      if (!sink) {
        sinks.delete(name);
        return;
      }
      sinks.set(name, { sink, accepts });
      lastSinks.set(name, sink);
      acceptsOf.set(name, accepts);
      const q = parked.get(name);
      if (q) {
        parked.delete(name);
        for (const b of q) sink.write(b);
      }
    },
    deliver(batch, route) {
      taps.observe('sink', batch);
      const stream = batch.stream;
      let fan = fans.get(stream);
      if (!fan) fans.set(stream, (fan = { stream, slots: new Map(), forwarded: 0, lastEnd: 0 }));
      const targets = (route && route.length > 0 ? route : names).filter((n) => names.includes(n) && takes(n, stream.kind));
      if (targets.length === 0) {
        // No routed sink takes this kind: acknowledged once everything before it is.
        if (fan.slots.size === 0) {
          fan.lastEnd = Math.max(fan.lastEnd, batch.end);
          if (batch.end > fan.forwarded) {
            fan.forwarded = batch.end;
            stream.ack(batch.end);
          }
          return;
        }
        for (const [name, slot] of fan.slots) {
          slot.delivered = Math.max(slot.delivered, batch.end);
          send(name, { stream: slot.proxy, events: [], end: batch.end });
        }
      } else {
        for (const name of targets) {
          const slot = slotFor(fan, name);
          if (batch.end > slot.delivered) {
            if (slot.acked >= slot.delivered) slot.behindSince = Date.now();
            slot.delivered = batch.end;
          }
          send(name, targets.length === 1 ? { ...batch, stream: slot.proxy } : { stream: slot.proxy, events: batch.events, end: batch.end, more: batch.more });
        }
      }
      fan.lastEnd = Math.max(fan.lastEnd, batch.end);
      open.add(fan);
    },
    async flush(deadlineMs, route) {
      const list = hub.route(route).map((n) => sinks.get(n)?.sink).filter((s): s is AgentSink => s !== undefined);
      await Promise.all(list.map((s) => s.flush(deadlineMs)));
    },
    discard(superseded) {
      const pick = (s: Stream) => superseded(originals.get(s) ?? s);
      let n = 0;
      for (const { sink } of sinks.values()) n += sink.discard?.(pick) ?? 0;
      for (const [name, q] of parked) {
        const keep = q.filter((b) => !pick(b.stream));
        for (const b of q) if (pick(b.stream)) n += b.events.length;
        parked.set(name, keep);
      }
      return n;
    },
    routing(name) {
      const holding: HeldStream[] = [];
      for (const fan of open) {
        const slot = fan.slots.get(name);
        if (!slot || slot.acked >= slot.delivered) continue;
        holding.push({ stream: fan.stream.id, path: fan.stream.path, kind: fan.stream.kind, behind: slot.delivered - slot.acked, since: slot.behindSince || Date.now() });
      }
      holding.sort((a, b) => b.behind - a.behind);
      const running = sinks.get(name);
      return {
        running: running !== undefined,
        ...(acceptsOf.get(name) ? { accepts: acceptsOf.get(name) } : {}),
        parkedBatches: parked.get(name)?.length ?? 0,
        holding: holding.slice(0, 20),
        holdingStreams: holding.length,
      };
    },
  };
  return hub;
}
