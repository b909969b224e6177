/**
 * `core-agent install`: lays out a core_agent_dir the way Scout's language agents look for a
 * downloaded core agent, so with `SCOUT_CORE_AGENT_LAUNCH=true` (their default) they launch sluice
 * instead of downloading Scout's binary (behaviour notes §2.1–2.2).
 *
 * For each version and platform triple it writes `<dir>/scout_apm_core-<version>-<triple>/` with
 *   core-agent     a small sh wrapper: `exec <node> <this installation's bin/core-agent> "$@"`
 *   manifest.json  {core_agent_binary, core_agent_version, core_agent_binary_sha256, version}
 * The Python agent (core/agent/manager.py `verify`) requires the three `core_agent_*` keys to be
 * strings and the sha256 of `<dir>/<full_name>/<core_agent_binary>` to match; Elixir also wants
 * `version` and looks flat in core_agent_dir, so the same two files are written there too.
 * Triples: Python, Node and PHP always compute `<arch>-unknown-linux-musl` on Linux (Elixir detects
 * gnu or musl); Python maps aarch64-apple-darwin to x86_64-apple-darwin, others may not.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/** The triples written by default: Linux x86_64/aarch64 (gnu and musl) and macOS. */
export const INSTALL_TRIPLES = [
  'x86_64-unknown-linux-musl',
  'aarch64-unknown-linux-musl',
  'x86_64-unknown-linux-gnu',
  'aarch64-unknown-linux-gnu',
  'x86_64-apple-darwin',
  'aarch64-apple-darwin',
] as const;

/** The agents' default core_agent_dir. */
export const DEFAULT_INSTALL_DIR = '/tmp/scout_apm_core';

export interface InstallOptions {
  dir: string;
  /** Versions as the agents request them (`v1.5.1`, `1.5.1` or `latest`); the directory name uses the `v` form. */
  versions: string[];
  /** The version the manifest reports (strict semver, no `v`). */
  reportedVersion: string;
  /** Absolute path of this installation's bin/core-agent. */
  bin: string;
  /** The node executable the wrapper runs. */
  node: string;
  /**
   * Each wrapper finds bin/core-agent relative to its own directory, and runs the `node` on PATH:
   * the layout then moves with the tree it sits in (the npm package ships one made this way).
   */
  relative?: boolean;
  triples?: readonly string[];
}

export interface InstalledEntry {
  dir: string;
  binary: string;
  sha256: string;
}

/** `1.5.1` → `v1.5.1`; `v1.5.1` and `latest` unchanged. */
export function versionTag(v: string): string {
  return /^\d/.test(v) ? `v${v}` : v;
}

const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The wrapper script: the node recorded at install time, else whatever `node` is on PATH. */
export function wrapperScript(node: string, bin: string, reportedVersion: string): string {
  return [
    '#!/bin/sh',
    `# Scout core-agent drop-in: sluice (reports core agent ${reportedVersion}). Written by \`core-agent install\`;`,
    '# the manifest.json next to this file holds its sha256, so re-run the install after editing it.',
    `NODE=${shQuote(node)}`,
    '[ -x "$NODE" ] || NODE=node',
    path.isAbsolute(bin) ? `exec "$NODE" ${shQuote(bin)} "$@"` : `exec "$NODE" "$(dirname "$0")"/${shQuote(bin)} "$@"`,
    '',
  ].join('\n');
}

/** mkdir -p, one level at a time (Node's recursive mkdir can spin on some pseudo file systems). */
function mkdirp(dir: string): void {
  const parent = path.dirname(dir);
  if (parent !== dir && !fs.existsSync(parent)) mkdirp(parent);
  try {
    fs.mkdirSync(dir, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(dir).isDirectory()) throw e;
  }
}

function writeFileAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode); // the umask may have narrowed it
  fs.renameSync(tmp, file);
}

/** Writes one `core-agent` + `manifest.json` pair into `dir`. */
function writePair(dir: string, script: string, reportedVersion: string): InstalledEntry {
  mkdirp(dir);
  const binary = path.join(dir, 'core-agent');
  writeFileAtomic(binary, script, 0o755);
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(binary)).digest('hex');
  const manifest = {
    version: reportedVersion,
    core_agent_version: reportedVersion,
    core_agent_binary: 'core-agent',
    core_agent_binary_sha256: sha256,
    sluice: true,
  };
  writeFileAtomic(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n', 0o644);
  return { dir, binary, sha256 };
}

/** Writes the layout; returns what was written (the flat Elixir pair last). Throws on fs errors. */
export function installCoreAgentDir(o: InstallOptions): InstalledEntry[] {
  const root = path.resolve(o.dir);
  const scriptFor = (dir: string) =>
    o.relative ? wrapperScript('node', path.relative(dir, o.bin), o.reportedVersion) : wrapperScript(o.node, o.bin, o.reportedVersion);
  const out: InstalledEntry[] = [];
  mkdirp(root);
  for (const v of o.versions) {
    for (const triple of o.triples ?? INSTALL_TRIPLES) {
      const dir = path.join(root, `scout_apm_core-${versionTag(v)}-${triple}`);
      out.push(writePair(dir, scriptFor(dir), o.reportedVersion));
    }
  }
  out.push(writePair(root, scriptFor(root), o.reportedVersion));
  return out;
}
