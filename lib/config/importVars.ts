/**
 * `import_vars` and `$NAME` substitution, per file, exactly as Scalyr's agent does it:
 * - entries are names or `{var, default}`; the value is the environment variable when set and
 *   non-empty, else the default (`""` for plain names);
 * - every string value (not keys, not numbers) of the file's objects and arrays is rewritten,
 *   replacing each `$NAME`, names tried longest first, as plain text (so `x$FOOy` with `FOO`
 *   imported becomes `x<value>y`); no `${}` form, no escaping; unlisted names stay as written.
 * Mutates the parsed tree in place (containers keep their identity, so source locations stay).
 */
import { Diagnostics, joinPath } from './errors.js';
import { locationOf } from './lenientJson.js';
import { describeValue } from './coerce.js';

/** Reads the file's `import_vars` and substitutes in `root` (one file's parsed top-level object). */
export function applyImportVars(root: Record<string, unknown>, env: NodeJS.ProcessEnv, diag: Diagnostics): void {
  if (!Object.prototype.hasOwnProperty.call(root, 'import_vars')) return;
  const list = root.import_vars;
  if (!Array.isArray(list)) {
    diag.error('import_vars', `expected a list of variable names, got ${describeValue(list)}`, locationOf(root, 'import_vars'), 'badType');
    return;
  }
  const vars = new Map<string, string>();
  list.forEach((item, i) => {
    const path = joinPath('import_vars', i);
    let name: unknown;
    let def: unknown = '';
    if (typeof item === 'string') name = item;
    else if (item && typeof item === 'object' && !Array.isArray(item)) {
      const o = item as Record<string, unknown>;
      name = o.var;
      if (o.default !== undefined) def = o.default;
      for (const k of Object.keys(o)) {
        if (k !== 'var' && k !== 'default') diag.warn(joinPath(path, k), `unknown key "${k}" (expected "var" and "default")`, locationOf(o, k, 'key'), 'unknownKey');
      }
      if (typeof def === 'number' || typeof def === 'bigint') def = String(def);
      if (typeof def !== 'string') {
        diag.error(joinPath(path, 'default'), `expected a string, got ${describeValue(def)}`, locationOf(o, 'default'), 'badType');
        return;
      }
      if (name === undefined) {
        diag.error(path, 'missing required key "var"', locationOf(list, i), 'missingRequired');
        return;
      }
    } else {
      diag.error(path, `expected a variable name or {var, default}, got ${describeValue(item)}`, locationOf(list, i), 'badType');
      return;
    }
    if (typeof name !== 'string' || name === '') {
      diag.error(path, `expected a variable name, got ${describeValue(name)}`, locationOf(list, i), 'badType');
      return;
    }
    const fromEnv = env[name];
    vars.set(name, fromEnv !== undefined && fromEnv !== '' ? fromEnv : (def as string));
  });
  if (vars.size === 0) return;
  const names = [...vars.keys()].sort((a, b) => b.length - a.length);
  const substitute = (s: string): string => {
    if (!s.includes('$')) return s;
    for (const n of names) {
      const token = '$' + n;
      if (s.includes(token)) s = s.split(token).join(vars.get(n)!);
    }
    return s;
  };
  const walk = (container: Record<string, unknown> | unknown[]): void => {
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const v = container[i];
        if (typeof v === 'string') container[i] = substitute(v);
        else if (v && typeof v === 'object') walk(v as Record<string, unknown>);
      }
      return;
    }
    for (const k of Object.keys(container)) {
      const v = container[k];
      if (typeof v === 'string') container[k] = substitute(v);
      else if (v && typeof v === 'object') walk(v as Record<string, unknown>);
    }
  };
  for (const k of Object.keys(root)) {
    if (k === 'import_vars') continue;
    const v = root[k];
    if (typeof v === 'string') root[k] = substitute(v);
    else if (v && typeof v === 'object') walk(v as Record<string, unknown>);
  }
}
