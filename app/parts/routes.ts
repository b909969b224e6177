/**
 * Routes: which sinks a part sends to. A `logs` entry, a monitor, `apm` and `otlp_receiver` may
 * name some with `sinks: [...]` (`SINKS_ROUTE`); absent, they go to every sink. The keys the log
 * and monitor parts read themselves are declared here with the route, once, for the schema and
 * for the parts' restart keys alike.
 */
import type { OptionDecl } from '../../lib/component.js';
import { SINKS_ROUTE } from '../../lib/config/sharedOptions.js';
import { LOG_PART_OPTIONS } from '../logPipeline.js';
import { MONITOR_ENTRY_OPTIONS } from '../../sources/monitors/monitorSource.js';

/** The keys of a `logs[]` entry the log part reads itself, its route included. */
export const LOG_ENTRY_PART_OPTIONS: readonly OptionDecl[] = [...LOG_PART_OPTIONS, SINKS_ROUTE];

/** The keys every `monitors[]` entry may have, its route included. */
export const MONITOR_PART_OPTIONS: readonly OptionDecl[] = [...MONITOR_ENTRY_OPTIONS, SINKS_ROUTE];

/** A part's `sinks` option as a list (undefined: every sink). */
export function routeOf(own: Readonly<Record<string, unknown>> | undefined): readonly string[] | undefined {
  const list = own?.sinks;
  return Array.isArray(list) && list.length > 0 ? (list as string[]) : undefined;
}
