/**
 * The reload matrix (issue 16, point 3): in ONE running agent (addEvents to a local HTTPS
 * receiver, then the embedded sink; real files in a temp dir; three monitors; the APM intake; the
 * HTTP endpoint on port 0), every declared option of every built-in component, of the parts'
 * own declarations (log entry, monitor entry, http_endpoint) and every agent option is changed,
 * one at a time, through `agent.reload(config)`. For each it checks that:
 *
 * - exactly the parts whose components declare the option restarted (or were reconfigured, for a
 *   live option); a noEffect option restarts nothing; an agent option read only at start is
 *   listed in `needsRestart` (reload outcome and status) and a live one is not;
 * - every other part is unchanged: listed as unchanged, and none of its components was created
 *   again (the registry here records every `create`);
 * - the restarted part was built with the new value: its component's `create` got it (own
 *   options in its config, global ones in `ctx.agent`), as validated (`agent.config`).
 *
 * Values are derived from each declaration (bool: flipped; number: another in range; enum:
 * another member; string: another; lists: a valid sample built from the item fields); the small
 * SPECIAL table gives the few options that need a particular value, each with why. The matrix
 * iterates over the registry's declarations, so a newly declared option is covered (or fails
 * here until it takes effect).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAgent, type Agent, type ReloadOutcome } from '../app/index.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { canonical } from '../app/supervisor.js';
import { Registry } from '../lib/registry.js';
import { loadPlugin } from '../lib/plugins.js';
import type { Component, ComponentContext, OptionDecl } from '../lib/component.js';
import type { OptionSpec } from '../lib/config/schema.js';
import { HTTP_ENDPOINT_OPTIONS } from '../lib/config/agentOptions.js';
import { PART_DECLARATIONS } from '../app/config.js';
import { memoryLogger } from '../lib/logger.js';
import { makeTestCa, startTestServer, type TestServer } from '../testkit/tlsServer.js';
import { isolatedAgent } from './helpers/isolated.js';
import { waitFor } from './helpers/wait.js';

type Obj = Record<string, unknown>;
type Cfg = Obj & { logs: Obj[]; monitors: Obj[]; apm: Obj; otlp_receiver: Obj; http_endpoint: Obj; sink?: Obj; sources?: Obj[] };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A declaring unit: a registered component, or a part's own declarations (no `create` to watch). */
interface Unit {
  name: string;
  options: readonly OptionDecl[];
  component?: Component;
}

/** A part of the running agent: its key, what it is built from, and where its own options live. */
interface Slot {
  key: string;
  units: Unit[];
  own(cfg: Cfg): Obj;
}

/** Every `create` of a component, with what it was given. */
interface Created {
  name: string;
  /** The running agent's own creates carry its logger (the build check that vets each config builds chains too, silently). */
  logger: unknown;
  config: Obj;
  agent: Readonly<Obj>;
}

function recordingRegistry(from: Registry): { registry: Registry; created: Created[] } {
  const created: Created[] = [];
  const registry = new Registry();
  for (const c of from.components()) {
    const create = ((config: Obj, ctx: ComponentContext) => {
      created.push({ name: `${c.kind}:${c.type}`, logger: ctx.logger, config, agent: ctx.agent });
      return (c.create as (a: Obj, b: ComponentContext) => unknown)(config, ctx);
    }) as Component['create'];
    registry.add({ ...c, create } as Component);
  }
  return { registry, created };
}

