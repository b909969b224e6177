/**
 * The example peer of `syslog_monitor` for the component harness (testkit/examplePeers.ts): the
 * example's `protocols` pointed at free loopback ports (TCP and UDP), and a sender that delivers
 * one RFC 3164 message over each every 50 ms (TCP: one connection per message, so a monitor that
 * is not listening yet only costs a refused connection), so the monitor's message log gets lines.
 *
 * To use it, add `syslog_monitor: syslogExamplePeer` to PEERS in testkit/examplePeers.ts.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { ExamplePeer } from './examplePeer.js';
import { freePort } from './statusPeers.js';

export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface SyslogSender extends ExamplePeer {
  tcpPort: number;
  udpPort: number;
  /** Messages handed to the network so far. */
  sent(): number;
}

/** Free loopback TCP and UDP ports and a sender of one message per protocol every `everyMs`. */
export async function startSyslogSender(everyMs = 50): Promise<SyslogSender> {
  const tcpPort = await freePort();
  const udpPort = await freeUdpPort();
  const udp = dgram.createSocket('udp4');
  udp.on('error', () => undefined);
  let n = 0;
  let stopped = false;
  const open = new Set<net.Socket>();
  const timer = setInterval(() => {
    if (stopped) return;
    const i = n++;
    udp.send(`<13>Dec  3 12:00:00 harness peer[1]: udp message ${i}`, udpPort, '127.0.0.1', () => undefined);
    const s = net.connect({ host: '127.0.0.1', port: tcpPort }, () => s.end(`<13>Dec  3 12:00:00 harness peer[1]: tcp message ${i}\n`));
    open.add(s);
    s.on('error', () => undefined);
    s.on('close', () => open.delete(s));
  }, everyMs);
  timer.unref?.();
  return {
    tcpPort,
    udpPort,
    sent: () => n,
    own: (example) => ({ ...example, protocols: `tcp:${tcpPort}, udp:${udpPort}` }),
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const s of open) s.destroy();
      await new Promise<void>((r) => udp.close(() => r()));
    },
  };
}

/** The PeerKind for testkit/examplePeers.ts. */
export const syslogExamplePeer = {
  missing: (): string | undefined => undefined,
  start: (): Promise<ExamplePeer> => startSyslogSender(),
};
