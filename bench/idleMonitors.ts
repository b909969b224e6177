/**
 * Idle cost of the monitors: sluice as a real child process with every implicit part on
 * (linux_system_metrics, linux_process_metrics of itself, its own agent.log) and no logs
 * configured, uploading to a local receiver. The agent's CPU (utime+stime from /proc) is measured
 * over `--secs` with samples every `--interval` seconds (the default 30 s of Scalyr's monitors
 * would need minutes to average; the CPU per sample scales with the sample count).
 *
 *   node dist/bench/idleMonitors.js [--secs 60] [--interval 30] [--runs 3] [--settle 5] [--cpus 0]
 */
import { startReceiver } from './receiver.js';
import { Flags, benchConfig, isMain, machine, median, pinSelf, procSample, record, sleep, spread, startAgent, tmpDir } from './common.js';

async function once(secs: number, interval: number, settleS: number, cpus: string): Promise<{ cpuPct: number; rssMiB: number; lines: number }> {
  const dir = tmpDir('sluice-idlemon-');
  const receiver = await startReceiver();
  const config = benchConfig(dir, receiver.url, [], {
    implicit_metric_monitor: true,
    implicit_agent_process_metrics_monitor: true,
    implicit_agent_log_collection: true,
    global_monitor_sample_interval: interval,
  });
  const agent = startAgent({ dir: `${dir}/agent`, config, cpus });
  try {
    await sleep(settleS * 1000);
    const linesBefore = receiver.counts.lines;
    const a = procSample(agent.pid)!;
    const t = process.hrtime.bigint();
    await sleep(secs * 1000);
    const b = procSample(agent.pid)!;
    const elapsed = Number(process.hrtime.bigint() - t) / 1e9;
    return { cpuPct: ((b.cpu - a.cpu) / elapsed) * 100, rssMiB: b.rssKiB / 1024, lines: receiver.counts.lines - linesBefore };
  } finally {
    await agent.stop();
    await receiver.close();
  }
}

async function main(): Promise<void> {
  const f = new Flags();
  const secs = f.num('secs', 60);
  const interval = f.num('interval', 30);
  const runs = f.num('runs', 3);
  const settle = f.num('settle', 5);
  const cpus = f.str('cpus', '0');
  pinSelf(cpus === '0' ? '1' : '0');
  process.stdout.write(`idle monitors: implicit monitors + own log, no logs, sample interval ${interval} s, CPU over ${secs} s; ${machine()}\n`);
  const rs = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(secs, interval, settle, cpus);
    rs.push(r);
    process.stdout.write(`  run ${i + 1}: ${r.cpuPct.toFixed(3)}% of one core, RSS ${r.rssMiB.toFixed(0)} MiB, ${r.lines} metric/log lines shipped\n`);
  }
  process.stdout.write(`median [min–max]: ${spread(rs.map((r) => r.cpuPct), 3)}% CPU, RSS ${spread(rs.map((r) => r.rssMiB), 0)} MiB\n`);
  record('idleMonitors', { secs, interval, runs, medianCpuPct: median(rs.map((r) => r.cpuPct)), results: rs });
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`idleMonitors: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
