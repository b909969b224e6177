// Bundles the two commands (`sluice`, `core-agent`) from tsc's output in dist/ into
// dist/bundle/cli/, run by `npm run build` after tsc. Why: start-up is module loading (issue 19):
// ~200 ES modules and rxjs' few hundred CommonJS files each resolved, read and compiled on their
// own cost about half of the agent's start; one file per command (plus the chunks its lazy
// imports load on demand) does that work once. bin/sluice and bin/core-agent load the bundle when
// it is there and dist/app/cli/*.js otherwise (or with SLUICE_NO_BUNDLE=1). `import 'sluice'`
// (the library) is not bundled: embedders get dist/app/index.js as before.
//
// The output sits two levels under dist/, like dist/app/cli/, so paths the code computes from
// its own location (bin/, package.json) resolve the same. Packages loaded by a name computed at
// run time (mysql2, plugins) are left to Node's resolution, from node_modules as before.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle/cli`;
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/app/cli/main.js', coreAgent: 'dist/app/cli/coreAgent.js' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);" },
  logLevel: 'warning',
});
