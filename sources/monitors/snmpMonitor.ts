/**
 * `snmp_monitor` (Scalyr's `scalyr_agent.builtin_monitors.snmp_monitor`): at each sample sends one
 * SNMP GET of the OIDs of its `oid_groups` to every device of `poll_targets`, with the pure-JS
 * `net-snmp` client, and records each value as Scalyr's agent does (`emit_value(oid.prettyPrint(),
 * value.prettyPrint(), {oid, poll_target})`):
 *
 * ```
 * 2026-12-03 12:00:00.123Z [snmp_monitor(id)] SNMPv2-MIB__sysUpTime.0 "4711" oid="SNMPv2-MIB::sysUpTime.0" poll_target="127.0.0.1:1161"
 * ```
 *
 * The metric name is the OID by name (sanitized by the metric line writer: `::` → `__`), the
 * value is Scalyr's pretty-printed text (a JSON string, also for numbers, as Scalyr writes it),
 * `poll_target` is `host`, or `host:port` when the target names a port (sluice: a Counter32 or
 * Counter64 value is marked as a counter, so OTLP exports it as a monotonic sum). With
 * `use_legacy_format: true` the line is Scalyr's old `poll-target "<name>" oid="…" value_="…"`.
 *
 * OIDs: numeric (`1.3.6.1.2.1.1.3.0`) or `MIB::name` from a built-in table of common
 * SNMPv2-MIB, SNMPv2-SMI, IF-MIB and HOST-RESOURCES-MIB names (`SNMP_NAMES`); MIB files are not
 * loaded (`mib_path` has no effect), and a name outside the table is a config error. As in
 * Scalyr, `MIB::name` without an index asks for instance `.1` (`IF-MIB::ifDescr` is
 * `IF-MIB::ifDescr.1`); sluice also accepts an explicit index (`SNMPv2-MIB::sysUpTime.0`).
 * Numeric OIDs are printed by name when the table knows them (pysnmp resolves them by its MIBs
 * too), by the nearest known parent otherwise (`SNMPv2-SMI::enterprises.8072.1`).
 *
 * Versions: `SNMPv1` and `SNMPv2` (v2c, the default); SNMPv3 (`version: "SNMPv3"` or a `user`)
 * is refused by `check` ("version 3 is not supported yet"). Scalyr always sends the community
 * `public`; sluice adds a per-target `community` (default `public`).
 *
 * Faults, per target: no answer within `timeout` × (1 + `retries`) (agent down, wrong community:
 * snmpd drops such requests silently, slow), an error status, an answer that is not SNMP, and
 * `noSuchObject`/`noSuchInstance` for some OIDs (the other values are still recorded; each
 * missing value is counted as a drop `snmp_no_such_object`). A failing target fails the sample
 * after the other targets' values are emitted, so the monitor source counts it (`errors`,
 * `lastError`), logs the first failure of a burst and retries with backoff; a change of fault
 * within a burst, and a fault still going on after `error_repeat_interval` seconds, are logged
 * here once. Nothing is thrown into the agent; each sample's UDP sockets are closed when it ends.
 */
import { Observable } from 'rxjs';
import type { MonitorContext } from '../../lib/registry.js';
import { defineComponent, readDeclared, type OptionDecl, type OptionProblem } from '../../lib/component.js';
import { scalyrOption as s, sluiceOption as own } from '../../lib/config/schema.js';
import { countDrop } from '../../lib/counters.js';
import type { ScalyrMonitorSample } from './metricLine.js';
import { noteFault } from './faultLog.js';

