/**
 * The configuration module's public surface: load a config file (with fragments), validate an
 * embedded config object, format diagnostics, and the declarations the schema derives from.
 */
export { loadConfig, parseConfigObject, readConfig, readConfigObject, validateRead, type LoadConfigOptions, type ParseConfigObjectOptions, type ReadConfig } from './load.js';
export { formatConfigError, type ConfigError, type ConfigResult } from './errors.js';
export { CONTINUATION_KEYS, envNamesFor, scalyrOption, sluiceOption, type OptionSpec, type OptionType } from './schema.js';
export { AGENT_OPTIONS, type AgentOption } from './agentOptions.js';
export { schemaFrom, type ConfigSchema, type PartDeclarations } from './derive.js';
export { parseLenientJson, locationOf, type SourceLocation, type LenientJsonError, type LenientJsonResult } from './lenientJson.js';
export { renderConfigDocs, type ConfigDocsInput } from './docs.js';
export type * from './types.js';
