/**
 * Turns the merged top-level object (all files, after `import_vars`) into the fully defaulted
 * {@link AgentConfig}, driven by the schema it is given ({@link ConfigSchema}, derived from the
 * declarations of the agent and of every registered component: `derive.ts`). A monitor entry,
 * a log entry's `operators[]` item, the `sink` object and a `sources[]` item whose type names a
 * component that declares its options are read with those options (unknown keys warn, the
 * component's `check` gives errors at that entry); a component that declares nothing keeps its
 * keys unvalidated.
 *
 * Promises: every problem is collected (not just the first) with its key path and, when the value
 * came from a file, its file:line:column; unknown keys are warnings (the value is kept), so Scalyr
 * configs with options sluice does not implement still load; regular expressions are compiled with
 * `compilePythonRegex` so a bad pattern is caught before anything starts. Never throws.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compilePythonRegex } from '../regex.js';
import type { AgentConfig, ApmConfig, LogEntryConfig, MonitorConfig } from './types.js';
import { Diagnostics, joinPath } from './errors.js';
import { locationOf, type SourceLocation } from './lenientJson.js';
import { coerceBool, coerceEnv, coerceFloat, coerceInt, coerceString, describeValue, type Coerced } from './coerce.js';
import { CONTINUATION_KEYS, envNamesFor, unsupportedScalyrMonitor, type OptionSpec } from './schema.js';
import type { ConfigSchema } from './derive.js';
import type { Component, ComponentKind } from '../component.js';
import { homeOf, optionsOf } from '../component.js';

/** What {@link buildConfig} needs besides the merged object. */
export interface BuildContext {
  /** Directory relative `agent_data_path`, `agent_log_path`, socket and plugin paths resolve against. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  hostname: string;
  diag: Diagnostics;
  /** Values as written before `import_vars` substitution (see {@link RawValues}). */
  raw?: RawValues;
  /** The options to validate against (`schemaFrom` in derive.ts). */
  schema: ConfigSchema;
}

/** What some options said before `import_vars` substitution (for error messages). */
export interface RawValues {
  api_key?: { text: string; importVars: string[] };
}

/** `$NAME` references in a string value. */
const VAR_REF = /\$([A-Za-z_][A-Za-z0-9_]*)/g;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}

function suggestion(key: string, known: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean "${best}"?)` : '';
}

/** JSON text for comparisons (bigints as text). */
const safeJson = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

/** Special Scalyr error codes for some fields. */
function typeCode(spec: OptionSpec): string {
  return spec.type === 'int' || spec.type === 'float' ? 'notNumber' : 'badType';
}
function rangeCode(spec: OptionSpec): string {
  if (spec.name === 'sampling_rate') return 'notPercentage';
  if (spec.name === 'debug_level') return 'badDebugLevel';
  return 'badValue';
}

/** Compiles a Python-syntax regex; returns the error text or undefined. */
function regexError(pattern: string): string | undefined {
  try {
    compilePythonRegex(pattern);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Strings that clearly mean yes or no (case-insensitive, surrounding blanks ignored). */
const OBVIOUS_BOOL = /^\s*(?:true|false|yes|no|on|off|1|0|t|f)\s*$/i;
const OBVIOUS_FALSE = /^\s*(?:false|no|off|0|f)\s*$/i;

/**
 * A file bool: Scalyr's lenient reading (JSON bool; 0/1; a string is true unless "", "f" or
 * "false"), except that a string clearly meaning no (`"no"`, `"off"`, `"0"`, `"False"`, `"F"`)
 * is false: Scalyr reads those as true, which is never what the writer meant.
 */
function readBool(value: unknown): Coerced {
  if (typeof value === 'string' && OBVIOUS_FALSE.test(value)) return { ok: true, value: false };
  return coerceBool(value);
}

/** "accepted, no effect" with the reason (the option's description says why). */
function noEffectMessage(spec: OptionSpec): string {
  return `"${spec.name}" is accepted for compatibility with Scalyr's agent but has no effect in sluice: ${spec.description}`;
}

class Reader {
  constructor(readonly diag: Diagnostics) {}