/** Built-in MIB names (what `MIB::name` resolves to): name → numeric OID of the object. */
export const SNMP_NAMES: Readonly<Record<string, string>> = {
  // SNMPv2-SMI nodes (the parents pysnmp prints unknown OIDs under)
  'SNMPv2-SMI::iso': '1',
  'SNMPv2-SMI::internet': '1.3.6.1',
  'SNMPv2-SMI::mgmt': '1.3.6.1.2',
  'SNMPv2-SMI::mib-2': '1.3.6.1.2.1',
  'SNMPv2-SMI::transmission': '1.3.6.1.2.1.10',
  'SNMPv2-SMI::experimental': '1.3.6.1.3',
  'SNMPv2-SMI::private': '1.3.6.1.4',
  'SNMPv2-SMI::enterprises': '1.3.6.1.4.1',
  'SNMPv2-SMI::snmpV2': '1.3.6.1.6',
  // SNMPv2-MIB system group and snmp counters
  'SNMPv2-MIB::system': '1.3.6.1.2.1.1',
  'SNMPv2-MIB::sysDescr': '1.3.6.1.2.1.1.1',
  'SNMPv2-MIB::sysObjectID': '1.3.6.1.2.1.1.2',
  'SNMPv2-MIB::sysUpTime': '1.3.6.1.2.1.1.3',
  'SNMPv2-MIB::sysContact': '1.3.6.1.2.1.1.4',
  'SNMPv2-MIB::sysName': '1.3.6.1.2.1.1.5',
  'SNMPv2-MIB::sysLocation': '1.3.6.1.2.1.1.6',
  'SNMPv2-MIB::sysServices': '1.3.6.1.2.1.1.7',
  'SNMPv2-MIB::sysORLastChange': '1.3.6.1.2.1.1.8',
  'SNMPv2-MIB::sysORID': '1.3.6.1.2.1.1.9.1.2',
  'SNMPv2-MIB::sysORDescr': '1.3.6.1.2.1.1.9.1.3',
  'SNMPv2-MIB::sysORUpTime': '1.3.6.1.2.1.1.9.1.4',
  'SNMPv2-MIB::snmpInPkts': '1.3.6.1.2.1.11.1',
  'SNMPv2-MIB::snmpOutPkts': '1.3.6.1.2.1.11.2',
  'SNMPv2-MIB::snmpInBadCommunityNames': '1.3.6.1.2.1.11.4',
  'SNMPv2-MIB::snmpInBadCommunityUses': '1.3.6.1.2.1.11.5',
  'SNMPv2-MIB::snmpInASNParseErrs': '1.3.6.1.2.1.11.6',
  'SNMPv2-MIB::snmpEnableAuthenTraps': '1.3.6.1.2.1.11.30',
  // IF-MIB interfaces group and ifXTable
  'IF-MIB::ifNumber': '1.3.6.1.2.1.2.1',
  'IF-MIB::ifIndex': '1.3.6.1.2.1.2.2.1.1',
  'IF-MIB::ifDescr': '1.3.6.1.2.1.2.2.1.2',
  'IF-MIB::ifType': '1.3.6.1.2.1.2.2.1.3',
  'IF-MIB::ifMtu': '1.3.6.1.2.1.2.2.1.4',
  'IF-MIB::ifSpeed': '1.3.6.1.2.1.2.2.1.5',
  'IF-MIB::ifPhysAddress': '1.3.6.1.2.1.2.2.1.6',
  'IF-MIB::ifAdminStatus': '1.3.6.1.2.1.2.2.1.7',
  'IF-MIB::ifOperStatus': '1.3.6.1.2.1.2.2.1.8',
  'IF-MIB::ifLastChange': '1.3.6.1.2.1.2.2.1.9',
  'IF-MIB::ifInOctets': '1.3.6.1.2.1.2.2.1.10',
  'IF-MIB::ifInUcastPkts': '1.3.6.1.2.1.2.2.1.11',
  'IF-MIB::ifInNUcastPkts': '1.3.6.1.2.1.2.2.1.12',
  'IF-MIB::ifInDiscards': '1.3.6.1.2.1.2.2.1.13',
  'IF-MIB::ifInErrors': '1.3.6.1.2.1.2.2.1.14',
  'IF-MIB::ifInUnknownProtos': '1.3.6.1.2.1.2.2.1.15',
  'IF-MIB::ifOutOctets': '1.3.6.1.2.1.2.2.1.16',
  'IF-MIB::ifOutUcastPkts': '1.3.6.1.2.1.2.2.1.17',
  'IF-MIB::ifOutNUcastPkts': '1.3.6.1.2.1.2.2.1.18',
  'IF-MIB::ifOutDiscards': '1.3.6.1.2.1.2.2.1.19',
  'IF-MIB::ifOutErrors': '1.3.6.1.2.1.2.2.1.20',
  'IF-MIB::ifOutQLen': '1.3.6.1.2.1.2.2.1.21',
  'IF-MIB::ifSpecific': '1.3.6.1.2.1.2.2.1.22',
  'IF-MIB::ifName': '1.3.6.1.2.1.31.1.1.1.1',
  'IF-MIB::ifInMulticastPkts': '1.3.6.1.2.1.31.1.1.1.2',
  'IF-MIB::ifInBroadcastPkts': '1.3.6.1.2.1.31.1.1.1.3',
  'IF-MIB::ifOutMulticastPkts': '1.3.6.1.2.1.31.1.1.1.4',
  'IF-MIB::ifOutBroadcastPkts': '1.3.6.1.2.1.31.1.1.1.5',
  'IF-MIB::ifHCInOctets': '1.3.6.1.2.1.31.1.1.1.6',
  'IF-MIB::ifHCInUcastPkts': '1.3.6.1.2.1.31.1.1.1.7',
  'IF-MIB::ifHCOutOctets': '1.3.6.1.2.1.31.1.1.1.10',
  'IF-MIB::ifHCOutUcastPkts': '1.3.6.1.2.1.31.1.1.1.11',
  'IF-MIB::ifHighSpeed': '1.3.6.1.2.1.31.1.1.1.15',
  'IF-MIB::ifAlias': '1.3.6.1.2.1.31.1.1.1.18',
  // HOST-RESOURCES-MIB scalars
  'HOST-RESOURCES-MIB::hrSystemUptime': '1.3.6.1.2.1.25.1.1',
  'HOST-RESOURCES-MIB::hrSystemNumUsers': '1.3.6.1.2.1.25.1.5',
  'HOST-RESOURCES-MIB::hrSystemProcesses': '1.3.6.1.2.1.25.1.6',
  'HOST-RESOURCES-MIB::hrSystemMaxProcesses': '1.3.6.1.2.1.25.1.7',
  'HOST-RESOURCES-MIB::hrMemorySize': '1.3.6.1.2.1.25.2.2',
};

