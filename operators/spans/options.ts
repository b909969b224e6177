/**
 * The `apm` fields the span aggregation reads, apart from its code (which loads the SQL parser):
 * the APM intake source declares them with its own and reads them when it is created.
 */
import type { OptionDecl } from '../../lib/component.js';
import { sluiceOption as own } from '../../lib/config/schema.js';
import { readDeclared } from '../../lib/component.js';

export const APM_AGGREGATION_OPTIONS: OptionDecl[] = [
  own({ name: 'minute_secs', type: 'float', default: 60, min: 0.001, description: 'Length of one aggregation bucket in seconds (Scout reports per minute; shorter only for tests).' }),
  own({ name: 'grace_secs', type: 'float', default: 10, min: 0, description: 'Seconds after a bucket closes during which late requests are still counted in it; then it is sent.' }),
];

/** `minuteMs` and `graceMs` from the `apm` section (declared defaults for absent or unusable values). */
export function aggregationOptions(apm: Readonly<Record<string, unknown>>): { minuteMs: number; graceMs: number } {
  const c = readDeclared(APM_AGGREGATION_OPTIONS, apm);
  const d = readDeclared(APM_AGGREGATION_OPTIONS, {});
  const minuteSecs = typeof c.minute_secs === 'number' && c.minute_secs > 0 ? c.minute_secs : Number(d.minute_secs);
  const graceSecs = typeof c.grace_secs === 'number' && c.grace_secs >= 0 ? c.grace_secs : Number(d.grace_secs);
  return { minuteMs: minuteSecs * 1000, graceMs: graceSecs * 1000 };
}
