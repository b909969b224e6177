/**
 * Start-up cost (issue 19: < 250 ms and < 0.25 CPU-s from spawn to the first upload of a one-line
 * file).
 *
 *   node dist/bench/startup.js [--runs 10] [--cpus 0] [--receiver-cpus 1]
 *
 * Each run: a fresh data directory and agent.json (one log file holding one line, read from its
 * start; addEvents to a local counting receiver in this process; deflate), then `bin/sluice start
 * --foreground --config <agent.json>` spawned as a user runs it (its shebang's node flags), under
 * `taskset -c <cpus>`. Wall time from the spawn to the moment the receiver has the line, and the
 * child's CPU seconds (utime+stime of its process tree, /proc/<pid>/stat, 10 ms ticks) read at that
 * moment; then the agent is stopped (SIGTERM). The floor: `node -e 0` the same way (wall time to
 * its exit; CPU from this process's reaped-children counters). Medians [min–max] of `--runs`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startReceiver } from './receiver.js';
import { treeSample } from './sidebyside.js';
import { Flags, SLUICE_BIN, benchConfig, isMain, machine, median, pinSelf, record, sleep, spread, tmpDir } from './common.js';

/** utime+stime of this process's reaped children (fields 16, 17 of /proc/self/stat). */
function childrenCpu(): number {
  const st = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

const pinned = (cpus: string, cmd: string, args: string[]) => (cpus ? spawn('taskset', ['-c', cpus, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));

async function floorOnce(cpus: string): Promise<{ wallMs: number; cpuS: number }> {
  const c0 = childrenCpu();
  const t0 = process.hrtime.bigint();
  const c = pinned(cpus, process.execPath, ['-e', '0']);
  await new Promise((r) => c.once('exit', r));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await sleep(20);
  return { wallMs, cpuS: childrenCpu() - c0 };
}

async function main(): Promise<void> {
  const f = new Flags();
  const runs = f.num('runs', 10);
  const cpus = f.str('cpus', '0');
  const recvCpus = f.str('receiver-cpus', cpus === '0' ? '1' : '');
  if (recvCpus) pinSelf(recvCpus);
  let firstAt = 0;
  const receiver = await startReceiver({ onMessage: () => (firstAt ||= Number(process.hrtime.bigint())) });
  process.stdout.write(`start-up: ${SLUICE_BIN} start --foreground on CPU ${cpus}, receiver on ${recvCpus || 'any'}; ${machine()}\n`);
  const sluice: { wallMs: number; cpuS: number }[] = [];
  const floor: { wallMs: number; cpuS: number }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      floor.push(await floorOnce(cpus));
      const dir = tmpDir('sluice-startup-');
      const file = path.join(dir, 'one.log');
      fs.writeFileSync(file, '2026-01-01T00:00:00.000Z INFO one line\n');
      const config = benchConfig(dir, receiver.url, [{ path: file, copy_from_start: true, attributes: { parser: 'bench' } }], { compression_type: 'deflate' });
      const cfgPath = path.join(dir, 'agent.json');
      fs.writeFileSync(cfgPath, JSON.stringify(config, null, 2));
      receiver.reset();
      firstAt = 0;
      const t0 = process.hrtime.bigint();
      const child = pinned(cpus, SLUICE_BIN, ['start', '--foreground', '--quiet', '--config', cfgPath]);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c));
      child.stderr!.on('data', (c: Buffer) => (out += c));
      let exited = false;
      const exitP = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
      try {
        const deadline = Date.now() + 30_000;
        let cpu = NaN;
        while (!firstAt) {
          if (exited || Date.now() > deadline) throw new Error(`no upload within 30 s (exited: ${exited}):\n${out.slice(-2000)}`);
          await sleep(1);
        }
        cpu = treeSample(child.pid!)?.cpu ?? NaN;
        const wallMs = (firstAt - Number(t0)) / 1e6;
        sluice.push({ wallMs, cpuS: cpu });
        process.stdout.write(`  run ${i + 1}: first upload after ${wallMs.toFixed(0)} ms, ${cpu.toFixed(2)} CPU-s; node -e 0: ${floor[i].wallMs.toFixed(0)} ms, ${floor[i].cpuS.toFixed(2)} CPU-s\n`);
      } finally {
        if (!exited) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exitP;
          clearTimeout(t);
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await receiver.close();
  }
  const w = sluice.map((r) => r.wallMs);
  const c = sluice.map((r) => r.cpuS);
  process.stdout.write(
    `\n| | wall ms, median [min–max] | CPU-s, median [min–max] | target |\n|---|---:|---:|---|\n` +
      `| sluice: spawn → first upload of a one-line file | ${spread(w, 0)} | ${spread(c, 2)} | < 250 ms, < 0.25 CPU-s: ${median(w) < 250 ? 'met' : 'MISSED'}, ${median(c) < 0.25 ? 'met' : 'MISSED'} |\n` +
      `| node -e 0 (the floor) | ${spread(floor.map((r) => r.wallMs), 0)} | ${spread(floor.map((r) => r.cpuS), 2)} | |\n`,
  );
  record('startup', { runs, cpus, wallMs: median(w), cpuS: median(c), floorWallMs: median(floor.map((r) => r.wallMs)), floorCpuS: median(floor.map((r) => r.cpuS)), sluice, floor });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`startup: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
