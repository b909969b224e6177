/**
 * The component registry: a value, not a global (Benthos' Environment). Built-ins are added by
 * `createDefaultRegistry()` in `lib/builtins.ts`; an embedding app or a plugin module adds its
 * own types to a registry it was handed, and `with()` gives a copy to change without touching
 * the original.
 */
import type { Observable, OperatorFunction } from 'rxjs';
import type { Batch, Logger, Sink } from './types.js';
import type { Credits } from './pipeline/credits.js';

export type ComponentKind = 'source' | 'operator' | 'parser' | 'monitor' | 'sink';

/** What every factory receives besides its own config. */
export interface ComponentContext {
  /** The component's id as shown in status (`logs[0]`, `linux_process_metrics(agent)`…). */
  id: string;
  logger: Logger;
  /** The whole validated agent config, read-only. */
  agent: Readonly<Record<string, unknown>>;
  /** The shared read budget (sources acquire, acks release). */
  credits: Credits;
  /** The agent's data directory (checkpoints, status, embedded sink output). */
  dataPath: string;
}

/** A monitor plugin: returns an Observable of samples (see `sources/monitors/`). */
export interface MonitorFactory {
  (config: Record<string, unknown>, ctx: MonitorContext): Observable<MonitorSample | MonitorSample[]>;
}

/** A metric sample as a monitor emits it. */
export interface MonitorSample {
  metric: string;
  value: number | string | boolean;
  fields?: Record<string, string | number | boolean>;
}

export interface MonitorContext extends ComponentContext {
  /** Seconds between samples. */
  sampleInterval: number;
}

/** An operator factory: a config slice in, an rxjs operator on batches out. */
export type OperatorFactory = (config: Record<string, unknown>, ctx: ComponentContext) => OperatorFunction<Batch, Batch>;

/** A parser is an operator selected by `parse_format` (or a plugin's name for one). */
export type ParserFactory = OperatorFactory;

/** A sink factory. */
export type SinkFactory = (config: Record<string, unknown>, ctx: ComponentContext) => Sink;

/** A source factory (file entries, span intake…). */
export type SourceFactory = (config: Record<string, unknown>, ctx: ComponentContext) => Observable<Batch>;

type FactoryOf<K extends ComponentKind> = K extends 'source'
  ? SourceFactory
  : K extends 'operator'
    ? OperatorFactory
    : K extends 'parser'
      ? ParserFactory
      : K extends 'monitor'
        ? MonitorFactory
        : SinkFactory;

export class Registry {
  private readonly maps: { [K in ComponentKind]: Map<string, FactoryOf<K>> } = {
    source: new Map(),
    operator: new Map(),
    parser: new Map(),
    monitor: new Map(),
    sink: new Map(),
  };

  /** Adds (or replaces) a component type. Returns the registry for chaining. */
  register<K extends ComponentKind>(kind: K, type: string, factory: FactoryOf<K>): this {
    (this.maps[kind] as Map<string, FactoryOf<K>>).set(type, factory);
    return this;
  }

  get<K extends ComponentKind>(kind: K, type: string): FactoryOf<K> | undefined {
    return (this.maps[kind] as Map<string, FactoryOf<K>>).get(type);
  }

  has(kind: ComponentKind, type: string): boolean {
    return this.maps[kind].has(type);
  }

  types(kind: ComponentKind): string[] {
    return [...this.maps[kind].keys()].sort();
  }

  /** A copy to extend without changing this registry. */
  with(): Registry {
    const copy = new Registry();
    for (const kind of Object.keys(this.maps) as ComponentKind[]) {
      for (const [type, f] of this.maps[kind]) copy.register(kind, type, f as never);
    }
    return copy;
  }
}

export function createRegistry(): Registry {
  return new Registry();
}
