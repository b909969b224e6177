/**
 * The supervisor keeps the running configuration as a set of keyed parts (one per log entry,
 * monitor, the APM intake, the sink). For each new validated config it:
 *   - stops parts whose key disappeared,
 *   - restarts parts whose own slice changed (canonical deep-equal of that slice, the part's
 *     restart key),
 *   - hands the new `live` values to the running part's `reconfigure` when only those changed
 *     (a part without `reconfigure`, or whose `reconfigure` fails, is restarted instead),
 *   - starts parts for new keys,
 *   - leaves every other part untouched (same objects, same open files, same positions).
 * A part may supply `replace(old)` to take over from its predecessor instead of stop-then-start
 * (a sink hands its queued batches to its successor that way).
 *
 * A part that fails to start is recorded with its error and retried with backoff; it never
 * stops the other parts. `apply` calls are serialised by the caller (agent.ts pipes configs
 * through `concatMap`).
 */
import type { Logger } from '../lib/types.js';
import { errorMessage } from '../lib/counters.js';

export interface RunningPart {
  stop(deadlineMs?: number): Promise<void>;
  status?(): unknown;
  /** Applies changed live values (`PartSpec.live`) without a restart. */
  reconfigure?(live: Readonly<Record<string, unknown>>): void | Promise<void>;
}

export interface PartSpec<P extends RunningPart = RunningPart> {
  key: string;
  /** What kind of part this is (`sink`, `log`, `monitor`…): status groups parts by it. */
  kind?: string;
  /** The configuration this part depends on (its restart key); a change restarts the part. */
  slice: unknown;
  /** Values the running part applies live: a change alone calls `reconfigure(live)`. */
  live?: Readonly<Record<string, unknown>>;
  create(): P | Promise<P>;
  /** Optional take-over from the previous instance (default: stop old, then create). */
  replace?(old: P): P | Promise<P>;
}

export interface ApplyReport {
  started: string[];
  stopped: string[];
  restarted: string[];
  /** Running parts that took changed live values without a restart (also listed in `unchanged`). */
  reconfigured: string[];
  unchanged: string[];
  failed: { key: string; error: string }[];
}

interface Entry {
  spec: PartSpec;
  sliceKey: string;
  liveKey: string;
  part?: RunningPart;
  error?: string;
  retryTimer?: NodeJS.Timeout;
  attempts: number;
}

/** JSON with sorted object keys: equal configs give equal strings. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    }
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    private readonly logger: Logger,
    private readonly opts: { stopDeadlineMs: number; retryBaseMs?: number; retryMaxMs?: number } = { stopDeadlineMs: 10_000 },
  ) {}

  keys(): string[] {
    return [...this.entries.keys()];
  }

  get<P extends RunningPart>(key: string): P | undefined {
    return this.entries.get(key)?.part as P | undefined;
  }

  /** Parts with their spec and their running instance or their start error, for status output. */
  list(): { key: string; spec: PartSpec; part?: RunningPart; error?: string }[] {
    return [...this.entries.entries()].map(([key, e]) => ({ key, spec: e.spec, part: e.part, error: e.error }));
  }

  async apply(specs: PartSpec[]): Promise<ApplyReport> {
    const report: ApplyReport = { started: [], stopped: [], restarted: [], reconfigured: [], unchanged: [], failed: [] };
    if (this.stopped) return report;
    const next = new Map(specs.map((s) => [s.key, s]));
    // 1. Stop parts that are gone.
    for (const [key, entry] of [...this.entries]) {
      if (next.has(key)) continue;
      this.entries.delete(key);
      clearTimeout(entry.retryTimer);
      await this.stopPart(key, entry.part);
      report.stopped.push(key);
    }
    // 2. Start new parts, restart changed ones.
    for (const spec of specs) {
      const sliceKey = canonical(spec.slice);
      const liveKey = canonical(spec.live ?? {});
      const existing = this.entries.get(spec.key);
      if (existing && existing.sliceKey === sliceKey && !existing.error && existing.part) {
        if (existing.liveKey === liveKey || (await this.reconfigure(spec.key, existing.part, spec.live ?? {}))) {
          if (existing.liveKey !== liveKey) report.reconfigured.push(spec.key);
          // The new spec (its closures see the new config) with the same running part.
          existing.spec = spec;
          existing.liveKey = liveKey;
          report.unchanged.push(spec.key);
          continue;
        }
      }
      const entry: Entry = { spec, sliceKey, liveKey, attempts: 0 };
      if (existing) {
        clearTimeout(existing.retryTimer);
        try {
          if (existing.part && spec.replace) {
            entry.part = await spec.replace(existing.part);
          } else {
            await this.stopPart(spec.key, existing.part);
            entry.part = await spec.create();
          }
          report.restarted.push(spec.key);
        } catch (err) {
          entry.error = errorMessage(err);
          report.failed.push({ key: spec.key, error: entry.error });
          this.scheduleRetry(spec.key, entry);
        }
      } else {
        try {
          entry.part = await spec.create();
          report.started.push(spec.key);
        } catch (err) {
          entry.error = errorMessage(err);
          report.failed.push({ key: spec.key, error: entry.error });
          this.scheduleRetry(spec.key, entry);
        }
      }
      this.entries.set(spec.key, entry);
    }
    for (const f of report.failed) this.logger.error(`Could not start ${f.key}: ${f.error}`);
    return report;
  }

  /** True when the running part took the live values; false means: restart it instead. */
  private async reconfigure(key: string, part: RunningPart, live: Readonly<Record<string, unknown>>): Promise<boolean> {
    if (!part.reconfigure) return false;
    try {
      await part.reconfigure(live);
      return true;
    } catch (err) {
      this.logger.warn(`Could not apply the live settings of ${key} (${errorMessage(err)}); restarting it.`);
      return false;
    }
  }

  private scheduleRetry(key: string, entry: Entry): void {
    if (this.stopped) return;
    const base = this.opts.retryBaseMs ?? 1000;
    const max = this.opts.retryMaxMs ?? 60_000;
    const delay = Math.min(max, base * 2 ** entry.attempts);
    entry.attempts++;
    entry.retryTimer = setTimeout(async () => {
      if (this.stopped || this.entries.get(key) !== entry) return;
      try {
        entry.part = await entry.spec.create();
        entry.error = undefined;
        this.logger.info(`Started ${key} after ${entry.attempts} retries.`);
      } catch (err) {
        entry.error = errorMessage(err);
        this.scheduleRetry(key, entry);
      }
    }, delay);
    entry.retryTimer.unref();
  }

  private async stopPart(key: string, part: RunningPart | undefined, deadlineMs = this.opts.stopDeadlineMs): Promise<void> {
    if (!part) return;
    try {
      await part.stop(deadlineMs);
    } catch (err) {
      this.logger.warn(`Stopping ${key} failed: ${errorMessage(err)}`);
    }
  }

  /**
   * Stops every part, in reverse start order (or `order`), all within `deadlineMs` in total:
   * each part gets what is left of it. Idempotent.
   */
  async stopAll(order?: (keys: string[]) => string[], deadlineMs = this.opts.stopDeadlineMs): Promise<void> {
    this.stopped = true;
    const until = Date.now() + deadlineMs;
    const keys = order ? order(this.keys()) : this.keys().reverse();
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      clearTimeout(entry.retryTimer);
      this.entries.delete(key);
      await this.stopPart(key, entry.part, Math.max(0, until - Date.now()));
    }
  }
}
