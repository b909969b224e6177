/**
 * The import graph of the project's own modules has no cycle (type-only imports count too: a
 * cycle of types is still two rooms that cannot be read apart). Specs are left out; they sit on
 * top of everything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIRS = ['lib', 'app', 'sources', 'sinks', 'operators', 'reliability', 'bench', 'testkit'];

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.spec.ts') && !p.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of DIRS) if (fs.existsSync(path.join(ROOT, d))) walk(path.join(ROOT, d));
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2])!.replace(/\.js$/, '.ts');
      deps.push(path.normalize(path.join(path.dirname(f), spec)));
    }
    graph.set(f, deps);
  }
  return graph;
}

/** Strongly connected components of more than one module (Tarjan), each a cycle. */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.map((f) => path.relative(ROOT, f)).sort());
    }
  };
  for (const f of graph.keys()) if (!index.has(f)) visit(f);
  return found;
}

describe('import graph', () => {
  it('finds a cycle when there is one (the checker can fail)', () => {
    const a = path.join(ROOT, 'x/a.ts');
    const b = path.join(ROOT, 'x/b.ts');
    const c = path.join(ROOT, 'x/c.ts');
    expect(cycles(new Map([[a, [b]], [b, [a]], [c, [a]]]))).toEqual([['x/a.ts', 'x/b.ts']]);
  });

  it('reads every relative import form the project uses', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const graph = importGraph(files);
    const agent = graph.get(path.join(ROOT, 'app/agent.ts'))!;
    expect(agent).toContain(path.join(ROOT, 'lib/config/load.ts'));
    expect(agent).toContain(path.join(ROOT, 'lib/status/types.ts'));
  });

  it('has no cycle among the project modules', () => {
    expect(cycles(importGraph(sourceFiles()))).toEqual([]);
  });

  /**
   * The layers point one way: the base (`lib/`: types, config, checkpoints, credits, regex)
   * imports nothing above it; components (`sources/`, `operators/`, `sinks/`) import the base
   * and each other but not the assembly; `app/` (createAgent, the parts, the CLI) sits on top.
   */
  it('keeps the layers pointing one way', () => {
    const layer = (f: string) => path.relative(ROOT, f).split(path.sep)[0];
    const rank: Record<string, number> = { lib: 0, sources: 1, operators: 1, sinks: 1, app: 2 };
    const wrong: string[] = [];
    for (const [f, deps] of importGraph(sourceFiles())) {
      const from = rank[layer(f)];
      if (from === undefined) continue;
      for (const d of deps) {
        const to = rank[layer(d)];
        if (to !== undefined && to > from) wrong.push(`${path.relative(ROOT, f)} -> ${path.relative(ROOT, d)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
