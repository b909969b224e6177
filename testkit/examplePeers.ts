/**
 * The real servers a monitor's `example` needs to produce samples in the component harness
 * (the contract, options and reload specs run every registered component from its example).
 * HTTP-scraping monitors are answered by the status peer (testkit/statusPeer.ts); the monitors
 * of database servers get a real one here, listeners a sender, the journal monitor a journal,
 * each started once per harness env and stopped with it.
 *
 * A monitor type listed here whose server is not installed runs without it: the harness then
 * checks only what does not need a sample, and prints why.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './statusPeers.js';
import { postgresMissing, redisMissing, startPostgres, startRedis, type RealServer } from './realServers.js';
import { journalMissing, startExampleJournal } from './journalFiles.js';
import { graphiteExamplePeer } from './graphitePeer.js';
import { syslogExamplePeer } from './syslogPeer.js';
import { mariadbMissing, startMariaDb } from './mariadb.js';
import { snmpExamplePeer } from './snmpd.js';

import type { ExamplePeer, Own, PeerKind } from './examplePeer.js';
export type { ExamplePeer } from './examplePeer.js';

const stopping = (s: RealServer, own: (e: Own) => Own): ExamplePeer => ({ own, stop: () => s.stop() });

/** A peer whose server gets its own temp dir (removed when it fails to start or stops). */
async function inOwnTempDir(prefix: string, start: (dir: string) => Promise<ExamplePeer>): Promise<ExamplePeer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const peer = await start(dir);
    return { own: peer.own, stop: async () => (await peer.stop(), remove()) };
  } catch (err) {
    remove();
    throw err;
  }
}

const PEERS: Record<string, PeerKind> = {
  // Listeners: senders to free ports the example is pointed at.
  graphite_monitor: graphiteExamplePeer,
  syslog_monitor: syslogExamplePeer,
  // A real snmpd on a free loopback UDP port.
  snmp_monitor: snmpExamplePeer,
  mysql_monitor: {
    missing: mariadbMissing,
    // Its own temp dir straight under the system one: the server runs as "mysql".
    start: () =>
      inOwnTempDir('sluice-peer-mysql-', async (own) => {
        const s = await startMariaDb(own, await freePort());
        await s.admin(["CREATE USER 'scalyr'@'127.0.0.1' IDENTIFIED BY 'secret'", "GRANT PROCESS, SLAVE MONITOR ON *.* TO 'scalyr'@'127.0.0.1'"]);
        // The harness samples every 50 ms, so the default timeout (min(sample_interval, 30)) would be 50 ms: too short on a busy machine.
        return stopping(s, (e) => ({ ...e, database_hostport: `127.0.0.1:${s.port}`, database_username: 'scalyr', database_password: 'secret', timeout: 5 }));
      }),
  },
  // A journal dir written by systemd-journal-remote, an entry added every 100 ms.
  journald_monitor: { missing: journalMissing, start: async (dir) => startExampleJournal(dir) },
  redis_monitor: {
    missing: redisMissing,
    async start(dir) {
      const s = await startRedis(dir, await freePort());
      return stopping(s, (e) => ({ ...e, hosts: [{ host: '127.0.0.1', port: s.port }] }));
    },
  },
  postgres_monitor: {
    missing: postgresMissing,
    // Its own temp dir straight under the system one: the server runs as "postgres", which cannot enter the harness's.
    start: () =>
      inOwnTempDir('sluice-peer-postgres-', async (own) => {
        const s = await startPostgres(own, await freePort());
        // A 5 s timeout for the same reason as mysql's: the default would be the harness's 50 ms interval.
        return stopping(s, (e) => ({ ...e, database_host: '127.0.0.1', database_port: s.port, database_name: 'postgres', database_username: 'postgres', database_password: '', timeout: 5 }));
      }),
  },
};

/** The example peers of one harness env: each started on first use, all stopped by `close`. */
export function examplePeers(dir: string) {
  const started = new Map<string, Promise<ExamplePeer | { skip: string }>>();
  return {
    /** The peer for a monitor type: undefined when it needs none, `{skip}` when its server is missing. */
    get(type: string): Promise<ExamplePeer | { skip: string }> | undefined {
      const kind = PEERS[type];
      if (!kind) return undefined;
      let p = started.get(type);
      if (!p) {
        const missing = kind.missing();
        if (missing) p = Promise.resolve({ skip: missing });
        else {
          const d = path.join(dir, `peer-${type}`);
          fs.mkdirSync(d, { recursive: true });
          p = kind.start(d);
        }
        started.set(type, p);
      }
      return p;
    },
    async close(): Promise<void> {
      for (const p of started.values()) {
        const peer = await p.catch(() => undefined);
        if (peer && 'stop' in peer) await peer.stop().catch(() => undefined);
      }
      started.clear();
    },
  };
}
export type ExamplePeers = ReturnType<typeof examplePeers>;
