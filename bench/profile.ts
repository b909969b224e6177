/**
 * Summarizes V8 `.cpuprofile` files (from `node --cpu-prof`): the top functions by self time,
 * aggregated over every profile given (a file or a directory of them).
 *
 *   node dist/bench/profile.js DIR_OR_FILE... [--top 25]
 *
 * Prints `self% self-ms function (file:line)`, and the share of (garbage collector), (program)
 * and (idle) separately so the JS-attributable cost is clear.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Flags, isMain } from './common.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  share: number;
}

export function summarizeProfiles(files: string[], top = 25): { totalMs: number; rows: ProfileRow[] } {
  const self = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  for (const file of files) {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i]);
      const dt = p.timeDeltas[i] ?? 0;
      if (!n || dt <= 0) continue;
      const cf = n.callFrame;
      const url = cf.url.replace(/^file:\/\//, '');
      const short = url.includes('/dist/') ? url.slice(url.indexOf('/dist/') + 6) : url.includes('node_modules/') ? url.slice(url.lastIndexOf('node_modules/')) : path.basename(url);
      const where = url ? `${short}:${cf.lineNumber + 1}` : '';
      const key = `${cf.functionName}|${where}`;
      const e = self.get(key) ?? { name: cf.functionName || '(anonymous)', where, us: 0 };
      e.us += dt;
      self.set(key, e);
      total += dt;
    }
  }
  const rows = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: total ? e.us / total : 0 }));
  return { totalMs: total / 1000, rows };
}

function collect(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (fs.statSync(a).isDirectory()) {
      for (const f of fs.readdirSync(a)) if (f.endsWith('.cpuprofile')) out.push(path.join(a, f));
    } else out.push(a);
  }
  return out;
}

if (isMain(import.meta.url)) {
  const f = new Flags();
  const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--top');
  const files = collect(args);
  const { totalMs, rows } = summarizeProfiles(files, f.num('top', 25));
  process.stdout.write(`${files.length} profile(s), ${(totalMs / 1000).toFixed(1)} s sampled\n`);
  for (const r of rows) process.stdout.write(`${(r.share * 100).toFixed(1).padStart(5)}% ${r.selfMs.toFixed(0).padStart(7)} ms  ${r.name}${r.where ? `  (${r.where})` : ''}\n`);
}
