/**
 * Request assembly for the Scout core-agent protocol. Commands are applied as they arrive, in any
 * order (children before parents, tags after stops, spans before their StartRequest when a client
 * spreads one request over pooled connections); the tree is only built at FinishRequest. State is
 * keyed globally by `request_id`. Memory stays bounded: a cap on live requests and on live spans
 * overall (the oldest unfinished request is evicted, counted) and on spans per request (refused,
 * counted), and requests unfinished after
 * `requestTimeoutMs` are expired (counted). Never throws on bad input: every problem comes back
 * as a failure message and a counted reason.
 */
import type { AppEvent, CompletedRequest, CompletedSpan } from '../../lib/apm/types.js';
import { parseScoutTimestamp } from '../../lib/apm/timestamp.js';

export interface Registration {
  key: string;
  app: string;
}

export interface AssemblerOptions {
  requestTimeoutMs: number;
  maxLiveRequests: number;
  maxSpansPerRequest: number;
  maxLiveSpans: number;
  /** Remembered finished ids, so late commands for them are counted, not turned into zombies. */
  finishedMemory?: number;
  now: () => number;
  onCompleted: (r: CompletedRequest) => void;
  onAppEvent: (e: AppEvent) => void;
  /** Counts a dropped item under a reason. */
  drop: (reason: string, n?: number) => void;
}

interface LiveSpan {
  id: string;
  parentId?: string;
  operation?: string;
  start?: number;
  stop?: number;
  tags: Record<string, unknown>;
  seq: number;
}

interface LiveRequest {
  id: string;
  key: string;
  app: string;
  start?: number;
  createdAt: number;
  tags: Record<string, unknown>;
  spans: Map<string, LiveSpan>;
  droppedSpans: number;
  seq: number;
}

/** `undefined` = success; a string = the failure message to reply with. */
export type ApplyResult = string | undefined;

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;

export class RequestAssembler {
  private readonly live = new Map<string, LiveRequest>();
  private readonly finished = new Map<string, number>();
  private liveSpans = 0;
  /** Informational counts (not drops). */
  readonly stats = { implicitRequests: 0, completed: 0, expired: 0, appEvents: 0 };

  constructor(private readonly o: AssemblerOptions) {}

  get liveRequests(): number {
    return this.live.size;
  }

  get liveSpanCount(): number {
    return this.liveSpans;
  }

  /** Applies one data command (not Register/CoreAgent*); `reg` is the connection's registration. */
  apply(name: string, body: Record<string, unknown>, reg: Registration): ApplyResult {
    switch (name) {
      case 'StartRequest':
        return this.startRequest(body, reg);
      case 'StartSpan':
        return this.startSpan(body, reg);
      case 'StopSpan':
        return this.stopSpan(body, reg);
      case 'TagSpan':
        return this.tagSpan(body, reg);
      case 'TagRequest':
        return this.tagRequest(body, reg);
      case 'FinishRequest':
        return this.finishRequest(body, reg);
      case 'ApplicationEvent':
        return this.appEvent(body, reg);
      default:
        this.o.drop('unknown_command');
        return `unknown command ${name.slice(0, 64)}`;
    }
  }

  private ts(body: Record<string, unknown>): number {
    return parseScoutTimestamp(body.timestamp) ?? this.o.now();
  }

  /** Finds or (implicitly) creates the live request; undefined when refused (reason counted). */
  private request(body: Record<string, unknown>, reg: Registration, explicit: boolean): LiveRequest | string {
    const id = body.request_id;
    if (!isStr(id)) {
      this.o.drop('invalid_command');
      return 'missing or invalid request_id';
    }
    const r = this.live.get(id);
    if (r) return r;
    if (this.finished.has(id)) {
      this.o.drop('after_finish');
      return 'request already finished';
    }
    // At the cap the OLDEST unfinished request is evicted (counted), so a client flooding
    // never-finished requests cannot starve well-behaved ones.
    while (this.live.size >= this.o.maxLiveRequests) this.evictOldest('live_request_cap');
    if (!explicit) this.stats.implicitRequests++;
    const created: LiveRequest = {
      id,
      key: reg.key,
      app: reg.app,
      createdAt: this.o.now(),
      tags: {},
      spans: new Map(),
      droppedSpans: 0,
      seq: 0,
    };
    this.live.set(id, created);
    return created;
  }

  private span(r: LiveRequest, body: Record<string, unknown>): LiveSpan | string | null {
    const id = body.span_id;
    if (!isStr(id)) {
      this.o.drop('invalid_command');
      return 'missing or invalid span_id';
    }
    const s = r.spans.get(id);
    if (s) return s;
    if (r.spans.size >= this.o.maxSpansPerRequest) {
      r.droppedSpans++;
      this.o.drop('span_cap');
      return null; // refused quietly (counted): the client did nothing wrong
    }
    while (this.liveSpans >= this.o.maxLiveSpans) {
      const oldest = this.live.values().next().value as LiveRequest | undefined;
      if (!oldest || oldest === r) {
        r.droppedSpans++;
        this.o.drop('live_span_cap');
        return null;
      }
      this.evictOldest('live_span_cap');
    }
    const created: LiveSpan = { id, tags: {}, seq: r.seq++ };
    r.spans.set(id, created);
    this.liveSpans++;
    return created;
  }

  private startRequest(body: Record<string, unknown>, reg: Registration): ApplyResult {
    const r = this.request(body, reg, true);
    if (typeof r === 'string') return r;
    r.start = this.ts(body);
    return undefined;
  }

