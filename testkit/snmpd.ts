/**
 * Debian's `snmpd` as a test peer: started in the foreground in a temp dir on a free loopback UDP
 * port, answering SNMPv1/v2c community `public` from 127.0.0.1 (`-C`: only our config; `-r`: no
 * root-only files needed), stopped with SIGTERM (SIGKILL after 3 s).
 *
 * `snmpExamplePeer` has the shape of `testkit/examplePeers.ts`'s peer kinds (`missing`,
 * `start(dir)` → `{ own(example), stop() }`): it points every target of the example's
 * `poll_targets` at the running snmpd. To use it, add `snmp_monitor: snmpExamplePeer` to `PEERS`
 * in testkit/examplePeers.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import dgram from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './statusPeers.js';

export const SNMPD_BIN = ['/usr/sbin/snmpd', '/usr/bin/snmpd'].find((p) => fs.existsSync(p));

/** Why snmpd cannot run here (undefined: it can). */
export function snmpdMissing(): string | undefined {
  return SNMPD_BIN ? undefined : 'snmpd is not installed (Debian package snmpd)';
}

/** A free loopback UDP port. */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Snmpd {
  port: number;
  /** What snmpd printed. */
  log(): string;
  stop(): Promise<void>;
}

/** The environment snmpd and the net-snmp tools run with: no MIB files parsed (everything by number). */
export const snmpEnv = (dir: string): NodeJS.ProcessEnv => ({ ...process.env, MIBS: '', MIBDIRS: dir });

/** snmpd on udp:127.0.0.1:`port` with its config and pid file in `dir`; `sysLocation` is `sluice-test-lab`. */
export async function startSnmpd(dir: string, port: number): Promise<Snmpd> {
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'snmpd.conf');
  fs.writeFileSync(conf, 'rocommunity public 127.0.0.1\nsysLocation sluice-test-lab\nsysContact sluice@example.com\n');
  const out: string[] = [];
  const child: ChildProcess = spawn(SNMPD_BIN!, ['-f', '-Lo', '-C', '-r', '-c', conf, '-p', path.join(dir, 'snmpd.pid'), `udp:127.0.0.1:${port}`], {
    env: snmpEnv(dir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  let exited = false;
  child.on('exit', () => (exited = true));
  child.on('error', (e) => (out.push(String(e)), (exited = true)));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    if (!(await waitFor(() => exited, 3000))) child.kill('SIGKILL');
    await waitFor(() => exited, 2000);
  };
  const up = await waitFor(() => exited || out.join('').includes('NET-SNMP version'), 5000);
  if (!up || exited) {
    await stop();
    throw new Error(`snmpd did not start on udp:127.0.0.1:${port}: ${out.join('').slice(-2000)}`);
  }
  return { port, log: () => out.join(''), stop };
}

export const snmpExamplePeer = {
  missing: snmpdMissing,
  async start(dir: string) {
    const s = await startSnmpd(dir, await freeUdpPort());
    return {
      own: (example: Record<string, unknown>) => ({
        ...example,
        poll_targets: ((example.poll_targets as Array<Record<string, unknown>> | undefined) ?? []).map((pt) => ({
          ...pt,
          targets: ((pt.targets as Array<Record<string, unknown>> | undefined) ?? []).map((t) => ({ ...t, host: '127.0.0.1', port: s.port })),
        })),
      }),
      stop: () => s.stop(),
    };
  },
};
