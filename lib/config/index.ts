/**
 * The configuration module's public surface: load a config file (with fragments), validate an
 * embedded config object, format diagnostics, and the declarative option schema.
 */
export { loadConfig, parseConfigObject, type LoadConfigOptions, type ParseConfigObjectOptions } from './load.js';
export { formatConfigError, type ConfigError, type ConfigResult } from './errors.js';
export { configSchema, CONTINUATION_KEYS, type OptionSpec, type OptionType } from './schema.js';
export { parseLenientJson, locationOf, type SourceLocation, type LenientJsonError, type LenientJsonResult } from './lenientJson.js';
export { renderConfigDocs } from './docs.js';
export type * from './types.js';
