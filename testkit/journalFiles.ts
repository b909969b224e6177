/**
 * Real systemd journal files for tests, written by the real `systemd-journal-remote` from the
 * journal export format (no running systemd or journald needed):
 *
 * - entries are `KEY=value` lines separated by a blank line; each needs `__REALTIME_TIMESTAMP`
 *   and `__MONOTONIC_TIMESTAMP` (µs) and a `_BOOT_ID`; a value with a newline or other binary
 *   bytes is written as `KEY\n<64-bit little-endian length><bytes>\n`;
 * - `appendJournal(file, entries)` appends to `<dir>/remote.journal` (created on first use),
 *   which `journalctl -D <dir>` / `--file` then reads, `--follow` included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const REMOTE_CANDIDATES = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'];

export const BOOT_ID = '958b7e26df4c453aa0f9a8406cb508f2';
export const MACHINE_ID = '263bb31e3e1340629bdbf1f4518999d2';

export function journalRemoteBinary(): string | undefined {
  return REMOTE_CANDIDATES.find((p) => fs.existsSync(p));
}

function onPath(bin: string): boolean {
  return spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why journal files cannot be written and read here (undefined: they can). */
export function journalMissing(): string | undefined {
  if (!journalRemoteBinary()) return 'systemd-journal-remote is not installed (Debian package systemd-journal-remote)';
  if (!onPath('journalctl')) return 'journalctl is not installed (Debian package systemd)';
  return undefined;
}

export type ExportEntry = Record<string, string | Buffer>;

let monotonic = 1_000_000n;

/** One entry in the export format (timestamps filled in when absent: now, increasing). */
export function exportEntry(e: ExportEntry): Buffer {
  const full: ExportEntry = { ...e };
  if (full.__REALTIME_TIMESTAMP === undefined) full.__REALTIME_TIMESTAMP = String(BigInt(Date.now()) * 1000n);
  if (full.__MONOTONIC_TIMESTAMP === undefined) full.__MONOTONIC_TIMESTAMP = String((monotonic += 1000n));
  if (full._BOOT_ID === undefined) full._BOOT_ID = BOOT_ID;
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(full)) {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
    const binary = Buffer.isBuffer(v) || b.includes(0x0a);
    if (binary) {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(b.length));
      parts.push(Buffer.from(`${k}\n`), len, b, Buffer.from('\n'));
    } else parts.push(Buffer.from(`${k}=`), b, Buffer.from('\n'));
  }
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}

/** Appends entries to the journal file `<dir>/remote.journal` with systemd-journal-remote. */
export function appendJournal(dir: string, entries: ExportEntry[]): void {
  const bin = journalRemoteBinary();
  if (!bin) throw new Error('systemd-journal-remote is not installed');
  fs.mkdirSync(dir, { recursive: true });
  const exp = path.join(dir, `.export-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(exp, Buffer.concat(entries.map(exportEntry)));
  try {
    const r = spawnSync(bin, [`--output=${path.join(dir, 'remote.journal')}`, exp], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`systemd-journal-remote failed (${r.status}): ${r.stderr}`);
  } finally {
    fs.rmSync(exp, { force: true });
  }
}

/**
 * A journal for the journald monitor's `example` in the component harness (testkit/examplePeers.ts
 * `PEERS.journald_monitor`): a journal dir with an entry of the example's unit, written again
 * every 100 ms while it runs so a monitor that starts at the end sees entries.
 */
export function startExampleJournal(dir: string, unit = 'ssh.service'): { own(e: Record<string, unknown>): Record<string, unknown>; stop(): Promise<void> } {
  const jdir = path.join(dir, 'journal');
  let n = 0;
  appendJournal(jdir, [{ _SYSTEMD_UNIT: unit, _PID: '1', MESSAGE: `example entry ${n++}` }]);
  const timer = setInterval(() => {
    try {
      appendJournal(jdir, [{ _SYSTEMD_UNIT: unit, _PID: '1', MESSAGE: `example entry ${n++}` }]);
    } catch {
      // the dir is being removed
    }
  }, 100);
  timer.unref();
  return {
    own: (e) => ({ ...e, journal_path: jdir }),
    stop: async () => clearInterval(timer),
  };
}
