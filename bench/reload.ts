/**
 * Reload latency, sluice as a real child process: from "agent.json saved with a new redaction
 * rule" to "a line written after the save arrives at the receiver redacted by that rule".
 *
 *   node dist/bench/reload.js [--edits 10] [--interval-ms 20] [--cpus 0]
 *
 * A writer appends one line every `--interval-ms` ms carrying `tokenK=secret` for every edit K.
 * Edit K rewrites agent.json (write to a temp file + rename, as editors do) adding the rule
 * `tokenK=\S+` → `tokenK=<r>`; its latency ends when the first line written after the save
 * arrives with `tokenK=<r>`. Before the edits, the plain delivery latency (write → arrival) is
 * measured too, since it is part of every reload figure (the upload sink lingers up to 500 ms).
 * Prints every latency and p50/max.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startReceiver } from './receiver.js';
import { Flags, benchConfig, isMain, machine, median, percentile, pinSelf, record, sleep, spread, startAgent, tmpDir } from './common.js';

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function main(): Promise<void> {
  const f = new Flags();
  const edits = f.num('edits', 10);
  const intervalMs = f.num('interval-ms', 20);
  const cpus = f.str('cpus', '0');
  pinSelf(cpus === '0' ? '1' : '0');
  const dir = tmpDir('sluice-reload-');
  const logFile = path.join(dir, 'app.log');
  fs.writeFileSync(logFile, '');

  // seq -> write time; arrivals tracked per line.
  const written = new Map<number, number>();
  const delivery: number[] = [];
  let editAt = 0;
  let editSeq = -1; // first seq written after the current save
  let editK = -1;
  let applied: (() => void) | undefined;
  const receiver = await startReceiver({
    onMessage(msg, at) {
      const s = msg.toString('latin1');
      const m = /seq=(\d+) /.exec(s);
      if (!m) return;
      const seq = Number(m[1]);
      const w = written.get(seq);
      if (w !== undefined && delivery.length < 2000 && editK < 0) delivery.push(at - w);
      if (editK >= 0 && seq >= editSeq && s.includes(`token${editK}=<r>`) && applied) {
        const a = applied;
        applied = undefined;
        lastLatency = at - editAt;
        a();
      }
    },
  });
  let lastLatency = NaN;
  const rules: { match_expression: string; replacement: string }[] = [];
  const makeConfig = () =>
    benchConfig(dir, receiver.url, [{ path: logFile, attributes: { parser: 'bench' }, redaction_rules: [...rules] }]);
  const agentDir = path.join(dir, 'agent');
  const agent = startAgent({ dir: agentDir, config: makeConfig(), cpus });
  const save = () => {
    const tmp = path.join(agentDir, '.agent.json.tmp');
    fs.writeFileSync(tmp, JSON.stringify(makeConfig(), null, 2));
    fs.renameSync(tmp, agent.configPath);
  };

  let seq = 0;
  const fd = fs.openSync(logFile, 'a');
  const tokens = Array.from({ length: edits }, (_, k) => `token${k}=s3cr3t${k}`).join(' ');
  const writer = setInterval(() => {
    const n = seq++;
    written.set(n, nowMs());
    fs.writeSync(fd, `2026-01-01T00:00:00.000Z INFO seq=${n} ${tokens} end\n`);
  }, intervalMs);

  process.stdout.write(`reload: ${edits} edits, a line every ${intervalMs} ms; agent on CPU ${cpus}; ${machine()}\n`);
  const latencies: number[] = [];
  try {
    await receiver.waitFor((c) => c.lines >= 50, 60_000);
    await sleep(3000);
    const baseline = [...delivery];
    process.stdout.write(`  delivery latency without reloads (write → receiver), ms: p50 ${median(baseline).toFixed(0)}, p90 ${percentile(baseline, 90).toFixed(0)}, max ${Math.max(...baseline).toFixed(0)} (${baseline.length} lines)\n`);
    for (let k = 0; k < edits; k++) {
      rules.push({ match_expression: `token${k}=\\S+`, replacement: `token${k}=<r>` });
      const done = new Promise<void>((r) => (applied = r));
      editK = k;
      editSeq = seq; // lines from now on were written after the save
      editAt = nowMs();
      save();
      const timeout = sleep(30_000).then(() => 'timeout');
      const res = await Promise.race([done.then(() => 'ok'), timeout]);
      if (res !== 'ok') throw new Error(`edit ${k}: no redacted line within 30 s\n${agent.output().slice(-2000)}`);
      latencies.push(lastLatency);
      process.stdout.write(`  edit ${k + 1}: ${lastLatency.toFixed(0)} ms\n`);
      await sleep(1500);
    }
    const summary = { p50: median(latencies), max: Math.max(...latencies), spread: spread(latencies, 0), latencies, deliveryP50: median(baseline), deliveryMax: Math.max(...baseline) };
    process.stdout.write(`reload latency (save → first redacted line at the receiver): p50 ${summary.p50.toFixed(0)} ms, max ${summary.max.toFixed(0)} ms over ${edits} edits\n`);
    record('reload', { edits, intervalMs, cpus, ...summary });
  } finally {
    clearInterval(writer);
    fs.closeSync(fd);
    await agent.stop();
    await receiver.close();
    if (!f.has('keep')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`reload: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
