/**
 * Loading the agent configuration: the main file, its `config_directory` fragments (and an extra
 * config directory), `import_vars` per file, `SCALYR_*` environment overrides, coercions,
 * defaults and validation, into one fully defaulted {@link AgentConfig}.
 *
 * Promises: pure apart from reading the config files and directory listings (no writes, no
 * process-wide state); never throws — every problem comes back in the result with file:line:col
 * and the key path; warnings (unknown keys, overridden options, no api_key) never stop loading.
 *
 * The options come from the {@link ConfigSchema} the caller passes (derived from the agent's and
 * the registered components' declarations; `app/config.ts` derives it from a registry). Loading
 * is two steps a caller may take apart: {@link readConfig} / {@link readConfigObject} (files,
 * fragments, `import_vars`, merging) and {@link validateRead} (the schema), so that what the
 * merged config names (its plugins) can extend the schema in between.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Diagnostics, type ConfigResult } from './errors.js';
import { locationOf, parseLenientJson, setLocation, type SourceLocation } from './lenientJson.js';
import { applyImportVars } from './importVars.js';
import { buildConfig, type RawValues } from './validate.js';
import { RENAMED_KEYS, type OptionSpec } from './schema.js';
import type { ConfigSchema } from './derive.js';
import { describeValue } from './coerce.js';

export type { ConfigError, ConfigResult } from './errors.js';
export { formatConfigError } from './errors.js';

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The main config file (agent.json). */
  path: string;
  /** Environment for `import_vars` and `SCALYR_*` overrides (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Default `serverHost` (default `os.hostname()`). */
  hostname?: string;
  /** A second fragment directory read after `config_directory` (default env `SCALYR_EXTRA_CONFIG_DIR`). */
  extraConfigDir?: string;
  /** The top-level lists fragments append to ({@link listKeysOf} of the schema). */
  listKeys: readonly string[];
}

/** What the options are checked against. */
export interface WithSchema {
  schema: ConfigSchema;
}

/** Options of {@link parseConfigObject}. */
export interface ParseConfigObjectOptions {
  /** Relative paths resolve against it (default `process.cwd()`). */
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  hostname?: string;
  /** The top-level lists fragments append to ({@link listKeysOf} of the schema). */
  listKeys: readonly string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The top-level lists fragments append to: the `repeatable` list options of a schema
 * (`logs`, `monitors`, `sources`, `journald_logs`…; `import_vars` is applied per file).
 */
export function listKeysOf(options: readonly OptionSpec[]): string[] {
  return options.filter((o) => o.repeatable && o.type === 'array' && o.name !== 'import_vars').map((o) => o.name);
}

/** Accumulates files into one top-level object, enforcing the fragment rules of Scalyr's agent. */
class Merger {
  readonly root: Obj = {};
  private readonly origin = new Map<string, SourceLocation | undefined>();
  private readonly listKeys: ReadonlySet<string>;

  constructor(
    private readonly diag: Diagnostics,
    listKeys: readonly string[],
  ) {
    this.listKeys = new Set(listKeys);
  }