  /**
   * Reads `container[key]` per `spec` (value already known to be present). Returns undefined on
   * error (after reporting it).
   */
  read(spec: OptionSpec, container: object, key: string | number, p: string, value: unknown, loc?: SourceLocation): { value: unknown } | undefined {
    const at = loc ?? locationOf(container, key);
    const fail = (message: string, code: string) => {
      this.diag.error(p, message, at, code);
      return undefined;
    };
    let c: Coerced;
    switch (spec.type) {
      case 'bool':
        c = readBool(value);
        if (c.ok && typeof value === 'string' && !OBVIOUS_BOOL.test(value)) {
          this.diag.warn(
            p,
            `${JSON.stringify(value)} is not a clear yes/no; read as ${String(c.value)} (Scalyr's reading: a string is true unless it is "", "f" or "false"). Write true or false`,
            at,
            'unclearBool',
          );
        } else if (c.ok && typeof value === 'string' && c.value === false && value !== '' && value !== 'f' && value !== 'false') {
          // Read as the writer meant, but say so: the Scalyr Agent 2 takes this same string as true.
          this.diag.warn(p, `${JSON.stringify(value)} read as false; the Scalyr Agent 2 reads it as true. Write false to mean the same to both`, at, 'boolDiffersFromScalyr');
        }
        break;
      case 'int':
        c = coerceInt(value);
        break;
      case 'float':
        c = coerceFloat(value);
        break;
      case 'string':
        c = coerceString(value);
        // Paths, names and URLs never hold a NUL byte (Node refuses such paths with no location).
        if (c.ok && (c.value as string).includes('\0')) return fail('must not contain a NUL byte (\\u0000)', 'badValue');
        break;
      case 'regex': {
        c = coerceString(value);
        if (c.ok) {
          const err = regexError(c.value as string);
          if (err !== undefined) return fail(/^invalid regular expression/i.test(err) ? err : `invalid regular expression: ${err}`, 'notRegexp');
        }
        break;
      }
      case 'stringArray': {
        if (!Array.isArray(value)) return fail(`expected a list of strings, got ${describeValue(value)}`, 'badType');
        const out: string[] = [];
        let bad = false;
        value.forEach((item, i) => {
          const s = coerceString(item);
          if (!s.ok) {
            this.diag.error(joinPath(p, i), s.message, locationOf(value, i), 'badType');
            bad = true;
          } else out.push(s.value as string);
        });
        return bad ? undefined : { value: out };
      }
      case 'stringMap': {
        if (!isObj(value)) return fail(`expected an object of string values, got ${describeValue(value)}`, 'badType');
        const out: Record<string, string> = {};
        let bad = false;
        for (const k of Object.keys(value)) {
          const s = coerceString(value[k]);
          if (!s.ok) {
            this.diag.error(joinPath(p, k), s.message, locationOf(value, k), 'badType');
            bad = true;
          } else out[k] = s.value as string;
        }
        return bad ? undefined : { value: out };
      }
      case 'object': {
        if (!isObj(value)) return fail(`expected an object, got ${describeValue(value)}`, 'badType');
        if (!spec.fields) return { value };
        return { value: this.readFields(spec.fields, value, p, { openFields: spec.openFields }) };
      }
      case 'array': {
        if (!Array.isArray(value)) return fail(`expected a list, got ${describeValue(value)}`, 'badType');
        return { value };
      }
      default:
        return { value };
    }
    if (!c.ok) return fail(c.message, typeCode(spec));
    const v = c.value;
    if (typeof v === 'number') {
      if (spec.min !== undefined && v < spec.min) return fail(`must be at least ${spec.min}, got ${v}`, rangeCode(spec));
      if (spec.max !== undefined && v > spec.max) return fail(`must be at most ${spec.max}, got ${v}`, rangeCode(spec));
    }
    if (spec.enum && typeof v === 'string' && !spec.enum.includes(v)) {
      return fail(`must be one of ${spec.enum.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`, 'badValue');
    }
    return { value: v };
  }

  /**
   * Reads an object's fields per `specs`: defaults for absent fields, errors for missing required
   * ones, warnings for unknown keys (kept as they are).
   */
  readFields(specs: OptionSpec[], obj: Obj, p: string, opts: { openFields?: boolean } = {}): Obj {
    const out: Obj = {};
    const byName = new Map(specs.map((s) => [s.name, s]));
    for (const spec of specs) {
      if (has(obj, spec.name) && obj[spec.name] !== undefined) {
        const r = this.read(spec, obj, spec.name, joinPath(p, spec.name), obj[spec.name]);
        if (r) out[spec.name] = r.value;
        if (r && spec.noEffect && safeJson(r.value) !== safeJson(spec.default)) {
          this.diag.warn(joinPath(p, spec.name), noEffectMessage(spec), locationOf(obj, spec.name, 'key'), 'noEffect');
        }
      } else if (spec.required) {
        this.diag.error(joinPath(p, spec.name), `missing required option "${spec.name}"`, locationOf(obj), 'missingRequired');
      } else if (spec.default !== undefined) {
        out[spec.name] = structuredClone(spec.default);
      }
    }
    for (const k of Object.keys(obj)) {
      if (byName.has(k)) continue;
      if (!opts.openFields) {
        this.diag.warn(joinPath(p, k), `unknown option "${k}"${suggestion(k, byName.keys())}; kept but not used by sluice`, locationOf(obj, k, 'key'), 'unknownKey');
      }
      out[k] = obj[k];
    }
    return out;
  }
}

const PROXY_URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/]+(?:\/\S*)?$/;

/** Parses a `max_send_rate_enforcement` rate into bytes per second; undefined if malformed. */
export function parseDataRate(s: string): number | undefined {
  const m = /^\s*(-?\d+\.?\d*)\s*([kKmMgGtT]?)([iI]?)([bB])\/([sSmMhHdDwW])\s*$/.exec(s);
  if (!m) return undefined;
  if (m[4] === 'b') return undefined; // bits are rejected
  const base = m[3] ? 1024 : 1000;
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const per = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[5].toLowerCase() as 's' | 'm' | 'h' | 'd' | 'w'];
  const v = (Number(m[1]) * base ** power) / per;
  return v >= 0 ? v : undefined;
}

const RATE_OVERRIDES: Record<string, number> = {
  max_allowed_request_size: 5900000,
  pipeline_threshold: 0,
  min_request_spacing_interval: 0,
  max_request_spacing_interval: 5,
  max_log_offset_size: 200000000,
  max_existing_log_offset_size: 200000000,
};

const COMPRESSION: Record<string, { def: number; min: number; max: number }> = {
  deflate: { def: 6, min: 1, max: 9 },
  bz2: { def: 9, min: 1, max: 9 },
  lz4: { def: 0, min: 0, max: 16 },
  zstandard: { def: 3, min: 1, max: 22 },
  none: { def: 0, min: 0, max: 0 },
};

