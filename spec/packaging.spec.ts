/**
 * What a user installs and looks at: `sluice top` in a real terminal (tmux), its plain-text
 * fallback, and the packed tarball installed into a temp prefix (`sluice version`, `validate`,
 * `core-agent probe`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './helpers/wait.js';
import { makeAgentDir } from './helpers/agentDir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sluice');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

function sluice(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

const config = () => makeAgentDir('sluice-top-', {}, { sampling_rules: [{ match_expression: 'DEBUG', sampling_rate: 0 }] }, 'busy.log');

describe('sluice top', () => {
  let agent: ChildProcess;
  const c = config();
  beforeAll(async () => {
    agent = spawn(process.execPath, [BIN, 'start', '--foreground', '--config', c.configPath], { stdio: 'ignore' });
    await waitFor('agent', () => sluice(['status', '--config', c.configPath]).status === 0, 20_000, 100);
    fs.appendFileSync(c.log, 'INFO hello\nDEBUG noise\n'.repeat(50));
  });
  afterAll(() => {
    sluice(['stop', '--config', c.configPath]);
    if (agent.exitCode === null) agent.kill('SIGKILL');
  });

  it('prints plain text blocks when stdout is not a terminal', () => {
    const r = sluice(['top', '--once', '--config', c.configPath]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^sluice top {2}v\d/);
    expect(r.stdout).toMatch(/COMPONENT +IN ev\/s +IN B\/s +OUT ev\/s +OUT B\/s +ERR {2}DROPPED/);
    expect(r.stdout).toMatch(new RegExp(`log ${c.log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*sampling=50`));
    expect(r.stdout).not.toContain('\x1b[');
  });

  (hasTmux ? it : it.skip)('renders a live table in a real terminal (tmux) and leaves the screen clean on Ctrl-C', async () => {
    const session = `sluice-top-${process.pid}`;
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '40', `${process.execPath} ${BIN} top --config ${c.configPath} --interval 0.3`]);
    try {
      const screen = await waitFor(
        'top on screen',
        () => {
          const out = execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
          return /COMPONENT/.test(out) && /Files/.test(out) ? out : undefined;
        },
        15_000,
        100,
      );
      expect(screen).toMatch(/health Good/);
      expect(screen).toMatch(/busy\.log +\[#+\.*\] 0 B pending/);
      execFileSync('tmux', ['send-keys', '-t', session, 'C-c']);
      await waitFor('top exited', () => spawnSync('tmux', ['has-session', '-t', session]).status !== 0, 5000, 100);
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  }, 30_000);
});

describe('the shipped Scout launch layout (scout_apm_core/)', () => {
  it('is what `core-agent install --relative` writes today (regenerate with the command in its README)', () => {
    // A sibling of scout_apm_core/, so each wrapper's path to bin/core-agent is the same.
    const fresh = path.join(ROOT, `.layout-check-${process.pid}`);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/core-agent'), 'install', '--dir', fresh, '--relative', '--version', 'v1.3.0,v1.4.0,v1.5.1'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const list = (d: string): string[] =>
      fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? list(path.join(d, e.name)).map((x) => `${e.name}/${x}`) : [e.name])).sort();
    const shipped = path.join(ROOT, 'scout_apm_core');
    const want = fresh;
    expect(list(shipped).filter((f) => f !== 'README.md')).toEqual(list(want));
    // The wrapper and manifest bytes match: the relative path from each directory is the same.
    for (const f of list(want)) expect(fs.readFileSync(path.join(shipped, f), 'utf8')).toBe(fs.readFileSync(path.join(want, f), 'utf8'));
    fs.rmSync(fresh, { recursive: true, force: true });
  });
});

describe('npm pack', () => {
  it('produces a tarball that installs into a clean prefix and provides sluice and core-agent', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-pack-'));
    const packed = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
    const tarball = path.join(work, packed);
    expect(fs.existsSync(tarball)).toBe(true);
    const prefix = path.join(work, 'prefix');
    // Tests talk only to loopback, and npm's cache may not hold the registry's metadata for the
    // dependencies (a fresh `npm ci` caches tarballs only): the packed tarball is unpacked, this
    // checkout's installed production dependencies are bundled into it, and that is installed
    // offline. What the tarball carries (files, bins, package.json) is what `npm pack` made.
    execFileSync('tar', ['-xzf', tarball, '-C', work]);
    const pkgDir = path.join(work, 'package');
    const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((d) => d.startsWith(path.join(ROOT, 'node_modules') + path.sep))
      .sort();
    for (const d of prod) {
      const to = path.join(pkgDir, path.relative(ROOT, d));
      if (!fs.existsSync(to)) fs.cpSync(d, to, { recursive: true, verbatimSymlinks: true });
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ ...manifest, bundleDependencies: true }, null, 2));
    const bundled = path.join(work, 'bundled');
    fs.mkdirSync(bundled);
    const bundledName = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', bundled], { cwd: pkgDir, encoding: 'utf8' }).trim().split('\n').pop()!;
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', path.join(bundled, bundledName)], { encoding: 'utf8', stdio: 'pipe' });
    const binDir = path.join(prefix, 'bin');
    const version = execFileSync(path.join(binDir, 'sluice'), ['version'], { encoding: 'utf8' });
    expect(version).toMatch(/^sluice \d+\.\d+\.\d+/);
    const c = config();
    const v = spawnSync(path.join(binDir, 'sluice'), ['validate', '--config', c.configPath], { encoding: 'utf8' });
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/Configuration is valid/);
    const probe = spawnSync(path.join(binDir, 'core-agent'), ['probe', '--socket', path.join(c.dir, 'none.sock')], { encoding: 'utf8' });
    expect(probe.status).not.toBe(0);
    // The shipped Scout launch layout: a language agent pointed at it (SCOUT_CORE_AGENT_DIR) runs
    // the installed package's core-agent, whose sha256 its manifest holds.
    const layout = path.join(prefix, 'lib', 'node_modules', 'sluice', 'scout_apm_core');
    for (const dir of [path.join(layout, 'scout_apm_core-v1.5.1-x86_64-unknown-linux-musl'), layout]) {
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      const bin = path.join(dir, m.core_agent_binary);
      expect(crypto.createHash('sha256').update(fs.readFileSync(bin)).digest('hex')).toBe(m.core_agent_binary_sha256);
      const p = spawnSync(bin, ['probe', '--socket', path.join(c.dir, 'none.sock')], { encoding: 'utf8' });
      expect(p.status).toBe(1); // ran sluice's core-agent: nothing answered
    }
    fs.rmSync(work, { recursive: true, force: true });
  }, 120_000);
});