interface Varbind {
  oid: string;
  type: number;
  value: unknown;
}
interface SnmpSession {
  on(event: 'error', f: (e: Error) => void): unknown;
  get(oids: string[], cb: (error: unknown, varbinds: Varbind[]) => void): unknown;
  close(): unknown;
}
interface NetSnmp {
  Version1: number;
  Version2c: number;
  createSession(host: string, community: string, options: Record<string, unknown>): SnmpSession;
  isVarbindError(vb: Varbind): boolean;
  varbindError(vb: Varbind): string;
}
let snmpModule: Promise<NetSnmp> | undefined;
/** `net-snmp` is loaded on the first sample only (a config without snmp_monitor never loads it). */
function loadSnmp(): Promise<NetSnmp> {
  const name = 'net-snmp';
  snmpModule ??= import(name).then((m: { default?: NetSnmp } & NetSnmp) => m.default ?? m);
  return snmpModule;
}

/** SNMP value types (ASN.1 tags) that `prettyValue` prints specially. */
const COUNTER64 = 70;
const OPAQUE = 68;
/** Counter32 (RFC 2578 §7.1.6: increases until it wraps at 2^32) and Counter64: values marked as counters. */
const COUNTER32 = 65;
const isCounterType = (type: number) => type === COUNTER32 || type === COUNTER64;

const BY_OID: ReadonlyMap<string, string> = new Map(Object.entries(SNMP_NAMES).map(([name, oid]) => [oid, name]));
const NUMERIC_OID = /^\.?\d+(\.\d+)*$/;
const MIB_NAME = /^([^:]+)::(.+)$/;

