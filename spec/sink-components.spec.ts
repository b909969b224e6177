/**
 * The addEvents and embedded sinks as components: what they read from the agent config (only
 * declared options, defaults from the declarations, `upload`'s fields), Scalyr's pacing options
 * declared with no effect, and the embedded sink writing where its options say.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDefaultRegistry } from '../app/builtins.js';
import { memoryLogger } from '../lib/logger.js';
import { Credits } from '../lib/pipeline/credits.js';
import { addEventsConfig, ADD_EVENTS_OPTIONS, UPLOAD_FIELDS } from '../sinks/addEvents/component.js';
import type { Stream } from '../lib/types.js';

describe('sink components', () => {
  test('addEvents reads the declared top-level options and upload\'s fields, with declared defaults', () => {
    const c = addEventsConfig({ api_key: 'k', upload: { max_in_flight: 3 }, compression_type: 'none', unrelated: 1 });
    expect(c.api_key).toBe('k');
    expect(c.compression_type).toBe('none');
    expect(c.max_in_flight).toBe(3);
    expect(c.linger_ms).toBe(UPLOAD_FIELDS.find((o) => o.name === 'linger_ms')!.default);
    expect(c.scalyr_server).toBe('https://agent.scalyr.com');
    expect(c.request_too_large_adjustment).toBe(0.5);
    expect('unrelated' in c).toBe(false);
    // noEffect options are declared (so configs load and the docs say why) but not read.
    for (const o of ADD_EVENTS_OPTIONS.filter((d) => d.noEffect)) expect(o.name in c).toBe(false);
  });

  test('the Scalyr pacing options are declared with no effect and a reason', () => {
    const names = ADD_EVENTS_OPTIONS.filter((o) => o.noEffect).map((o) => o.name);
    expect(names).toEqual(
      expect.arrayContaining(['pipeline_threshold', 'min_request_spacing_interval', 'max_request_spacing_interval', 'max_error_request_spacing_interval', 'low_water_bytes_sent', 'high_water_bytes_sent', 'failure_request_spacing_adjustment', 'max_sequence_number', 'use_requests_lib']),
    );
    for (const o of ADD_EVENTS_OPTIONS.filter((d) => d.noEffect)) expect(o.description).toMatch(/sluice/);
    expect(ADD_EVENTS_OPTIONS.find((o) => o.name === 'server_attributes')!.live).toBe(true);
  });

  test('embedded writes under embedded_output, or the sink\'s own dir', async () => {
    const registry = createDefaultRegistry();
    const sink = registry.component('sink', 'embedded')!;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-embedded-'));
    try {
      const stream: Stream = { id: 's', kind: 'log', path: '/x.log', attrs: {}, ack: () => undefined };
      for (const [own, where] of [[{}, path.join(tmp, 'out')], [{ dir: path.join(tmp, 'own') }, path.join(tmp, 'own')]] as const) {
        const agent = { embedded_output: path.join(tmp, 'out'), server_attributes: { serverHost: 'h1' } };
        const s = sink.create(own, { id: 'sink', logger: memoryLogger(), agent, credits: new Credits(1 << 20), dataPath: tmp });
        s.write({ stream, events: [{ message: 'hello\n', end: 6 }], end: 6 });
        await s.flush(2000);
        await s.stop(2000);
        const text = fs.readFileSync(path.join(where, 'events.ndjson'), 'utf8');
        expect(JSON.parse(text.trim().split('\n').pop()!)).toMatchObject({ serverHost: 'h1', message: 'hello\n' });
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
