/**
 * Real Scalyr Agent 2 configs (spec/fixtures/scalyr-configs/, see its README.md for where each one
 * comes from) load without errors, and every option key in them is either honoured (known to the
 * schema) or reported by a warning: unknown ("kept but not used"), "accepted, no effect" with the
 * reason, or a skipped monitor with the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, formatConfigError, configSchemaOf, type ConfigError } from '../app/config.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { parseLenientJson } from '../lib/config/lenientJson.js';
import { monitorComponentOf } from '../lib/config/validate.js';
import { optionsOf } from '../lib/component.js';
import type { OptionSpec } from '../lib/config/schema.js';

/** The schema the agent validates with (the built-in components' declarations). */
const schema = configSchemaOf(createDefaultRegistry());

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'scalyr-configs');
const mains = [
  ...fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort(),
  'modular/agent.json',
  'repo-k8s/agent.json',
];
const ENV = { SCALYR_API_KEY: 'k' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function parse(file: string): Obj {
  const r = parseLenientJson(fs.readFileSync(file), { file });
  if (!r.ok) throw new Error(`${file}: ${r.error.message}`);
  return r.value as Obj;
}

/** The main file and its agent.d fragments, in the order the loader merges them. */
function filesOf(main: string): Obj[] {
  const agentD = path.join(path.dirname(main), 'agent.d');
  const frags =
    path.basename(main) === 'agent.json' && fs.existsSync(agentD)
      ? fs
          .readdirSync(agentD)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => path.join(agentD, f))
      : [];
  return [main, ...frags].map(parse);
}

/** Key paths not honoured and not reported. */
function unaccounted(files: Obj[], warnings: ConfigError[]): string[] {
  const warned = (p: string, codes: string[]) => warnings.some((w) => w.path === p && codes.includes(w.code ?? ''));
  const missing: string[] = [];
  const checkKey = (specs: OptionSpec[], p: string, key: string, value: unknown) => {
    const spec = specs.find((s) => s.name === key);
    const kp = p ? `${p}.${key}` : key;
    if (!spec) {
      if (!warned(kp, ['unknownKey'])) missing.push(`${kp} (unknown, no warning)`);
    } else if (spec.noEffect && JSON.stringify(value) !== JSON.stringify(spec.default) && !warned(kp, ['noEffect'])) {
      missing.push(`${kp} (no effect, no warning)`);
    }
    return spec;
  };
  const checkList = (specs: OptionSpec[], p: string, list: unknown) => {
    if (!Array.isArray(list)) return;
    list.forEach((item, i) => {
      if (isObj(item)) for (const k of Object.keys(item)) checkKey(specs, `${p}[${i}]`, k, item[k]);
    });
  };
  let logIndex = 0;
  let monitorIndex = 0;
  for (const file of files) {
    for (const key of Object.keys(file)) {
      if (key === 'import_vars') continue;
      checkKey(schema.global, '', key, file[key]);
    }
    for (const entry of Array.isArray(file.logs) ? file.logs : []) {
      const p = `logs[${logIndex++}]`;
      if (!isObj(entry)) continue;
      for (const k of Object.keys(entry)) {
        const spec = checkKey(schema.logEntry, p, k, entry[k]);
        if (spec?.type === 'array' && spec.fields) checkList(spec.fields, `${p}.${k}`, entry[k]);
      }
    }
    for (const m of Array.isArray(file.monitors) ? file.monitors : []) {
      const p = `monitors[${monitorIndex++}]`;
      if (!isObj(m) || warned(`${p}.module`, ['unsupportedMonitor'])) continue; // skipped, with the reason
      const c = monitorComponentOf(schema, m.module);
      if (c?.options !== undefined) {
        // A monitor that declares its options: each key is one of them (or a common one) or warned.
        for (const k of Object.keys(m)) checkKey([...schema.monitorEntry, ...optionsOf(c)], p, k, m[k]);
      } else {
        for (const k of Object.keys(m)) {
          if (!schema.monitorEntry.some((s) => s.name === k)) missing.push(`${p}.${k} (monitor option sluice does not know)`);
        }
      }
    }
  }
  return missing;
}

