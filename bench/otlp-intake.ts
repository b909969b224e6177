/**
 * OTLP span intake: a real agent (`bin/sluice start --foreground`, pinned to one core) with
 * `otlp_receiver` on a loopback port and an `addEvents` sink to the counting receiver; this
 * process (on the other core) runs `--clients` closed-loop HTTP clients, each POSTing
 * `ExportTraceServiceRequest`s of `--spans` spans (protobuf, encoded with the OpenTelemetry
 * project's definitions from `@opentelemetry/otlp-transformer`, as an SDK's exporter sends them),
 * waiting for each answer; a 429/503 is retried after its `Retry-After`, as the SDKs do.
 *
 *   node dist/bench/otlp-intake.js [--seconds 10] [--clients 8] [--spans 100] [--cpus 0] [--receiver-cpus 1]
 *
 * Figures: spans/s accepted (answered 200) while sending; spans/s end to end (until the
 * receiver holds every accepted span as an event); the agent's CPU-s per million spans
 * (utime+stime of its process tree from /proc); its peak RSS; 429 answers (back-pressure).
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import otlpRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { startReceiver } from './receiver.js';
import { freePort } from '../testkit/statusPeers.js';
import { treeSample } from './sidebyside.js';
import { Flags, benchConfig, isMain, machine, pinSelf, record, sleep, startAgent, tmpDir } from './common.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const TracesRequest = (otlpRoot as any).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/** One request body of `n` spans: a root server span and its children, in one trace. */
function tracesBody(n: number, seq: number): Buffer {
  const traceId = randomBytes(16);
  const rootId = randomBytes(8);
  const t0 = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: n }, (_, i) => ({
    traceId,
    spanId: i === 0 ? rootId : randomBytes(8),
    parentSpanId: i === 0 ? undefined : rootId,
    name: i === 0 ? `GET /users/${seq % 100}` : i % 3 === 0 ? 'SELECT users' : `HTTP GET api-${i % 7}`,
    kind: i === 0 ? 2 : 3,
    startTimeUnixNano: String(t0 + BigInt(i) * 1000n),
    endTimeUnixNano: String(t0 + BigInt(i) * 1000n + 500_000n),
    attributes: [
      { key: 'http.method', value: { stringValue: 'GET' } },
      { key: 'http.status_code', value: { intValue: 200 } },
      { key: i % 3 === 0 ? 'db.statement' : 'http.url', value: { stringValue: i % 3 === 0 ? 'SELECT * FROM users WHERE id = $1' : `https://api.example.com/v1/items/${i}` } },
    ],
    status: { code: i === n - 1 && seq % 50 === 0 ? 2 : 0 },
  }));
  const msg = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench-app' } }, { key: 'host.name', value: { stringValue: 'bench' } }] },
        scopeSpans: [{ scope: { name: 'bench', version: '1.0.0' }, spans }],
      },
    ],
  };
  return Buffer.from(TracesRequest.encode(TracesRequest.fromObject(msg)).finish());
}

function post(agent: http.Agent, port: number, body: Buffer): Promise<{ status: number; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const f = new Flags(process.argv.slice(2));
  const seconds = f.num('seconds', 10);
  const clients = f.num('clients', 8);
  const spansPer = f.num('spans', 100);
  const cpus = f.str('cpus', '0');
  pinSelf(f.str('receiver-cpus', '1'));
  const receiver = await startReceiver();
  const dir = tmpDir('sluice-otlp-intake-');
  const port = await freePort();
  const agent = startAgent({ dir, cpus, config: benchConfig(dir, receiver.url, [], { otlp_receiver: { endpoint: `127.0.0.1:${port}` } }) });
  try {
    // Ready when the receiver answers (a 405 to a GET is an answer).
    for (let i = 0; ; i++) {
      const ok = await new Promise<boolean>((r) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/v1/traces', agent: false }, (res) => {
          res.resume();
          r(true);
        });
        req.on('error', () => r(false));
      });
      if (ok) break;
      if (i > 300 || agent.child.exitCode !== null) throw new Error(`the agent's receiver did not come up:\n${agent.output()}`);
      await sleep(50);
    }
    const bodies = Array.from({ length: 64 }, (_, i) => tracesBody(spansPer, i));
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: clients });
    const cpu0 = treeSample(agent.pid)?.cpu ?? 0;
    const events0 = receiver.counts.events;
    let accepted = 0;
    let refused = 0;
    let requests = 0;
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let n = c; performance.now() < until; n += clients) {
          const body = bodies[n % bodies.length];
          for (;;) {
            const a = await post(httpAgent, port, body);
            requests++;
            if (a.status === 200) break;
            if (a.status !== 429 && a.status !== 503) throw new Error(`the receiver answered ${a.status}`);
            refused++;
            await sleep(Math.min(1000, a.retryAfter * 1000));
          }
          accepted += spansPer;
        }
      }),
    );
    const sendWall = (performance.now() - t0) / 1000;
    const cpuSend = (treeSample(agent.pid)?.cpu ?? 0) - cpu0;
    // Every accepted span reaches the sink's receiver (one event each).
    const deadline = Date.now() + 120_000;
    while (receiver.counts.events - events0 < accepted && Date.now() < deadline) await sleep(20);
    const delivered = receiver.counts.events - events0;
    const e2eWall = (performance.now() - t0) / 1000;
    const s = treeSample(agent.pid);
    const cpu = (s?.cpu ?? 0) - cpu0;
    const out = {
      machine: machine(),
      clients,
      spans_per_request: spansPer,
      seconds: +sendWall.toFixed(2),
      requests,
      spans_accepted: accepted,
      spans_delivered: delivered,
      lost: Math.max(0, accepted - delivered),
      answers_429_or_503: refused,
      accepted_spans_per_sec: Math.round(accepted / sendWall),
      end_to_end_spans_per_sec: Math.round(delivered / e2eWall),
      agent_cpu_sec_while_sending: +cpuSend.toFixed(2),
      agent_cpu_sec_per_million_spans: +((cpu / Math.max(1, delivered)) * 1e6).toFixed(2),
      agent_peak_rss_mib: Math.round((s?.hwmKiB ?? 0) / 1024),
    };
    console.log(JSON.stringify(out, null, 2));
    console.log(
      `\n| spans/request | clients | accepted spans/s | end-to-end spans/s | agent CPU-s per 1M spans | peak RSS | 429s | lost |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n| ${spansPer} | ${clients} | ${out.accepted_spans_per_sec} | ${out.end_to_end_spans_per_sec} | ${out.agent_cpu_sec_per_million_spans} | ${out.agent_peak_rss_mib} MiB | ${refused} | ${out.lost} |`,
    );
    record('otlp-intake', out);
    httpAgent.destroy();
  } finally {
    await agent.stop(5000);
    await receiver.close();
  }
}

if (isMain(import.meta.url)) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
