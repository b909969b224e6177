/**
 * Value conversions used when reading options, exactly as Scalyr's agent does them
 * (`json_lib/objects.py`, `config_util.py`):
 * - from a file: a bool is true/false, 0/1, or a string that is true unless `""`, `"f"`,
 *   `"false"`; an int truncates numbers and numeric strings; a string accepts numbers;
 * - from the environment: a bool is true only for `true` (any case); lists may be written
 *   `a, b c` or `["a","b"]`; objects and lists are parsed with the lenient JSON parser.
 * Pure functions; they never throw.
 */
import { parseLenientJson } from './lenientJson.js';

export type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const NUMERIC = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** Short description of a value for error messages (`a string "x"`, `true`, `an object`). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
    case 'number':
    case 'bigint':
      return `the number ${String(v)}`;
    case 'boolean':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

export function coerceBool(v: unknown): Coerced {
  if (typeof v === 'boolean') return { ok: true, value: v };
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (Number(v) === 0) return { ok: true, value: false };
    if (Number(v) === 1) return { ok: true, value: true };
    return { ok: false, message: `expected a boolean (true or false), got ${describeValue(v)}` };
  }
  if (typeof v === 'string') return { ok: true, value: !(v === '' || v === 'f' || v === 'false') };
  return { ok: false, message: `expected a boolean (true or false), got ${describeValue(v)}` };
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && NUMERIC.test(v)) return Number(v.trim());
  return undefined;
}

export function coerceInt(v: unknown): Coerced {
  const n = toNumber(v);
  if (n === undefined) return { ok: false, message: `expected an integer, got ${describeValue(v)}` };
  return { ok: true, value: Math.trunc(n) };
}

export function coerceFloat(v: unknown): Coerced {
  const n = toNumber(v);
  if (n === undefined) return { ok: false, message: `expected a number, got ${describeValue(v)}` };
  return { ok: true, value: n };
}

export function coerceString(v: unknown): Coerced {
  if (typeof v === 'string') return { ok: true, value: v };
  if (typeof v === 'number' || typeof v === 'bigint') return { ok: true, value: String(v) };
  return { ok: false, message: `expected a string, got ${describeValue(v)}` };
}

/** Splits an environment list value: `a, b c`, `["a", "b"]`, `[a b]`. */
export function splitEnvList(raw: string): string[] {
  let s = raw.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  return s
    .split(/[\s,]+/)
    .map((x) => x.replace(/^["']+|["']+$/g, ''))
    .filter((x) => x.length > 0);
}

/**
 * Converts an environment variable's text to the option's type. Returns the raw lenient-JSON
 * value for structured types (the caller validates it like a file value).
 */
export function coerceEnv(type: string, raw: string): Coerced {
  switch (type) {
    case 'bool':
      return { ok: true, value: raw.trim().toLowerCase() === 'true' };
    case 'int':
    case 'float': {
      if (!NUMERIC.test(raw)) return { ok: false, message: `expected a number, got ${JSON.stringify(raw)}` };
      const n = Number(raw.trim());
      return { ok: true, value: type === 'int' ? Math.trunc(n) : n };
    }
    case 'stringArray':
      return { ok: true, value: splitEnvList(raw) };
    case 'stringMap':
    case 'object':
    case 'array':
    case 'any': {
      const r = parseLenientJson(raw);
      if (!r.ok) return { ok: false, message: `cannot parse: ${r.error.message} (column ${r.error.column})` };
      return { ok: true, value: r.value };
    }
    default:
      return { ok: true, value: raw };
  }
}