  add(file: Obj, fileName: string | undefined): void {
    for (const rawKey of Object.keys(file)) {
      const key = RENAMED_KEYS[rawKey] ?? rawKey;
      const value = file[rawKey];
      const keyLoc = locationOf(file, rawKey, 'key');
      const valueLoc = locationOf(file, rawKey);
      if (key === 'import_vars') continue; // applied per file already
      if (this.listKeys.has(key)) {
        if (!Array.isArray(value)) {
          this.diag.error(key, `expected a list, got ${describeValue(value)}`, valueLoc, 'badType');
          continue;
        }
        const target = (this.root[key] as unknown[] | undefined) ?? [];
        if (!this.root[key]) {
          this.root[key] = target;
          setLocation(this.root, key, valueLoc, keyLoc);
          setLocation(target, undefined, locationOf(value));
        }
        value.forEach((item, i) => {
          setLocation(target, target.length, locationOf(value, i));
          target.push(item);
        });
        continue;
      }
      if (key === 'server_attributes') {
        if (!isObj(value)) {
          this.diag.error(key, `expected an object of string values, got ${describeValue(value)}`, valueLoc, 'badType');
          continue;
        }
        const target = (this.root[key] as Obj | undefined) ?? {};
        if (!this.root[key]) {
          this.root[key] = target;
          setLocation(this.root, key, valueLoc, keyLoc);
          setLocation(target, undefined, locationOf(value));
        }
        for (const k of Object.keys(value)) {
          target[k] = value[k];
          setLocation(target, k, locationOf(value, k), locationOf(value, k, 'key'));
        }
        continue;
      }
      if (this.origin.has(key)) {
        const first = this.origin.get(key);
        const firstWhere = first?.file ? `${first.file}${first.line ? `:${first.line}:${first.column}` : ''}` : 'another file';
        this.diag.error(
          key,
          `Configuration fragment file ${fileName ?? '(embedded)'} redefines the config key "${key}", first set in ${firstWhere}; only ${[...this.listKeys, 'server_attributes', 'import_vars'].join(', ')} may appear in several files`,
          keyLoc,
          'multipleKeys',
        );
        continue;
      }
      this.origin.set(key, keyLoc ?? (fileName ? { file: fileName, line: 0, column: 0 } : undefined));
      this.root[key] = value;
      setLocation(this.root, key, valueLoc, keyLoc);
    }
  }
}

/**
 * Keeps the text of options whose problems are best explained by what was written before
 * `import_vars` substitution (`api_key: "$SCALYR_API_KEY"`), so the validator can name the variable.
 */
function noteRawValues(file: Obj, raw: RawValues): void {
  if (typeof file.api_key === 'string' && raw.api_key === undefined) {
    const vars = Array.isArray(file.import_vars)
      ? file.import_vars.map((v) => (typeof v === 'string' ? v : isObj(v) && typeof v.var === 'string' ? v.var : undefined)).filter((v): v is string => !!v)
      : [];
    raw.api_key = { text: file.api_key, importVars: vars };
  }
}

/** Reads and parses one file; reports problems; returns its top-level object or undefined. */
function readFile(file: string, diag: Diagnostics, kind: 'main' | 'fragment'): Obj | undefined {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    diag.error('', `cannot read ${kind === 'main' ? 'config file' : 'config fragment'}: ${err.message}`, { file, line: 1, column: 1 }, 'readError');
    return undefined;
  }
  const r = parseLenientJson(bytes, { file });
  if (!r.ok) {
    diag.error('', r.error.message, { file, line: r.error.line, column: r.error.column }, 'parseError');
    return undefined;
  }
  if (!isObj(r.value)) {
    diag.error(
      '',
      `the ${kind === 'main' ? 'config file' : 'config fragment'} must hold an object ({ ... }), got ${describeValue(r.value)}`,
      { file, line: 1, column: 1 },
      kind === 'fragment' ? 'invalidConfigFragmentType' : 'badType',
    );
    return undefined;
  }
  return r.value as Obj;
}

/** Regular `*.json` files directly inside `dir`, sorted by name; a missing directory yields none. */
function fragmentFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => path.join(dir, n))
    .filter((f) => {
      try {
        return fs.statSync(f).isFile();
      } catch {
        return false;
      }
    });
}

/**
 * The files (or the object) read and merged, not yet validated: `root` is the merged top-level
 * object (locations attached), `diag` holds the problems found so far.
 */
export interface ReadConfig {
  root: Obj;
  files: string[];
  diag: Diagnostics;
  baseDir: string;
  env: NodeJS.ProcessEnv;
  hostname: string;
  raw: RawValues;
  /** False when a file could not be read or parsed (nothing to validate). */
  readable: boolean;
}

/** Validates what {@link readConfig} merged against `schema`. Never throws. */
export function validateRead(read: ReadConfig, schema: ConfigSchema): ConfigResult {
  const { diag, files } = read;
  if (!read.readable) return { ok: false, errors: diag.errors, warnings: diag.warnings, files };
  let config: ReturnType<typeof buildConfig>;
  try {
    config = diag.errors.length === 0 ? buildConfig(read.root, { baseDir: read.baseDir, env: read.env, hostname: read.hostname, diag, raw: read.raw, schema }) : undefined;
  } catch (e) {
    diag.error('', `internal error while validating the config: ${e instanceof Error ? e.message : String(e)}`);
    config = undefined;
  }
  if (config && diag.errors.length === 0) return { ok: true, config, files, warnings: diag.warnings };
  return { ok: false, errors: diag.errors, warnings: diag.warnings, files };
}

