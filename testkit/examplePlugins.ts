/**
 * The example plugins (`examples/<kind>/*.mjs`) loaded into a copy of a registry, with which
 * component each one added, for the specs that run over every registered component.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Component } from '../lib/component.js';
import { loadPlugin } from '../lib/plugins.js';
import { createRegistry, type Registry } from '../lib/registry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every example plugin module, relative to the repository root. */
export function examplePluginFiles(): string[] {
  const dir = path.join(ROOT, 'examples');
  const out: string[] = [];
  for (const kind of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!kind.isDirectory()) continue;
    for (const f of fs.readdirSync(path.join(dir, kind.name))) if (/\.(m|c)?js$/.test(f)) out.push(`./examples/${kind.name}/${f}`);
  }
  return out.sort();
}

export interface LoadedExamples {
  /** `base` plus every example plugin. */
  registry: Registry;
  /** The components each example plugin added, by its file. */
  byFile: Map<string, Component[]>;
}

/** Loads every example plugin (failures reject, naming the file) into a copy of `base`. */
export async function loadExamplePlugins(base: Registry): Promise<LoadedExamples> {
  const registry = base.with();
  const byFile = new Map<string, Component[]>();
  for (const file of examplePluginFiles()) {
    const own = createRegistry();
    await loadPlugin(file, ROOT, own);
    byFile.set(file, own.components());
    await loadPlugin(file, ROOT, registry);
  }
  return { registry, byFile };
}
