/**
 * sluice's public API for embedding a pipeline in a Node app:
 *
 *   import { createAgent } from 'sluice';
 *   const agent = createAgent({ config: { logs: [{ path: '/var/log/app/*.log' }] } });
 *   await agent.start();            // rejects with ConfigInvalidError on a bad config
 *   ...
 *   await agent.stop();             // idempotent, bounded in time, releases every handle
 *
 * Nothing here calls process.exit or throws into the host's event loop.
 */
export { createAgent, ConfigInvalidError, type Agent, type AgentOptions, type AgentStatus, type ReloadOutcome, type StopOutcome } from './agent.js';
export { defineComponent, withDefaults, type Component, type OptionDecl, type OptionScope, type ConfigHome, type SourceInstance } from '../lib/component.js';
export { createRegistry, Registry, type ComponentKind, type ComponentContext, type MonitorFactory, type MonitorSample, type OperatorFactory, type ParserFactory, type SinkFactory, type SourceFactory } from '../lib/registry.js';
export { createDefaultRegistry } from './builtins.js';
export { loadConfig, parseConfigObject, loadAgentConfig, configSchemaOf, formatConfigError, type ConfigError, type ConfigResult } from './config.js';
export type { AgentConfig, LogEntryConfig, MonitorConfig } from '../lib/config/types.js';
export type { Batch, Event, Stream, Sink, ComponentCounters, Logger } from '../lib/types.js';
export { createCounters, countDrop, countError } from '../lib/counters.js';
export { Credits } from '../lib/pipeline/credits.js';
export { groupLines } from '../operators/groupLines.js';
export { sample, seededRandom } from '../operators/sample.js';
export { redact } from '../operators/redact.js';
export { compilePythonRegex } from '../lib/regex.js';
export { healthOf } from '../lib/status/health.js';
export { VERSION } from '../lib/version.js';
