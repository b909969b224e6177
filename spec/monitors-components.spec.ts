/**
 * The built-in monitors as components: found by type and Scalyr alias through the registry, their
 * cross-field rules as `check`, a plugin monitor's aliases and `check`, and the monitor source
 * reading its own options (per entry and top-level) with the declared defaults.
 */
import { VirtualTimeScheduler, VirtualAction, of, Subscription } from 'rxjs';
import { createRegistry } from '../lib/registry.js';
import { defineComponent } from '../lib/component.js';
import { memoryLogger } from '../lib/logger.js';
import type { AgentConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import { registerBuiltinMonitors } from '../sources/monitors/builtins.js';
import { lookupMonitorComponent, resolveMonitorComponent } from '../sources/monitors/resolveMonitor.js';
import { createMonitorSource, MONITOR_ENTRY_OPTIONS } from '../sources/monitors/monitorSource.js';
import { checkLinuxProcessMetrics } from '../sources/monitors/linuxProcessMetrics.js';
import { checkShellMonitor } from '../sources/monitors/shellMonitor.js';
import { createDefaultRegistry } from '../app/builtins.js';

describe('monitor components', () => {
  test('built-ins answer to their type and to Scalyr\'s module name', () => {
    const registry = createDefaultRegistry();
    for (const name of ['linux_system_metrics', 'linux_process_metrics', 'shell_monitor']) {
      const c = registry.component('monitor', name)!;
      expect(c.type).toBe(name);
      expect(registry.component('monitor', `scalyr_agent.builtin_monitors.${name}`)).toBe(c);
      expect(lookupMonitorComponent(`scalyr_agent.builtin_monitors.${name}`, registry)).toBe(c);
      expect(c.options!.length).toBeGreaterThan(0);
    }
  });

  test('a plugin registered as X answers to scalyr_agent.builtin_monitors.X and to its own aliases', async () => {
    const registry = createRegistry();
    const plugin = defineComponent({ kind: 'monitor', type: 'nginx_status', aliases: ['acme.nginx'], create: () => of({ metric: 'x', value: 1 }) });
    registry.add(plugin);
    expect(lookupMonitorComponent('scalyr_agent.builtin_monitors.nginx_status', registry)).toBe(plugin);
    expect(await resolveMonitorComponent('acme.nginx', registry, process.cwd())).toBe(plugin);
    await expect(resolveMonitorComponent('scalyr_agent.builtin_monitors.nope', registry, process.cwd())).rejects.toThrow(/not supported/);
  });

  test('check: linux_process_metrics needs id and commandline or pid; shell_monitor needs command and a group in extract', () => {
    expect(checkLinuxProcessMetrics({ id: 'a', pid: '$$' })).toEqual([]);
    expect(checkLinuxProcessMetrics({ id: 'a', commandline: 'java' })).toEqual([]);
    expect(checkLinuxProcessMetrics({ pid: '1' }).map((p) => p.key)).toEqual(['id']);
    expect(checkLinuxProcessMetrics({ id: 'a' }).map((p) => p.key)).toEqual(['commandline']);
    expect(checkShellMonitor({ command: 'true' })).toEqual([]);
    expect(checkShellMonitor({}).map((p) => p.key)).toEqual(['command']);
    expect(checkShellMonitor({ command: 'x', extract: 'no group' }).map((p) => p.key)).toEqual(['extract']);
    expect(checkShellMonitor({ command: 'x', extract: 'v(\\d+)' })).toEqual([]);
  });

  test('a component\'s check runs before it is created: a failing entry is an error in status, not a crash', () => {
    const registry = createRegistry();
    let created = 0;
    registry.add(
      defineComponent({
        kind: 'monitor',
        type: 'picky',
        options: [{ name: 'must', type: 'string', origin: 'sluice', description: 'needed' }],
        check: (own) => (own.must ? [] : [{ key: 'must', message: 'is required' }]),
        create: () => {
          created++;
          return of({ metric: 'm', value: 1 });
        },
      }),
    );
    const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
    const agent = { agent_log_path: '/l', global_monitor_sample_interval: 1, global_monitor_sample_interval_enable_jitter: false } as AgentConfig;
    const src = createMonitorSource({ module: 'picky' }, { logger: memoryLogger(), agent, registry, scheduler });
    const sub = src.batches$.subscribe();
    scheduler.maxFrames = 10;
    scheduler.flush();
    expect(created).toBe(0);
    expect(src.status().lastError).toMatch(/"must": is required/);
    sub.unsubscribe();
  });

  test('the entry\'s rate limit overrides the global one; absent both, the declared defaults apply', () => {
    const decl = (name: string, scope: 'own' | 'global') => MONITOR_ENTRY_OPTIONS.find((o) => o.name === name && (o.scope ?? 'own') === scope);
    expect(decl('monitor_log_write_rate', 'global')!.default).toBe(2000);
    expect(decl('monitor_log_write_rate', 'own')!.default).toBeUndefined();
    const registry = createRegistry();
    // Each sample is one ~40-byte line; a burst of 50 bytes lets only one through per tick at rate 0.
    registry.register('monitor', 'chatty', () => of([{ metric: 'a', value: 1 }, { metric: 'b', value: 2 }, { metric: 'c', value: 3 }]));
    const run = (entry: Record<string, unknown>, extra: Partial<AgentConfig> = {}) => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
      const agent = { agent_log_path: '/l', global_monitor_sample_interval: 1, global_monitor_sample_interval_enable_jitter: false, ...extra } as AgentConfig;
      const src = createMonitorSource({ module: 'chatty', ...entry }, { logger: memoryLogger(), agent, registry, scheduler });
      const batches: Batch[] = [];
      const sub = new Subscription();
      sub.add(src.batches$.subscribe((b) => batches.push(b)));
      scheduler.maxFrames = 10;
      scheduler.flush();
      sub.unsubscribe();
      return { lines: batches.flatMap((b) => b.events).length, limited: src.status().rateLimitedLines };
    };
    expect(run({})).toEqual({ lines: 3, limited: 0 });
    expect(run({}, { monitor_log_write_rate: 0, monitor_log_max_write_burst: 50 } as Partial<AgentConfig>).limited).toBe(2);
    expect(run({ monitor_log_write_rate: 0, monitor_log_max_write_burst: 50 }).limited).toBe(2);
    expect(run({ monitor_log_max_write_burst: 100000 }, { monitor_log_write_rate: 0, monitor_log_max_write_burst: 50 } as Partial<AgentConfig>).limited).toBe(0);
  });

  test('registerBuiltinMonitors adds the component values', () => {
    const r = registerBuiltinMonitors(createRegistry());
    expect(r.types('monitor')).toEqual(['apache_monitor', 'graphite_monitor', 'journald_monitor', 'linux_process_metrics', 'linux_system_metrics', 'mysql_monitor', 'nginx_monitor', 'openmetrics_monitor', 'postgres_monitor', 'redis_monitor', 'shell_monitor', 'snmp_monitor', 'syslog_monitor', 'url_monitor']);
    expect(r.component('monitor', 'shell_monitor')!.check).toBeDefined();
  });
});
