/** createApmPart: the APM part createAgent runs (intake → aggregateSpans → deliver(batch)). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApmPart } from '../app/parts/apmPipeline.js';
import { silentLogger } from '../lib/logger.js';
import type { AgentConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import { FrameClient, waitFor } from './apmHelpers.js';

test('delivers one apm batch per minute and flushes the open minute on stop', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-part-'));
  const sock = path.join(dir, 'p.sock');
  const batches: Batch[] = [];
  const cfg = { apm: { enabled: true, socket_path: sock, max_frame_bytes: 1 << 20, request_timeout_secs: 30, minute_secs: 0.5, grace_secs: 0.1 } } as unknown as AgentConfig;
  const part = await createApmPart(cfg, { logger: silentLogger, deliver: (b) => batches.push(b) });
  const c = await FrameClient.connect(sock);
  await c.request({ Register: { app: 'p', key: 'k', api_version: '1.0' } });
  const req = (id: string) => ({
    BatchCommand: {
      commands: [
        { StartRequest: { request_id: id } },
        { StartSpan: { request_id: id, span_id: 's', operation: 'Job/nightly_report' } },
        { StopSpan: { request_id: id, span_id: 's' } },
        { FinishRequest: { request_id: id } },
      ],
    },
  });
  await c.request(req('r1')); // no timestamps: receive time is used
  await waitFor(() => batches.length === 1, 3000, 'timed minute batch');
  expect(batches[0]!.stream.kind).toBe('apm');
  expect(batches[0]!.events.find((e) => e.attrs!.apm_type === 'endpoint')!.attrs).toMatchObject({ endpoint: 'Job/nightly_report', kind: 'job', queue: 'default', call_count: 1 });
  await c.request(req('r2'));
  await c.close();
  await part.stop(2000);
  expect(batches.length).toBe(2); // the open minute was flushed by stop()
  batches[1]!.stream.ack(batches[1]!.end);
  expect(part.status().ackedEnd).toBe(batches[1]!.end);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('runCoreAgent with deliver: batches go to the caller (the shape app/parts/apmPipeline.ts uses)', async () => {
  const { runCoreAgent } = await import('../app/cli/runCoreAgent.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-part2-'));
  const sock = path.join(dir, 'q.sock');
  const batches: Batch[] = [];
  const h = await runCoreAgent({ apm: { enabled: true, socket_path: sock, max_frame_bytes: 1 << 20, request_timeout_secs: 30 }, logger: silentLogger, deliver: (b) => batches.push(b) });
  const c = await FrameClient.connect(sock);
  await c.request({ Register: { app: 'q', key: 'k', api_version: '1.0' } });
  await c.request({ ApplicationEvent: { event_type: 'CPU/Utilization', event_value: 3, source: 'Pid: 2', timestamp: new Date().toISOString() } });
  await c.close();
  await h.stop(2000);
  expect(batches).toHaveLength(1);
  expect(batches[0]!.events.map((e) => e.attrs!.apm_type)).toEqual(['minute', 'sampler']);
  expect(fs.readdirSync(dir)).toEqual([]); // no NDJSON output of its own, socket removed
  fs.rmSync(dir, { recursive: true, force: true });
});
