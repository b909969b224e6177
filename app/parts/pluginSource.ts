/**
 * Plugin sources: the top-level `sources: [{type, id?, ...options}]` list. Each item is built by
 * the registered `source` component of its `type` (a plugin's), so a registered source is no
 * longer silently ignored.
 *
 * Promises of {@link createSourcePart}:
 * - The item's own options get the defaults its component declares (`withDefaults`); the
 *   factory gets `ctx.counters`, the part's counters.
 * - A factory may return a {@link SourceInstance} or, the old plugin shape, a bare
 *   `Observable<Batch>`: that one is wrapped into a SourceInstance whose `stop` unsubscribes it.
 * - A component that does not count itself (`countsItself` unset: every old-style plugin) is
 *   counted at its boundary: each batch it emits counts as received and sent (events, bytes).
 *   A source has nothing before it, so it has no drops of its own unless it counts them.
 * - `batches$` may be subscribed once at a time; after `stop()` it completes and emits nothing.
 * - `stop(deadlineMs)` is idempotent and resolves within `deadlineMs` (default 5000) even when
 *   the plugin's own `stop` hangs; an error from it is counted and logged, never thrown.
 */
import { Observable, Subject, isObservable, takeUntil } from 'rxjs';
import type { Batch, ComponentCounters, Logger } from '../../lib/types.js';
import type { Registry } from '../../lib/registry.js';
import type { Component, OptionDecl, SourceInstance } from '../../lib/component.js';
import { withDefaults } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import type { Credits } from '../../lib/pipeline/credits.js';
import { countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';

/** The top-level `sources` option (sluice's own; the items' other keys are their component's options). */
export const SOURCES_OPTION: OptionDecl = own({
  name: 'sources',
  type: 'array',
  default: [],
  repeatable: true,
  env: false,
  scope: 'global',
  openFields: true,
  fields: [
    own({ name: 'type', type: 'string', required: true, description: 'The source: the type name a plugin registered (`plugins`).' }),
    own({ name: 'id', type: 'string', description: 'Distinguishes several sources of the same type (shown as `type(id)` in status).' }),
  ],
  description: 'Sources registered by plugins, each `{type: "name", id?, ...its options}`; their batches go to the sink like those of `logs`. Fragments append to it.',
});

/** One `sources[]` item. */
export interface SourceItem {
  type: string;
  id?: string;
  [option: string]: unknown;
}

export interface SourcePartContext {
  registry: Registry;
  logger: Logger;
  /** The whole validated agent config. */
  agent: Readonly<Record<string, unknown>>;
  credits: Credits;
  dataPath: string;
  /** Status id; default `type(id)` or `type`. */
  id?: string;
  /** Shared services handed to the factory (`ctx.services`). */
  services?: Readonly<Record<string, unknown>>;
}

export interface SourcePart extends SourceInstance {
  /** `type(id)` or `type`. */
  id: string;
  component: Component<'source'>;
}

const DEFAULT_STOP_MS = 5000;

/** The status id of a `sources[]` item. */
export function sourceId(item: Pick<SourceItem, 'type' | 'id'>): string {
  return item.id ? `${item.type}(${item.id})` : item.type;
}

/** Builds one `sources[]` item through the registry (see the file header). Throws naming the type when none is registered. */
export function createSourcePart(item: SourceItem, ctx: SourcePartContext): SourcePart {
  const type = item?.type;
  const component = typeof type === 'string' ? ctx.registry.component('source', type) : undefined;
  if (!component) throw new Error(`sources: no source named "${String(type)}" (registered: ${ctx.registry.types('source').join(', ') || 'none'}; plugins register sources)`);
  const id = ctx.id ?? sourceId(item);
  const counters = createCounters();
  const made = component.create(withDefaults(component, item), {
    id,
    logger: ctx.logger,
    agent: ctx.agent,
    credits: ctx.credits,
    dataPath: ctx.dataPath,
    counters,
    services: ctx.services,
  });

  const bare = isObservable(made);
  const inner: SourceInstance = bare ? { batches$: made as Observable<Batch>, counters, stop: async () => {} } : (made as SourceInstance);
  if (!inner || !isObservable(inner.batches$) || typeof inner.stop !== 'function') {
    throw new Error(`sources: source "${type}" returned neither an Observable of batches nor {batches$, counters, stop}`);
  }
  const partCounters: ComponentCounters = component.countsItself && !bare ? (inner.counters ?? counters) : counters;
  const stopped$ = new Subject<void>();
  let stopping: Promise<void> | undefined;

  const count = (b: Batch) => {
    const n = b.events.length;
    partCounters.receivedEvents += n;
    partCounters.sentEvents += n;
    for (const e of b.events) {
      const bytes = messageBytes(e.message);
      partCounters.receivedBytes += bytes;
      partCounters.sentBytes += bytes;
    }
  };

  const batches$ = new Observable<Batch>((subscriber) => {
    if (stopping) {
      subscriber.complete();
      return;
    }
    const counted = component.countsItself && !bare;
    return inner.batches$.pipe(takeUntil(stopped$)).subscribe({
      next(b) {
        if (!counted) count(b);
        subscriber.next(b);
      },
      error(err) {
        countError(partCounters, err);
        ctx.logger.error(`${id} stopped: ${errorMessage(err)}`);
        subscriber.error(err);
      },
      complete: () => subscriber.complete(),
    });
  });

  return {
    id,
    component,
    batches$,
    counters: partCounters,
    status: inner.status ? () => inner.status!() : undefined,
    stop(deadlineMs = DEFAULT_STOP_MS): Promise<void> {
      stopping ??= (async () => {
        stopped$.next();
        stopped$.complete();
        await inner.stop(deadlineMs);
      })().catch((err) => {
        countError(partCounters, err);
        ctx.logger.error(`Stopping ${id}: ${errorMessage(err)}`);
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((r) => {
        timer = setTimeout(r, Math.max(0, deadlineMs));
        timer.unref?.();
      });
      return Promise.race([stopping, deadline]).finally(() => clearTimeout(timer));
    },
  };
}
