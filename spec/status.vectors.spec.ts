/**
 * Scalyr's status vectors (spec/fixtures/vectors/scalyr/status.json): the per-file lines and the times
 * of `status -v` are rendered the same way, so tools that parse them keep working. The header and
 * the sections sluice adds differ on purpose (see lib/status/text.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { asctime, fileLine } from '../lib/status/text.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const vectors = JSON.parse(fs.readFileSync(path.resolve(ROOT, 'spec/fixtures/vectors/scalyr/status.json'), 'utf8')) as {
  cases: { name: string; kind: string; input: Record<string, unknown>; expected: Record<string, unknown> }[];
};
const full = vectors.cases.find((c) => c.kind === 'status_text')!;
const text = String(full.expected.stdout);

/** Parses `copied B bytes (L lines), P bytes pending, ...` back into numbers. */
function parse(rest: string) {
  const num = (re: RegExp) => Number(re.exec(rest)?.[1] ?? 0);
  const dropped = /(\d+) bytes dropped by sampling \((\d+) lines\)/.exec(rest);
  const when = /last checked (.*)$/.exec(rest)![1];
  return {
    copiedBytes: num(/copied (\d+) bytes/),
    copiedLines: num(/\((\d+) lines\), \d+ bytes pending/),
    pendingBytes: num(/(\d+) bytes pending/),
    skippedBytes: num(/(\d+) bytes skipped/),
    failedBytes: num(/(\d+) bytes failed/),
    droppedBytes: dropped ? Number(dropped[1]) : 0,
    droppedLines: dropped ? Number(dropped[2]) : 0,
    redactions: num(/(\d+) redactions/),
    lastChecked: Date.parse(when.replace(/^\w+ (\w+) +(\d+) ([\d:]+) (\d+) UTC$/, '$1 $2 $4 $3 UTC')),
  };
}

describe('status.json vectors', () => {
  it('file lines render byte for byte like Scalyr (plain paths and glob members)', () => {
    const lines = text.split('\n').filter((l) => / copied \d+ bytes/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      const m = /^(Path \S+: |  \S+: )(copied .*)$/.exec(line)!;
      expect(m).not.toBeNull();
      expect(m[1] + fileLine({ path: 'x', ...parse(m[2]) })).toBe(line);
    }
  });

  it('times are C asctime in UTC with a space-padded day', () => {
    // "Current time: Fri Sep  5 23:14:13 2014 UTC" for the vector's current time 1409958853.
    expect(text).toContain(`Current time:            ${asctime(1409958853000)}`);
  });
});
