/**
 * Watches agent.json and its `agent.d/` fragments (chokidar) and calls `onChange` once per burst
 * of writes (debounced), so an editor's save or a half-written file triggers one re-read after
 * it settles. Only the main file and `*.json` fragments count: editor temp files (`.swp`,
 * `~`, `.tmp`) are ignored. A bad file is then rejected by validation, never half-applied.
 */
import path from 'node:path';
import { watch } from 'chokidar';

export function watchConfigFiles(configPath: string, configDirectory: string, onChange: () => void, debounceMs = 300): () => Promise<void> {
  const main = path.resolve(configPath);
  const fragments = path.resolve(path.dirname(main), configDirectory);
  const relevant = (p: string) => path.resolve(p) === main || (path.dirname(path.resolve(p)) === fragments && p.endsWith('.json'));
  // Watch the directories (an editor's rename-over-save replaces the file's inode).
  const watcher = watch([path.dirname(main), fragments], { ignoreInitial: true, depth: 0, persistent: true });
  let timer: NodeJS.Timeout | undefined;
  const fire = (p: string) => {
    if (!relevant(p)) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  watcher.on('add', fire).on('change', fire).on('unlink', fire).on('error', () => undefined);
  return async () => {
    clearTimeout(timer);
    await watcher.close();
  };
}
