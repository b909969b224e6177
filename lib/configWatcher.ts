/**
 * Watches agent.json and its `agent.d/` fragments and calls `onChange` once per burst of writes
 * (debounced), so an editor's save or a half-written file triggers one re-read after it settles.
 * Only the main file and `*.json` fragments count: editor temp files (`.swp`, `~`, `.tmp`) are
 * ignored. A bad file is then rejected by validation, never half-applied.
 *
 * inotify watches of the two directories (`pathWatcher.ts`) give prompt events; a stat of the few
 * config files every `pollMs` is the safety net (fs events can be missed, e.g. a rename-over
 * right after the watcher started, or on NFS), and re-syncs the watches (an `agent.d/` made later).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PathWatcher } from './pathWatcher.js';
import { silentLogger } from './logger.js';

export async function watchConfigFiles(
  configPath: string,
  configDirectory: string,
  onChange: () => void,
  opts: { debounceMs?: number; pollMs?: number } = {},
): Promise<() => Promise<void>> {
  const debounceMs = opts.debounceMs ?? 300;
  const main = path.resolve(configPath);
  const fragments = path.resolve(path.dirname(main), configDirectory);
  const relevant = (p: string) => path.resolve(p) === main || (path.dirname(path.resolve(p)) === fragments && p.endsWith('.json'));

  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      signature = currentSignature();
      onChange();
    }, debounceMs);
  };

  // What the files look like now: path, inode, size and mtime of each.
  function currentSignature(): string {
    const files = [main];
    try {
      for (const f of fs.readdirSync(fragments).sort()) if (f.endsWith('.json')) files.push(path.join(fragments, f));
    } catch {
      /* no fragment directory */
    }
    return files
      .map((f) => {
        try {
          const s = fs.statSync(f);
          return `${f}:${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return `${f}:-`;
        }
      })
      .join('|');
  }
  let signature = currentSignature();
  // Watch the directories (an editor's rename-over-save replaces the file's inode).
  const watcher = new PathWatcher({
    logger: silentLogger,
    onEvent: (t, _event, name) => {
      const p = name === undefined ? undefined : path.join(t.path, name);
      if (p === fragments) watcher.sync(targets); // agent.d/ made (or replaced) after the start
      if (p === undefined || relevant(p)) fire();
    },
  });
  const targets = [...new Set([path.dirname(main), fragments])].map((p) => ({ path: p, kind: 'dir' as const }));
  watcher.sync(targets);
  const poll = setInterval(() => {
    watcher.sync(targets);
    if (currentSignature() !== signature) fire();
  }, opts.pollMs ?? 1000);
  poll.unref();
  return async () => {
    clearTimeout(timer);
    clearInterval(poll);
    watcher.close();
  };
}
