/** The agent's node flags and environment are written in three places; they must agree. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_ENV, AGENT_NODE_FLAGS } from './nodeFlags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('agent node flags', () => {
  const env = Object.entries(AGENT_ENV).map(([k, v]) => `${k}=${v}`);

  it("bin/sluice's shebang carries every flag and variable", () => {
    const shebang = fs.readFileSync(path.join(root, 'bin/sluice'), 'utf8').split('\n')[0];
    for (const part of [...env, ...AGENT_NODE_FLAGS]) expect(shebang.split(' ')).toContain(part);
  });

  it('npm start carries them too', () => {
    const start = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start as string;
    for (const part of [...env, ...AGENT_NODE_FLAGS]) expect(start.split(' ')).toContain(part);
  });
});