  private startSpan(body: Record<string, unknown>, reg: Registration): ApplyResult {
    if (typeof body.operation !== 'string' || body.operation.length === 0) {
      this.o.drop('invalid_command');
      return 'missing or invalid operation';
    }
    const r = this.request(body, reg, false);
    if (typeof r === 'string') return r;
    const s = this.span(r, body);
    if (typeof s === 'string') return s;
    if (!s) return undefined;
    s.operation = body.operation.length > 2048 ? body.operation.slice(0, 2048) : body.operation;
    s.start = this.ts(body);
    if (isStr(body.parent_id)) s.parentId = body.parent_id;
    return undefined;
  }

  private stopSpan(body: Record<string, unknown>, reg: Registration): ApplyResult {
    const r = this.request(body, reg, false);
    if (typeof r === 'string') return r;
    const s = this.span(r, body);
    if (typeof s === 'string') return s;
    if (s) s.stop = this.ts(body);
    return undefined;
  }

  private tagSpan(body: Record<string, unknown>, reg: Registration): ApplyResult {
    if (typeof body.tag !== 'string') {
      this.o.drop('invalid_command');
      return 'missing or invalid tag';
    }
    const r = this.request(body, reg, false);
    if (typeof r === 'string') return r;
    const s = this.span(r, body);
    if (typeof s === 'string') return s;
    if (s) s.tags[body.tag] = body.value;
    return undefined;
  }

  private tagRequest(body: Record<string, unknown>, reg: Registration): ApplyResult {
    if (typeof body.tag !== 'string') {
      this.o.drop('invalid_command');
      return 'missing or invalid tag';
    }
    const r = this.request(body, reg, false);
    if (typeof r === 'string') return r;
    r.tags[body.tag] = body.value;
    return undefined;
  }

  private finishRequest(body: Record<string, unknown>, reg: Registration): ApplyResult {
    const r = this.request(body, reg, false);
    if (typeof r === 'string') return r;
    const stop = this.ts(body);
    this.live.delete(r.id);
    this.liveSpans -= r.spans.size;
    this.remember(r.id);
    const spans: CompletedSpan[] = [];
    let neverStarted = 0;
    let minStart = Infinity;
    for (const s of r.spans.values()) {
      if (s.operation === undefined || s.start === undefined) {
        neverStarted++;
        continue;
      }
      const out: CompletedSpan = { id: s.id, operation: s.operation, start: s.start, stop: s.stop ?? Math.max(stop, s.start), tags: s.tags };
      if (s.parentId !== undefined) out.parentId = s.parentId;
      if (s.stop === undefined) out.autoClosed = true;
      if (out.stop < out.start) out.stop = out.start;
      if (s.start < minStart) minStart = s.start;
      spans.push(out);
    }
    if (neverStarted) this.o.drop('span_never_started', neverStarted);
    const start = r.start ?? (minStart === Infinity ? stop : minStart);
    const done: CompletedRequest = {
      type: 'request',
      requestId: r.id,
      appKey: r.key,
      appName: r.app,
      start,
      stop: Math.max(stop, start),
      receivedAt: this.o.now(),
      tags: r.tags,
      spans,
    };
    if (r.droppedSpans) done.droppedSpans = r.droppedSpans;
    this.stats.completed++;
    this.o.onCompleted(done);
    return undefined;
  }

  private appEvent(body: Record<string, unknown>, reg: Registration): ApplyResult {
    if (typeof body.event_type !== 'string') {
      this.o.drop('invalid_command');
      return 'missing or invalid event_type';
    }
    this.stats.appEvents++;
    this.o.onAppEvent({
      type: 'app_event',
      appKey: reg.key,
      appName: reg.app,
      eventType: body.event_type,
      value: body.event_value,
      source: typeof body.source === 'string' ? body.source : '',
      timestamp: this.ts(body),
      receivedAt: this.o.now(),
    });
    return undefined;
  }

  private remember(id: string): void {
    const cap = this.o.finishedMemory ?? 50_000;
    this.finished.set(id, this.o.now());
    if (this.finished.size > cap) {
      const first = this.finished.keys().next().value as string;
      this.finished.delete(first);
    }
  }

  private evictOldest(reason: string): void {
    const oldest = this.live.values().next().value as LiveRequest | undefined;
    if (!oldest) return;
    this.live.delete(oldest.id);
    this.liveSpans -= oldest.spans.size;
    this.remember(oldest.id);
    this.o.drop(reason);
  }

  /** Expires requests older than the timeout (counted as `request_timeout`). Returns how many. */
  sweep(): number {
    const cutoff = this.o.now() - this.o.requestTimeoutMs;
    let n = 0;
    for (const [id, r] of this.live) {
      if (r.createdAt > cutoff) break; // insertion order = creation order
      this.live.delete(id);
      this.liveSpans -= r.spans.size;
      n++;
    }
    if (n) {
      this.stats.expired += n;
      this.o.drop('request_timeout', n);
    }
    // Forget finished ids after the same horizon.
    for (const [id, t] of this.finished) {
      if (t > cutoff) break;
      this.finished.delete(id);
    }
    return n;
  }

  /** Drops all live state (shutdown); counted as `unfinished_at_stop`. */
  clear(): void {
    if (this.live.size) this.o.drop('unfinished_at_stop', this.live.size);
    this.live.clear();
    this.liveSpans = 0;
  }
}
