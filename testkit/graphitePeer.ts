/**
 * A real Graphite plaintext sender for `graphite_monitor`: a listener produces samples only when
 * something sends to it, so the component specs (contract, options, reload matrix), which run
 * every registered monitor from its `example`, need a sender as the other monitors need a server.
 *
 * `graphiteExamplePeer` has the shape of `testkit/examplePeers.ts`'s peer kinds (`missing`,
 * `start(dir)` → `{ own(example), stop() }`): it picks two free loopback ports, points the
 * example at them and sends `harness.graphite <n> <unix time>` lines to the plaintext port every
 * 25 ms over one TCP connection (reconnecting while nothing listens yet). To use it, add
 * `graphite_monitor: graphiteExamplePeer` to `PEERS` in testkit/examplePeers.ts.
 */
import net from 'node:net';
import { freePort } from './statusPeers.js';

export interface GraphiteSender {
  /** Lines written to a connected socket so far. */
  sent(): number;
  stop(): Promise<void>;
}

/** Sends one plaintext line every `everyMs` to 127.0.0.1:`port`, reconnecting when the connection fails. */
export function startGraphiteSender(port: number, everyMs = 25, metric = 'harness.graphite'): GraphiteSender {
  let sock: net.Socket | undefined;
  let connected = false;
  let stopped = false;
  let n = 0;
  const connect = () => {
    if (stopped) return;
    const s = net.connect({ host: '127.0.0.1', port });
    sock = s;
    s.on('connect', () => (connected = true));
    s.on('error', () => undefined);
    s.on('close', () => {
      connected = false;
      if (sock === s && !stopped) setTimeout(connect, everyMs).unref();
    });
  };
  connect();
  const timer = setInterval(() => {
    if (!connected || !sock) return;
    n++;
    sock.write(`${metric} ${n} ${Math.floor(Date.now() / 1000)}\n`);
  }, everyMs);
  timer.unref();
  return {
    sent: () => n,
    async stop() {
      stopped = true;
      clearInterval(timer);
      sock?.destroy();
    },
  };
}

export const graphiteExamplePeer = {
  missing: (): string | undefined => undefined,
  async start(_dir: string) {
    const plaintext = await freePort();
    let pickle = await freePort();
    while (pickle === plaintext) pickle = await freePort();
    const sender = startGraphiteSender(plaintext);
    return {
      own: (example: Record<string, unknown>) => ({ ...example, plaintext_port: plaintext, pickle_port: pickle }),
      stop: () => sender.stop(),
    };
  },
};