/**
 * Reads `opts.path` and its fragments (with `import_vars`) into one merged object, not yet
 * validated. Never throws. `files` lists every config file read, main file first.
 */
export function readConfig(opts: LoadConfigOptions): ReadConfig {
  const diag = new Diagnostics();
  const files: string[] = [];
  const env = opts.env ?? process.env;
  const hostname = opts.hostname ?? os.hostname();
  const main = path.resolve(opts.path);
  const baseDir = path.dirname(main);
  const raw: RawValues = {};
  const merger = new Merger(diag, opts.listKeys);
  const read: ReadConfig = { root: merger.root, files, diag, baseDir, env, hostname, raw, readable: false };
  try {
    files.push(main);
    const mainObj = readFile(main, diag, 'main');
    if (!mainObj) return read;
    noteRawValues(mainObj, raw);
    applyImportVars(mainObj, env, diag);
    merger.add(mainObj, main);

    // Fragment directories: config_directory (from the main file, else env, else agent.d), then the extra one.
    let confDir: unknown = mainObj.config_directory;
    const envConfDir = env.SCALYR_CONFIG_DIRECTORY ?? env.scalyr_config_directory;
    if (typeof confDir !== 'string') confDir = envConfDir ?? 'agent.d';
    const dirs = [path.resolve(baseDir, confDir as string)];
    const extra = opts.extraConfigDir ?? env.SCALYR_EXTRA_CONFIG_DIR;
    if (extra) dirs.push(path.resolve(baseDir, extra));
    for (const dir of dirs) {
      for (const f of fragmentFiles(dir)) {
        files.push(f);
        const obj = readFile(f, diag, 'fragment');
        if (!obj) continue;
        noteRawValues(obj, raw);
        applyImportVars(obj, env, diag);
        merger.add(obj, f);
      }
    }
    read.readable = true;
  } catch (e) {
    diag.error('', `internal error while loading the config: ${e instanceof Error ? e.message : String(e)}`);
  }
  return read;
}

/**
 * Loads `opts.path` and its fragments into a validated, fully defaulted config. Never throws.
 * `files` lists every config file read, main file first.
 */
export function loadConfig(opts: Omit<LoadConfigOptions, 'listKeys'> & WithSchema): ConfigResult {
  return validateRead(readConfig({ ...opts, listKeys: listKeysOf(opts.schema.global) }), opts.schema);
}

/** Deep copy of plain data (objects, arrays, primitives incl. bigint); anything else is kept as is. */
function cloneData(v: unknown, seen = new Set<unknown>()): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (seen.has(v)) throw new Error('the config object contains a cycle');
  seen.add(v);
  let out: unknown;
  if (Array.isArray(v)) out = v.map((x) => cloneData(x, seen));
  else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
    const o: Obj = {};
    for (const k of Object.keys(v)) o[k] = cloneData((v as Obj)[k], seen);
    out = o;
  } else out = v;
  seen.delete(v);
  return out;
}

/** A config given as a plain object (embedding; no file, no fragments), merged, not yet validated. */
export function readConfigObject(obj: unknown, opts: ParseConfigObjectOptions): ReadConfig {
  const diag = new Diagnostics();
  const env = opts.env ?? process.env;
  const merger = new Merger(diag, opts.listKeys);
  const read: ReadConfig = {
    root: merger.root,
    files: [],
    diag,
    baseDir: path.resolve(opts.baseDir ?? process.cwd()),
    env,
    hostname: opts.hostname ?? os.hostname(),
    raw: {},
    readable: false,
  };
  try {
    if (!isObj(obj)) {
      diag.error('', `the configuration must be an object, got ${describeValue(obj)}`, undefined, 'badType');
      return read;
    }
    const copy = cloneData(obj) as Obj;
    noteRawValues(copy, read.raw);
    applyImportVars(copy, env, diag);
    merger.add(copy, undefined);
    read.readable = true;
  } catch (e) {
    diag.error('', `invalid configuration object: ${e instanceof Error ? e.message : String(e)}`);
  }
  return read;
}

/**
 * Validates a config given as a plain object (embedding; no file, no fragments). The object is
 * not modified. Never throws.
 */
export function parseConfigObject(obj: unknown, opts: Omit<ParseConfigObjectOptions, 'listKeys'> & WithSchema): ConfigResult {
  return validateRead(readConfigObject(obj, { ...opts, listKeys: listKeysOf(opts.schema.global) }), opts.schema);
}
