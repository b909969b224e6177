/**
 * A request lane: the requests a sink sends to one destination, in queue order, a bounded number
 * at a time, each retried after a failure once the lane's backoff lets it (design:
 * docs/design/delivery.md). The addEvents sink has one lane; the otlp sink one per signal.
 *
 * Promises:
 * - `requests` is in queue order, and a finished request leaves it only from the front
 *   ({@link RequestLane.finish}), so `requests[0]` is the oldest unfinished one: the sink
 *   acknowledges only what lies before its start (AckQueue.settle), and a later request finishing
 *   first never lets an ack pass an earlier one.
 * - {@link RequestLane.pump} starts requests while fewer than `maxInFlight` are out and the retry
 *   gate is open: the oldest queued request first (a retry, or the rest of a split one), in order
 *   (one still being prepared holds back those behind it), else a new one from the sink's `next`.
 *   While the gate is closed it arms the lane's timer instead; the timer calls the sink's `wake`.
 * - A request started is marked `sending` and counted in flight until the sink's `send` calls
 *   {@link RequestLane.attemptEnded} (at once when its attempt is over, before it acts on the
 *   answer, so that acting on it may start the next request). A rejection goes to `internalError`.
 * - {@link RequestLane.retry} queues a failed request again and closes the gate for the
 *   backoff's next delay (exponential, jittered, capped) combined with a server's `Retry-After`
 *   (capped the same way) as the lane was told: `lengthens` (the delay is at least Retry-After)
 *   or `replaces` (Retry-After, when given, is the delay). Nothing is ever dropped here: what
 *   leaves a lane is what the sink finished.
 * - Per-request bookkeeping only; nothing here is per event.
 */
import { Backoff } from './backoff.js';

export type RequestState = 'queued' | 'preparing' | 'sending' | 'done';

/** What the lane needs of a request; sinks add their own fields. */
export interface LaneRequest {
  /** `preparing`: being built ahead of its turn (it is sent in order once ready). */
  state: RequestState;
}

/** How a server's `Retry-After` combines with the backoff's delay. */
export type RetryAfterRule = 'lengthens' | 'replaces';

export interface LaneOptions {
  /** Requests out at once (at least 1). */
  maxInFlight: number;
  retryBaseMs: number;
  retryMaxMs: number;
  retryAfter: RetryAfterRule;
}

/** The sink's side of a lane. */
export interface LaneDriver<R extends LaneRequest> {
  /** A new request to send now, taken from the sink's queue and pushed onto `requests`; or undefined (the sink may arm the timer for later). */
  next(now: number): R | undefined;
  /** One attempt of `r`; calls `attemptEnded()` once it is over, then acts on the answer (finish, retry, split…). */
  send(r: R): Promise<void>;
  /** The lane's timer fired: the sink pumps again. */
  wake(): void;
  internalError(err: unknown): void;
}

/** Where {@link RequestLane.pump} stopped: the retry gate is closed (the timer is armed), all it may send is out (or the next in order is being prepared), or there is nothing to send now. */
export type PumpStop = 'gate' | 'busy' | 'empty';

export class RequestLane<R extends LaneRequest> {
  /** Unfinished requests (and finished ones behind an unfinished one), oldest first. */
  requests: R[] = [];
  readonly backoff: Backoff;
  /** What was last logged for this lane's failures: one line per change of failure, not per attempt. */
  logged?: string;
  /** Attempts, failed attempts, the last success, bytes delivered (on the wire, before compression). */
  readonly st = { requests: 0, failed: 0, lastSuccessTime: undefined as number | undefined, wireBytes: 0, rawBytes: 0 };
  private out = 0;
  private gate = 0;
  private timer?: NodeJS.Timeout;
  private timerAt = 0;
  private readonly maxInFlight: number;
  private readonly retryAfter: RetryAfterRule;

  constructor(
    options: LaneOptions,
    private readonly driver: LaneDriver<R>,
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight);
    this.retryAfter = options.retryAfter;
    this.backoff = new Backoff(options.retryBaseMs, options.retryMaxMs);
  }

  /** Requests on the wire (or being made ready to go). */
  get inFlight(): number {
    return this.out;
  }

  /** Until when (ms) the lane waits before its next attempt after a failure. */
  get gateUntil(): number {
    return this.gate;
  }

  /** Sends what may be sent now (see the promises above). */
  pump(): PumpStop {
    while (this.out < this.maxInFlight) {
      const now = Date.now();
      if (now < this.gate) {
        this.arm(this.gate - now);
        return 'gate';
      }
      const first = this.requests.find((x) => x.state === 'queued' || x.state === 'preparing');
      if (first?.state === 'preparing') return 'busy'; // sent in order once it is ready
      const r = first ?? this.driver.next(now);
      if (!r) return 'empty';
      r.state = 'sending';
      this.out++;
      this.driver.send(r).catch((err) => this.driver.internalError(err));
    }
    return 'busy';
  }

  /** Wakes the sink in `ms` (the earliest of the wake-ups asked for is kept). */
  arm(ms: number): void {
    const at = Date.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.driver.wake();
    }, Math.max(0, ms));
  }

  /** The attempt of a request started by `pump` is over (answered, failed, or given up). */
  attemptEnded(): void {
    this.out--;
  }

  /** `r` failed: it is queued again and the lane waits the returned delay (ms) before the next attempt. */
  retry(r: R, retryAfterMs: number | undefined): number {
    this.st.failed++;
    const backoff = this.backoff.next();
    const cap = this.backoff.maxMs;
    let delay: number;
    if (this.retryAfter === 'lengthens') delay = Math.max(backoff, Math.min(retryAfterMs ?? 0, cap));
    else delay = retryAfterMs !== undefined ? Math.min(Math.max(retryAfterMs, 0), cap) : backoff;
    this.gate = Date.now() + delay;
    r.state = 'queued';
    return delay;
  }

  /** Counts a delivered request's bytes (as sent, and before compression). */
  delivered(wireBytes: number, rawBytes: number): void {
    this.st.wireBytes += wireBytes;
    this.st.rawBytes += rawBytes;
    this.st.lastSuccessTime = Date.now();
  }

  /** `r` is finished (delivered, or its events dropped and counted); finished requests leave from the front. */
  finish(r: R): void {
    r.state = 'done';
    while (this.requests.length > 0 && this.requests[0].state === 'done') this.requests.shift();
  }

  /** Forgets every request and stops the timer (the sink shut down; what was not acknowledged is read again). */
  close(): void {
    this.requests = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
