/**
 * lib/configWatcher.ts on real files: edits of the main file (in place and rename-over), fragments
 * in an `agent.d/` made after the start, editor temp files ignored, bursts debounced into one
 * call. The stat poll is set to an hour, so what is seen here came from the inotify watches.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { watchConfigFiles } from '../lib/configWatcher.js';
import { tmpDir, waitFor } from './file.harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchConfigFiles', () => {
  it('calls back once per burst for the main file and *.json fragments, never for temp files', async () => {
    const dir = tmpDir('sluice-cfgw-');
    const main = path.join(dir, 'agent.json');
    fs.writeFileSync(main, '{}');
    let calls = 0;
    const stop = await watchConfigFiles(main, 'agent.d', () => calls++, { debounceMs: 50, pollMs: 3_600_000 });
    try {
      fs.writeFileSync(path.join(dir, 'agent.json.swp'), 'x');
      fs.writeFileSync(path.join(dir, 'other.json'), '{}');
      await sleep(200);
      expect(calls).toBe(0);

      fs.writeFileSync(main, '{ "a": 1 }');
      fs.appendFileSync(main, ' ');
      await waitFor(() => calls === 1);
      await sleep(150);
      expect(calls).toBe(1);

      fs.writeFileSync(main + '.tmp', '{ "a": 2 }');
      fs.renameSync(main + '.tmp', main);
      await waitFor(() => calls === 2);

      fs.mkdirSync(path.join(dir, 'agent.d'));
      await sleep(150);
      const before = calls;
      fs.writeFileSync(path.join(dir, 'agent.d', 'x.json~'), '{}');
      await sleep(150);
      expect(calls).toBe(before);
      fs.writeFileSync(path.join(dir, 'agent.d', 'x.json'), '{}');
      await waitFor(() => calls === before + 1);
    } finally {
      await stop();
    }
  });
});
