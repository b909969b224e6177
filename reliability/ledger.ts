/**
 * The ledger: what the writer wrote and what the receiver accepted, per file tag, in compact
 * typed arrays (a 30-minute soak writes millions of lines).
 *
 * Promises:
 * - `accept()` records one accepted copy of an id, checks its bytes against {@link eventText},
 *   checks per-incarnation first-occurrence order, and classifies every duplicate at the moment it
 *   arrives against the timeline of restarts/reloads the driver recorded ({@link Ledger.mark}).
 * - `verdict()` gives the judge's numbers: written, delivered, duplicated, lost (with samples).
 *
 * Duplicate classes (see docs/RELIABILITY.md "The duplicate window"):
 * - `late-answer`: the first copy came in a request the receiver answered after `request_deadline`
 *   (the agent had given up and resent). Expected.
 * - `crash-window`: the first copy was accepted at most `windowMs` before a `kill -9` of the agent
 *   (acknowledged but not yet checkpointed). Expected.
 * - `after-stop`, `after-reload`: the first copy was accepted before a graceful stop / a config
 *   reload (written to the file up to 60 s before the first copy: reloads are applied in turn)
 *   and sent again afterwards. Reported separately; `after-stop` fails the run.
 * - `outside-window`: anything else. A failure.
 */
import { eventText } from './lines.js';

export type DupClass = 'late-answer' | 'crash-window' | 'after-stop' | 'after-reload' | 'outside-window';

export interface TimelineEvent {
  at: number;
  kind: 'kill9' | 'sigterm' | 'sigterm-timeout-kill9' | 'reload' | 'start';
}

interface Incarnation {
  startSeq: number;
  name: string;
  how: 'created' | 'rename' | 'copytruncate';
}

class Grow {
  constructor(
    public a: Uint8Array | Uint16Array | Uint32Array,
    private readonly ctor: new (n: number) => Uint8Array | Uint16Array | Uint32Array,
  ) {}
  ensure(n: number): void {
    if (n <= this.a.length) return;
    let len = this.a.length || 1024;
    while (len < n) len *= 2;
    const b = new this.ctor(len);
    b.set(this.a);
    this.a = b;
  }
}

class TagState {
  written = 0;
  readonly counts = new Grow(new Uint8Array(0), Uint8Array);
  readonly firstSession = new Grow(new Uint16Array(0), Uint16Array);
  readonly firstAt = new Grow(new Uint32Array(0), Uint32Array);
  readonly late = new Grow(new Uint8Array(0), Uint8Array);
  /** Sequence id (index) and number of the first copy, for the server's (si, sn) de-duplication. */
  readonly firstSi = new Grow(new Uint16Array(0), Uint16Array);
  readonly firstSn = new Grow(new Uint32Array(0), Uint32Array);
  readonly incs: Incarnation[] = [];
  readonly lastFirstSeqOfInc = new Map<number, number>();
  lastFirstInc = -1;
  constructor(readonly tag: string) {}
  incOf(seq: number): number {
    let lo = 0;
    let hi = this.incs.length - 1;
    let ans = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.incs[mid].startSeq <= seq) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }
}

export interface Verdict {
  written: number;
  delivered: number;
  duplicated: number;
  lost: number;
  lostSamples: string[];
  corrupt: number;
  corruptSamples: string[];
  foreign: number;
  foreignSamples: string[];
  unknownIds: number;
  orderViolations: number;
  orderSamples: string[];
  crossIncarnationInterleavings: number;
  dups: Record<DupClass, number>;
  /** Duplicates that carried the same (si, sn) as their first copy: a Scalyr server drops them. */
  dupsWithSameSequence: number;
  /** Outside-window duplicates under a new (si, sn): a server could not drop them. */
  outsideWindowNewSequence: number;
  maxCrashWindowMs: number;
  perTag: Record<string, { written: number; delivered: number; lost: number; incarnations: number }>;
}

