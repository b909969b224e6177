/**
 * Read budgets by route. Each distinct set of destination sinks (a route: the sinks a `logs`
 * entry, monitor or section sends to) has its own budget of `max_pending_bytes`: the bytes its
 * sources read that not every sink of the route acknowledged yet. A sink that is down therefore
 * holds back only the streams routed to it: their budget fills and their reading pauses, while
 * streams routed elsewhere keep their own budget and go on. Memory stays bounded by the number
 * of distinct routes times the budget (one route, today's single budget, unless routes differ).
 *
 * A sink sees the budgets of every route that includes it through {@link RouteBudgets.forSink}:
 * it can send a partial request at once when a reader of one of them waits.
 */
import { Credits } from './credits.js';

/** The route of parts that name no sinks: every sink the config has, now and after a reload. */
const ALL = '*';
const covers = (route: readonly string[], sink: string) => route.includes(sink) || route[0] === ALL;

/** What a sink reads of the budgets (the addEvents and otlp sinks' `ReadBudget`). */
export interface SinkBudgetView {
  readonly total: number;
  /** True while a reader waits for budget. */
  readonly exhausted: boolean;
  /** Calls `fn` whenever a reader starts to wait; returns the unsubscribe function. */
  onWait(fn: () => void): () => void;
}

export class RouteBudgets {
  private readonly pools = new Map<string, { sinks: readonly string[]; credits: Credits }>();
  private readonly waiters = new Set<{ sink: string; fn: () => void; offs: Map<Credits, () => void> }>();

  constructor(readonly total: number) {}

  /** The route's key: its sink names, sorted (the same set is the same budget); `*` for every sink. */
  static key(route: readonly string[] | undefined): string {
    return route === undefined ? ALL : [...new Set(route)].sort().join(',');
  }

  /** The budget of a route (made on first use); `undefined`: every sink, whichever they are. */
  of(route?: readonly string[]): Credits {
    const key = RouteBudgets.key(route);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = { sinks: key === '' ? [] : key.split(','), credits: new Credits(this.total) };
      this.pools.set(key, pool);
      for (const w of this.waiters) if (covers(pool.sinks, w.sink)) w.offs.set(pool.credits, pool.credits.onWait(w.fn));
    }
    return pool.credits;
  }

  /** Every route's budget, with its sinks. */
  list(): { route: readonly string[]; credits: Credits }[] {
    return [...this.pools.values()].map((p) => ({ route: p.sinks, credits: p.credits }));
  }

  get inUse(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.credits.inUse;
    return n;
  }

  get capacity(): number {
    return Math.max(1, this.pools.size) * this.total;
  }

  /** What one sink sees: the budgets of the routes that include it (those made later too). */
  forSink(sink: string): SinkBudgetView {
    const self = this;
    return {
      total: this.total,
      get exhausted() {
        for (const p of self.pools.values()) if (covers(p.sinks, sink) && p.credits.exhausted) return true;
        return false;
      },
      onWait(fn) {
        const w = { sink, fn, offs: new Map<Credits, () => void>() };
        for (const p of self.pools.values()) if (covers(p.sinks, sink)) w.offs.set(p.credits, p.credits.onWait(fn));
        self.waiters.add(w);
        return () => {
          self.waiters.delete(w);
          for (const off of w.offs.values()) off();
        };
      },
    };
  }
}