/** Builds the validated config from the merged top-level object. Undefined if there were errors. */
export function buildConfig(root: Obj, ctx: BuildContext): AgentConfig | undefined {
  const { diag, env, baseDir, schema } = ctx;
  const errorsBefore = diag.errors.length;
  const reader = new Reader(diag);
  const globalByName = new Map(schema.global.map((o) => [o.name, o]));
  const out: Obj = {};
  const userSet = new Set<string>();

  for (const key of Object.keys(root)) {
    if (globalByName.has(key) || key === 'import_vars') continue;
    diag.warn(key, `unknown option "${key}"${suggestion(key, globalByName.keys())}; kept but not used by sluice`, locationOf(root, key, 'key'), 'unknownKey');
    out[key] = root[key];
  }

  // In the order the file has them (then the rest in declaration order), so problems are listed as written.
  const position = new Map(Object.keys(root).map((k, i) => [k, i]));
  const inFileOrder = schema.global
    .map((spec, i) => ({ spec, at: position.get(spec.name) ?? Object.keys(root).length + i }))
    .sort((x, y) => x.at - y.at)
    .map((x) => x.spec);
  for (const spec of inFileOrder) {
    if (spec.name === 'import_vars') continue;
    const inFile = has(root, spec.name) && root[spec.name] !== undefined;
    const envName = envNamesFor(spec).find((n) => env[n] !== undefined);
    if (inFile) {
      userSet.add(spec.name);
      const r = reader.read(spec, root, spec.name, spec.name, root[spec.name]);
      if (r) out[spec.name] = r.value;
      const fromEnv = envName !== undefined ? coerceEnv(spec.type, env[envName] as string) : undefined;
      const same = fromEnv?.ok === true && r !== undefined && safeJson(fromEnv.value) === safeJson(r.value);
      if (envName !== undefined && !same) {
        diag.warn(
          spec.name,
          `Conflicting values detected between global config file parameter \`${spec.name}\` and the environment variable \`${envName}\`. Ignoring environment variable.`,
          locationOf(root, spec.name, 'key'),
        );
      }
    } else if (envName !== undefined) {
      userSet.add(spec.name);
      const raw = env[envName] as string;
      const c = coerceEnv(spec.type, raw);
      if (!c.ok) {
        diag.error(spec.name, `environment variable ${envName}: ${c.message}`, undefined, typeCode(spec));
        continue;
      }
      // Validate the converted value like a file value (ranges, regexes, nested objects).
      const holder: Obj = { [spec.name]: c.value };
      const before = diag.errors.length;
      const r = reader.read(spec, holder, spec.name, spec.name, c.value);
      for (let i = before; i < diag.errors.length; i++) diag.errors[i].message = `environment variable ${envName}: ${diag.errors[i].message}`;
      if (r) out[spec.name] = r.value;
    } else if (spec.default !== undefined) {
      out[spec.name] = structuredClone(spec.default);
    }
  }

  // --- api key / embedded sink
  // Only a config with no api_key at all uses the embedded default sink; an api_key that is
  // present but empty (or an unsubstituted `$NAME`) is a mistake that would otherwise send events
  // somewhere the user did not mean (Scalyr's agent refuses it too: emptyApiKey).
  const apiKeySpec = globalByName.get('api_key');
  const apiKeyEnv = apiKeySpec ? envNamesFor(apiKeySpec).find((n) => env[n] !== undefined) : undefined;
  const apiKeyInFile = has(root, 'api_key') && root.api_key !== undefined;
  if (!apiKeyInFile && apiKeyEnv === undefined) {
    out.api_key = '';
    out.embedded_default = true;
    diag.warn('api_key', 'no api_key configured: events go to the embedded default sink (see embedded_output) instead of Scalyr', undefined, 'emptyApiKey');
  } else {
    out.embedded_default = false;
    const key = typeof out.api_key === 'string' ? out.api_key : undefined;
    const at = apiKeyInFile ? locationOf(root, 'api_key') : undefined;
    const raw = apiKeyInFile ? ctx.raw?.api_key : undefined;
    const refs = (s: string) => [...new Set([...s.matchAll(VAR_REF)].map((m) => m[1]))];
    const envState = (n: string) => (env[n] === undefined ? 'is not set' : env[n] === '' ? 'is set but empty' : 'is set');
    if (key !== undefined && key.trim() === '') {
      let why: string;
      if (!apiKeyInFile) why = `the environment variable ${apiKeyEnv} is set but empty`;
      else if (raw && refs(raw.text).length > 0) {
        why = `it is ${JSON.stringify(raw.text)} and ${refs(raw.text)
          .map((n) => `the environment variable ${n} ${envState(n)}`)
          .join(', ')} (imported with import_vars, so it became empty)`;
      } else why = 'it is set to an empty string';
      diag.error(
        'api_key',
        `api_key is empty: ${why}. Set the key (or the variable), or remove api_key altogether to write events to the embedded default sink`,
        at,
        'emptyApiKey',
      );
    } else if (key !== undefined && refs(key).length > 0) {
      const names = refs(key);
      diag.error(
        'api_key',
        `api_key ${JSON.stringify(key)} still holds ${names.map((n) => `$${n}`).join(', ')}: ${names
          .map((n) => `the environment variable ${n} ${envState(n)}`)
          .join(', ')}, but $NAME is only replaced for variables listed in import_vars of the same file. Add import_vars: [${names
          .map((n) => JSON.stringify(n))
          .join(', ')}] to that file`,
        at,
        'emptyApiKey',
      );
    }
  }

  // --- scalyr_server
  if (typeof out.scalyr_server === 'string') {
    let server = out.scalyr_server;
    if (!out.allow_http) {
      server = server.trim();
      if (/^http:\/\//i.test(server)) {
        // Scalyr's agent rewrites http:// to https:// unless allow_http (kept for compatibility), but
        // a plain-HTTP server then fails every upload with a TLS error (EPROTO): say so up front.
        server = 'https://' + server.slice(7);
        diag.warn(
          'scalyr_server',
          `${JSON.stringify(out.scalyr_server)} is rewritten to ${JSON.stringify(server.replace(/\/$/, ''))} because allow_http is not true; uploads use TLS and fail (EPROTO) if that server only speaks plain HTTP. Write https:// to silence this, or set allow_http: true to really use http://`,
          locationOf(root, 'scalyr_server'),
          'httpRewritten',
        );
      }
      else if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(server)) server = 'https://' + server;
      if (!/^https:\/\/[^\s/:?#]+(?::\d{1,5})?\/?$/i.test(server)) {
        diag.error('scalyr_server', `must look like https://host[:port] (no path), got ${JSON.stringify(out.scalyr_server)}`, locationOf(root, 'scalyr_server'), 'badValue');
      }
      server = server.replace(/\/$/, '');
    } else if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(server)) {
      diag.warn('scalyr_server', `has no scheme (http:// or https://): ${JSON.stringify(server)}`, locationOf(root, 'scalyr_server'), 'badValue');
    }
    out.scalyr_server = server;
  }

  for (const proxy of ['https_proxy', 'http_proxy']) {
    const v = out[proxy];
    if (typeof v === 'string' && v !== '' && !PROXY_URL.test(v)) {
      diag.error(proxy, `must be a URL like http://proxy.example:3128, got ${JSON.stringify(v)}`, locationOf(root, proxy), 'badValue');
    }
  }

  // --- server attributes
  const attrs = (isObj(out.server_attributes) ? out.server_attributes : {}) as Record<string, string>;
  if (attrs.serverHost === undefined || attrs.serverHost === '') {
    attrs.serverHost = out.strip_domain_from_default_server_host ? ctx.hostname.split('.')[0] : ctx.hostname;
  }
  out.server_attributes = attrs;

  // --- paths
  const resolve = (p: unknown) => (typeof p === 'string' ? path.resolve(baseDir, p) : p);
  out.agent_data_path = resolve(out.agent_data_path);
  out.agent_log_path = resolve(out.agent_log_path);
  out.config_directory = resolve(out.config_directory);
  out.embedded_output = typeof out.embedded_output === 'string' ? resolve(out.embedded_output) : path.join(out.agent_data_path as string, 'events');
  if (Array.isArray(out.plugins)) {
    out.plugins = (out.plugins as string[]).map((p) => (p.startsWith('./') || p.startsWith('../') ? path.resolve(baseDir, p) : p));
  }
  for (const f of ['ca_cert_path']) if (typeof out[f] === 'string') out[f] = resolve(out[f]);

  // --- compression
  const ctype = String(out.compression_type ?? 'deflate');
  if (ctype !== 'deflate' && ctype !== 'none' && COMPRESSION[ctype]) {
    diag.warn('compression_type', `"${ctype}" is accepted for compatibility, but sluice sends deflate`, locationOf(root, 'compression_type'), 'badValue');
  }
  const comp = COMPRESSION[ctype] ?? COMPRESSION.deflate;
  if (out.compression_level === undefined) out.compression_level = comp.def;
  else if ((out.compression_level as number) < comp.min || (out.compression_level as number) > comp.max) {
    diag.warn(
      'compression_level',
      `${out.compression_level} is out of range ${comp.min}..${comp.max} for ${ctype}; using ${comp.def}`,
      locationOf(root, 'compression_level'),
      'badValue',
    );
    out.compression_level = comp.def;
  }

  // --- send rate enforcement (Scalyr overrides six options unless legacy)
  const mode = String(out.max_send_rate_enforcement ?? 'unlimited');
  out.max_send_rate_bytes_per_second = null;
  if (mode !== 'unlimited' && mode !== 'legacy') {
    const rate = parseDataRate(mode);
    if (rate === undefined) {
      diag.error(
        'max_send_rate_enforcement',
        `must be "unlimited", "legacy" or a rate like "2MB/s" or "500 KiB/m" (bytes, not bits), got ${JSON.stringify(mode)}`,
        locationOf(root, 'max_send_rate_enforcement'),
        'badValue',
      );
    } else out.max_send_rate_bytes_per_second = rate;
  }
  if (mode !== 'legacy' && !out.disable_max_send_rate_enforcement_overrides) {
    for (const [k, v] of Object.entries(RATE_OVERRIDES)) {
      if (userSet.has(k) && out[k] !== v) {
        diag.warn(k, `Configured option ${k} is being overridden due to max_send_rate_enforcement setting.`, locationOf(root, k), 'overridden');
      }
      out[k] = v;
    }
  }

  if (globalByName.has('internal_parse_max_line_size') && out.internal_parse_max_line_size === undefined) out.internal_parse_max_line_size = out.read_page_size;

  // --- accepted-but-ignored Scalyr options: say so when the user set them to something else
  for (const spec of schema.global) {
    if (!spec.noEffect || !userSet.has(spec.name)) continue;
    if (safeJson(out[spec.name]) === safeJson(spec.default)) continue;
    diag.warn(spec.name, noEffectMessage(spec), locationOf(root, spec.name, 'key'), 'noEffect');
  }

  // --- TLS: a configured CA file must exist when certificates are verified (fail early, not at first upload)
  if (out.verify_server_certificate && typeof out.ca_cert_path === 'string' && !fs.existsSync(out.ca_cert_path)) {
    diag.error('ca_cert_path', `file not found: ${out.ca_cert_path}`, locationOf(root, 'ca_cert_path'), 'badValue');
  }

  // --- objects with declared fields (apm, http_endpoint, upload…) are always present
  // (present objects were read with their fields by the loop above; absent ones get defaults here)
  for (const spec of schema.global) {
    // (A declared default object, e.g. `upload: {}`, still gets its fields' defaults.)
    if (spec.type === 'object' && spec.fields && (!isObj(out[spec.name]) || !userSet.has(spec.name))) {
      out[spec.name] = reader.readFields(spec.fields, isObj(out[spec.name]) ? (out[spec.name] as Obj) : {}, spec.name);
    }
  }
  if (isObj(out.apm)) readApm(out.apm as ApmConfig, root, out, baseDir, diag);
  // Sections several components share (`apm`): each one's cross-field check on the section.
  for (const c of new Set([...Object.values(schema.components).flatMap((m) => [...m.values()])])) {
    const home = homeOf(c);
    if (!home.startsWith('section:')) continue;
    const section = home.slice('section:'.length);
    if (isObj(out[section])) reportProblems(diag, c, out[section] as Obj, isObj(root[section]) ? (root[section] as Obj) : {}, section);
  }

  // --- the sink object: its type's declared options
  if (isObj(root.sink) && isObj(out.sink)) {
    out.sink = readTyped(reader, schema, 'sink', root.sink, 'sink', locationOf(root, 'sink'), undefined, out.api_key ? 'addEvents' : 'embedded');
  }
  // --- sources[]: each item's type's declared options
  const sourcesSpec = globalByName.get('sources');
  if (sourcesSpec && Array.isArray(root.sources)) {
    out.sources = readTypedList(reader, schema, 'source', root.sources, 'sources', sourcesSpec.fields);
  }

  // --- logs
  const logs: LogEntryConfig[] = [];
  const rawLogs = Array.isArray(root.logs) ? root.logs : Array.isArray(out.logs) ? (out.logs as unknown[]) : [];
  rawLogs.forEach((entry, i) => {
    const e = readLogEntry(reader, schema, rawLogs, i, entry, out.agent_log_path as string, baseDir);
    if (e) logs.push(e);
  });
  if (out.implicit_agent_log_collection) {
    logs.push(
      defaultLogEntry(schema, { path: path.join(out.agent_log_path as string, 'agent.log'), attributes: { parser: 'scalyrAgentLog' }, implicit: true }),
    );
  }

  // --- monitors
  const monitors: MonitorConfig[] = [];
  const rawMonitors = Array.isArray(root.monitors) ? root.monitors : Array.isArray(out.monitors) ? (out.monitors as unknown[]) : [];
  rawMonitors.forEach((entry, i) => {
    const m = readMonitor(reader, schema, rawMonitors, i, entry, out.global_monitor_sample_interval as number);
    if (m) monitors.push(m);
  });
  if (out.implicit_metric_monitor) {
    monitors.push({ module: 'scalyr_agent.builtin_monitors.linux_system_metrics', sample_interval: out.global_monitor_sample_interval as number, implicit: true });
  }
  if (out.implicit_agent_process_metrics_monitor) {
    monitors.push({
      module: 'scalyr_agent.builtin_monitors.linux_process_metrics',
      pid: '$$',
      id: 'agent',
      sample_interval: out.global_monitor_sample_interval as number,
      implicit: true,
    });
  }
  out.monitors = monitors;

  // --- the log files monitors write (syslog's message_log…): logs entries, unless one exists
  for (const m of monitors) {
    const c = monitorComponentOf(schema, m.module);
    if (!c?.logs) continue;
    let wanted: ReturnType<NonNullable<Component['logs']>>;
    try {
      wanted = c.logs(m as unknown as Obj, out);
    } catch {
      continue; // its check already said what is wrong
    }
    for (const w of wanted) {
      const user = logs.find((e) => e.path === w.path);
      if (user) user.attributes = { ...(w.attributes ?? {}), ...(user.attributes ?? {}) };
      else logs.push(defaultLogEntry(schema, { path: w.path, attributes: { ...(w.attributes ?? {}) }, ...(w.copy_from_start ? { copy_from_start: true } : {}) }));
    }
  }
  out.logs = logs;

  // --- named sinks and the routes that pick them
  if (has(root, 'sinks') && root.sinks !== undefined) out.sinks = readNamedSinks(reader, schema, root, out);
  if (isObj(out.otlp_receiver) && (out.otlp_receiver as Obj).enabled === undefined) (out.otlp_receiver as Obj).enabled = isObj(root.otlp_receiver);
  checkRoutes(diag, root, out);

  if (diag.errors.length > errorsBefore) return undefined;
  return numbersForBigints(out) as AgentConfig;
}