/** A configured OID or `MIB::name[.index]` as a numeric OID (throws a config error). */
export function resolveOid(spec: string): string {
  const t = spec.trim();
  if (NUMERIC_OID.test(t)) return t.replace(/^\./, '');
  const m = MIB_NAME.exec(t);
  if (!m) throw new Error(`"${spec}" is neither a numeric OID (1.3.6.1.2.1.1.3.0) nor a MIB variable (SNMPv2-MIB::sysUpTime.0)`);
  const [, mib, rest] = m;
  const dot = rest.indexOf('.');
  const symbol = dot < 0 ? rest : rest.slice(0, dot);
  const index = dot < 0 ? '1' : rest.slice(dot + 1); // Scalyr asks for instance 1 of a bare name
  const base = SNMP_NAMES[`${mib}::${symbol}`];
  if (base === undefined) {
    throw new Error(`unknown MIB variable "${mib}::${symbol}": sluice knows the common SNMPv2-MIB, IF-MIB and HOST-RESOURCES-MIB names only and does not load MIB files (mib_path); use the numeric OID`);
  }
  if (!/^\d+(\.\d+)*$/.test(index)) throw new Error(`"${spec}": the index after "${symbol}" must be numeric (e.g. ${mib}::${symbol}.0)`);
  return `${base}.${index}`;
}

/** An OID as pysnmp's `prettyPrint` shows it: by the nearest known name, then the rest numerically. */
export function prettyOid(oid: string): string {
  const parts = oid.split('.');
  for (let n = parts.length; n > 0; n--) {
    const name = BY_OID.get(parts.slice(0, n).join('.'));
    if (name !== undefined) return n === parts.length ? name : `${name}.${parts.slice(n).join('.')}`;
  }
  return oid;
}

/** A value as pysnmp's `prettyPrint` shows it (text of printable strings, else `0x…`). */
export function prettyValue(type: number, value: unknown): string {
  if (Buffer.isBuffer(value)) {
    if (type === COUNTER64 || type === OPAQUE) {
      if (type === COUNTER64) return value.length === 0 ? '0' : BigInt('0x' + value.toString('hex')).toString();
      return '0x' + value.toString('hex');
    }
    const text = value.toString('utf8');
    const printable = Buffer.from(text, 'utf8').equals(value) && !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text);
    return printable ? text : '0x' + value.toString('hex');
  }
  if (value === null || value === undefined) return '';
  if (typeof value === 'bigint') return value.toString();
  return String(value);
}

const TARGET_FIELDS: OptionDecl[] = [
  s({ name: 'host', type: 'string', required: true, description: 'Domain name or IP address of the device to query.' }),
  s({ name: 'port', type: 'int', default: 161, min: 1, max: 65535, description: 'UDP port of the device (when given, `poll_target` is `host:port`).' }),
  s({ name: 'version', type: 'string', defaultText: '`SNMPv2` (`SNMPv3` when `user` is given)', description: 'SNMP version: `SNMPv1` or `SNMPv2` (v2c; as in Scalyr, any other value but `SNMPv3` means v2c). `SNMPv3` is not supported yet (refused).' }),
  s({ name: 'timeout', type: 'float', default: 1, min: 0.01, max: 60, description: 'Seconds to wait for an answer to one request.' }),
  s({ name: 'retries', type: 'int', default: 3, min: 0, max: 10, description: 'How many times a request that got no answer is sent again.' }),
  s({ name: 'user', type: 'object', description: 'SNMPv3 user (`username`, `auth_key`, `auth_protocol`, `priv_key`, `priv_protocol`). Not supported yet: a target with `user` is refused.' }),
  own({ name: 'community', type: 'string', default: 'public', description: 'sluice addition: the SNMPv1/v2c community (Scalyr always sends `public`).' }),
];

const POLL_TARGET_FIELDS: OptionDecl[] = [
  s({ name: 'targets', type: 'array', required: true, fields: TARGET_FIELDS, description: 'The devices: `{"host", "port", "version", "timeout", "retries", "community"}` objects.' }),
  s({ name: 'oids', type: 'array', required: true, description: 'Names of `oid_groups` to query on each of these devices.' }),
];