/** Another valid value for an option, from its declaration. */
function another(o: OptionSpec, cur: unknown): unknown {
  const base = cur ?? o.default;
  switch (o.type) {
    case 'bool':
      return !(base ?? false);
    case 'int':
    case 'float': {
      const b = typeof base === 'number' ? base : (o.min ?? 0);
      const up = o.type === 'int' ? b + 1 : b + 0.5;
      return o.max !== undefined && up > o.max ? Math.max(o.min ?? -Infinity, b - 1) : up;
    }
    case 'string':
      return o.enum ? o.enum.find((e) => e !== base) : `${String(base ?? 'matrix')}-2`;
    case 'stringArray':
      return [...((base as string[] | undefined) ?? []), 'matrix-*'];
    case 'stringMap':
      return { ...((base as Obj | undefined) ?? {}), matrix: '1' };
    case 'regex':
      return '(matrix)';
    case 'array':
      return [sampleItem(o.fields)];
    case 'object': {
      const f = (o.fields ?? [])[0];
      return f ? { ...((base as Obj | undefined) ?? {}), [f.name]: another(f, (base as Obj | undefined)?.[f.name]) } : { ...((base as Obj | undefined) ?? {}), matrix: 1 };
    }
    default:
      throw new Error(`option ${o.name} (${o.type}): add a value to SPECIAL`);
  }
}

/** A list item with every required field set. */
function sampleItem(fields: readonly OptionSpec[] | undefined): Obj {
  return Object.fromEntries((fields ?? []).filter((f) => f.required).map((f) => [f.name, another(f, undefined)]));
}

interface Env {
  dir: string;
  servers: { addEvents2: TestServer; checkin2: TestServer; otlp2: TestServer };
  caCopy: string;
  freePort: number;
  logKeys: string[];
  /** The log parts of the files monitors write (known once the agent runs). */
  monitorLogKeys: string[];
}

interface Special {
  why: string;
  value?: (cur: unknown, env: Env) => unknown;
  /** Parts expected to restart or stop (instead of those derived from the declarations). */
  touched?: (env: Env) => string[];
  /** How many new parts start (default: as many as stopped, for an option that is part of a key). */
  started?: number;
  /** Components the change brings into a restarted part (a parser the entry did not use…). */
  alsoBuilt?: string[];
  skip?: string;
}

