/**
 * The file source as a component: what a `logs[]` entry and the top-level reading options
 * configure (`createLogSource` in logSource.ts does the work). The assembly hands it the shared
 * services (checkpoints, read pages, the entry's per-file chain) in `ctx.services`.
 */
import { defineComponent } from '../../lib/component.js';
import { FILE_SOURCE_OPTIONS } from './options.js';
import type { LogEntryConfig } from '../../lib/config/types.js';
import { createLogSource, type LogSourceContext } from './logSource.js';

export { FILE_SOURCE_OPTIONS };

/** What the assembly passes in `ctx.services` (see {@link LogSourceContext}). */
export type FileSourceServices = Omit<LogSourceContext, 'credits' | 'logger' | 'agent'>;

export const fileSource = defineComponent({
  kind: 'source',
  type: 'file',
  home: 'entry',
  countsItself: true,
  doc: 'Tails the files a `logs[]` entry names (a path or glob), across rotation (rename, copytruncate, delete) and restarts; reads pause while the read budget is spent.',
  options: FILE_SOURCE_OPTIONS,
  example: { path: '/var/log/app/*.log' },
  create: (config, ctx) =>
    createLogSource(config as unknown as LogEntryConfig, {
      ...(ctx.services as FileSourceServices),
      credits: ctx.credits,
      logger: ctx.logger,
      agent: ctx.agent,
    }),
});