export const SNMP_MONITOR_OPTIONS: OptionDecl[] = [
  s({ name: 'error_repeat_interval', type: 'int', default: 300, min: 1, description: 'While a device keeps failing the same way, seconds between repeats of its error message.' }),
  s({ name: 'mib_path', type: 'string', noEffect: true, description: 'Scalyr: a directory of ASN.1 MIB files for resolving `MIB::name` variables. Accepted and ignored: sluice resolves names from a built-in table of common SNMPv2-MIB, IF-MIB and HOST-RESOURCES-MIB names and does not load MIB files; use numeric OIDs for anything else.' }),
  s({ name: 'oid_groups', type: 'object', description: 'Maps a group name to a list of OIDs: numeric (`1.3.6.1.2.1.1.3.0`) or MIB variables (`IF-MIB::ifDescr`, instance 1 as in Scalyr; `SNMPv2-MIB::sysUpTime.0` with an explicit index).' }),
  s({ name: 'poll_targets', type: 'array', fields: POLL_TARGET_FIELDS, description: 'A list of `{"targets": [devices], "oids": [group names]}`: each device is sent one GET of the OIDs of its groups per sample.' }),
  s({ name: 'use_legacy_format', type: 'bool', default: false, description: 'Write Scalyr\'s old line shape: metric `poll-target`, the device as value, fields `oid` and `value_`.' }),
];

interface Target {
  name: string;
  host: string;
  port: number;
  version: 1 | 2;
  community: string;
  timeoutMs: number;
  retries: number;
  oids: string[];
  fault?: Fault;
  faultLoggedAt: number;
}

type Fault = 'timeout' | 'status' | 'garbage' | 'no_such_object' | 'error';

