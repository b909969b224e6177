/**
 * Live reconfiguration: real config files edited on disk while a running agent tails real files.
 * Only the parts whose slice changed restart; a broken edit keeps the last good config; lines
 * streaming during repeated edits arrive exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent, type Agent } from '../app/index.js';
import { memoryLogger } from '../lib/logger.js';
import { waitFor, sleep } from './helpers/wait.js';
import { readNdjson } from './helpers/ndjson.js';

interface Setup {
  dir: string;
  configPath: string;
  a: string;
  b: string;
  out: string;
  write(extraB?: Record<string, unknown>, raw?: string): void;
}

function setup(): Setup {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-reload-'));
  const a = path.join(dir, 'a.log');
  const b = path.join(dir, 'b.log');
  fs.writeFileSync(a, '');
  fs.writeFileSync(b, '');
  const configPath = path.join(dir, 'agent.json');
  const write = (extraB: Record<string, unknown> = {}, raw?: string) => {
    const cfg = {
      agent_data_path: './data',
      agent_log_path: './log',
      implicit_metric_monitor: false,
      implicit_agent_process_metrics_monitor: false,
      implicit_agent_log_collection: false,
      line_completion_wait_time: 0.2,
      logs: [
        { path: a, copy_from_start: true, attributes: { name: 'a' } },
        { path: b, copy_from_start: true, attributes: { name: 'b' }, ...extraB },
      ],
    };
    // Write then rename, as editors and config managers do.
    fs.writeFileSync(configPath + '.tmp', raw ?? JSON.stringify(cfg, null, 2));
    fs.renameSync(configPath + '.tmp', configPath);
  };
  write();
  return { dir, configPath, a, b, out: path.join(dir, 'data', 'events'), write };
}

describe('live reconfiguration', () => {
  let agent: Agent | undefined;
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('restarts only the changed entry, applies its new rules, and keeps the other untouched', async () => {
    const s = setup();
    agent = createAgent({ configPath: s.configPath, logger: memoryLogger(), watchConfig: false });
    await agent.start();
    fs.appendFileSync(s.a, 'a1 secret=1\n');
    fs.appendFileSync(s.b, 'b1 secret=1\n');
    await waitFor('first lines', () => readNdjson(s.out).length >= 2);

    s.write({ redaction_rules: [{ match_expression: 'secret=\\d', replacement: 'secret=X' }] });
    const outcome = await agent.reload();
    expect(outcome.ok).toBe(true);
    expect(outcome.restarted).toEqual([`log:${s.b}`]);
    expect(outcome.unchanged).toEqual(expect.arrayContaining([`log:${s.a}`, 'sink']));

    fs.appendFileSync(s.a, 'a2 secret=2\n');
    fs.appendFileSync(s.b, 'b2 secret=2\n');
    const recs = await waitFor('second lines', () => {
      const r = readNdjson(s.out);
      return r.length >= 4 ? r : undefined;
    });
    const msgs = recs.map((r) => r.message).sort();
    expect(msgs).toEqual(['a1 secret=1\n', 'a2 secret=2\n', 'b1 secret=1\n', 'b2 secret=X\n']);
  });

  it('keeps the last good config when an edit is broken, and reports it', async () => {
    const s = setup();
    agent = createAgent({ configPath: s.configPath, logger: memoryLogger() });
    await agent.start();
    s.write({}, '{ logs: [ { path: "x" ');
    await waitFor('bad config reported', () => agent!.status().config.status === 'bad', 5000);
    expect(agent.status().config.errors.join('\n')).toMatch(/agent\.json:\d+:\d+/);
    fs.appendFileSync(s.a, 'still flowing\n');
    await waitFor('line under the old config', () => readNdjson(s.out).some((r) => r.message === 'still flowing\n'));
    s.write();
    await waitFor('good again', () => agent!.status().config.status === 'good', 5000);
  });

  it('delivers every line exactly once while the config is edited repeatedly', async () => {
    const s = setup();
    agent = createAgent({ configPath: s.configPath, logger: memoryLogger() });
    await agent.start();
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        let chunkA = '';
        let chunkB = '';
        for (let i = 0; i < 200; i++) {
          chunkA += `a ${n}\n`;
          chunkB += `b ${n}\n`;
          n++;
        }
        fs.appendFileSync(s.a, chunkA);
        fs.appendFileSync(s.b, chunkB);
        await sleep(5);
      }
    })();
    for (let edit = 0; edit < 5; edit++) {
      await sleep(150);
      s.write({ attributes: { name: 'b', edit: String(edit) } });
      await agent.reload();
    }
    writing = false;
    await writer;
    const total = n;
    const recs = await waitFor(
      'all lines',
      () => {
        const r = readNdjson(s.out);
        return r.length >= 2 * total ? r : undefined;
      },
      20_000,
    );
    for (const prefix of ['a', 'b']) {
      const ids = recs.filter((r) => r.message.startsWith(prefix + ' ')).map((r) => Number(r.message.slice(2)));
      expect(ids.length).toBe(total);
      expect(ids).toEqual([...Array(total).keys()]);
    }
    // Lines read after an edit carry the new attributes.
    expect(recs.some((r) => r.attrs.edit === '4')).toBe(true);
  });
});