/** A sink name: what a route can spell in a JSON list and a status key. */
const SINK_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The top-level `sinks` object: each value `{type, ...options}`, read with that sink's declared
 * options. A sink's declared top-level options (addEvents's `api_key`, `scalyr_server`…) may be
 * set in its object too, for that sink alone; unset ones come from the top level.
 */
function readNamedSinks(reader: Reader, schema: ConfigSchema, root: Obj, out: Obj): Obj | undefined {
  const diag = reader.diag;
  const raw = root.sinks;
  if (!isObj(raw)) {
    diag.error('sinks', `expected an object of named sinks like { "otel": { "type": "otlp", ... } }, got ${describeValue(raw)}`, locationOf(root, 'sinks'), 'badType');
    return undefined;
  }
  if (isObj(root.sink)) diag.warn('sink', 'ignored: `sinks` names the destinations (add this one there with a name)', locationOf(root, 'sink', 'key'), 'overridden');
  const res: Obj = {};
  const names = Object.keys(raw);
  if (names.length === 0) diag.error('sinks', 'names no sink: give at least one, or leave `sinks` out for the default one', locationOf(root, 'sinks'), 'badValue');
  for (const name of names) {
    const p = joinPath('sinks', name);
    const item = raw[name];
    if (!SINK_NAME.test(name)) {
      diag.error(p, `sink name "${name}" must be 1–64 letters, digits, '_', '.' or '-'`, locationOf(raw, name, 'key'), 'badValue');
      continue;
    }
    if (!isObj(item)) {
      diag.error(p, `expected an object like { type: "otlp", ... }, got ${describeValue(item)}`, locationOf(raw, name), 'badType');
      continue;
    }
    const type = item.type;
    // A schema of the agent's own options only (what finds the agent: `status`, `stop`…) knows no sinks.
    if (schema.components.sink.size === 0) {
      res[name] = item;
      continue;
    }
    const c = typeof type === 'string' ? schema.components.sink.get(type) : undefined;
    if (typeof type !== 'string') {
      diag.error(joinPath(p, 'type'), `missing required option "type" (one of: ${[...new Set([...schema.components.sink.values()].map((x) => x.type))].join(', ')})`, locationOf(item), 'missingRequired');
      continue;
    }
    if (!c) {
      diag.error(joinPath(p, 'type'), `no sink type "${type}"${suggestion(type, schema.components.sink.keys())} (registered: ${[...new Set([...schema.components.sink.values()].map((x) => x.type))].join(', ')})`, locationOf(item, 'type'), 'badValue');
      continue;
    }
    if (c.options === undefined) {
      res[name] = item;
      continue;
    }
    // Its top-level options, when set here, override the top-level values for this sink only.
    const overrides = optionsOf(c, 'global')
      .filter((o) => has(item, o.name))
      .map((o) => ({ ...o, default: undefined }));
    res[name] = readOwn(reader, [TYPE_KEY, ...optionsOf(c), ...overrides], item, p);
    reportProblems(diag, c, res[name] as Obj, item, p);
  }
  void out;
  return res;
}