class TargetError extends Error {
  constructor(
    readonly kind: Fault,
    message: string,
  ) {
    super(message);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Scalyr's config errors, plus the ones sluice adds (unsupported v3, unknown names). */
export function checkSnmpMonitor(c: Readonly<Record<string, unknown>>): OptionProblem[] {
  const problems: OptionProblem[] = [];
  const groups = c.oid_groups;
  if (groups !== undefined && groups !== null) {
    if (!isObj(groups)) problems.push({ key: 'oid_groups', message: 'must be an object mapping group names to lists of OIDs' });
    else
      for (const [g, list] of Object.entries(groups)) {
        if (!Array.isArray(list)) {
          problems.push({ key: `oid_groups.${g}`, message: 'must be a list of OIDs' });
          continue;
        }
        list.forEach((o, i) => {
          if (typeof o !== 'string') problems.push({ key: `oid_groups.${g}[${i}]`, message: 'must be an OID string' });
          else
            try {
              resolveOid(o);
            } catch (e) {
              problems.push({ key: `oid_groups.${g}[${i}]`, message: (e as Error).message });
            }
        });
      }
  }
  const pts = c.poll_targets;
  if (pts === undefined || pts === null) return problems;
  if (!Array.isArray(pts)) return [...problems, { key: 'poll_targets', message: 'must be a list of {targets, oids} objects' }];
  pts.forEach((pt, i) => {
    const k = `poll_targets[${i}]`;
    if (!isObj(pt)) return problems.push({ key: k, message: 'must be an object {targets, oids}' });
    if (!Array.isArray(pt.targets)) problems.push({ key: `${k}.targets`, message: 'poll_target does not contain a "targets" list' });
    else
      pt.targets.forEach((t, j) => {
        const tk = `${k}.targets[${j}]`;
        if (!isObj(t) || typeof t.host !== 'string' || t.host === '') return problems.push({ key: tk, message: 'each target must specify a "host"' });
        const version = typeof t.version === 'string' ? t.version.toLowerCase() : t.user !== undefined ? 'snmpv3' : 'snmpv2';
        if (t.user !== undefined && version !== 'snmpv3') problems.push({ key: `${tk}.user`, message: 'user authentication is only supported for SNMPv3' });
        else if (version === 'snmpv3') problems.push({ key: `${tk}.version`, message: 'SNMP version 3 is not supported yet (use SNMPv2 or SNMPv1)' });
        // Any other version string is SNMPv2 (v2c), as in Scalyr.
        return undefined;
      });
    if (!Array.isArray(pt.oids)) problems.push({ key: `${k}.oids`, message: 'poll_target does not contain an "oids" list' });
    else {
      let n = 0;
      for (const g of pt.oids) {
        if (!isObj(groups) || !Array.isArray(groups[String(g)])) problems.push({ key: `${k}.oids`, message: `'${String(g)}' is not a valid oid group` });
        else n += (groups[String(g)] as unknown[]).length;
      }
      if (n === 0 && pt.oids.every((g) => isObj(groups) && Array.isArray(groups[String(g)]))) problems.push({ key: `${k}.oids`, message: 'no oid groups specified for poll_target' });
    }
    return undefined;
  });
  return problems;
}

function classify(err: unknown, t: Target, sawGarbage: string | undefined): TargetError {
  if (err instanceof TargetError) return err;
  const e = err as Error & { status?: number };
  const msg = e?.message ?? String(err);
  if (e?.name === 'RequestTimedOutError') {
    if (sawGarbage) return new TargetError('garbage', `${t.name} answered with something that is not SNMP (${sawGarbage})`);
    return new TargetError('timeout', `No SNMP response received before timeout from ${t.name} (${t.timeoutMs / 1000}s, ${t.retries} retries): the agent is down, slow, or does not accept the community "${t.community}"`);
  }
  if (e?.name === 'RequestFailedError') return new TargetError('status', `${t.name}: ${msg}`);
  if (e?.name === 'ResponseInvalidError') return new TargetError('garbage', `${t.name} sent an invalid SNMP response: ${msg}`);
  return new TargetError('error', `An unexpected error occurred querying ${t.name}: ${msg}`);
}

export function snmpMonitor(config: Readonly<Record<string, unknown>>, ctx: MonitorContext): Observable<ScalyrMonitorSample[]> {
  const c = readDeclared(SNMP_MONITOR_OPTIONS, config);
  const [problem] = checkSnmpMonitor(c);
  if (problem) throw new Error(`snmp_monitor: Configuration Error, "${problem.key}" ${problem.message}`);
  const repeatMs = Number(c.error_repeat_interval) * 1000;
  const legacy = c.use_legacy_format === true;
  const groups = (c.oid_groups ?? {}) as Record<string, string[]>;
  const targets: Target[] = [];
  for (const pt of (c.poll_targets ?? []) as Record<string, unknown>[]) {
    const p = readDeclared(POLL_TARGET_FIELDS, pt);
    const oids = (p.oids as string[]).flatMap((g) => groups[g].map(resolveOid));
    for (const raw of p.targets as Record<string, unknown>[]) {
      const o = readDeclared(TARGET_FIELDS, raw);
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`snmp_monitor: a target's "port" must be an integer in 1..65535 (got ${String(o.port)})`);
      const host = String(o.host);
      const version = (typeof o.version === 'string' ? o.version.toLowerCase() : 'snmpv2') === 'snmpv1' ? 1 : 2;
      targets.push({
        name: raw.port !== undefined && raw.port !== null ? `${host}:${port}` : host,
        host,
        port,
        version,
        community: String(o.community),
        timeoutMs: Math.max(10, Math.round(Number(o.timeout) * 1000)),
        retries: Math.max(0, Math.trunc(Number(o.retries))),
        oids,
        faultLoggedAt: 0,
      });
    }
  }

  function get(snmp: NetSnmp, t: Target, open: Set<() => void>): Promise<ScalyrMonitorSample[]> {
    return new Promise((resolve, reject) => {
      let garbage: string | undefined;
      let session: SnmpSession | undefined;
      const closeSession = () => done(new Error('stopped'));
      const done = (err: unknown, out?: ScalyrMonitorSample[]) => {
        open.delete(closeSession);
        try {
          session?.close();
        } catch {
          /* already closed */
        }
        session = undefined;
        if (err) reject(classify(err, t, garbage));
        else resolve(out!);
      };
      try {
        session = snmp.createSession(t.host, t.community, { port: t.port, version: t.version === 1 ? snmp.Version1 : snmp.Version2c, timeout: t.timeoutMs, retries: t.retries, transport: t.host.includes(':') ? 'udp6' : 'udp4' });
        open.add(closeSession);
        session.on('error', (e: Error) => {
          garbage = e?.message ?? String(e);
        });
        session.get(t.oids, (error, varbinds) => {
          if (error) return done(error);
          const out: ScalyrMonitorSample[] = [];
          const missing: string[] = [];
          for (const vb of varbinds) {
            const oid = prettyOid(vb.oid);
            if (snmp.isVarbindError(vb)) {
              missing.push(`${oid}: ${snmp.varbindError(vb)}`);
              if (ctx.counters) countDrop(ctx.counters, 'snmp_no_such_object');
              continue;
            }
            const value = prettyValue(vb.type, vb.value);
            // A Counter32/Counter64 value is a cumulative counter (OTLP: a monotonic sum; a wrap is a reset).
            out.push(legacy ? { metric: 'poll-target', value: t.name, fields: { oid, value } } : { metric: oid, value, fields: { oid, poll_target: t.name }, ...(isCounterType(vb.type) ? { counter: true } : {}) });
          }
          if (missing.length > 0) {
            const e = new TargetError('no_such_object', `${t.name} has no value for ${missing.join('; ')}`);
            (e as TargetError & { partial?: ScalyrMonitorSample[] }).partial = out;
            return done(e);
          }
          return done(undefined, out);
        });
      } catch (err) {
        done(err);
      }
    });
  }

  // A failure burst is going on (the monitor source logged its first failure already).
  let burst = false;
  return new Observable<ScalyrMonitorSample[]>((subscriber) => {
    let closed = false;
    // The sessions of this sample still waiting: closed (their requests cancelled) at unsubscribe.
    const open = new Set<() => void>();
    void (async () => {
      const snmp = await loadSnmp();
      if (closed) return;
      const results = await Promise.all(
        targets.map((t) =>
          get(snmp, t, open).then(
            (out) => ({ t, out, err: undefined as TargetError | undefined }),
            (err: TargetError & { partial?: ScalyrMonitorSample[] }) => ({ t, out: err.partial ?? [], err }),
          ),
        ),
      );
      if (closed) return;
      const all: ScalyrMonitorSample[] = [];
      const failed: TargetError[] = [];
      const now = Date.now();
      for (const { t, out, err } of results) {
        all.push(...out);
        if (!err) {
          t.fault = undefined;
          continue;
        }
        // One error per fault change (or per error_repeat_interval): faultLog.ts.
        if (noteFault(t, err.kind, now, repeatMs, burst)) ctx.logger.error(`monitor ${ctx.id}: ${err.message}`, { monitor: ctx.id });
        failed.push(err);
      }
      if (all.length > 0) subscriber.next(all);
      burst = failed.length > 0;
      if (failed.length > 0) subscriber.error(new Error(failed.map((e) => e.message).join('; ')));
      else subscriber.complete();
    })().catch((err) => {
      if (!closed) subscriber.error(err);
    });
    return () => {
      closed = true;
      for (const close of [...open]) close();
    };
  });
}

export const snmpMonitorComponent = defineComponent({
  kind: 'monitor',
  type: 'snmp_monitor',
  aliases: ['scalyr_agent.builtin_monitors.snmp_monitor'],
  doc: 'Polls SNMP devices (`poll_targets`) with one SNMPv1/v2c GET per device and sample for the OIDs of its `oid_groups`, and records each value as Scalyr does: the OID by name as the metric (`SNMPv2-MIB__sysUpTime.0`), the pretty-printed value as a string, fields `oid` and `poll_target`. OIDs are numeric or `MIB::name` from a built-in table of common SNMPv2-MIB, IF-MIB and HOST-RESOURCES-MIB names (MIB files from `mib_path` are not loaded; a bare name means instance 1, as in Scalyr). SNMPv3 is not supported yet. Counter32 and Counter64 values are exported over OTLP as monotonic cumulative sums, the rest as gauges.',
  options: SNMP_MONITOR_OPTIONS,
  check: checkSnmpMonitor,
  example: {
    module: 'snmp_monitor',
    id: 'switches',
    oid_groups: { system: ['SNMPv2-MIB::sysUpTime.0', 'SNMPv2-MIB::sysDescr.0'], interfaces: ['IF-MIB::ifNumber.0', '1.3.6.1.2.1.2.2.1.10.1'] },
    poll_targets: [{ targets: [{ host: '127.0.0.1', port: 161 }], oids: ['system', 'interfaces'] }],
  },
  create: snmpMonitor,
});
