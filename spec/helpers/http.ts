/** Loopback HTTP helpers for specs that drive a real app server. */
import http from 'node:http';

/** GETs `http://127.0.0.1:<port><path>`, drains the body, resolves with the status code. */
export function get(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}