/** The sink names a config has: its `sinks`, else the one `default` sink. */
export function sinkNamesOf(cfg: Readonly<Record<string, unknown>>): string[] {
  return isObj(cfg.sinks) ? Object.keys(cfg.sinks) : ['default'];
}

/** Every `sinks: [...]` route names sinks that exist. */
function checkRoutes(diag: Diagnostics, root: Obj, out: Obj): void {
  const known = sinkNamesOf(out);
  const check = (list: unknown, p: string, at: SourceLocation | undefined) => {
    if (!Array.isArray(list)) return;
    list.forEach((n, i) => {
      if (typeof n === 'string' && known.includes(n)) return;
      diag.error(joinPath(joinPath(p, 'sinks'), i), `no sink named ${JSON.stringify(n)}${typeof n === 'string' ? suggestion(n, known) : ''} (sinks: ${known.join(', ')})`, at, 'badValue');
    });
  };
  const rawLogs = Array.isArray(root.logs) ? root.logs : [];
  (out.logs as LogEntryConfig[]).forEach((e, i) => check(e.sinks, joinPath('logs', i), locationOf(rawLogs[i] ?? {}, 'sinks')));
  const rawMonitors = Array.isArray(root.monitors) ? root.monitors : [];
  (out.monitors as MonitorConfig[]).forEach((m, i) => check(m.sinks, joinPath('monitors', i), locationOf(rawMonitors[i] ?? {}, 'sinks')));
  for (const section of ['apm', 'otlp_receiver']) {
    if (isObj(out[section])) check((out[section] as Obj).sinks, section, isObj(root[section]) ? locationOf(root[section], 'sinks') : undefined);
  }
}