export class Ledger {
  readonly t0 = Date.now();
  private readonly tags = new Map<string, TagState>();
  private readonly sessions = new Map<string, number>();
  private readonly seqIds = new Map<string, number>();
  private sameSeqDups = 0;
  /** Outside-window duplicates under a new (si, sn): a server could not drop them. */
  private outsideNewSeq = 0;
  private readonly timeline: TimelineEvent[] = [];
  private corrupt = 0;
  private readonly corruptSamples: string[] = [];
  private foreign = 0;
  private readonly foreignSamples: string[] = [];
  private unknownIds = 0;
  private orderViolations = 0;
  private readonly orderSamples: string[] = [];
  private cross = 0;
  private readonly dups: Record<DupClass, number> = { 'late-answer': 0, 'crash-window': 0, 'after-stop': 0, 'after-reload': 0, 'outside-window': 0 };
  private readonly dupSamples: string[] = [];
  private maxCrashLag = 0;

  constructor(readonly windowMs = 5000) {}

  private tag(tag: string): TagState {
    let t = this.tags.get(tag);
    if (!t) this.tags.set(tag, (t = new TagState(tag)));
    return t;
  }

  // --- writer side -------------------------------------------------------------------------

  /** A new incarnation of `tag` begins at `startSeq` (file created, or rotated). */
  beginIncarnation(tag: string, startSeq: number, name: string, how: Incarnation['how']): number {
    const t = this.tag(tag);
    t.incs.push({ startSeq, name, how });
    return t.incs.length - 1;
  }

  /** Events `[0, seqEnd)` of `tag` are completely written. */
  wrote(tag: string, seqEnd: number): void {
    const t = this.tag(tag);
    t.written = Math.max(t.written, seqEnd);
  }

  /** True when every id of `tag` in `[from, to)` was accepted at least once. */
  allDelivered(tag: string, from: number, to: number): boolean {
    const t = this.tags.get(tag);
    if (!t) return from >= to;
    const c = t.counts.a;
    for (let s = from; s < to; s++) if (!c[s]) return false;
    return true;
  }

  // --- driver side -------------------------------------------------------------------------

  mark(kind: TimelineEvent['kind'], at = Date.now()): void {
    this.timeline.push({ at, kind });
    this.timeline.sort((a, b) => a.at - b.at);
  }

  get events(): readonly TimelineEvent[] {
    return this.timeline;
  }

  // --- receiver side -----------------------------------------------------------------------

