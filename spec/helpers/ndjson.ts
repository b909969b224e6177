import fs from 'node:fs';
import path from 'node:path';

export interface NdjsonRecord {
  ts: string;
  logfile: string;
  attrs: Record<string, unknown>;
  message: string;
  [k: string]: unknown;
}

/** Every record the embedded sink wrote under `dir` (rotated files first). */
export function readNdjson(dir: string): NdjsonRecord[] {
  if (!fs.existsSync(dir)) return [];
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('events.ndjson'))
    .sort((a, b) => rank(b) - rank(a));
  const out: NdjsonRecord[] = [];
  for (const f of files) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) if (line) out.push(JSON.parse(line));
  }
  return out;
}

function rank(f: string): number {
  const m = /\.(\d+)$/.exec(f);
  return m ? Number(m[1]) : 0;
}
