/**
 * One HTTP(S) POST with a deadline, a capped response body, and an optional HTTP proxy
 * (absolute-form for http targets, a CONNECT tunnel for https). Never rejects with the proxy
 * password in the message.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type net from 'node:net';

export interface PostAnswer {
  statusCode: number;
  body: string;
}

export interface PostOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  proxy?: string;
  /** Extra TLS options (tests: a private CA). */
  tls?: tls.ConnectionOptions;
}

const redact = (u: string) => u.replace(/\/\/[^@/]*@/, '//***@');

function tunnel(proxy: URL, target: URL, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: `${target.hostname}:${target.port || 443}` };
    if (proxy.username) headers['proxy-authorization'] = 'Basic ' + Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
    const req = http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: headers.host, headers, timeout: timeoutMs });
    req.once('connect', (res, socket) => {
      if (res.statusCode === 200) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`proxy ${redact(proxy.href)} answered CONNECT with ${res.statusCode}`));
      }
    });
    req.once('timeout', () => req.destroy(new Error('proxy CONNECT timed out')));
    req.once('error', (e) => reject(new Error(`proxy ${redact(proxy.href)}: ${e.message.replace(proxy.password, '***')}`)));
    req.end();
  });
}

export async function post(url: string, body: Buffer, o: PostOptions): Promise<PostAnswer> {
  const target = new URL(url);
  const isHttps = target.protocol === 'https:';
  const proxy = o.proxy ? new URL(o.proxy) : undefined;
  const headers: Record<string, string> = { ...o.headers, 'content-length': String(body.length) };
  let reqOpts: https.RequestOptions = { method: 'POST', headers, timeout: o.timeoutMs };
  if (proxy && !isHttps) {
    if (proxy.username) headers['proxy-authorization'] = 'Basic ' + Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
    reqOpts = { ...reqOpts, host: proxy.hostname, port: proxy.port || 80, path: target.href };
  } else {
    reqOpts = { ...reqOpts, host: target.hostname, port: target.port || (isHttps ? 443 : 80), path: target.pathname + target.search, ...(o.tls ?? {}) };
    if (proxy && isHttps) {
      const raw = await tunnel(proxy, target, o.timeoutMs);
      reqOpts.createConnection = () => tls.connect({ socket: raw, servername: target.hostname, ...(o.tls ?? {}) });
    }
  }
  return new Promise((resolve, reject) => {
    const mod = isHttps ? https : http;
    const req = mod.request(reqOpts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 65536) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 65536) }));
      res.on('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`request timed out after ${o.timeoutMs} ms`)));
    req.once('error', (e) => reject(new Error(e.message.replace(proxy?.password || '\u0000', '***'))));
    req.end(body);
  });
}
