/**
 * The plain Node shipper of issue 19: the least a log shipper must do, written plainly, as the
 * yardstick sluice is measured against. Not part of the agent.
 *
 *   node dist/bench/plainShipper.js --file F --url http://127.0.0.1:PORT [--profile short]
 *        [--compression deflate|none] [--batch 5000] [--completion-wait 5]
 *
 * It tails `--file` from its start (reads 1 MiB at a time; at the end of the file it polls every
 * 50 ms) and, with the profile's config ({@link PROFILES}): splits lines, groups them (a line
 * matching `start` opens an event, the following lines matching `continueThrough` join it; an
 * open group is sent as it is after `--completion-wait` seconds without data), drops lines a
 * `sampling_rate: 0` rule matches, applies the redaction rules (`replace` with a global regex),
 * batches 5,000 events into a Scalyr `addEvents` JSON body, deflates it at level 6 on libuv's
 * thread pool (`zlib.deflate`, async) and POSTs it, one request at a time (the next batch is built
 * while one is in flight), keep-alive. A failed request is retried after 1 s. It stops on SIGTERM.
 * No checkpoints, no sequence numbers, no limits beyond two batches in memory.
 */
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { StringDecoder } from 'node:string_decoder';
import { profileOf } from './generate.js';

const deflate = promisify(zlib.deflate);
const arg = (name: string, dflt?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : dflt;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
};

const file = arg('file');
const url = new URL('/addEvents', arg('url'));
const cfg = profileOf(arg('profile', 'long')).config;
const compress = arg('compression', 'deflate') === 'deflate';
const batchSize = Number(arg('batch', '5000'));
const waitMs = Number(arg('completion-wait', '5')) * 1000;

const grouper = cfg.lineGroupers?.[0];
const start = grouper ? new RegExp(grouper.start) : undefined;
const cont = grouper ? new RegExp(grouper.continueThrough) : undefined;
const drops = (cfg.sampling_rules ?? []).filter((r) => r.sampling_rate === 0).map((r) => new RegExp(r.match_expression));
const redactions = cfg.redaction_rules.map((r) => ({ re: new RegExp(r.match_expression, 'g'), to: r.replacement }));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const session = `plain-${process.pid}`;

let batch: string[] = [];
let inFlight: Promise<void> = Promise.resolve();
let group: string | undefined; // an open group (start line and its continuations)
let seq = 0;

function post(body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length, ...(compress ? { 'Content-Encoding': 'deflate' } : {}) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function send(events: string[]): Promise<void> {
  const json = Buffer.from(`{"token":"bench","session":"${session}","events":[${events.join(',')}]}`);
  const body = compress ? await deflate(json, { level: 6 }) : json;
  for (;;) {
    const status = await post(body).catch(() => 0);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** One event into the batch: sampling, redaction, JSON; a full batch waits for the request in flight, then goes. */
async function emit(message: string): Promise<void> {
  for (const d of drops) if (d.test(message)) return;
  for (const r of redactions) message = message.replace(r.re, r.to);
  batch.push(`{"ts":"${Date.now()}000000","sev":3,"attrs":{"message":${JSON.stringify(message)},"parser":"bench","seq":${seq++}}}`);
  if (batch.length >= batchSize) await flushBatch();
}

async function flushBatch(): Promise<void> {
  if (batch.length === 0) return;
  const events = batch;
  batch = [];
  await inFlight;
  inFlight = send(events);
}

/** One complete line (without its newline) through the grouper. */
async function line(l: string): Promise<void> {
  if (group !== undefined) {
    if (cont!.test(l)) {
      group += '\n' + l;
      return;
    }
    const g = group;
    group = undefined;
    await emit(g);
  }
  if (start && start.test(l)) group = l;
  else await emit(l);
}

async function main(): Promise<void> {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const decoder = new StringDecoder('utf8');
  let pos = 0;
  let rest = '';
  let idleSince = Date.now();
  let stopping = false;
  process.once('SIGTERM', () => (stopping = true));
  while (!stopping) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n > 0) {
      pos += n;
      idleSince = Date.now();
      const text = rest + decoder.write(buf.subarray(0, n));
      let i = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', i)) {
        await line(text.slice(i, nl));
        i = nl + 1;
      }
      rest = text.slice(i);
      continue;
    }
    // End of the file for now: send what is complete, then wait for more.
    if (group !== undefined && Date.now() - idleSince >= waitMs) {
      const g = group;
      group = undefined;
      await emit(g);
    }
    await flushBatch();
    await new Promise((r) => setTimeout(r, 50));
  }
  await inFlight;
  agent.destroy();
}

main().catch((err) => {
  process.stderr.write(`plainShipper: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
