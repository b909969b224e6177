/**
 * The component registry: a value, not a global (Benthos' Environment). It holds component
 * values (`lib/component.ts`): built-ins are added by `createDefaultRegistry()` in
 * `app/builtins.ts`; an embedding app or a plugin module adds its own to a registry it was
 * handed, and `with()` gives a copy to change without touching the original.
 */
import type { Component, ComponentKind, FactoryOf } from './component.js';

export type {
  Component,
  ComponentContext,
  ComponentKind,
  FactoryOf,
  MonitorContext,
  MonitorFactory,
  MonitorSample,
  OperatorFactory,
  ParserFactory,
  SinkFactory,
  SourceFactory,
  SourceInstance,
} from './component.js';

export const COMPONENT_KINDS: readonly ComponentKind[] = ['source', 'parser', 'operator', 'monitor', 'sink'];

export class Registry {
  /** Per kind: every name (types and aliases) to its component. */
  private readonly maps: Record<ComponentKind, Map<string, Component>> = {
    source: new Map(),
    operator: new Map(),
    parser: new Map(),
    monitor: new Map(),
    sink: new Map(),
  };

  /** Adds (or replaces) a component under its type and aliases. Returns the registry for chaining. */
  add(component: Component): this {
    const map = this.maps[component.kind];
    if (!map) throw new Error(`unknown component kind "${String(component.kind)}" (kinds: ${COMPONENT_KINDS.join(', ')})`);
    if (typeof component.type !== 'string' || component.type === '') throw new Error(`a ${component.kind} needs a type name`);
    if (typeof component.create !== 'function') throw new Error(`${component.kind} "${component.type}": create is not a function`);
    const cm = component.counterMetrics;
    if (cm !== undefined && (!Array.isArray(cm) || !cm.every((n) => typeof n === 'string' && n !== ''))) {
      throw new Error(`${component.kind} "${component.type}": counterMetrics must be a list of metric names (or globs)`);
    }
    for (const name of [component.type, ...(component.aliases ?? [])]) map.set(name, component);
    return this;
  }

  /**
   * The old shape: a bare factory. It becomes a component that declares no options (its config
   * is passed through unvalidated; any change restarts it).
   */
  register<K extends ComponentKind>(kind: K, type: string, factory: FactoryOf<K>): this {
    return this.add({ kind, type, create: factory } as Component);
  }

  /** The component a name (type or alias) stands for. */
  component<K extends ComponentKind>(kind: K, name: string): Component<K> | undefined {
    return this.maps[kind]?.get(name) as Component<K> | undefined;
  }

  /** The factory of a name (type or alias). */
  get<K extends ComponentKind>(kind: K, name: string): FactoryOf<K> | undefined {
    return this.component(kind, name)?.create as FactoryOf<K> | undefined;
  }

  has(kind: ComponentKind, name: string): boolean {
    return this.maps[kind]?.has(name) ?? false;
  }

  /** Type names of a kind (aliases left out), sorted. */
  types(kind: ComponentKind): string[] {
    return this.components(kind).map((c) => c.type);
  }

  /** Every component of a kind (or of all kinds), once each, sorted by kind then type. */
  components(kind?: ComponentKind): Component[] {
    const kinds = kind ? [kind] : COMPONENT_KINDS;
    const out: Component[] = [];
    for (const k of kinds) {
      const seen = new Set<Component>();
      for (const c of this.maps[k].values()) seen.add(c);
      out.push(...[...seen].sort((a, b) => a.type.localeCompare(b.type)));
    }
    return out;
  }

  /** A copy to extend without changing this registry. */
  with(): Registry {
    const copy = new Registry();
    for (const c of this.components()) copy.add(c);
    return copy;
  }
}

export function createRegistry(): Registry {
  return new Registry();
}
