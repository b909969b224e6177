/**
 * The APM components: the span intake source (`apm_intake`) and the Scout check-in sink
 * (`scout_checkin`) live in the `apm` section, declare what they read, and the APM part builds
 * them through the registry it is given; `apm.name` names clients that register without an app.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApmPart } from '../app/parts/apmPipeline.js';
import { createDefaultRegistry } from '../app/builtins.js';
import { homeOf, optionsOf } from '../lib/component.js';
import { silentLogger } from '../lib/logger.js';
import type { AgentConfig } from '../lib/config/types.js';
import type { Batch } from '../lib/types.js';
import { FrameClient, waitFor } from './apmHelpers.js';

const job = (id: string) => ({
  BatchCommand: {
    commands: [
      { StartRequest: { request_id: id } },
      { StartSpan: { request_id: id, span_id: 's', operation: 'Job/report' } },
      { StopSpan: { request_id: id, span_id: 's' } },
      { FinishRequest: { request_id: id } },
    ],
  },
});

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-apmc-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('APM components', () => {
  test('both live in the apm section and declare its fields; the proxies are top-level', () => {
    const registry = createDefaultRegistry();
    const intake = registry.component('source', 'apm_intake')!;
    const checkin = registry.component('sink', 'scout_checkin')!;
    expect(homeOf(intake)).toBe('section:apm');
    expect(homeOf(checkin)).toBe('section:apm');
    expect(optionsOf(intake).map((o) => o.name)).toEqual(expect.arrayContaining(['socket_path', 'tcp', 'max_frame_bytes', 'request_timeout_secs', 'name', 'minute_secs', 'grace_secs']));
    expect(optionsOf(checkin).map((o) => o.name)).toEqual(['ingest_url', 'key']);
    expect(optionsOf(checkin, 'global').map((o) => o.name)).toEqual(['https_proxy', 'http_proxy']);
    expect(optionsOf(intake).some((o) => o.name === 'enabled')).toBe(false);
  });

  test('the part builds the intake through the registry it is given', async () => {
    const registry = createDefaultRegistry().with();
    const real = registry.component('source', 'apm_intake')!;
    const seen: Record<string, unknown>[] = [];
    registry.add({ ...real, create: (own, ctx) => (seen.push(own), real.create(own, ctx)) });
    const sock = path.join(dir, 'r.sock');
    const cfg = { apm: { enabled: true, socket_path: sock, minute_secs: 0.3, grace_secs: 0 } } as unknown as AgentConfig;
    const part = await createApmPart(cfg, { logger: silentLogger, deliver: () => undefined, registry });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.socket_path).toBe(sock);
    await part.stop(1000);
  });

  test('apm.name is the app of a client that registers without one', async () => {
    const sock = path.join(dir, 'n.sock');
    const batches: Batch[] = [];
    const cfg = { apm: { enabled: true, socket_path: sock, name: 'fallback-app', minute_secs: 0.3, grace_secs: 0 } } as unknown as AgentConfig;
    const part = await createApmPart(cfg, { logger: silentLogger, deliver: (b) => batches.push(b) });
    const anonymous = await FrameClient.connect(sock);
    await anonymous.request({ Register: { key: 'k', api_version: '1.0' } });
    await anonymous.request(job('a1'));
    const named = await FrameClient.connect(sock);
    await named.request({ Register: { app: 'own-name', key: 'k', api_version: '1.0' } });
    await named.request(job('b1'));
    await waitFor(() => batches.length >= 2, 3000, 'two minute batches');
    const apps = batches.map((b) => b.events[0]!.attrs!.scout_app).sort();
    expect(apps).toEqual(['fallback-app', 'own-name']);
    await anonymous.close();
    await named.close();
    await part.stop(1000);
  });
});