describe('real Scalyr configs', () => {
  test('the fixture folder has configs, a README naming each, and the container/url monitors', () => {
    const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
    for (const m of mains) expect({ m, listed: readme.includes(path.basename(m) === 'agent.json' ? path.dirname(m) + '/' : m) }).toEqual({ m, listed: true });
    const all = mains.map((m) => fs.readFileSync(path.join(dir, m), 'utf8')).join('\n');
    for (const name of ['docker_monitor', 'url_monitor', 'kubernetes_monitor', 'kubernetes_events_monitor']) expect(all).toContain(name);
  });

  // Configs Scalyr's own agent refuses too (its monitor raises at start): sluice says so, naming the key, with Scalyr's words.
  const REFUSED: Record<string, RegExp> = {
    'repo-docs-mysql-monitor.json': /monitors\[0\]\.database_hostport: Must specify either 'database_socket' or 'database_hostport' for connection type\./,
  };

  test.each(mains)('%s loads; every key is honoured or reported', (name) => {
    const main = path.join(dir, name);
    const r = loadConfig({ path: main, env: ENV, hostname: 'h' });
    if (REFUSED[name]) {
      expect(r.ok).toBe(false);
      expect(r.ok ? [] : r.errors.map(formatConfigError)).toEqual([expect.stringMatching(REFUSED[name])]);
      return;
    }
    expect(r.ok ? [] : r.errors.map(formatConfigError)).toEqual([]);
    expect(unaccounted(filesOf(main), r.warnings)).toEqual([]);
    for (const w of r.warnings) {
      // Every warning says why (not just that something is off).
      if (w.code === 'noEffect') expect(w.message).toMatch(/no effect in sluice: .{10,}/);
      if (w.code === 'unsupportedMonitor') expect(w.message).toMatch(/is skipped: .{10,}/);
    }
  });

  test('what the reports say for the container, proxy and mixed configs', () => {
    const load = (n: string) => loadConfig({ path: path.join(dir, n), env: ENV, hostname: 'h' });
    const docker = load('docker-monitor.json');
    expect(docker.ok && docker.config.monitors).toEqual([]);
    expect(docker.warnings.find((w) => w.code === 'unsupportedMonitor')?.message).toMatch(/docker_monitor.*needs Docker/);

    const k8s = load('kubernetes.json');
    expect(k8s.warnings.filter((w) => w.code === 'unsupportedMonitor')).toHaveLength(3);
    expect(k8s.warnings.filter((w) => w.code === 'noEffect').map((w) => w.path).sort()).toEqual(['journald_logs', 'k8s_logs']);
    expect(k8s.ok && k8s.config.server_attributes.k8s_cluster).toBe('prod');

    const proxy = load('docs-https-proxy.json');
    expect(proxy.warnings.find((w) => w.path === 'use_requests_lib')?.message).toMatch(/no effect in sluice: .*proxy/);
    expect(proxy.ok && proxy.config.https_proxy).toBe('https://proxy.example.com:3128');

    const mixed = load('windows-and-services.json');
    expect(mixed.ok && mixed.config.logs[0].copy_from_start).toBe(false);
    // monitors[2..4] are mysql_monitor, nginx_monitor and syslog_monitor, which sluice runs.
    expect(mixed.warnings.filter((w) => w.code === 'unsupportedMonitor').map((w) => w.path)).toEqual([0, 1].map((i) => `monitors[${i}].module`));
    for (const m of ['mysql_monitor', 'nginx_monitor', 'syslog_monitor']) expect(mixed.ok && mixed.config.monitors.map((x) => x.module)).toContain(`scalyr_agent.builtin_monitors.${m}`);
    // syslog_monitor's message log is shipped as a logs entry.
    expect(mixed.ok && mixed.config.logs.map((e) => path.basename(e.path))).toContain('agent_syslog.log');
    expect(mixed.warnings.find((w) => w.path === 'monitors[0].module')?.message).toMatch(/Windows/);

    const url = load('url-monitor.json');
    expect(url.ok && url.config.monitors.map((m) => m.module)).toContain('scalyr_agent.builtin_monitors.shell_monitor');
    expect(url.ok && url.config.monitors.map((m) => m.module)).toContain('scalyr_agent.builtin_monitors.url_monitor');

    const modular = load('modular/agent.json');
    expect(modular.ok && modular.config.server_attributes).toEqual({ tier: 'frontend', serverHost: 'web-3' });
    expect(modular.ok && modular.config.logs[0].path).toBe('/var/log/tomcat6/access_log');
  });
});
