/**
 * Memory probe for a running agent. Loaded with `--require`, it samples `process.memoryUsage()`
 * and V8's heap spaces every 100 ms and keeps the sample with the highest RSS, written (with every
 * fifth sample) to $PROBE_OUT (default /tmp/sluice-memprobe.json) every second and at exit.
 *
 *   PROBE_OUT=/tmp/p.json SLUICE_BENCH_NODE_ARGS="--require $PWD/bench/memprobe.cjs" \
 *     node dist/bench/logpath.js --size 1024 --runs 1 --cpus 0
 *   node bench/memprobe.cjs show /tmp/p.json        # the peak, then the RSS over time
 *
 * CommonJS on purpose: `--require` preloads it before the agent's ES modules.
 */
'use strict';
const fs = require('node:fs');
const v8 = require('node:v8');

const MiB = (x) => (x / 1048576).toFixed(1);
const line = (s) =>
  `t=${(s.t / 1000).toFixed(1)}s rss ${MiB(s.rss)} heapTotal ${MiB(s.heapTotal)} heapUsed ${MiB(s.heapUsed)} ` +
  `arrayBuffers ${MiB(s.arrayBuffers)} external ${MiB(s.external)} old ${s.spaces.old_space ?? '-'} new ${s.spaces.new_space ?? '-'}`;

if (require.main === module) {
  const [cmd, file] = process.argv.slice(2);
  if (cmd !== 'show' || !file) {
    process.stderr.write('usage: node bench/memprobe.cjs show FILE\n');
    process.exit(2);
  }
  const d = JSON.parse(fs.readFileSync(file, 'utf8'));
  process.stdout.write(`peak ${line(d.peak)}\n`);
  for (const s of d.samples.filter((_, i) => i % 4 === 0)) process.stdout.write(`     ${line(s)}\n`);
} else {
  const out = process.env.PROBE_OUT || '/tmp/sluice-memprobe.json';
  const t0 = Date.now();
  const samples = [];
  let peak;
  let n = 0;
  setInterval(() => {
    const m = process.memoryUsage();
    const spaces = {};
    for (const sp of v8.getHeapSpaceStatistics()) spaces[sp.space_name] = `${MiB(sp.space_used_size)}/${MiB(sp.physical_space_size)}`;
    const s = { t: Date.now() - t0, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, spaces };
    if (n++ % 5 === 0) samples.push(s);
    if (!peak || s.rss > peak.rss) peak = s;
  }, 100).unref();
  const dump = () => {
    try {
      if (peak) fs.writeFileSync(out, JSON.stringify({ peak, samples }));
    } catch {
      // a probe never disturbs the agent
    }
  };
  setInterval(dump, 1000).unref();
  process.on('exit', dump);
}