/** The APM section's paths and addresses (relative socket path, `host:port`, ingest URL). */
function readApm(apm: ApmConfig, root: Obj, out: Obj, baseDir: string, diag: Diagnostics): void {
  apm.socket_path = typeof apm.socket_path === 'string' ? path.resolve(baseDir, apm.socket_path) : path.join(out.agent_data_path as string, 'core-agent.sock');
  if (apm.tcp !== undefined && !/^[^\s:]*:\d{1,5}$/.test(apm.tcp)) {
    diag.error('apm.tcp', `must be "host:port", got ${JSON.stringify(apm.tcp)}`, locationOf(root.apm, 'tcp'), 'badValue');
  }
  if (apm.ingest_url !== undefined && !/^https?:\/\/[^\s/]+/i.test(apm.ingest_url)) {
    diag.error('apm.ingest_url', `must be an http(s):// URL, got ${JSON.stringify(apm.ingest_url)}`, locationOf(root.apm, 'ingest_url'), 'badValue');
  }
}

/**
 * Integers beyond 2^53 are parsed exactly (bigint); options that take numbers already converted
 * them. Values passed through unchanged (monitor options, unknown keys, `tests`) get a `number`
 * too, so the config stays JSON-serialisable.
 */
function numbersForBigints(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = numbersForBigints(v[i]);
  } else if (v !== null && typeof v === 'object') {
    const o = v as Obj;
    for (const k of Object.keys(o)) o[k] = numbersForBigints(o[k]);
  }
  return v;
}

