/**
 * The config schema, derived from declarations: the agent's own options (`AGENT_OPTIONS` in
 * `schema.ts`), the options the assembly reads from each `logs[]` / `monitors[]` entry, and the
 * options every registered component declares beside its code (`lib/component.ts`). The
 * validator and `docs/configuration.md` both read what this returns, so neither can drift from
 * what the components read.
 */
import type { Component, ComponentKind, OptionDecl } from '../component.js';
import { homeOf, optionsOf } from '../component.js';
import type { OptionSpec } from './schema.js';

/** What the assembly itself reads, besides the components. */
export interface PartDeclarations {
  /** Top-level options the agent reads (data paths, plugins, the read budget…). */
  agent: readonly OptionDecl[];
  /** Keys of a `logs[]` entry the log part reads itself (`parse_format`, `operators`…); `global` ones are top-level options it reads. */
  logEntry: readonly OptionDecl[];
  /** Keys every `monitors[]` entry may have (`module`, `id`, `sample_interval`…); `global` ones are top-level options the monitor part reads. */
  monitorEntry: readonly OptionDecl[];
}

export interface ConfigSchema {
  /** Every top-level option. */
  global: OptionSpec[];
  /** Every key of a `logs[]` entry: the log part's and those of the components that read the entry. */
  logEntry: OptionSpec[];
  /** Keys every monitor entry may have; a monitor's own keys come from its component. */
  monitorEntry: OptionSpec[];
  /** The components, by kind and name (type or alias), for their own options and checks. */
  components: Record<ComponentKind, ReadonlyMap<string, Component>>;
  /** Who declares each top-level option (for docs and errors): `agent`, or `kind:type` names. */
  globalOwners: ReadonlyMap<string, string[]>;
}

/** Adds `spec` to `list` unless an equal one is there; two different specs of one name are a bug. */
function addOnce(list: OptionSpec[], spec: OptionSpec, where: string): void {
  const i = list.findIndex((o) => o.name === spec.name);
  if (i < 0) {
    list.push(strip(spec));
    return;
  }
  if (list[i] === spec || same(list[i], strip(spec))) return;
  throw new Error(`option "${spec.name}" of ${where} is declared twice, differently (share one declaration)`);
}

/** An option as the validator sees it (without where/how it is applied). */
function strip(o: OptionDecl): OptionSpec {
  const { scope: _scope, live: _live, ...spec } = o;
  return spec;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a, (_k, v) => (v instanceof RegExp ? String(v) : v)) === JSON.stringify(b, (_k, v) => (v instanceof RegExp ? String(v) : v));
}

export function schemaFrom(parts: PartDeclarations, components: readonly Component[]): ConfigSchema {
  const global: OptionSpec[] = [];
  const owners = new Map<string, string[]>();
  const own = (name: string, who: string) => owners.set(name, [...(owners.get(name) ?? []), who]);
  for (const o of parts.agent) {
    addOnce(global, o, 'the agent');
    own(o.name, 'agent');
  }
  const logEntry: OptionSpec[] = [];
  const monitorEntry: OptionSpec[] = [];
  for (const [decls, entry, who] of [
    [parts.logEntry, logEntry, 'log part'],
    [parts.monitorEntry, monitorEntry, 'monitor part'],
  ] as const) {
    for (const o of decls) {
      if (o.scope === 'global') {
        addOnce(global, o, `the ${who}`);
        if (!owners.get(o.name)?.includes(who)) own(o.name, who);
      } else addOnce(entry, o, `the ${who}`);
    }
  }
  const byKind: Record<ComponentKind, Map<string, Component>> = { source: new Map(), operator: new Map(), parser: new Map(), monitor: new Map(), sink: new Map() };
  const sections = new Map<string, OptionSpec[]>();
  for (const c of components) {
    const who = `${c.kind}:${c.type}`;
    for (const name of [c.type, ...(c.aliases ?? [])]) byKind[c.kind].set(name, c);
    for (const o of optionsOf(c, 'global')) {
      addOnce(global, o, who);
      own(o.name, who);
    }
    const home = homeOf(c);
    if (home === 'entry') for (const o of optionsOf(c)) addOnce(logEntry, o, who);
    else if (home.startsWith('section:')) {
      const section = home.slice('section:'.length);
      const fields = sections.get(section) ?? [];
      for (const o of optionsOf(c)) addOnce(fields, o, who);
      sections.set(section, fields);
      own(section, who);
    }
  }
  // A section (`apm`) is one top-level object whose fields several components share.
  for (const [section, fields] of sections) {
    const i = global.findIndex((o) => o.name === section);
    if (i < 0) {
      global.push({ name: section, type: 'object', origin: 'sluice', description: `Options of ${owners.get(section)?.join(', ')}.`, fields });
    } else {
      const merged = [...(global[i].fields ?? [])];
      for (const f of fields) addOnce(merged, f, section);
      global[i] = { ...global[i], fields: merged };
    }
  }
  return { global, logEntry, monitorEntry, components: byKind, globalOwners: owners };
}
