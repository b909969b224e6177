/**
 * `parse_format: raw` (the default): lines go on as they were read. An identity operator; the
 * assembly leaves the stage out of the chain, so a raw entry costs nothing here.
 */
import { identity, type MonoTypeOperatorFunction } from 'rxjs';
import type { Batch } from '../lib/types.js';
import { defineComponent } from '../lib/component.js';

export const rawParser = defineComponent({
  kind: 'parser',
  type: 'raw',
  doc: 'Lines as they are (the default).',
  options: [],
  example: { parse_format: 'raw' },
  create: () => identity as MonoTypeOperatorFunction<Batch>,
});