function defaultLogEntry(schema: ConfigSchema, partial: Partial<LogEntryConfig> & { path: string }): LogEntryConfig {
  const base: Obj = {};
  for (const spec of schema.logEntry) if (spec.default !== undefined) base[spec.name] = structuredClone(spec.default);
  return { ...base, ...partial } as LogEntryConfig;
}

/**
 * The component's cross-field `check`, given the values read (and, for a key whose value was
 * rejected, the value as written: that key is already reported, and is still "there"). Each
 * problem is an error at its key when the object has it, else at the object itself.
 */
function reportProblems(diag: Diagnostics, c: Component, own: Obj, obj: Obj, p: string): void {
  if (!c.check) return;
  let problems: ReturnType<NonNullable<Component['check']>>;
  try {
    problems = c.check({ ...obj, ...own });
  } catch (err) {
    diag.error(p, `${c.kind} "${c.type}": its check failed: ${err instanceof Error ? err.message : String(err)}`, locationOf(obj), 'badValue');
    return;
  }
  for (const problem of problems) {
    const present = has(obj, problem.key);
    diag.error(joinPath(p, problem.key), problem.message, present ? locationOf(obj, problem.key) : locationOf(obj), present ? 'badValue' : 'missingRequired');
  }
}

/** A component's own options with their item lists read (`lineGroupers[]`…). */
function readOwn(reader: Reader, specs: OptionSpec[], obj: Obj, p: string): Obj {
  const out = reader.readFields(specs, obj, p);
  for (const spec of specs) {
    if (spec.type === 'array' && spec.fields && Array.isArray(obj[spec.name])) {
      out[spec.name] = readList(reader, obj, spec.name, p, (item, ip) => reader.readFields(spec.fields!, item, ip));
    }
  }
  return out;
}

const TYPE_KEY: OptionSpec = { name: 'type', type: 'string', required: true, origin: 'sluice', description: 'The component type.' };

/**
 * An object naming its component by `type` (the `sink`, an `operators[]` or `sources[]` item):
 * read with the component's declared options when it declares them, else kept as it is.
 */
function readTyped(
  reader: Reader,
  schema: ConfigSchema,
  kind: ComponentKind,
  obj: Obj,
  p: string,
  at: SourceLocation | undefined,
  common: readonly OptionSpec[] = [TYPE_KEY],
  defaultType?: string,
): Obj {
  const type = typeof obj.type === 'string' ? obj.type : obj.type === undefined ? defaultType : undefined;
  const c = type !== undefined ? schema.components[kind].get(type) : undefined;
  if (!c || c.options === undefined) {
    if (type === undefined) reader.diag.error(joinPath(p, 'type'), `missing required option "type" (the ${kind} type)`, at, 'missingRequired');
    return obj;
  }
  // Without a type, the object configures the default one (the sink: addEvents or embedded).
  if (obj.type === undefined) common = common.map((k) => (k.name === 'type' ? { ...k, required: false } : k));
  const own = readOwn(reader, [...common, ...optionsOf(c).filter((o) => !common.some((k) => k.name === o.name))], obj, p);
  reportProblems(reader.diag, c, own, obj, p);
  return own;
}

function readTypedList(reader: Reader, schema: ConfigSchema, kind: ComponentKind, list: unknown[], p: string, common?: readonly OptionSpec[]): unknown[] {
  return list.map((item, i) => {
    const ip = joinPath(p, i);
    if (!isObj(item)) {
      reader.diag.error(ip, `expected an object like { type: "name", ... }, got ${describeValue(item)}`, locationOf(list, i), 'badType');
      return item;
    }
    return readTyped(reader, schema, kind, item, ip, locationOf(list, i), common);
  });
}

