/**
 * What every part builder under `app/parts/` shares: the services a running agent hands its
 * parts, the typed part record (`kind` + a typed `status()`), and how a part's restart key is
 * derived from the components it is built from.
 */
import type { Component, OptionDecl } from '../../lib/component.js';
import { restartKey, liveValues } from '../../lib/component.js';
import type { AgentConfig } from '../../lib/config/types.js';
import type { Logger } from '../../lib/types.js';
import type { Registry } from '../../lib/registry.js';
import type { ReadBuffers } from '../../lib/pipeline/readBuffers.js';
import type { Taps } from '../../lib/pipeline/taps.js';
import type { CheckpointStore } from '../../lib/checkpoints/store.js';
import type { AgentStatus } from '../../lib/status/types.js';
import type { PartSpec, RunningPart } from '../supervisor.js';
import type { Hub } from './hub.js';

/** The services of a started agent, the same for every part. */
export interface PartContext {
  logger: Logger;
  registry: Registry;
  taps: Taps;
  /** Where parts deliver; it also holds the read budgets by route (`hub.budgets`). */
  hub: Hub;
  readBuffers?: ReadBuffers;
  checkpoints: CheckpointStore;
  stopDeadlineMs: number;
  /** The main config file's directory (relative plugin paths). */
  configDir: string;
  /** The whole agent's status (the HTTP endpoint serves it). */
  agentStatus(): AgentStatus;
}

/** A running part: its kind and a status of that kind's shape. */
export interface Part<K extends string = string, S = unknown> extends RunningPart {
  kind: K;
  status(): S;
}

/** A part spec of one kind: status groups parts by `kind`, also those that failed to start. */
export interface KindSpec<P extends Part> extends PartSpec<P> {
  kind: P['kind'];
}

/** One entry of the supervisor's list, typed for a kind. */
export interface Listed<P extends Part, S extends KindSpec<P> = KindSpec<P>> {
  key: string;
  spec: S;
  part?: P;
  error?: string;
}

/** Which components a part is built from, with the config object holding their own options. */
export interface Built {
  components: readonly Pick<Component, 'type' | 'options'>[];
  own: Readonly<Record<string, unknown>>;
}

/** A set of declarations that is not a registered component (the log part's own keys…). */
export function declared(type: string, options: readonly OptionDecl[]): Pick<Component, 'type' | 'options'> {
  return { type, options };
}

/** A component a config names that the registry does not hold (a plugin module by path): it declares nothing. */
export function undeclared(type: string): Pick<Component, 'type' | 'options'> {
  return { type, options: undefined };
}

/**
 * A part's restart key and live values, from the declarations of the components it is built
 * from (`restartKey`/`liveValues` of lib/component.ts): nothing here lists option names.
 */
export function derive(groups: readonly Built[], agent: AgentConfig): { slice: unknown[]; live: Record<string, unknown> } {
  const a = agent as unknown as Record<string, unknown>;
  return {
    slice: groups.map((g) => restartKey(g.components, g.own, a)),
    live: Object.assign({}, ...groups.map((g) => liveValues(g.components, g.own, a))),
  };
}
