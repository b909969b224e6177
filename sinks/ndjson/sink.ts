/**
 * The embedded default sink: newline-delimited JSON files under the agent's data directory.
 *
 * Used when no `api_key` is configured, so the agent works with no account or server. Each event
 * becomes one JSON object per line: `{ts, serverHost, logfile, attrs, message}` (message decoded
 * as UTF-8 with replacement characters). A batch is acknowledged once its bytes are written to
 * the file (and, on flush/stop, fsynced). Files rotate at `maxFileBytes`, keeping `maxFiles`.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Batch, ComponentCounters, Logger, Sink, Stream } from '../../lib/types.js';
import { countDrop, countError, createCounters, errorMessage, messageBytes } from '../../lib/counters.js';

export interface NdjsonSinkConfig {
  /** Directory for `events.ndjson` and its rotated copies. */
  dir: string;
  /** Attributes added to every record (serverHost…). */
  serverAttributes?: Record<string, string>;
  maxFileBytes?: number;
  maxFiles?: number;
}

export interface NdjsonSink extends Sink {
  setServerAttributes(attrs: Record<string, string>): void;
}

const FILE = 'events.ndjson';
/** Mode of new event files (owner read/write, group read). */
const FILE_MODE = 0o640;

export function createNdjsonSink(config: NdjsonSinkConfig, ctx: { logger: Logger; id?: string }): NdjsonSink {
  const counters: ComponentCounters = createCounters();
  const maxFileBytes = config.maxFileBytes ?? 64 * 1024 * 1024;
  const maxFiles = config.maxFiles ?? 4;
  let serverAttributes = { ...(config.serverAttributes ?? {}) };
  let queue: Batch[] = [];
  let writing: Promise<void> | null = null;
  let handle: fsp.FileHandle | null = null;
  let fileBytes = 0;
  let stopped = false;
  /** stop() ran: the handle is closed and no other is opened (takePending only sets `stopped`). */
  let closed = false;
  let lastWrite = 0;
  let pendingBytes = 0;
  const idleWaiters: (() => void)[] = [];

  async function open(): Promise<fsp.FileHandle> {
    if (handle) return handle;
    await fsp.mkdir(config.dir, { recursive: true });
    // Events may hold anything the logs held: never world-readable (0640 before the umask; an
    // existing file that was readable by others loses those bits).
    const h = await fsp.open(path.join(config.dir, FILE), 'a', FILE_MODE);
    if (closed) {
      // stop() ran while this was opening: never leave a handle to the garbage collector.
      await h.close().catch(() => undefined);
      throw new Error('the embedded sink was stopped');
    }
    handle = h;
    const st = await handle.stat();
    if (st.mode & 0o007) await handle.chmod(st.mode & 0o770).catch(() => undefined);
    fileBytes = (await handle.stat()).size;
    return handle;
  }

  async function rotate(): Promise<void> {
    if (handle) await handle.close();
    handle = null;
    for (let i = maxFiles - 1; i >= 1; i--) {
      const from = path.join(config.dir, i === 1 ? FILE : `${FILE}.${i - 1}`);
      await fsp.rename(from, path.join(config.dir, `${FILE}.${i}`)).catch(() => undefined);
    }
  }

  function encode(batch: Batch): string {
    const { stream } = batch;
    let out = '';
    for (const ev of batch.events) {
      const message = typeof ev.message === 'string' ? ev.message : ev.message.toString('utf8');
      const ts = ev.ts !== undefined ? ev.ts.toString() : `${Date.now()}000000`;
      const attrs = ev.attrs ? { ...stream.attrs, ...ev.attrs } : stream.attrs;
      out += JSON.stringify({ ts, ...serverAttributes, logfile: stream.path, attrs, message }) + '\n';
    }
    return out;
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batches = queue;
      queue = [];
      let text = '';
      for (const b of batches) text += encode(b);
      try {
        if (text.length > 0) {
          const h = await open();
          const buf = Buffer.from(text);
          await h.write(buf);
          fileBytes += buf.length;
          lastWrite = Date.now();
          if (fileBytes >= maxFileBytes) await rotate();
        }
        for (const b of batches) {
          let bytes = 0;
          for (const ev of b.events) bytes += messageBytes(ev.message);
          counters.sentEvents += b.events.length;
          counters.sentBytes += bytes;
          pendingBytes -= bytes;
          b.stream.ack(b.end);
        }
      } catch (err) {
        // Keep the data: put the batches back and retry after a pause.
        if (closed) {
          queue = batches.concat(queue);
          return;
        }
        countError(counters, err);
        ctx.logger.error(`Embedded sink could not write to ${config.dir}: ${errorMessage(err)}`);
        queue = batches.concat(queue);
        if (handle) await handle.close().catch(() => undefined);
        handle = null;
        if (stopped) return;
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  }

  function kick(): void {
    if (writing) return;
    writing = drain().finally(() => {
      writing = null;
      if (queue.length > 0 && !stopped) kick();
      else while (idleWaiters.length) idleWaiters.shift()!();
    });
  }

  const sink: NdjsonSink = {
    id: ctx.id ?? 'sink:embedded',
    counters,
    write(batch: Batch): void {
      let bytes = 0;
      for (const ev of batch.events) bytes += messageBytes(ev.message);
      counters.receivedEvents += batch.events.length;
      counters.receivedBytes += bytes;
      pendingBytes += bytes;
      queue.push(batch);
      kick();
    },
    async flush(deadlineMs = 5000): Promise<void> {
      if (!writing && queue.length === 0) return;
      await Promise.race([
        new Promise<void>((resolve) => idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, deadlineMs).unref()),
      ]);
      if (handle) await handle.sync().catch(() => undefined);
    },
    async stop(deadlineMs = 5000): Promise<void> {
      // Idempotent; also after takePending(), which stops writing but leaves the file open.
      if (closed) return;
      await sink.flush(deadlineMs);
      stopped = closed = true;
      if (handle) await handle.close().catch(() => undefined);
      handle = null;
    },
    status() {
      return {
        type: 'embedded',
        output: path.join(config.dir, FILE),
        lastWriteTime: lastWrite || null,
        pendingBytes,
        lastError: counters.lastError?.message ?? null,
        healthy: !counters.lastError || counters.lastError.time < lastWrite,
      };
    },
    discard(superseded: (stream: Stream) => boolean): number {
      // `queue` holds only batches not being written (drain() takes them out first).
      let events = 0;
      queue = queue.filter((b) => {
        if (!superseded(b.stream)) return true;
        events += b.events.length;
        for (const ev of b.events) pendingBytes -= messageBytes(ev.message);
        return false;
      });
      if (events > 0) countDrop(counters, 'superseded_by_reload', events);
      return events;
    },
    takePending(): Batch[] {
      stopped = true;
      const pending = queue;
      queue = [];
      return pending;
    },
    setServerAttributes(attrs: Record<string, string>): void {
      serverAttributes = { ...attrs };
    },
  };
  return sink;
}
