/**
 * The `sluice` CLI as a user runs it: real child processes of bin/sluice (built dist/), a real
 * config file in a temp dir, the embedded default sink, the control socket.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './helpers/wait.js';
import { readNdjson } from './helpers/ndjson.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sluice');

function sluice(args: string[], opts: { timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: opts.timeout ?? 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function makeConfig(extra: Record<string, unknown> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-'));
  const log = path.join(dir, 'app.log');
  fs.writeFileSync(log, '');
  const configPath = path.join(dir, 'agent.json');
  const text = `// test config
{
  agent_data_path: "./data",
  agent_log_path: "./log",
  implicit_metric_monitor: false,
  implicit_agent_process_metrics_monitor: false,
  implicit_agent_log_collection: false,
  line_completion_wait_time: 0.2,
  logs: [
    {
      path: "${log}",
      copy_from_start: true,
      redaction_rules: [ { match_expression: "password=[^ ]*", replacement: "password=XXX" } ],
    },
  ],
  ${Object.entries(extra)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)},`)
    .join('\n  ')}
}
`;
  fs.writeFileSync(configPath, text);
  return { dir, log, configPath, out: path.join(dir, 'data', 'events') };
}

function startForeground(configPath: string): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return Object.assign(child, { output: () => output });
}

async function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('sluice CLI', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('prints its version', () => {
    const r = sluice(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sluice \d+\.\d+\.\d+/);
  });

  it('validate: exit 0 with a summary for a good config, exit 1 with file:line:col for each error', () => {
    const good = makeConfig();
    const ok = sluice(['validate', '--config', good.configPath]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/Configuration is valid/);
    expect(ok.stdout).toMatch(/embedded default sink/);

    const bad = path.join(good.dir, 'bad.json');
    fs.writeFileSync(bad, '{\n  logs: [\n    { path: "/x", sampling_rules: [ { match_expression: "a(", sampling_rate: 0.5 } ] }\n  ]\n}\n');
    const r = sluice(['validate', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: logs\\[0\\]\\.sampling_rules\\[0\\]\\.match_expression: .*`));

    fs.writeFileSync(bad, '{\n  logs: [ { path: "/x", atributes: {} } ]\n}\n');
    const lax = sluice(['validate', '--config', bad]);
    expect(lax.code).toBe(0);
    expect(lax.stderr).toMatch(/warning: .*bad\.json:2:\d+: logs\[0\]\.atributes: unknown option "atributes" \(did you mean "attributes"\?\)/);
    const strict = sluice(['validate', '--strict', '--config', bad]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/error: .*atributes/);

    fs.writeFileSync(bad, '{ logs: [ { path: "/x" } ');
    const r2 = sluice(['validate', '--config', bad]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/bad\.json:1:\d+/);
  });

  it('start --foreground, status, tap, reload, status -H, stop', async () => {
    const c = makeConfig();
    const agent = startForeground(c.configPath);
    children.push(agent);
    await waitFor('agent running', () => sluice(['status', '--config', c.configPath]).code === 0, 15_000, 100);
    expect(sluice(['status', '--config', c.configPath]).stdout).toMatch(/The agent is running/);

    // A second start is refused.
    const again = sluice(['start', '--foreground', '--config', c.configPath]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already running/);

    fs.appendFileSync(c.log, 'hello password=hunter2\n');
    await waitFor('event in sink', () => readNdjson(c.out).length >= 1);

    const v = sluice(['status', '-v', '--config', c.configPath]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`Path ${c.log}: copied \\d+ bytes \\(1 lines\\)`));
    expect(v.stdout).toMatch(/Health check: +Good/);
    const j = JSON.parse(sluice(['status', '-v', '--format', 'json', '--config', c.configPath]).stdout);
    expect(j.logs[0].path).toBe(c.log);
    expect(j.health.healthy).toBe(true);

    // tap shows redacted events from the live file, at the source stage too.
    const tap = spawn(process.execPath, [BIN, 'tap', '--component', 'logs[0]:source', '--limit', '1', '--config', c.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(tap);
    let tapped = '';
    tap.stdout!.on('data', (d) => (tapped += d));
    await new Promise((r) => setTimeout(r, 500));
    fs.appendFileSync(c.log, 'second password=swordfish ok\n');
    expect(await exited(tap)).toBe(0);
    const rec = JSON.parse(tapped.trim().split('\n')[0]);
    expect(rec.message).toBe('second password=XXX ok\n');
    expect(tapped).not.toContain('swordfish');

    expect(sluice(['reload', '--config', c.configPath]).code).toBe(0);
    // SIGHUP re-reads the config too.
    const checked = () => JSON.parse(sluice(['status', '-v', '--format', 'json', '--config', c.configPath]).stdout).config.lastChecked as number;
    const before = checked();
    agent.kill('SIGHUP');
    await waitFor('re-read after SIGHUP', () => checked() > before, 5000, 100);
    expect(sluice(['status', '-H', '--config', c.configPath]).stdout).toMatch(/^Health check: Good/);

    const stop = sluice(['stop', '--config', c.configPath]);
    expect(stop.code).toBe(0);
    expect(await exited(agent)).toBe(0);
    expect(sluice(['status', '--config', c.configPath]).code).toBe(4);
    expect(agent.output()).not.toContain('hunter2');
  }, 60_000);

  it('runs the example plugins (source, operator, parser, monitor) in the shipped command, bundle and module tree alike', async () => {
    // bin/sluice loads the single-file build (dist/bundle/cli) when it is there; plugins import
    // their own rxjs from node_modules, so Observables cross between two copies of rxjs there.
    for (const env of [{}, { SLUICE_NO_BUNDLE: '1' }]) {
      const c = makeConfig({
        plugins: ['./plugins/uppercase.mjs', './plugins/keyvalue.mjs', './plugins/heartbeat.mjs', './plugins/random-walk.mjs'],
        sources: [{ type: 'heartbeat', id: 'hb', interval_secs: 0.2, message: 'beat' }],
        monitors: [{ module: './plugins/random-walk.mjs', id: 'walk', step: 2, sample_interval: 0.2 }],
      });
      fs.mkdirSync(path.join(c.dir, 'plugins'));
      for (const f of ['operators/uppercase.mjs', 'parsers/keyvalue.mjs', 'sources/heartbeat.mjs', 'monitors/random-walk.mjs']) {
        fs.copyFileSync(path.join(ROOT, 'examples', f), path.join(c.dir, 'plugins', path.basename(f)));
      }
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(c.dir, 'node_modules'));
      const cfg = fs.readFileSync(c.configPath, 'utf8').replace('copy_from_start: true,', 'copy_from_start: true, parse_format: "keyvalue", operators: [{ type: "uppercase" }],');
      fs.writeFileSync(c.configPath, cfg);
      fs.appendFileSync(c.log, 'level=warn msg=disk password=hunter2\n');
      const agent = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', c.configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
      children.push(agent);
      let output = '';
      agent.stderr!.on('data', (d) => (output += d));
      const has = (pred: (r: ReturnType<typeof readNdjson>[number]) => boolean) => readNdjson(c.out).some(pred);
      await waitFor('file line, heartbeat and monitor sample in the sink', () => has((r) => r.logfile === c.log) && has((r) => /beat/.test(r.message)) && has((r) => /random-walk|walk/.test(String(r.logfile))), 20_000, 100);
      const line = readNdjson(c.out).find((r) => r.logfile === c.log)!;
      expect(line.message).toBe('LEVEL=WARN MSG=DISK PASSWORD=XXX');
      expect(line.attrs).toMatchObject({ level: 'warn', msg: 'disk' });
      expect(sluice(['stop', '--config', c.configPath]).code).toBe(0);
      expect(await exited(agent)).toBe(0);
      expect(output).not.toMatch(/plugin .*:/);
    }
  }, 60_000);

  it('kill -9 and restart: every line arrives, duplicates only from what was not yet checkpointed', async () => {
    const c = makeConfig();
    let agent = startForeground(c.configPath);
    children.push(agent);
    await waitFor('agent running', () => sluice(['status', '--config', c.configPath]).code === 0, 15_000, 100);
    let lines = '';
    for (let i = 0; i < 2000; i++) lines += `line ${i}\n`;
    fs.appendFileSync(c.log, lines);
    await waitFor('some lines shipped', () => readNdjson(c.out).length >= 1);
    agent.kill('SIGKILL');
    await exited(agent);
    let more = '';
    for (let i = 2000; i < 3000; i++) more += `line ${i}\n`;
    fs.appendFileSync(c.log, more);
    agent = startForeground(c.configPath);
    children.push(agent);
    const recs = await waitFor(
      'all 3000 lines',
      () => {
        const r = readNdjson(c.out);
        return new Set(r.map((x) => x.message)).size >= 3000 ? r : undefined;
      },
      20_000,
      100,
    );
    const ids = recs.map((r) => Number(r.message.split(' ')[1]));
    const unique = new Set(ids);
    expect(unique.size).toBe(3000);
    // Duplicates are a contiguous re-read from the last checkpoint, never a gap.
    expect(ids.length - unique.size).toBeLessThanOrEqual(2000);
    expect(sluice(['stop', '--config', c.configPath]).code).toBe(0);
    await exited(agent);
  }, 60_000);

  it('start without --foreground daemonizes and returns; stop ends it', async () => {
    const c = makeConfig();
    const r = sluice(['start', '--config', c.configPath]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sluice started \(pid \d+\)/);
    expect(fs.existsSync(path.join(c.dir, 'data', 'sluice.pid'))).toBe(true);
    expect(sluice(['stop', '--config', c.configPath]).code).toBe(0);
  }, 60_000);
});
