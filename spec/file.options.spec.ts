/**
 * The file source reads exactly the options it declares (sources/file/options.ts), once, when it
 * is created; absent ones take the declared defaults. Real files in temp dirs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointStore } from '../lib/checkpoints/store.js';
import { Credits } from '../lib/pipeline/credits.js';
import { memoryLogger, silentLogger } from '../lib/logger.js';
import { Taps } from '../lib/pipeline/taps.js';
import type { AgentConfig, LogEntryConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import { createLogSource } from '../sources/file/logSource.js';
import { FILE_SOURCE_OPTIONS } from '../sources/file/options.js';
import { streamAttrs } from '../sources/file/streamAttrs.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { createEntryStats, entryChain } from '../app/logPipeline.js';
import { tmpDir, waitFor } from './file.harness.js';

const text = (m: Buffer | string) => (typeof m === 'string' ? m : m.toString('utf8'));

async function collect(entry: Partial<LogEntryConfig>, agent: Record<string, unknown>, perFile: Parameters<typeof createLogSource>[1]['perFile'] = () => (x) => x) {
  const store = await CheckpointStore.open(tmpDir('sluice-opt-data-'), { flushIntervalMs: 5 });
  const source = createLogSource(entry as LogEntryConfig, { credits: new Credits(1 << 24), checkpoints: store, logger: memoryLogger(), agent, startup: true, perFile, pollIntervalMs: 20 });
  const batches: Batch[] = [];
  const sub = source.batches$.subscribe((b) => {
    batches.push(b);
    b.stream.ack(b.end);
  });
  await source.ready();
  return {
    batches,
    messages: () => batches.flatMap((b) => b.events.map((e) => text(e.message))),
    async stop() {
      sub.unsubscribe();
      await source.stop(5000);
      await store.close();
    },
  };
}

describe('file source options', () => {
  it('works with a partial config: every absent option takes its declared default', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'a.log');
    fs.writeFileSync(f, 'one\ntwo\n');
    const run = await collect({ path: f, copy_from_start: true }, {});
    try {
      await waitFor(() => run.messages().length === 2);
      expect(run.messages()).toEqual(['one\n', 'two\n']);
      // Default attributes: logfile is the real path.
      expect(run.batches[0].stream.attrs).toEqual({ logfile: f });
    } finally {
      await run.stop();
    }
  });

  it('reads its own attributes, parser and rename_logfile', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'b.log');
    fs.writeFileSync(f, 'x\n');
    const run = await collect({ path: f, copy_from_start: true, attributes: { service: 's' }, parser: 'p', rename_logfile: '/renamed/$BASENAME' }, {});
    try {
      await waitFor(() => run.messages().length === 1);
      expect(run.batches[0].stream.attrs).toEqual({ service: 's', parser: 'p', logfile: '/renamed/b.log', original_file: f });
      expect(streamAttrs({ attributes: { logfile: 'mine' }, rename_logfile: '/r/$BASENAME' }, f, silentLogger)).toEqual({ logfile: 'mine' });
    } finally {
      await run.stop();
    }
  });

  it('reads exactly the options it declares (except those with no effect), at creation', async () => {
    const record = (values: Record<string, unknown>) => {
      const read = new Set<string>();
      return {
        read,
        proxy: new Proxy(values, {
          get(t, k, r) {
            if (typeof k === 'string') read.add(k);
            return Reflect.get(t, k, r);
          },
        }),
      };
    };
    const all = (scope: 'own' | 'global') => Object.fromEntries(FILE_SOURCE_OPTIONS.filter((o) => (o.scope ?? 'own') === scope).map((o) => [o.name, o.default ?? (o.type === 'string' ? 'x' : o.type === 'float' ? 1 : undefined)]));
    const entry = record({ ...all('own'), path: '/nonexistent/*.log', lineGroupers: [], parse_format: 'raw', unrelated: true });
    const agent = record({ ...all('global'), max_pending_bytes: 1, unrelated: true });
    const store = await CheckpointStore.open(tmpDir('sluice-opt-data-'));
    const source = createLogSource(entry.proxy as unknown as LogEntryConfig, { credits: new Credits(1), checkpoints: store, logger: silentLogger, agent: agent.proxy, startup: true, perFile: () => (x) => x });
    const wants = (scope: 'own' | 'global') => FILE_SOURCE_OPTIONS.filter((o) => (o.scope ?? 'own') === scope && !o.noEffect).map((o) => o.name);
    expect([...entry.read].sort()).toEqual([...new Set(wants('own'))].sort());
    expect([...agent.read].sort()).toEqual([...new Set(wants('global'))].sort());
    await source.stop(1000);
    await store.close();
  });

  it('a json entry reads lines up to internal_parse_max_line_size whole: a long JSON line is parsed, its message cut to max_line_size', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'c.log');
    const message = 'm'.repeat(2500) + '\n';
    fs.writeFileSync(f, JSON.stringify({ log: message, time: '2024-01-02T03:04:05Z', pod: 'p1' }) + '\n');
    const agent = { max_line_size: 1000, internal_parse_max_line_size: 8192, read_page_size: 1024, agent_data_path: dir } as unknown as AgentConfig;
    const entry = { path: f, copy_from_start: true, attributes: {}, exclude: [], lineGroupers: [], sampling_rules: [], redaction_rules: [], parse_format: 'json', json_message_field: 'log', json_timestamp_field: 'time' } as unknown as LogEntryConfig;
    const perFile = entryChain({ id: 'logs[0]', entry, agent, registry: createDefaultRegistry(), taps: new Taps(), stats: createEntryStats(), logger: silentLogger, credits: new Credits(1) });
    const run = await collect(entry, agent as unknown as Record<string, unknown>, perFile);
    try {
      await waitFor(() => run.messages().join('') === message, 5000, 'the parsed message');
      const events = run.batches.flatMap((b) => b.events);
      expect(events.map((e) => Buffer.byteLength(text(e.message)))).toEqual([1000, 1000, 501]);
      expect(events.every((e) => e.attrs?.pod === 'p1')).toBe(true);
    } finally {
      await run.stop();
    }
    // The same line in a raw entry is cut at max_line_size by the reader.
    const raw = await collect({ path: f, copy_from_start: true }, { max_line_size: 1000, read_page_size: 1024 });
    try {
      await waitFor(() => raw.messages().join('').length === fs.statSync(f).size);
      expect(raw.messages()[0].length).toBe(1000);
      expect(raw.messages()[0].startsWith('{"log":"mmm')).toBe(true);
    } finally {
      await raw.stop();
    }
  });
});
