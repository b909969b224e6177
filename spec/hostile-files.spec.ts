/**
 * Hostile files: binary bytes, NUL bytes, a 50 MB single line, an unreadable file, a directory
 * where a file was, a symlink loop in a glob directory, and a checkpoint write that fails. Each
 * case runs the real agent in-process (the chmod case as a `nobody` child process when the tests run as root) (`createAgent`) uploading to a local HTTPS `addEvents`
 * server, and checks that the problem is reported (status or log) while the rest keeps working
 * and nothing readable is lost (bytes compared exactly).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent, type Agent } from '../app/agent.js';
import { memoryLogger } from '../lib/logger.js';
import { makeTestCa, parseAddEventsBody, startTestServer, type TestCa, type TestServer } from '../testkit/tlsServer.js';
import { waitFor } from './helpers/wait.js';
import { readNdjson } from './helpers/ndjson.js';
import { AgentProcess, repoRoot } from '../reliability/agentProcess.js';
import { call } from '../app/control/client.js';
import type { AgentStatus } from '../app/agent.js';
import { isolatedAgent } from './helpers/isolated.js';

const KEY = 'hostile-files-key-0123456789';
let ca: TestCa;
beforeAll(() => {
  ca = makeTestCa();
});
afterAll(() => fs.rmSync(ca.dir, { recursive: true, force: true }));

interface Rig {
  dir: string;
  agent: Agent;
  server: TestServer;
  logger: ReturnType<typeof memoryLogger>;
  /** Concatenated message bytes received per logfile (successful requests only: the server never fails here). */
  bytesOf(file: string): Buffer;
  eventsOf(file: string): Buffer[];
  close(): Promise<void>;
}

