/**
 * A hostile upload server: garbage answers, a wrong content type, a 100 MB answer body, an answer
 * that never comes. The agent (in-process, real HTTPS to 127.0.0.1) must survive each, report it
 * (status `lastResponseStatus` / a warning in the log), keep its memory bounded (the answer is
 * size-capped), and deliver every line exactly once the server behaves — nothing lost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent, type Agent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { makeTestCa, parseAddEventsBody, startTestServer, type Fault, type TestCa, type TestServer } from '../testkit/tlsServer.js';
import { waitFor } from './helpers/wait.js';
import { isolatedAgent } from './helpers/isolated.js';

const KEY = 'hostile-server-key-0123456789';
let ca: TestCa;
beforeAll(() => {
  ca = makeTestCa();
});
afterAll(() => fs.rmSync(ca.dir, { recursive: true, force: true }));

let agent: Agent | undefined;
let server: TestServer | undefined;
let dir: string | undefined;
afterEach(async () => {
  await agent?.stop(2000);
  await server?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  agent = server = dir = undefined;
});

async function run(faults: Fault[], opts: { deadline?: number } = {}) {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-hostile-srv-'));
  server = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
  server.faults.push(...faults);
  const log = path.join(dir, 'app.log');
  fs.writeFileSync(log, '');
  const logger = memoryLogger();
  agent = createAgent({
    logger,
    watchConfig: false,
        stopDeadlineMs: 2000,
    config: {
      api_key: KEY,
      scalyr_server: server.url,
      ca_cert_path: ca.caPath,
      ...isolatedAgent(dir),
      request_deadline: opts.deadline ?? 1,
      upload: { linger_ms: 10, retry_base_ms: 50, retry_max_ms: 200 },
      logs: [{ path: log, copy_from_start: true }],
    },
  });
  await agent.start();
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}\n`);
  fs.appendFileSync(log, lines.slice(0, 100).join(''));
  const statuses = new Set<string>();
  const sample = setInterval(() => {
    const s = agent?.status().sink.lastResponseStatus;
    if (s) statuses.add(String(s));
  }, 5);
  try {
    // Answers past the injected faults are successes: those requests' events are delivered.
    const delivered = () =>
      server!.requests.slice(faults.length).flatMap((r) => parseAddEventsBody(r.body).events.map((e) => e.message.toString()));
    await waitFor('first half delivered after the faults', () => new Set(delivered()).size >= 100, 15_000);
    fs.appendFileSync(log, lines.slice(100).join(''));
    await waitFor('everything delivered', () => new Set(delivered()).size >= 200, 10_000);
    const got = delivered();
    const firsts = [...new Set(got)];
    expect(firsts).toEqual(lines);
    return { logger, statuses, requests: server.requests.length };
  } finally {
    clearInterval(sample);
  }
}

const warnings = (l: ReturnType<typeof memoryLogger>) => l.records.filter((r) => r.level === 'warn' || r.level === 'error').map((r) => r.message).join('\n');

describe('hostile upload server', () => {
  it('survives garbage answers and reports them', async () => {
    const { logger, statuses } = await run([
      { status: 200, body: '\u0000\u00ffnot json at all <<<', contentType: 'application/octet-stream' },
      { status: 200, body: '' },
      { status: 200, body: '[1,2,3]' },
      { status: 200, body: '{"no":"status"}' },
    ]);
    expect([...statuses].some((s) => /parseResponseFailed|emptyResponse|unknownError/.test(s))).toBe(true);
    expect(warnings(logger)).toMatch(/upload failed/);
  }, 20_000);

  it('survives a wrong content type (HTML error page) and reports it', async () => {
    const { logger } = await run([{ status: 200, contentType: 'text/html', body: '<html><body>Service Unavailable</body></html>' }]);
    expect(warnings(logger)).toMatch(/upload failed: parseResponseFailed/);
  }, 20_000);

  it('survives a 100 MB answer body without reading it all', async () => {
    const rssBefore = process.memoryUsage().rss;
    const { logger } = await run([{ status: 200, hugeBytes: 100 * 1024 * 1024 }]);
    expect(warnings(logger)).toMatch(/upload failed/);
    // The answer is capped (1 MiB by default): memory did not grow by anything like 100 MB.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(80 * 1024 * 1024);
  }, 30_000);

  it('survives an answer that never comes (request_deadline) and reports it', async () => {
    const { logger } = await run([{ hang: true }, { hang: true }], { deadline: 0.5 });
    expect(warnings(logger)).toMatch(/upload failed: .*(deadline|timed? ?out)/i);
  }, 20_000);
});
