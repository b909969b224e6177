/**
 * The harness's stand-in for the servers scraping monitors read: one loopback HTTP server that
 * answers by path with a small, valid page of the kind the real server gives (nginx
 * `stub_status`, Apache `mod_status ?auto`, Prometheus text), and `ok` elsewhere. The component
 * specs point a monitor example's loopback URLs (`http://localhost/...`, `http://127.0.0.1:9100/...`)
 * here, so every example runs as written without the real server (the per-monitor specs test
 * against the real ones).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const PAGES: [RegExp, string, string][] = [
  [/nginx_status/, 'text/plain', 'Active connections: 3 \nserver accepts handled requests\n 10 10 20 \nReading: 0 Writing: 1 Waiting: 2 \n'],
  [/server-status/, 'text/plain', 'Total Accesses: 5\nBusyWorkers: 1\nIdleWorkers: 4\nConnsTotal: 2\nConnsAsyncWriting: 0\nConnsAsyncKeepAlive: 1\nConnsAsyncClosing: 0\nScoreboard: W____\n'],
  [/metrics/, 'text/plain; version=0.0.4', '# HELP up Whether up.\n# TYPE up gauge\nup 1\n# TYPE node_load1 gauge\nnode_load1 0.5\n# TYPE node_memory_MemFree_bytes gauge\nnode_memory_MemFree_bytes 1.2e+09\n# TYPE requests_total counter\nrequests_total{code="200"} 7\n'],
  [/health/, 'application/json', '{"status": "ok"}\n'],
];

export interface StatusPeer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  close(): Promise<void>;
}

export async function startStatusPeer(): Promise<StatusPeer> {
  const server = http.createServer((req, res) => {
    const page = PAGES.find(([re]) => re.test(req.url ?? ''));
    res.writeHead(200, { 'content-type': page?.[1] ?? 'text/plain' });
    res.end(page?.[2] ?? 'ok\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** `value` with every loopback http(s) URL origin in it (strings, arrays, objects) moved to `origin`. */
export function toPeer<T>(value: T, origin: string): T {
  if (typeof value === 'string') return value.replace(/^https?:\/\/(?:localhost|127\.0\.0\.1)(?::\d+)?(?=\/|$)/, origin) as T;
  if (Array.isArray(value)) return value.map((v) => toPeer(v, origin)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPeer(v, origin)])) as T;
  return value;
}
