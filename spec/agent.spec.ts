/**
 * The embedding API end to end: a pipeline built from a config object in-process, real files in a
 * temp dir, the embedded default sink, and a clean stop that leaves no handle open.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent, ConfigInvalidError, createDefaultRegistry, createCounters } from '../app/index.js';
import { memoryLogger } from '../lib/logger.js';
import { waitFor } from './helpers/wait.js';
import { readNdjson } from './helpers/ndjson.js';
import { isolatedAgent } from './helpers/isolated.js';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-agent-'));
}

function baseConfig(dir: string, extra: Record<string, unknown> = {}) {
  return {
    ...isolatedAgent(dir),
    server_attributes: { serverHost: 'test-host' },
    line_completion_wait_time: 0.2,
    max_new_log_detection_time: 0.2,
    ...extra,
  };
}

describe('createAgent (embedded)', () => {
  it('tails, groups, samples and redacts into the embedded sink, then stops cleanly', async () => {
    const dir = tmpdir();
    const log = path.join(dir, 'app.log');
    fs.writeFileSync(log, 'old line before start\n');
    const logger = memoryLogger();
    const agent = createAgent({
      logger,
      config: baseConfig(dir, {
        logs: [
          {
            path: log,
            attributes: { service: 'shop' },
            lineGroupers: [{ start: '^[^\\s]', continueThrough: '^[\\s]+at' }],
            sampling_rules: [{ match_expression: 'DEBUG', sampling_rate: 0 }],
            redaction_rules: [{ match_expression: 'password=[^ ]*', replacement: 'password=XXX' }],
          },
        ],
      }),
    });
    const handlesBefore = process.getActiveResourcesInfo().length;
    await agent.start();
    // Existing content is skipped at startup (Scalyr's rule without copy_from_start).
    fs.appendFileSync(log, 'login password=hunter2 ok\nDEBUG noisy\nException: boom\n    at a.b(c.java:1)\n    at d.e(f.java:2)\nlast\n');
    const out = path.join(dir, 'data', 'events');
    // `last` is held as a possible group start until line_completion_wait_time passes.
    const records = await waitFor('three events in the embedded sink', () => {
      const r = readNdjson(out);
      return r.length >= 3 ? r : undefined;
    });
    expect(records.map((r) => r.message)).toEqual([
      'login password=XXX ok\n',
      'Exception: boom\n    at a.b(c.java:1)\n    at d.e(f.java:2)\n',
      'last\n',
    ]);
    expect(records.every((r) => r.serverHost === 'test-host' && r.logfile === log && r.attrs.service === 'shop')).toBe(true);
    expect(JSON.stringify(records)).not.toContain('hunter2');
    expect(JSON.stringify(records)).not.toContain('old line');

    const status = agent.status();
    expect(status.mode).toBe('embedded');
    expect(status.config.status).toBe('good');
    expect(status.logs[0].counters.dropped.sampling).toBe(1);

    await agent.stop();
    await agent.stop(); // idempotent
    await waitFor('handles released', () => process.getActiveResourcesInfo().length <= handlesBefore, 3000);
    expect(JSON.stringify(logger.records)).not.toContain('hunter2');
  });

  it('ships monitor samples (built-in and shell) through the same sink, in Scalyr metric line format', async () => {
    const dir = tmpdir();
    const agent = createAgent({
      logger: memoryLogger(),
      config: baseConfig(dir, {
        implicit_metric_monitor: true,
        global_monitor_sample_interval: 0.2,
        global_monitor_sample_interval_enable_jitter: false,
        monitors: [{ module: 'scalyr_agent.builtin_monitors.shell_monitor', id: 'greet', command: 'echo "hi there"', sample_interval: 0.2 }],
      }),
    });
    await agent.start();
    const out = path.join(dir, 'data', 'events');
    const recs = await waitFor('metrics from both monitors', () => {
      const r = readNdjson(out);
      return r.some((x) => x.message.includes('[shell_monitor(greet)]')) && r.some((x) => x.message.includes('[linux_system_metrics()] proc.loadavg.1min')) ? r : undefined;
    });
    const shell = recs.find((x) => x.message.includes('[shell_monitor(greet)]'))!;
    expect(shell.message).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z \[shell_monitor\(greet\)\] output "hi there" command="echo \\"hi there\\"" duration=0 exit_code=0 length=9\n$/);
    expect(shell.attrs.parser).toBe('agent-metrics');
    expect(shell.logfile).toBe(path.join(dir, 'log', 'shell_monitor.log'));
    const status = agent.status();
    expect(status.monitors.map((m) => m.key).sort()).toEqual(['linux_system_metrics()', 'shell_monitor(greet)']);
    await agent.stop();
  });

  it('uses a sink type an embedding app registered (the registry is a value)', async () => {
    const dir = tmpdir();
    const log = path.join(dir, 'a.log');
    fs.writeFileSync(log, '');
    const got: string[] = [];
    const registry = createDefaultRegistry().with();
    registry.register('sink', 'memory', (options, ctx) => {
      const counters = createCounters();
      return {
        id: ctx.id,
        counters,
        write(batch) {
          for (const e of batch.events) got.push(`${options.prefix}${String(e.message)}`);
          counters.sentEvents += batch.events.length;
          batch.stream.ack(batch.end);
        },
        flush: async () => {},
        stop: async () => {},
        status: () => ({ type: 'memory' }),
      };
    });
    const agent = createAgent({ logger: memoryLogger(), registry, config: baseConfig(dir, { sink: { type: 'memory', prefix: '> ' }, logs: [{ path: log, copy_from_start: true }] }) });
    await agent.start();
    fs.appendFileSync(log, 'to memory\n');
    await waitFor('event in the custom sink', () => got.length > 0);
    expect(got).toEqual(['> to memory\n']);
    expect(agent.status().mode).toBe('memory');
    expect(createDefaultRegistry().has('sink', 'memory')).toBe(false);
    await agent.stop();
  });

  it('rejects a bad config at start with file-less key paths, and starts nothing', async () => {
    const dir = tmpdir();
    const agent = createAgent({
      logger: memoryLogger(),
      config: baseConfig(dir, { logs: [{ path: path.join(dir, 'x.log'), sampling_rules: [{ match_expression: '(', sampling_rate: 2 }] }] }),
    });
    const err = await agent.start().then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(ConfigInvalidError);
    expect(String(err.message)).toMatch(/logs\[0\]\.sampling_rules\[0\]/);
    await agent.stop();
  });

  it('resumes from the checkpoint after a restart: nothing lost, nothing repeated', async () => {
    const dir = tmpdir();
    const log = path.join(dir, 'a.log');
    fs.writeFileSync(log, '');
    const config = baseConfig(dir, { logs: [{ path: log, copy_from_start: true }] });
    const out = path.join(dir, 'data', 'events');
    let agent = createAgent({ logger: memoryLogger(), config });
    await agent.start();
    fs.appendFileSync(log, 'one\ntwo\n');
    await waitFor('two lines', () => readNdjson(out).length >= 2);
    await agent.stop();
    fs.appendFileSync(log, 'three\nfour\n');
    agent = createAgent({ logger: memoryLogger(), config });
    await agent.start();
    await waitFor('four lines', () => readNdjson(out).length >= 4);
    await agent.stop();
    expect(readNdjson(out).map((r) => r.message)).toEqual(['one\n', 'two\n', 'three\n', 'four\n']);
  });

  it('reports agent options that need a restart, and stop() says what it left undelivered', async () => {
    const dir = tmpdir();
    const log = path.join(dir, 'a.log');
    fs.writeFileSync(log, '');
    const logger = memoryLogger();
    const config = baseConfig(dir, { logs: [{ path: log, copy_from_start: true }] });
    const agent = createAgent({ logger, config });
    await agent.start();
    expect(agent.status().config.needsRestart).toEqual([]);
    const changed = await agent.reload({ ...config, max_pending_bytes: 1 << 20, debug_level: 2 });
    expect(changed).toMatchObject({ ok: true, needsRestart: ['max_pending_bytes'], restarted: [] });
    expect(agent.status().config.needsRestart).toEqual(['max_pending_bytes']);
    // The read budget in force is still the one the agent started with.
    expect(agent.status().creditsTotal).toBe(6 * 1024 * 1024);
    expect(logger.records.filter((r) => /max_pending_bytes changed; the new value takes effect only after a restart/.test(r.message))).toHaveLength(1);
    // Going back to the started value: nothing is pending any more.
    expect((await agent.reload(config)).needsRestart).toEqual([]);
    fs.appendFileSync(log, 'one\n');
    await waitFor('delivered', () => readNdjson(path.join(dir, 'data', 'events')).length >= 1);
    const left = await agent.stop();
    expect(left).toEqual({ pendingBytes: 0, sinkPendingBytes: 0 });
    expect(await agent.stop()).toBe(left);
  });
});