  sessionIndex(session: string): number {
    let i = this.sessions.get(session);
    if (i === undefined) this.sessions.set(session, (i = this.sessions.size + 1));
    return i;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Records an event the receiver accepted. `late`: the request is being answered after the
   * deadline. `si`/`sn`: the event's resolved sequence id and number (when it carried them).
   */
  accept(message: Buffer, id: { tag: string; seq: number } | undefined, session: number, late: boolean, si?: string, sn?: number): void {
    if (!id) {
      this.foreign++;
      if (this.foreignSamples.length < 5) this.foreignSamples.push(JSON.stringify(message.subarray(0, 120).toString('utf8')));
      return;
    }
    const t = this.tags.get(id.tag);
    if (!t || id.seq >= t.written + 1_000_000) {
      this.unknownIds++;
      return;
    }
    const expected = eventText(id.tag, id.seq);
    if (message.length !== Buffer.byteLength(expected) || message.toString('utf8') !== expected) {
      this.corrupt++;
      if (this.corruptSamples.length < 5) this.corruptSamples.push(`${id.tag}:${id.seq} got ${JSON.stringify(message.subarray(0, 160).toString('utf8'))}`);
      // A cut or merged event still counts as delivering its id only if the bytes are right.
      return;
    }
    const seq = id.seq;
    t.counts.ensure(seq + 1);
    t.firstSession.ensure(seq + 1);
    t.firstAt.ensure(seq + 1);
    t.late.ensure(seq + 1);
    t.firstSi.ensure(seq + 1);
    t.firstSn.ensure(seq + 1);
    const c = t.counts.a as Uint8Array;
    let siIdx = 0;
    if (si !== undefined) {
      siIdx = this.seqIds.get(si) ?? 0;
      if (!siIdx) this.seqIds.set(si, (siIdx = this.seqIds.size + 1));
    }
    const now = Date.now() - this.t0;
    if (c[seq] === 0) {
      c[seq] = 1;
      t.firstSession.a[seq] = session;
      t.firstAt.a[seq] = now;
      t.late.a[seq] = late ? 1 : 0;
      t.firstSi.a[seq] = siIdx;
      t.firstSn.a[seq] = sn !== undefined && sn >= 0 && sn < 2 ** 32 ? sn : 0;
      const inc = t.incOf(seq);
      const last = t.lastFirstSeqOfInc.get(inc);
      if (last !== undefined && seq < last) {
        this.orderViolations++;
        if (this.orderSamples.length < 5) this.orderSamples.push(`${id.tag}:${seq} first seen after ${id.tag}:${last} (incarnation ${inc})`);
      } else t.lastFirstSeqOfInc.set(inc, seq);
      if (inc < t.lastFirstInc) this.cross++;
      else t.lastFirstInc = inc;
      return;
    }
    if (c[seq] < 255) c[seq]++;
    const sameSeq = Boolean(siIdx && t.firstSi.a[seq] === siIdx && t.firstSn.a[seq] === sn);
    if (sameSeq) this.sameSeqDups++;
    const cls = this.classify(t.firstAt.a[seq] + this.t0, t.firstSession.a[seq], session, t.late.a[seq] === 1);
    this.dups[cls]++;
    if (cls === 'outside-window' && !sameSeq) this.outsideNewSeq++;
    if (cls === 'outside-window' && this.dupSamples.length < 5) {
      this.dupSamples.push(`${id.tag}:${seq} first at +${t.firstAt.a[seq]} ms (session ${t.firstSession.a[seq]}), again at +${now} ms (session ${session})`);
    }
  }

  private classify(firstAt: number, firstSession: number, session: number, late: boolean): DupClass {
    if (late) return 'late-answer';
    const after = this.timeline.filter((e) => e.at >= firstAt && e.kind !== 'start');
    if (firstSession !== session) {
      const end = after.find((e) => e.kind !== 'reload');
      if (end && (end.kind === 'kill9' || end.kind === 'sigterm-timeout-kill9')) {
        const lag = end.at - firstAt;
        if (lag <= this.windowMs) {
          this.maxCrashLag = Math.max(this.maxCrashLag, lag);
          return 'crash-window';
        }
      }
      if (end?.kind === 'sigterm') return 'after-stop';
    }
    if (after.some((e) => e.kind === 'reload')) return 'after-reload';
    // A config edit is applied when the agent gets to it (reloads queue behind a restart whose
    // flush waits for a failing server): a reload written up to 60 s before the first copy may
    // still have restarted the entry after it.
    if (firstSession === session && this.timeline.some((e) => e.kind === 'reload' && e.at >= firstAt - 60_000)) return 'after-reload';
    return 'outside-window';
  }

  /** The judge's numbers. */
  verdict(): Verdict & { dupSamples: string[] } {
    let written = 0;
    let delivered = 0;
    let duplicated = 0;
    const lostSamples: string[] = [];
    const perTag: Verdict['perTag'] = {};
    for (const t of this.tags.values()) {
      const c = t.counts.a as Uint8Array;
      let d = 0;
      let lost = 0;
      for (let s = 0; s < t.written; s++) {
        const n = c[s] ?? 0;
        if (n > 0) {
          d++;
          duplicated += n - 1;
        } else {
          lost++;
          if (lostSamples.length < 10) {
            const inc = t.incOf(s);
            const i = t.incs[inc];
            lostSamples.push(`${t.tag}:${s} (in ${i?.name ?? '?'}, incarnation ${inc} begun by ${i?.how ?? '?'} at seq ${i?.startSeq ?? '?'})`);
          }
        }
      }
      written += t.written;
      delivered += d;
      perTag[t.tag] = { written: t.written, delivered: d, lost, incarnations: t.incs.length };
    }
    return {
      written,
      delivered,
      duplicated,
      lost: written - delivered,
      lostSamples,
      corrupt: this.corrupt,
      corruptSamples: this.corruptSamples,
      foreign: this.foreign,
      foreignSamples: this.foreignSamples,
      unknownIds: this.unknownIds,
      orderViolations: this.orderViolations,
      orderSamples: this.orderSamples,
      crossIncarnationInterleavings: this.cross,
      dups: { ...this.dups },
      dupsWithSameSequence: this.sameSeqDups,
      outsideWindowNewSequence: this.outsideNewSeq,
      dupSamples: this.dupSamples,
      maxCrashWindowMs: this.maxCrashLag,
      perTag,
    };
  }
}