/** Options that need a particular value or expectation, keyed `unit.option` (`global.option` for top-level ones). */
const SPECIAL: Record<string, Special> = {
  'global.scalyr_server': { why: 'must be a reachable receiver', value: (_c, e) => e.servers.addEvents2.url },
  'global.ca_cert_path': { why: 'must name a readable CA file', value: (_c, e) => e.caCopy },
  'global.https_proxy': { why: 'must be a proxy URL', value: () => 'http://127.0.0.1:9' },
  'global.http_proxy': { why: 'must be a proxy URL', value: () => 'http://127.0.0.1:9' },
  'source:file.path': { why: 'names the file; a new path is a new part (key log:<path>)', value: (_c, e) => path.join(e.dir, 'a2.log') },
  'source:file.rename_logfile': { why: 'a template', value: () => '/renamed/$BASENAME' },
  'monitor entry.module': { why: 'names the component: the Scalyr alias is the same monitor', value: (c) => `scalyr_agent.builtin_monitors.${String(c)}` },
  'monitor:linux_process_metrics.pid': { why: 'a process id', value: () => String(process.pid) },
  'monitor:linux_system_metrics.network_interface_prefixes': { why: 'a string or a list of prefixes', value: () => ['lo'] },
  'monitor:openmetrics_monitor.metric_component_value_include_list': { why: 'metric → label → value globs', value: () => ({ up: { job: ['node*'] } }) },
  'monitor:openmetrics_monitor.ca_file': { why: 'must name a readable CA file', value: (_c, e) => e.caCopy },
  'monitor:url_monitor.ca_cert_path': { why: 'must name a readable CA file', value: (_c, e) => e.caCopy },
  'monitor:url_monitor.request_headers': { why: 'items need both header and value', value: () => [{ header: 'X-Matrix', value: '1' }] },
  'monitor:url_monitor.request_method': { why: 'an HTTP method', value: () => 'POST' },
  'monitor:url_monitor.extract': { why: 'needs a group', value: () => '(ok)' },
  'monitor:nginx_monitor.source_address': { why: 'a local IP address', value: () => '127.0.0.2' },
  'monitor:apache_monitor.source_address': { why: 'a local IP address', value: () => '127.0.0.2' },
  'monitor:journald_monitor.journal_matches': { why: 'FIELD=value strings', value: () => ['_SYSTEMD_UNIT=matrix.service'] },
  'monitor:mysql_monitor.database_hostport': { why: 'host:port, the port an integer', value: () => '127.0.0.1:3307' },
  'monitor:mysql_monitor.database_socket': { why: "Scalyr refuses it next to database_hostport (the example's)", skip: "Scalyr refuses it next to database_hostport (the example's); the socket is covered by spec/monitors-mysql.spec.ts" },
  'monitor:syslog_monitor.protocols': { why: 'tcp/udp with ports', value: (_c, e) => `tcp:${e.freePort}, udp:${e.freePort}` },
  'monitor:syslog_monitor.mode': { why: 'one valid value', skip: 'only "syslog" is valid (docker mode is refused)' },
  'monitor:snmp_monitor.oid_groups': { why: 'group name → list of OIDs', value: (c) => ({ ...(c as Obj), matrix: ['1.3.6.1.2.1.1.5.0'] }) },
  'monitor:snmp_monitor.poll_targets': { why: 'targets and the names of existing oid_groups', value: () => [{ targets: [{ host: '127.0.0.1', port: 1161 }], oids: ['system'] }] },
  'monitor:redis_monitor.hosts': { why: 'a list of {host, port}', value: () => [{ host: '127.0.0.1', port: 6380 }] },
  'operator:groupLines.lineGroupers': { why: 'a grouper needs exactly one continuation key', value: () => [{ start: '^\\S', continueThrough: '^\\s' }] },
  'source:apm_intake.tcp': { why: 'host:port', value: () => '127.0.0.1:0' },
  'source:apm_intake.socket_mode': { why: 'an octal mode', value: () => '660' },
  'source:apm_intake.core_agent_version': { why: 'a version Scout agents know', value: () => '1.4.0' },
  'source:otlp_receiver.endpoint': { why: 'host:port', value: (_c, e) => `127.0.0.1:${e.freePort}` },
  'sink:otlp.endpoint': { why: 'a reachable URL', value: (_c, e) => e.servers.otlp2.url },
  'sink:otlp.logs_endpoint': { why: 'a reachable URL', value: (_c, e) => `${e.servers.otlp2.url}/v1/logs` },
  'sink:otlp.metrics_endpoint': { why: 'a reachable URL', value: (_c, e) => `${e.servers.otlp2.url}/v1/metrics` },
  'sink:otlp.traces_endpoint': { why: 'a reachable URL', value: (_c, e) => `${e.servers.otlp2.url}/v1/traces` },
  'sink:otlp.ca_cert_path': { why: 'must name a readable CA file', value: (_c, e) => e.caCopy },
  'sink:otlp.proxy': { why: 'an http:// proxy URL', value: () => 'http://127.0.0.1:9' },
  'sink:scout_checkin.ingest_url': { why: 'a reachable URL', value: (_c, e) => e.servers.checkin2.url },
  'http_endpoint.port': { why: 'another free port (0, the base, picks one)', value: (_c, e) => e.freePort },
  'http_endpoint.host': { why: 'an address to bind', value: () => 'localhost' },
  'http_endpoint.enabled': { why: 'whether the part exists', value: () => false, touched: () => ['http_endpoint'], started: 0 },
  'agent.logs': { why: 'a list of parts: one more entry starts one part', value: (c, e) => [...(c as Obj[]), { path: path.join(e.dir, 'more.log') }], touched: () => [], started: 1 },
  'agent.monitors': { why: 'a list of parts: one more monitor starts one part', value: (c) => [...(c as Obj[]), { module: 'shell_monitor', id: 'more', command: 'echo more' }], touched: () => [], started: 1 },
  'agent.apm': { why: '`enabled: false` removes the part', value: (c) => ({ ...(c as Obj), enabled: false }), touched: () => ['apm'], started: 0 },
  'agent.otlp_receiver': { why: '`enabled: false` removes the part', value: (c) => ({ ...(c as Obj), enabled: false }), touched: () => ['otlp_receiver'], started: 0 },
  'agent.http_endpoint': { why: '`enabled: false` removes the part', value: (c) => ({ ...(c as Obj), enabled: false }), touched: () => ['http_endpoint'], started: 0 },
  'agent.sink': { why: 'selects another sink type: the sink part is rebuilt with it', value: () => ({ type: 'embedded' }), touched: () => ['sink'], alsoBuilt: ['sink:embedded'] },
  'agent.sinks': { why: 'names the destinations: the default sink gives way to the one named', value: (_c, e) => ({ main: { type: 'embedded', dir: path.join(e.dir, 'named-sink') } }), touched: () => ['sink'], started: 1, alsoBuilt: ['sink:embedded'] },
  'log entry.sinks': { why: 'names existing sinks (the base has only `default`)', value: () => ['default'] },
  'monitor entry.sinks': { why: 'names existing sinks (the base has only `default`)', value: () => ['default'] },
  'apm route.sinks': { why: 'names existing sinks (the base has only `default`)', value: () => ['default'] },
  'agent.sources': { why: 'a list of parts: one more item starts one part', value: (c) => [...(c as Obj[]), { type: 'beacon', id: 'more' }], touched: () => [], started: 1 },
  'agent.plugins': { why: 'one more real plugin module (it adds a parser; nothing restarts)', value: (c) => [...(c as string[]), path.join(ROOT, 'examples/parsers/keyvalue.mjs')] },
  'agent.implicit_agent_log_collection': { why: 'adds the agent log entry', touched: () => [], started: 1 },
  'agent.implicit_metric_monitor': { why: 'adds the system metrics monitor', touched: () => [], started: 1 },
  'agent.implicit_agent_process_metrics_monitor': { why: 'adds the agent process monitor', touched: () => [], started: 1 },
  'agent.max_send_rate_enforcement': { why: 'a rate or `legacy` (the base disables its overrides, so nothing changes)', value: () => 'legacy' },
  'agent.disable_max_send_rate_enforcement_overrides': {
    why: 'enables Scalyr\'s send-rate overrides: they rewrite the request size and log offset options, so the parts reading those restart',
    touched: (e) => ['sink', ...e.logKeys, ...e.monitorLogKeys],
  },
  'log entry.parse_format': { why: 'names a registered parser; the entry is rebuilt with it', value: () => 'json', alsoBuilt: ['parser:json'] },
  'log entry.parse_lines_as_json': { why: 'true makes the entry json: it is rebuilt with the json parser', alsoBuilt: ['parser:json'] },
  'log entry.operators': { why: 'its items are plugin operators: the example plugin the base loads (it declares nothing)', value: () => [{ type: 'uppercase' }] },
};

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A plugin source that declares its options, added to the registry by the embedding app (this spec). */
const BEACON = `
import { Observable } from 'rxjs';
export const components = [
  {
    kind: 'source',
    type: 'beacon',
    countsItself: true,
    options: [
      { name: 'text', type: 'string', default: 'b', origin: 'sluice', description: 'What it would send.' },
      { name: 'every_ms', type: 'int', default: 60000, min: 1, origin: 'sluice', description: 'How often.' },
    ],
    create: (config, ctx) => ({ batches$: new Observable(() => {}), counters: ctx.counters, stop: async () => {} }),
  },
];
`;

