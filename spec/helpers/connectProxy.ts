/**
 * A minimal HTTP CONNECT proxy on 127.0.0.1:0 for tests: optional basic auth (answers 407 when
 * the `Proxy-Authorization` header is wrong), records every CONNECT (target and auth header),
 * tunnels bytes both ways, and closes every socket on `close()`.
 */
import http from 'node:http';
import net from 'node:net';

export interface ConnectProxy {
  url: string;
  port: number;
  connects: { target: string; auth?: string }[];
  close(): Promise<void>;
}

export async function startConnectProxy(auth?: { user: string; pass: string }): Promise<ConnectProxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const expected = auth ? `Basic ${Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')}` : undefined;
  const state: ConnectProxy = { url: '', port: 0, connects: [], close: async () => {} };
  const server = http.createServer((_req, res) => {
    res.statusCode = 405;
    res.end('CONNECT only');
  });
  server.on('connection', track);
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    const got = req.headers['proxy-authorization'];
    state.connects.push({ target, auth: got });
    if (expected && got !== expected) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="t"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const m = /^(.*):(\d+)$/.exec(target);
    if (!m || (m[1] !== '127.0.0.1' && m[1] !== 'localhost')) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[2]), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}