function readLogEntry(reader: Reader, schema: ConfigSchema, list: unknown[], i: number, entry: unknown, agentLogPath: string, baseDir: string): LogEntryConfig | undefined {
  const diag = reader.diag;
  const p = joinPath('logs', i);
  if (!isObj(entry)) {
    diag.error(p, `expected an object like { path: "/var/log/x.log" }, got ${describeValue(entry)}`, locationOf(list, i), 'badType');
    return undefined;
  }
  const before = diag.errors.length;
  const e = reader.readFields(schema.logEntry, entry, p);
  if (typeof e.path === 'string') {
    if (e.path.trim() === '') diag.error(joinPath(p, 'path'), 'must not be empty', locationOf(entry, 'path'), 'badValue');
    // Scalyr joins a relative path to agent_log_path; sluice resolves an explicit `./` or `../`
    // path against the main config file's directory (as for plugins), so a config can name
    // files next to it.
    else if (e.path.startsWith('./') || e.path.startsWith('../')) e.path = path.resolve(baseDir, e.path);
    else if (!path.isAbsolute(e.path)) e.path = path.join(agentLogPath, e.path);
  }
  const attributes = (isObj(e.attributes) ? e.attributes : {}) as Record<string, string>;
  if (typeof e.parser === 'string') attributes.parser = e.parser;
  e.attributes = attributes;
  if (typeof e.parse_lines_as_json === 'boolean') e.parse_format = e.parse_lines_as_json ? 'json' : 'raw';

  // Lists of rule objects (`lineGroupers`, `sampling_rules`, `redaction_rules`…): each item by its fields.
  for (const spec of schema.logEntry) {
    if (spec.type !== 'array' || !spec.fields) continue;
    const fields = spec.fields;
    e[spec.name] = readList(reader, entry, spec.name, p, (item, ip, container, j) => {
      const g = reader.readFields(fields, item, ip);
      if (spec.name === 'lineGroupers') checkContinuation(diag, item, ip, container, j);
      return g;
    });
  }

  if (has(entry, 'rename_logfile')) {
    const r = entry.rename_logfile;
    const rp = joinPath(p, 'rename_logfile');
    if (typeof r === 'string') e.rename_logfile = r;
    else if (isObj(r)) {
      e.rename_logfile = reader.readFields(
        [
          { name: 'match', type: 'regex', required: true, origin: 'scalyr', description: '' },
          { name: 'replacement', type: 'string', required: true, origin: 'scalyr', description: '' },
        ],
        r,
        rp,
      ) as { match: string; replacement: string };
    } else {
      diag.error(rp, `expected a template string or {match, replacement}, got ${describeValue(r)}`, locationOf(entry, 'rename_logfile'), 'badType');
    }
  }
  // Plugin operators: each `operators[]` item by its type's declared options.
  if (Array.isArray(entry.operators)) e.operators = readTypedList(reader, schema, 'operator', entry.operators, joinPath(p, 'operators'));
  if (diag.errors.length > before) return undefined;
  return e as LogEntryConfig;
}

/** A line grouper needs exactly one continuation key. */
function checkContinuation(diag: Diagnostics, item: Obj, ip: string, container: unknown[], j: number): void {
  const present = CONTINUATION_KEYS.filter((k) => has(item, k));
  if (present.length === 1) return;
  diag.error(
    ip,
    present.length === 0
      ? `needs exactly one of ${CONTINUATION_KEYS.join(', ')} (found none)`
      : `needs exactly one of ${CONTINUATION_KEYS.join(', ')} (found ${present.join(' and ')})`,
    present.length > 1 ? locationOf(item, present[1], 'key') : locationOf(container, j),
    'missingRequired',
  );
}

/** Reads a list of objects inside `owner[key]` with a per-item reader. */
function readList(
  reader: Reader,
  owner: Obj,
  key: string,
  parentPath: string,
  readItem: (item: Obj, itemPath: string, container: unknown[], index: number) => Obj,
): Obj[] {
  const p = joinPath(parentPath, key);
  if (!has(owner, key) || owner[key] === undefined) return [];
  const list = owner[key];
  if (!Array.isArray(list)) return []; // already reported by readFields (type 'array')
  const out: Obj[] = [];
  list.forEach((item, j) => {
    const ip = joinPath(p, j);
    if (!isObj(item)) {
      reader.diag.error(ip, `expected an object, got ${describeValue(item)}`, locationOf(list, j), 'badType');
      return;
    }
    out.push(readItem(item, ip, list, j));
  });
  return out;
}

/** The monitor component a `module` names: a type or alias, or a Scalyr dotted name's last part. */
export function monitorComponentOf(schema: ConfigSchema, module: unknown): Component | undefined {
  if (typeof module !== 'string' || module.trim() === '') return undefined;
  const monitors = schema.components.monitor;
  const direct = monitors.get(module);
  if (direct) return direct;
  // A path or a package name of a user module is resolved when the agent builds it.
  if (module.startsWith('.') || path.isAbsolute(module) || module.startsWith('file:') || /\.(m|c)?js$/.test(module)) return undefined;
  return monitors.get(module.split('.').pop()!);
}

function readMonitor(reader: Reader, schema: ConfigSchema, list: unknown[], i: number, entry: unknown, globalInterval: number): MonitorConfig | undefined {
  const diag = reader.diag;
  const p = joinPath('monitors', i);
  if (!isObj(entry)) {
    diag.error(p, `expected an object like { module: "shell_monitor", ... }, got ${describeValue(entry)}`, locationOf(list, i), 'badType');
    return undefined;
  }
  // A registered monitor (a built-in or a plugin's) wins over the list of Scalyr modules sluice does not run.
  const unsupported = monitorComponentOf(schema, entry.module) === undefined ? unsupportedScalyrMonitor(entry.module) : undefined;
  if (unsupported) {
    diag.warn(
      joinPath(p, 'module'),
      `monitor ${JSON.stringify(entry.module)} is skipped: ${unsupported.reason}`,
      locationOf(entry, 'module'),
      'unsupportedMonitor',
    );
    return undefined;
  }
  const before = diag.errors.length;
  const c = monitorComponentOf(schema, entry.module);
  // A monitor that declares its options: the entry's keys are those and the common ones; else open.
  const declared = c !== undefined && c.options !== undefined;
  const own = declared ? optionsOf(c).filter((o) => !schema.monitorEntry.some((e) => e.name === o.name)) : [];
  const m = declared ? readOwn(reader, [...schema.monitorEntry, ...own], entry, p) : reader.readFields(schema.monitorEntry, entry, p, { openFields: true });
  if (m.sample_interval === undefined) m.sample_interval = globalInterval;
  if (c) reportProblems(diag, c, m, entry, p);
  if (diag.errors.length > before) return undefined;
  return m as MonitorConfig;
}

/** Reads one environment value for a spec (exported for tests). */
export { coerceEnv };