const sorted = (xs: readonly string[] | undefined) => [...(xs ?? [])].sort();

describe('reload matrix: every declared option, one at a time, in one running agent', () => {
  let agent: Agent | undefined;
  const servers: TestServer[] = [];
  afterAll(async () => {
    await agent?.stop(3000);
    for (const s of servers) await s.close();
  });

  it('restarts (or reconfigures) exactly the parts whose components declare the option, with the new value', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-matrix-'));
    const ca = makeTestCa();
    const tls = { certPem: ca.certPem, keyPem: ca.keyPem };
    const [addEvents, addEvents2, checkin, checkin2, otlp, otlp2] = await Promise.all([startTestServer(tls), startTestServer(tls), startTestServer(), startTestServer(), startTestServer(), startTestServer()]);
    servers.push(addEvents, addEvents2, checkin, checkin2, otlp, otlp2);
    const caCopy = path.join(dir, 'ca-copy.pem');
    fs.copyFileSync(ca.caPath, caCopy);
    const files = ['a.log', 'b.log', 'c.log', 'a2.log'].map((f) => path.join(dir, f));
    for (const f of files) fs.writeFileSync(f, '');
    const env: Env = { dir, servers: { addEvents2, checkin2, otlp2 }, caCopy, freePort: await freePort(), logKeys: files.slice(0, 3).map((f) => `log:${f}`), monitorLogKeys: [] };

    const base: Cfg = {
      ...isolatedAgent(dir),
      api_key: 'k',
      scalyr_server: addEvents.url,
      ca_cert_path: ca.caPath,
      server_attributes: { serverHost: 'matrix' },
      // An old-shape plugin operator (declares nothing) for `operators[]`.
      plugins: [path.join(ROOT, 'examples/operators/uppercase.mjs')],
      upload: { retry_base_ms: 50, retry_max_ms: 100, linger_ms: 20 },
      global_monitor_sample_interval: 3600,
      global_monitor_sample_interval_enable_jitter: false,
      // Scalyr's send-rate overrides would replace the request size and log offset options the matrix changes.
      disable_max_send_rate_enforcement_overrides: true,
      logs: [
        {
          path: files[0],
          lineGroupers: [{ start: '^\\S', continuePast: '\\\\$' }],
          sampling_rules: [{ match_expression: 'DEBUG', sampling_rate: 0.5 }],
          redaction_rules: [{ match_expression: 'secret', replacement: 'x' }],
        },
        { path: files[1], parse_format: 'json' },
        { path: files[2], parse_format: 'cri' },
      ],
      monitors: [
        { module: 'shell_monitor', id: 's', command: 'echo matrix' },
        { module: 'linux_process_metrics', id: 'p', pid: '$$' },
        { module: 'linux_system_metrics', id: 'm' },
      ],
      apm: { enabled: true, socket_path: path.join(dir, 'apm.sock'), ingest_url: checkin.url, key: 'scout-key' },
      otlp_receiver: { endpoint: '127.0.0.1:0' },
      http_endpoint: { enabled: true, port: 0 },
      sources: [{ type: 'beacon', id: 'b' }],
    };

    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'beacon.mjs'), BEACON);
    const withPlugin = createDefaultRegistry();
    const explicit = new Set(['shell_monitor', 'linux_process_metrics', 'linux_system_metrics']);
    const otherMonitors = withPlugin.components('monitor').filter((m) => !explicit.has(m.type));
    for (const m of otherMonitors) base.monitors.push({ ...(m.example ?? {}), module: m.type, id: 'matrix' });
    await loadPlugin('./beacon.mjs', dir, withPlugin);
    const { registry, created } = recordingRegistry(withPlugin);
    const unit = (kind: Component['kind'], type: string): Unit => {
      const c = registry.component(kind, type);
      if (!c) throw new Error(`${kind} ${type} is not registered`);
      return { name: `${kind}:${type}`, options: c.options ?? [], component: c };
    };
    const logPart: Unit = { name: 'log entry', options: PART_DECLARATIONS.logEntry };
    const monitorEntry: Unit = { name: 'monitor entry', options: PART_DECLARATIONS.monitorEntry };
    const file = unit('source', 'file');
    const apmUnits = registry.components().filter((c) => c.home === 'section:apm').map((c) => unit(c.kind, c.type));
    const otlpUnits = registry.components().filter((c) => c.home === 'section:otlp_receiver').map((c) => unit(c.kind, c.type));
    const raw = unit('parser', 'raw');
    // The log files monitors write (syslog's, journald's message logs) are log parts of the running agent too.
    const monitorLogs = () => (agent!.config.logs as Obj[]).map((e) => String(e.path)).filter((p) => !base.logs.some((b: Obj) => b.path === p) && !p.endsWith('/agent.log'));
    const slots = (sink: Unit): Slot[] => [
      { key: 'sink', units: [sink], own: (c) => (c.sink ??= { type: sink.component!.type }) },
      { key: env.logKeys[0], units: [logPart, file, raw, unit('operator', 'groupLines'), unit('operator', 'sample'), unit('operator', 'redact')], own: (c) => c.logs[0] },
      ...monitorLogs().map((p) => ({ key: `log:${p}`, units: [logPart, file, raw], own: () => ({}) })),
      { key: env.logKeys[1], units: [logPart, file, unit('parser', 'json')], own: (c) => c.logs[1] },
      { key: env.logKeys[2], units: [logPart, file, unit('parser', 'cri')], own: (c) => c.logs[2] },
      { key: 'monitor:shell_monitor(s)', units: [monitorEntry, unit('monitor', 'shell_monitor')], own: (c) => c.monitors[0] },
      { key: 'monitor:linux_process_metrics(p)', units: [monitorEntry, unit('monitor', 'linux_process_metrics')], own: (c) => c.monitors[1] },
      { key: 'monitor:linux_system_metrics(m)', units: [monitorEntry, unit('monitor', 'linux_system_metrics')], own: (c) => c.monitors[2] },
      // Every other registered monitor runs from its example (entries appended to base.monitors below).
      ...otherMonitors.map((m, i) => ({ key: `monitor:${m.type}(matrix)`, units: [monitorEntry, unit('monitor', m.type)], own: (c: Cfg) => c.monitors[3 + i] })),
      { key: 'apm', units: apmUnits, own: (c) => c.apm },
      // The receiver's logs pass its own sampling and redaction stages.
      { key: 'otlp_receiver', units: [...otlpUnits, unit('operator', 'sample'), unit('operator', 'redact')], own: (c) => c.otlp_receiver },
      { key: 'http_endpoint', units: [{ name: 'http_endpoint', options: HTTP_ENDPOINT_OPTIONS }], own: (c) => c.http_endpoint },
      { key: 'source:beacon(b)', units: [unit('source', 'beacon')], own: (c) => (c.sources as Obj[])[0] },
    ];
    const agentUnit: Unit = { name: 'agent', options: PART_DECLARATIONS.agent.map((o) => ({ ...o, scope: 'global' as const })) };

    const logger = memoryLogger();
    const mine = () => created.filter((c) => c.logger === logger);
    agent = createAgent({ logger, config: base, registry, stopDeadlineMs: 1000 });
    await agent.start();
    const a = agent;
    env.monitorLogKeys = monitorLogs().map((p) => `log:${p}`);
    const failures: string[] = [];
    const covered: string[] = [];
    const fail = (what: string, msg: string) => failures.push(`${what}: ${msg}`);

    /** Waits until no component has been created for a while (parts build some lazily: chains per file, monitors at their first sample). */
    async function settled(): Promise<void> {
      for (let n = created.length; ; n = created.length) {
        await new Promise((r) => setTimeout(r, 150));
        if (created.length === n) return;
      }
    }

    /** Changes one option, checks the outcome, and goes back to `from`. */
    async function change(what: string, from: Cfg, parts: Slot[], o: OptionDecl, u: Unit, slot: Slot | undefined): Promise<void> {
      const special = SPECIAL[what] ?? {};
      if (special.skip) return;
      const next = structuredClone(from);
      const global = (o.scope ?? 'own') === 'global';
      const holder = global ? next : slot!.own(next);
      const before = structuredClone(holder[o.name]);
      holder[o.name] = special.value ? special.value(before, env) : another(o, before);
      // The parts whose components declare it, and how they take it.
      const declarers = parts.filter((p) => (global ? p.units.some((x) => x.options.some((d) => d.name === o.name && d.scope === 'global')) : p === slot));
      const decls = declarers.flatMap((p) => p.units.flatMap((x) => x.options.filter((d) => d.name === o.name && (d.scope ?? 'own') === (o.scope ?? 'own'))));
      const noEffect = o.noEffect || (decls.length > 0 && decls.every((d) => d.noEffect));
      const live = decls.length > 0 ? decls.every((d) => d.live) : !!o.live;
      // An agent option (a component's own option may share its name: the receiver's `max_pending_bytes`).
      const agentOpt = global || u === agentUnit ? PART_DECLARATIONS.agent.find((x) => x.name === o.name) : undefined;
      const expectTouched = special.touched ? special.touched(env) : noEffect || live ? [] : declarers.map((p) => p.key);
      // A monitor option that changes the log files it writes (`message_log`, `parser`…) changes their log entries: those parts restart too.
      const logsBefore = new Map((a.config.logs as Obj[]).map((e) => [`log:${String(e.path)}`, canonical(e)]));
      const expectReconfigured = !special.touched && live && !noEffect ? declarers.map((p) => p.key) : [];
      const valueIn = (c: unknown) => (global ? (c as Cfg)[o.name] : slot ? slot.own(structuredClone(c) as Cfg)?.[o.name] : undefined);
      const validatedBefore = valueIn(a.config);
      await settled();
      const createdBefore = mine().length;
      const out: ReloadOutcome = await a.reload(next);
      covered.push(what);
      if (!out.ok) {
        fail(what, `reload failed: ${(out.errors ?? []).join('; ')}`);
        await restore(what, from);
        return;
      }
      const logsAfter = new Map((a.config.logs as Obj[]).map((e) => [`log:${String(e.path)}`, canonical(e)]));
      if (!special.touched && !noEffect && !live && declarers.some((p) => p.key.startsWith('monitor:'))) {
        for (const [k, v] of logsBefore) if (env.monitorLogKeys.includes(k) && logsAfter.get(k) !== v && !expectTouched.includes(k)) expectTouched.push(k);
      }
      const touched = [...(out.restarted ?? []), ...(out.stopped ?? [])];
      if (canonical(sorted(touched)) !== canonical(sorted(expectTouched))) fail(what, `restarted/stopped ${JSON.stringify(sorted(touched))}, expected ${JSON.stringify(sorted(expectTouched))}`);
      const started = special.started ?? (out.stopped ?? []).length;
      if ((out.started ?? []).length !== started) fail(what, `started ${JSON.stringify(out.started)}, expected ${started} part(s)`);
      if (canonical(sorted(out.reconfigured)) !== canonical(sorted(expectReconfigured))) fail(what, `reconfigured ${JSON.stringify(sorted(out.reconfigured))}, expected ${JSON.stringify(sorted(expectReconfigured))}`);
      for (const p of parts) if (!expectTouched.includes(p.key) && !(out.unchanged ?? []).includes(p.key)) fail(what, `${p.key} is not unchanged`);
      // needsRestart: agent options read only at start.
      const restart = !!agentOpt && !agentOpt.live && !agentOpt.noEffect;
      if (restart !== (out.needsRestart ?? []).includes(o.name)) fail(what, `needsRestart ${JSON.stringify(out.needsRestart)}${restart ? ' should list it' : ' should not list it'}`);
      if (restart !== (a.status().config.needsRestart ?? []).includes(o.name)) fail(what, `status config.needsRestart ${JSON.stringify(a.status().config.needsRestart)}`);
      // The new value got through validation, and the rebuilt components were created with it.
      const now = valueIn(a.config);
      if (!special.touched && expectTouched.length > 0) {
        if (canonical(now) === canonical(validatedBefore)) fail(what, `the validated config did not change (${canonical(now)})`);
        const makers = declarers.flatMap((p) => p.units.filter((x) => x.component && x.options.some((d) => d.name === o.name)));
        for (const m of new Set(makers.map((x) => x.name))) {
          try {
            await waitFor(`${m} created with ${o.name}`, () => mine().slice(createdBefore).some((c) => c.name === m && canonical((global ? c.agent : c.config)[o.name]) === canonical(now)), 3000);
          } catch {
            const seen = mine().slice(createdBefore).filter((c) => c.name === m).map((c) => canonical((global ? c.agent : c.config)[o.name]));
            fail(what, `${m} was not created with the new value ${canonical(now)} (created with ${seen.join(', ') || 'nothing'})`);
          }
        }
      }
      // Nothing else was built again (a restarted entry builds its chain when it opens its files).
      await settled();
      const touchedUnits = new Set([...parts.filter((p) => expectTouched.includes(p.key) || (out.started ?? []).length > 0).flatMap((p) => p.units.map((x) => x.name)), ...(special.alsoBuilt ?? [])]);
      const strays = mine().slice(createdBefore).filter((c) => !touchedUnits.has(c.name) && !(special.started ?? 0));
      if (strays.length) fail(what, `created again: ${[...new Set(strays.map((c) => c.name))].join(', ')}`);
      await restore(what, from);
    }

    async function restore(what: string, to: Cfg): Promise<void> {
      const back = await a.reload(to);
      if (!back.ok) fail(what, `going back failed: ${(back.errors ?? []).join('; ')}`);
      if ((back.needsRestart ?? []).length) fail(what, `needsRestart after going back: ${JSON.stringify(back.needsRestart)}`);
    }

    /** Every declared option of the units, once (top-level ones once whoever declares them). */
    async function matrix(from: Cfg, parts: Slot[], units: Unit[], seen: Set<string>): Promise<void> {
      for (const u of units) {
        const slot = parts.find((p) => p.units.includes(u));
        for (const o of u.options) {
          const global = (o.scope ?? 'own') === 'global';
          const what = global ? `global.${o.name}` : `${u.name}.${o.name}`;
          if (seen.has(what)) continue;
          seen.add(what);
          await change(what, from, parts, o, u, global ? undefined : slot);
        }
      }
    }

    // Phase 1: addEvents.
    const phase1 = slots(unit('sink', 'addEvents'));
    const seen = new Set<string>();
    await matrix(base, phase1, [...new Set(phase1.flatMap((p) => p.units))], seen);
    // Then the agent's own options (those a component also declares were changed above, where
    // the expectation includes needsRestart too).
    for (const o of agentUnit.options) {
      if (seen.has(`global.${o.name}`)) continue;
      await change(`agent.${o.name}`, base, phase1, o, agentUnit, undefined);
    }

    // A plugin operator that declares nothing: any change to its item restarts its entry (and only that).
    const withOp = structuredClone(base);
    withOp.logs[1].operators = [{ type: 'uppercase' }];
    expect((await a.reload(withOp)).restarted).toEqual([env.logKeys[1]]);
    const opChanged = structuredClone(withOp);
    (opChanged.logs[1].operators as Obj[])[0].field = 'x';
    expect(await a.reload(opChanged)).toMatchObject({ restarted: [env.logKeys[1]], reconfigured: [] });
    expect((await a.reload(base)).restarted).toEqual([env.logKeys[1]]);

    // Phase 2: the embedded sink (no api_key), in the same agent.
    const embeddedBase: Cfg = structuredClone(base);
    delete embeddedBase.api_key;
    expect((await a.reload(embeddedBase)).restarted).toEqual(['sink']);
    const embedded = unit('sink', 'embedded');
    await matrix(embeddedBase, slots(embedded), [embedded], new Set());

    // Phase 3: an OTLP sink (the singular `sink` of type otlp), in the same agent.
    const otlpBase: Cfg = { ...structuredClone(base), sink: { type: 'otlp', endpoint: otlp.url, retry_base_ms: 50, retry_max_ms: 100, linger_ms: 20 } };
    expect((await a.reload(otlpBase)).restarted).toEqual(['sink']);
    const otlpSink = unit('sink', 'otlp');
    await matrix(otlpBase, slots(otlpSink), [otlpSink], new Set());
    expect((await a.reload(base)).restarted).toEqual(['sink']);

    // Every built-in component was in the matrix.
    const inMatrix = new Set([...phase1, ...slots(embedded), ...slots(otlpSink)].flatMap((p) => p.units.map((x) => x.name)));
    for (const c of createDefaultRegistry().components()) if (!inMatrix.has(`${c.kind}:${c.type}`)) fail(`${c.kind}:${c.type}`, 'is not part of the running agent in this spec');
    expect(covered.length).toBeGreaterThan(50);
    expect(covered).toEqual(expect.arrayContaining(['source:beacon.text', 'source:beacon.every_ms', 'agent.sources', 'log entry.operators', 'sink:embedded.dir']));
    expect(failures).toEqual([]);
  }, 300_000);
});
