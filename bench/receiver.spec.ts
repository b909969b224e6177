/**
 * The benchmark receiver counts what sluice's encoder and a strict-JSON shipper send, and its
 * outage modes behave (500, refused, reset). Correctness only: no timing assertions.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RequestEncoder } from '../sinks/addEvents/encode.js';
import { scanBody, startReceiver, noCleartextPassword, type CountingReceiver } from './receiver.js';
import { generateLog } from './generate.js';

function post(port: number, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent: false, host: '127.0.0.1', port, method: 'POST', path: '/addEvents', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function sluiceBody(messages: (Buffer | string)[]): Buffer {
  const enc = new RequestEncoder({ token: 'k', session: 's', sessionInfo: { serverHost: 'h' } }, null);
  messages.forEach((m, i) => enc.addEvent({ threadId: 'log_1', baseAttrs: { parser: 'x', logfile: '/a "message": `s' }, message: m, ts: BigInt(i), si: 'q', sn: i }));
  enc.addLog('log_1', 'Lines for file /a', { parser: 'x' });
  return enc.finish(1_700_000_000);
}

describe('scanBody', () => {
  it('counts length-prefixed messages without decoding them, whatever bytes they hold', () => {
    const msgs = [Buffer.from('one\n'), Buffer.from('two message: `s\n\tat x\n'), Buffer.from([0xff, 0x00, 0x60, 0x73, 0x0a]), 'no newline'];
    const seen: Buffer[] = [];
    const r = scanBody(sluiceBody(msgs), (m) => seen.push(Buffer.from(m)));
    expect(r.events).toBe(4);
    expect(r.lines).toBe(1 + 2 + 1 + 1);
    expect(r.messageBytes).toBe(msgs.reduce((n, m) => n + Buffer.byteLength(m), 0));
    expect(seen.map((b) => b.toString('latin1'))).toEqual(msgs.map((m) => Buffer.from(m).toString('latin1')));
  });

  it('counts strict JSON messages (escaped or not) and ignores "message" inside other strings', () => {
    const body = Buffer.from(
      JSON.stringify({ token: 'x', note: 'message: "no"', events: [{ attrs: { message: 'a "quoted" line\nsecond' } }, { attrs: { logfile: 'message', message: 'plain' } }] }),
    );
    const seen: string[] = [];
    const r = scanBody(body, (m) => seen.push(m.toString()));
    expect(seen).toEqual(['a "quoted" line\nsecond', 'plain']);
    expect(r).toEqual({ events: 2, lines: 3, messageBytes: Buffer.byteLength('a "quoted" line\nsecond') + 5 });
  });

  it('counts lines and bytes of escaped JSON messages as they decode, without decoding the ones not wanted', () => {
    // Seeded strings of quotes, backslashes, tabs, newlines, control characters, non-ASCII and
    // astral characters (escaped by JSON.stringify, and as \\u escapes by hand).
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const alphabet = ['a', 'Z', ' ', '"', '\\', '\t', '\n', '\u0001', 'é', '€', '😀', '/'];
    const msgs: string[] = [];
    for (let i = 0; i < 300; i++) {
      let m = '';
      for (let n = Math.floor(rnd() * 12); n > 0; n--) m += alphabet[Math.floor(rnd() * alphabet.length)];
      msgs.push(m);
    }
    const hand = (m: string) => '"' + [...m].map((ch) => (ch === '\n' ? '\\u000a' : ch === '😀' ? '\\ud83d\\ude00' : JSON.stringify(ch).slice(1, -1))).join('') + '"';
    for (const enc of [(m: string) => JSON.stringify(m), hand]) {
      const body = Buffer.from(`{"events":[${msgs.map((m) => `{"attrs":{"message":${enc(m)}}}`).join(',')}]}`);
      const seen: string[] = [];
      const r = scanBody(body, (m) => seen.push(m.toString()), (i) => i % 3 === 0);
      expect(r.events).toBe(msgs.length);
      expect(r.lines).toBe(msgs.reduce((n, m) => n + (m.match(/\n/g)?.length ?? 0) + (m.length > 0 && !m.endsWith('\n') ? 1 : 0), 0));
      expect(r.messageBytes).toBe(msgs.reduce((n, m) => n + Buffer.byteLength(m), 0));
      expect(seen).toEqual(msgs.filter((_, i) => i % 3 === 0));
    }
  });

  it('counts lines of messages with and without newlines in any order (the newline search is remembered)', () => {
    const msgs = ['a', 'b\n', 'c', 'd\ne\n', 'f', 'g\nh', 'i'];
    for (const body of [sluiceBody(msgs), Buffer.from(JSON.stringify({ events: msgs.map((m) => ({ attrs: { message: m.replace(/\n/g, ' ') } })) }))]) {
      const r = scanBody(body);
      expect(r.events).toBe(7);
      expect(r.lines).toBe(body[0] === 0x7b && body.includes('`s') ? 1 + 1 + 1 + 2 + 1 + 2 + 1 : 7);
    }
  });

  it('takes a message under a quoted or bare key with either value form, and no other key', () => {
    const lps = (s: string) => {
      const b = Buffer.from(s);
      const len = Buffer.alloc(4);
      len.writeInt32BE(b.length);
      return Buffer.concat([Buffer.from('`s'), len, b]);
    };
    const body = Buffer.concat([
      Buffer.from('{events: [{attrs:{messages:"not this", message : "bare key\\n"}}, {"attrs":{"message":'),
      lps('quoted key, length-prefixed\n'),
      Buffer.from('}}, {attrs:{mymessage:"nor this", message:'),
      lps('bare key, length-prefixed'),
      Buffer.from('}}]}'),
    ]);
    const seen: string[] = [];
    const r = scanBody(body, (m) => seen.push(m.toString()));
    expect(seen).toEqual(['bare key\n', 'quoted key, length-prefixed\n', 'bare key, length-prefixed']);
    expect(r.lines).toBe(3);
  });

  it('rejects a truncated length-prefixed message', () => {
    const body = sluiceBody(['hello\n']);
    expect(() => scanBody(body.subarray(0, body.indexOf('hello')))).toThrow(/runs past/);
  });
});

describe('CountingReceiver', () => {
  let r: CountingReceiver;
  afterEach(async () => {
    await r?.close();
  });

  it('inflates deflate bodies, counts, verifies a sample and answers success', async () => {
    r = await startReceiver({ verify: noCleartextPassword, verifyEvery: 1 });
    const body = sluiceBody(['a password=<redacted> b\n', 'x password=hunter2 y\n']);
    const res = await post(r.port, zlib.deflateSync(body), { 'content-encoding': 'deflate' });
    expect(res).toEqual({ status: 200, text: '{"status":"success"}' });
    expect(r.counts.events).toBe(2);
    expect(r.counts.lines).toBe(2);
    expect(r.counts.bodyBytes).toBe(body.length);
    expect(r.counts.verified).toBe(2);
    expect(r.counts.verifyErrors).toHaveLength(1);
  });

  it('answers 500 and refuses connections during an outage, then recovers on the same port', async () => {
    r = await startReceiver();
    const port = r.port;
    await r.setMode('500');
    expect((await post(port, sluiceBody(['a\n']))).status).toBe(500);
    await r.setMode('refuse');
    await expect(post(port, sluiceBody(['a\n']))).rejects.toThrow(/ECONNREFUSED/);
    await r.setMode('reset');
    await expect(post(port, sluiceBody(['a\n']))).rejects.toThrow();
    await r.setMode('ok');
    expect((await post(port, sluiceBody(['a\n', 'b\n']))).status).toBe(200);
    expect(r.port).toBe(port);
    expect(r.counts.events).toBe(2);
    expect(r.counts.failedRequests).toBeGreaterThanOrEqual(1);
  });
});

describe('generateLog', () => {
  it('is deterministic and its manifest matches the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-gen-'));
    try {
      const a = await generateLog({ sizeMiB: 1, seed: 7, out: path.join(dir, 'a.log') });
      const b = await generateLog({ sizeMiB: 1, seed: 7, out: path.join(dir, 'b.log') });
      const bytes = fs.readFileSync(path.join(dir, 'a.log'));
      expect(bytes.equals(fs.readFileSync(path.join(dir, 'b.log')))).toBe(true);
      expect(bytes.length).toBe(a.bytes);
      expect(a.bytes).toBeGreaterThanOrEqual(1024 * 1024);
      expect({ ...a, file: '' }).toEqual({ ...b, file: '' });
      const text = bytes.toString('latin1');
      expect(text.split('\n').length - 1).toBe(a.lines);
      expect(text.match(/ DEBUG /g)?.length).toBe(a.debugLines);
      expect(text.endsWith('  END-OF-BENCH\n')).toBe(true);
      expect(a.stackTraces).toBeGreaterThan(0);
      expect(a.passwordLines).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
