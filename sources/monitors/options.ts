/**
 * Reading a component's options from its declarations: only the declared names are read (so a
 * component reads exactly what it declares), and an absent option gets its declared default
 * (defaults live in the declaration only, never again in the code).
 */
import type { OptionDecl, OptionScope } from '../../lib/component.js';

type Obj = Readonly<Record<string, unknown>>;

/** The declared default of `name` (a fresh copy), or undefined. */
export function declaredDefault(options: readonly OptionDecl[], name: string, scope: OptionScope = 'own'): unknown {
  const o = options.find((d) => d.name === name && (d.scope ?? 'own') === scope);
  return o?.default === undefined ? undefined : structuredClone(o.default);
}

/**
 * The values of the options of `scope` read from `from`, each declared name once, defaults filled
 * in for absent (undefined or null) ones. Nothing else of `from` is touched.
 */
export function declaredValues(options: readonly OptionDecl[], from: Obj | undefined, scope: OptionScope = 'own'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of options) {
    if ((o.scope ?? 'own') !== scope || Object.prototype.hasOwnProperty.call(out, o.name)) continue;
    const v = from?.[o.name];
    out[o.name] = v === undefined || v === null ? (o.default === undefined ? undefined : structuredClone(o.default)) : v;
  }
  return out;
}
