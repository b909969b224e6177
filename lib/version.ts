import { readFileSync } from 'node:fs';

/** sluice's version, read once from package.json (works from `dist/lib`, from the bundle in `dist/bundle/cli` and from `lib` under jest). */
export const VERSION: string = (() => {
  for (const rel of ['../../package.json', '../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && pkg.version) return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return '0.0.0';
})();
