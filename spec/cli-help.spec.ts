/**
 * Every subcommand answers --help / -h with its usage and exit 0, without reading a config
 * (SLUICE_CONFIG points at a file that does not exist).
 */
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sluice');
const MISSING = path.join(os.tmpdir(), `sluice-no-such-config-${process.pid}`, 'agent.json');

function sluice(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SLUICE_CONFIG: MISSING } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMMANDS = ['start', 'stop', 'restart', 'reload', 'status', 'validate', 'tap', 'top', 'test', 'version'];

describe('sluice <command> --help', () => {
  it.each(COMMANDS.flatMap((c) => [[c, '--help'], [c, '-h']]))('%s %s prints usage, exit 0, no config read', (cmd, flag) => {
    const r = sluice([cmd, flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: sluice ${cmd}\\b`));
    expect(r.stderr).toBe('');
    expect(r.stdout + r.stderr).not.toContain(MISSING);
  });

  it('--help wins over other options and an explicit --config', () => {
    const r = sluice(['tap', '--component', 'x', '--help', '--config', MISSING]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: sluice tap/);
  });

  it('sluice help <command> and the general usage', () => {
    expect(sluice(['help', 'stop']).stdout).toMatch(/^usage: sluice stop/);
    const g = sluice(['--help']);
    expect(g.code).toBe(0);
    expect(g.stdout).toMatch(/^usage: sluice <command>/);
  });

  it('without --help, a missing config is still an error', () => {
    const r = sluice(['tap']);
    expect(r.code).toBe(1);
  });
});