const open: Rig[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

async function rig(setup: (dir: string) => { logs: Record<string, unknown>[]; extra?: Record<string, unknown> }): Promise<Rig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-hostile-'));
  const server = await startTestServer({ certPem: ca.certPem, keyPem: ca.keyPem });
  const { logs, extra } = setup(dir);
  const logger = memoryLogger();
  const agent = createAgent({
    logger,
    watchConfig: false,
        stopDeadlineMs: 2000,
    config: {
      api_key: KEY,
      scalyr_server: server.url,
      ca_cert_path: ca.caPath,
      ...isolatedAgent(dir),
      max_new_log_detection_time: 0.2,
      line_completion_wait_time: 0.2,
      upload: { linger_ms: 20, retry_base_ms: 50, retry_max_ms: 200 },
      logs,
      ...extra,
    },
  });
  let parsedUpTo = 0;
  const byFile = new Map<string, Buffer[]>();
  const refresh = () => {
    for (; parsedUpTo < server.requests.length; parsedUpTo++) {
      const body = parseAddEventsBody(server.requests[parsedUpTo].body);
      const logAttrs = new Map((body.logs ?? []).map((l) => [l.id, l.attrs]));
      for (const e of body.events) {
        const file = String(e.attrs.logfile ?? logAttrs.get(e.log ?? '')?.logfile ?? '');
        if (!byFile.has(file)) byFile.set(file, []);
        byFile.get(file)!.push(e.message);
      }
    }
  };
  const r: Rig = {
    dir,
    agent,
    server,
    logger,
    eventsOf(file) {
      refresh();
      return byFile.get(file) ?? [];
    },
    bytesOf(file) {
      return Buffer.concat(r.eventsOf(file));
    },
    async close() {
      await agent.stop(2000);
      await server.close();
      try {
        fs.chmodSync(dir, 0o700);
      } catch {
        /* ignore */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  open.push(r);
  await agent.start();
  return r;
}

/** A healthy neighbour file: lines appended after start must keep arriving. */
async function neighbourWorks(r: Rig, file: string, tag: string): Promise<void> {
  fs.appendFileSync(file, `${tag} still flowing\n`);
  await waitFor(`neighbour line ${tag}`, () => r.bytesOf(file).includes(`${tag} still flowing\n`), 8000);
}

const logText = (r: Rig) => r.logger.records.map((x) => `${x.level}: ${x.message}`).join('\n');

describe('hostile files', () => {
  it('binary data and NUL bytes pass through byte for byte', async () => {
    const bin = Buffer.alloc(256 * 64);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 131 + (i >> 8)) & 0xff;
    bin[100] = 0;
    bin[bin.length - 1] = 0x0a;
    const r = await rig((dir) => {
      fs.writeFileSync(path.join(dir, 'bin.log'), bin);
      fs.writeFileSync(path.join(dir, 'nul.log'), Buffer.from('a\0b\n\0\0\0\n\0tail\n'));
      fs.writeFileSync(path.join(dir, 'ok.log'), '');
      return { logs: [{ path: path.join(dir, '*.log'), copy_from_start: true }] };
    });
    await waitFor('binary file delivered', () => r.bytesOf(path.join(r.dir, 'bin.log')).length >= bin.length, 8000);
    expect(r.bytesOf(path.join(r.dir, 'bin.log')).equals(bin)).toBe(true);
    await waitFor('NUL file delivered', () => r.bytesOf(path.join(r.dir, 'nul.log')).length >= 14);
    expect(r.eventsOf(path.join(r.dir, 'nul.log')).map((b) => b.toString('latin1'))).toEqual(['a\0b\n', '\0\0\0\n', '\0tail\n']);
    await neighbourWorks(r, path.join(r.dir, 'ok.log'), 'bin');
  });

  it('a 50 MB single line is split at max_line_size, not lost, and the file goes on', async () => {
    const size = 50 * 1024 * 1024;
    const r = await rig((dir) => {
      const big = Buffer.alloc(size + 1, 0x78);
      big[size] = 0x0a;
      fs.writeFileSync(path.join(dir, 'big.log'), big);
      fs.writeFileSync(path.join(dir, 'ok.log'), '');
      return { logs: [{ path: path.join(dir, '*.log'), copy_from_start: true }] };
    });
    const big = path.join(r.dir, 'big.log');
    fs.appendFileSync(big, 'after the big one\n');
    await waitFor('the 50 MB line and the next line', () => r.bytesOf(big).length >= size + 1 + 18, 15_000, 100);
    const events = r.eventsOf(big);
    const all = Buffer.concat(events);
    expect(all.length).toBe(size + 1 + 18);
    expect(all.subarray(size + 1).toString()).toBe('after the big one\n');
    expect(Math.max(...events.map((e) => e.length))).toBeLessThanOrEqual(49900);
    await neighbourWorks(r, path.join(r.dir, 'ok.log'), 'big');
  }, 30_000);

  const root = process.getuid?.() === 0;
  (root ? it.skip : it)('an unreadable file (chmod 000) is reported and the rest keeps working [in-process; as root see the next test]', async () => {
    const r = await rig((dir) => {
      fs.writeFileSync(path.join(dir, 'secret.log'), 'cannot read me\n');
      fs.chmodSync(path.join(dir, 'secret.log'), 0o000);
      fs.writeFileSync(path.join(dir, 'ok.log'), '');
      return { logs: [{ path: path.join(dir, '*.log'), copy_from_start: true }] };
    });
    await waitFor('the unreadable file reported', () => {
      const files = r.agent.status().logs[0].files as { path: string; error?: string }[];
      return files.some((f) => f.path.endsWith('secret.log') && f.error) || /secret\.log/.test(logText(r));
    });
    await neighbourWorks(r, path.join(r.dir, 'ok.log'), 'perm');
    fs.chmodSync(path.join(r.dir, 'secret.log'), 0o644);
    await waitFor('readable again: delivered', () => r.bytesOf(path.join(r.dir, 'secret.log')).toString() === 'cannot read me\n', 8000);
  });

  // As root, permissions do not bite in-process; run the agent (built CLI) as `nobody` instead.
  const built = fs.existsSync(path.join(repoRoot(), 'dist', 'app', 'cli', 'main.js'));
  (root && built ? it : it.skip)('an unreadable file (chmod 000) is reported and the rest keeps working [agent run as nobody; skipped unless root with a built CLI]', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-hostile-perm-'));
    const agent = new AgentProcess(path.join(dir, 'agent.json'), path.join(dir, 'data'), path.join(dir, 'agent.out'), {}, { uid: 65534, gid: 65534 });
    try {
      fs.chmodSync(dir, 0o755);
      const logs = path.join(dir, 'logs');
      const data = path.join(dir, 'data');
      fs.mkdirSync(logs);
      fs.mkdirSync(data);
      fs.mkdirSync(path.join(dir, 'log'));
      fs.chownSync(data, 65534, 65534);
      fs.chownSync(path.join(dir, 'log'), 65534, 65534);
      fs.writeFileSync(path.join(logs, 'secret.log'), 'cannot read me\n', { mode: 0o644 });
      fs.chmodSync(path.join(logs, 'secret.log'), 0o000);
      fs.writeFileSync(path.join(logs, 'ok.log'), '', { mode: 0o644 });
      fs.writeFileSync(
        path.join(dir, 'agent.json'),
        JSON.stringify({
          agent_data_path: data,
          agent_log_path: path.join(dir, 'log'),
          implicit_metric_monitor: false,
          implicit_agent_process_metrics_monitor: false,
          implicit_agent_log_collection: false,
          max_new_log_detection_time: 0.3,
          logs: [{ path: path.join(logs, '*.log'), copy_from_start: true }],
        }),
        { mode: 0o644 },
      );
      fs.writeFileSync(path.join(dir, 'agent.out'), '', { mode: 0o644 });
      await agent.start();
      const out = path.join(data, 'events');
      const messages = () => readNdjson(out).map((r) => r.message);
      const status = () => call<AgentStatus>(data, { cmd: 'status' }, 5000);
      await waitFor('the unreadable file reported', async () => {
        const s = await status();
        const files = s.logs.flatMap((l) => l.files as { path: string; error?: string }[]);
        return files.some((f) => f.path.endsWith('secret.log') && f.error) || /secret\.log/.test(fs.readFileSync(path.join(dir, 'agent.out'), 'utf8'));
      });
      fs.appendFileSync(path.join(logs, 'ok.log'), 'perm still flowing\n');
      await waitFor('the neighbour keeps working', () => messages().includes('perm still flowing\n'), 8000);
      fs.chmodSync(path.join(logs, 'secret.log'), 0o644);
      await waitFor('readable again: delivered', () => messages().includes('cannot read me\n'), 8000);
      // A file that BECOMES unreadable while tailed: the open handle keeps working.
      fs.chmodSync(path.join(logs, 'ok.log'), 0o000);
      fs.appendFileSync(path.join(logs, 'ok.log'), 'written after chmod 000\n');
      await waitFor('read through the open handle', () => messages().includes('written after chmod 000\n'), 8000);
    } finally {
      await agent.term(5000);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  // A path that is (or becomes) a directory is reported in status and the log, and reading
  // resumes once a file is back.
  it('a directory where a file was is reported in status and the log; a file there again is read', async () => {
    const r = await rig((dir) => {
      fs.writeFileSync(path.join(dir, 'gone.log'), 'first\n');
      fs.mkdirSync(path.join(dir, 'always-a-dir.log'));
      return { logs: [{ path: path.join(dir, 'gone.log'), copy_from_start: true }, { path: path.join(dir, 'always-a-dir.log') }], extra: { log_deletion_delay: 0.5 } };
    });
    const holdsDeleted = () =>
      fs.readdirSync('/proc/self/fd').some((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`) === `${gone} (deleted)`;
        } catch {
          return false;
        }
      });
    const gone = path.join(r.dir, 'gone.log');
    const errorOf = (entry: number, p: string) => (r.agent.status().logs[entry].files as { path: string; error?: string }[]).find((f) => f.path === p)?.error;
    await waitFor('first line', () => r.bytesOf(gone).toString() === 'first\n');
    fs.rmSync(gone);
    fs.mkdirSync(gone);
    await waitFor('the directory reported', () => /directory/.test(errorOf(0, gone) ?? '') && /gone\.log.*directory/.test(logText(r)), 5000);
    // The deleted file is closed after log_deletion_delay, as any deleted file (its space is freed);
    // the directory stays reported.
    await waitFor('the deleted file closed', () => !holdsDeleted(), 5000);
    await waitFor('still reported', () => /directory/.test(errorOf(0, gone) ?? ''), 5000);
    // Named as a directory from the start: reported by the scan, not read.
    await waitFor('the configured directory reported', () => /directory/.test(errorOf(1, path.join(r.dir, 'always-a-dir.log')) ?? '') && /always-a-dir\.log.*directory/.test(logText(r)), 5000);
    fs.rmdirSync(gone);
    fs.writeFileSync(gone, 'second\n');
    await waitFor('a file there again is read', () => r.bytesOf(gone).toString() === 'first\nsecond\n', 8000);
    await waitFor('the problem cleared', () => errorOf(0, gone) === undefined, 5000);
  });

  it('a symlink loop in a glob directory does not hang the scan', async () => {
    const r = await rig((dir) => {
      const d = path.join(dir, 'logs');
      fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
      fs.symlinkSync(d, path.join(d, 'sub', 'loop'));
      fs.symlinkSync(path.join(d, 'b.log'), path.join(d, 'a.log'));
      fs.symlinkSync(path.join(d, 'a.log'), path.join(d, 'b.log'));
      fs.writeFileSync(path.join(d, 'sub', 'ok.log'), '');
      return { logs: [{ path: path.join(d, '**', '*.log'), copy_from_start: true }] };
    });
    await neighbourWorks(r, path.join(r.dir, 'logs', 'sub', 'ok.log'), 'loop');
    await r.agent.reload();
    await neighbourWorks(r, path.join(r.dir, 'logs', 'sub', 'ok.log'), 'loop2');
    // The a.log <-> b.log loop is reported (status or log), never read.
    await waitFor('the loop reported', () => {
      const files = r.agent.status().logs[0].files as { path: string; error?: string }[];
      return files.some((f) => /[ab]\.log$/.test(f.path) && f.error) || /(a|b)\.log/.test(logText(r));
    });
    expect(r.eventsOf(path.join(r.dir, 'logs', 'a.log'))).toEqual([]);
  });

  it('a checkpoint write that fails is logged and retried; uploads go on', async () => {
    const r = await rig((dir) => {
      fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
      // The store writes checkpoints.json~ then renames it: a directory there makes every write fail (even as root).
      fs.mkdirSync(path.join(dir, 'data', 'checkpoints.json~'));
      fs.writeFileSync(path.join(dir, 'ok.log'), '');
      return { logs: [{ path: path.join(dir, 'ok.log'), copy_from_start: true }] };
    });
    const ok = path.join(r.dir, 'ok.log');
    await neighbourWorks(r, ok, 'ckpt1');
    await waitFor('checkpoint failure logged', () => /checkpoint/i.test(r.logger.records.filter((x) => x.level === 'error' || x.level === 'warn').map((x) => x.message).join('\n')), 8000);
    await neighbourWorks(r, ok, 'ckpt2');
    fs.rmdirSync(path.join(r.dir, 'data', 'checkpoints.json~'));
    fs.appendFileSync(ok, 'after repair\n');
    await waitFor('checkpoint written after the repair', () => {
      try {
        const doc = JSON.parse(fs.readFileSync(path.join(r.dir, 'data', 'checkpoints.json'), 'utf8'));
        return doc.checkpoints?.[ok]?.position === fs.statSync(ok).size;
      } catch {
        return false;
      }
    }, 8000);
  });
});
