import { RequestLane, type LaneRequest, type RetryAfterRule } from './requestLane.js';

interface R extends LaneRequest {
  n: number;
}

/** A lane whose `send` only records; `next` hands out `supply` one by one. */
function mkLane(maxInFlight: number, retryAfter: RetryAfterRule = 'lengthens', supply: R[] = []) {
  const sent: R[] = [];
  let wakes = 0;
  const errors: unknown[] = [];
  const lane: RequestLane<R> = new RequestLane<R>(
    { maxInFlight, retryBaseMs: 100, retryMaxMs: 1000, retryAfter },
    {
      next: () => {
        const r = supply.shift();
        if (r) lane.requests.push(r);
        return r;
      },
      send: async (r) => {
        sent.push(r);
      },
      wake: () => {
        wakes++;
      },
      internalError: (err) => errors.push(err),
    },
  );
  return { lane, sent, wakes: () => wakes, errors };
}

const req = (n: number, state: LaneRequest['state'] = 'queued'): R => ({ n, state });

/** Runs `fn` with Math.random() = 1, so that a backoff delay is its full exponential value. */
function fullJitter<T>(fn: () => T): T {
  const orig = Math.random;
  Math.random = () => 1;
  try {
    return fn();
  } finally {
    Math.random = orig;
  }
}

describe('RequestLane', () => {
  it('starts at most maxInFlight requests, marks them sending and counts them until attemptEnded', () => {
    const { lane, sent } = mkLane(2, 'lengthens', [req(1), req(2), req(3)]);
    expect(lane.pump()).toBe('busy');
    expect(sent.map((r) => r.n)).toEqual([1, 2]);
    expect(sent.every((r) => r.state === 'sending')).toBe(true);
    expect(lane.inFlight).toBe(2);
    lane.attemptEnded();
    expect(lane.inFlight).toBe(1);
    expect(lane.pump()).toBe('busy');
    expect(sent.map((r) => r.n)).toEqual([1, 2, 3]);
    lane.attemptEnded();
    lane.attemptEnded();
    expect(lane.pump()).toBe('empty');
  });

  it('sends the oldest queued request before a new one, and waits for one being prepared', () => {
    const { lane, sent } = mkLane(1, 'lengthens', [req(9)]);
    const prepared = req(1, 'preparing');
    lane.requests.push(prepared, req(2));
    expect(lane.pump()).toBe('busy');
    expect(sent).toEqual([]);
    prepared.state = 'queued';
    lane.pump();
    expect(sent.map((r) => r.n)).toEqual([1]);
    lane.attemptEnded();
    lane.pump();
    expect(sent.map((r) => r.n)).toEqual([1, 2]);
  });

  it('lets finished requests leave only from the front', () => {
    const { lane } = mkLane(2);
    const [a, b, c] = [req(1, 'sending'), req(2, 'sending'), req(3)];
    lane.requests.push(a, b, c);
    lane.finish(b);
    expect(lane.requests.map((r) => r.n)).toEqual([1, 2, 3]);
    lane.finish(a);
    expect(lane.requests.map((r) => r.n)).toEqual([3]);
  });

  it('lengthens: the delay is the backoff, or Retry-After when longer, never past retry_max_ms', () => {
    const { lane } = fullJitter(() => mkLane(1, 'lengthens'));
    const r = req(1, 'sending');
    expect(lane.retry(r, undefined)).toBe(100);
    expect(r.state).toBe('queued');
    expect(lane.retry(r, 10)).toBe(200);
    expect(lane.retry(r, 700)).toBe(700);
    expect(lane.retry(r, 60_000)).toBe(1000);
    expect(lane.st.failed).toBe(4);
    expect(lane.backoff.count).toBe(4);
  });

  it('replaces: Retry-After, when given, is the delay (capped); else the backoff', () => {
    const { lane } = fullJitter(() => mkLane(1, 'replaces'));
    const r = req(1, 'sending');
    expect(lane.retry(r, 10)).toBe(10);
    expect(lane.retry(r, undefined)).toBe(200);
    expect(lane.retry(r, 60_000)).toBe(1000);
    expect(lane.retry(r, -5)).toBe(0);
    expect(lane.backoff.count).toBe(4);
  });

  it('holds sends behind the retry gate and wakes the sink when it opens', async () => {
    const { lane, sent, wakes } = fullJitter(() => mkLane(1, 'lengthens'));
    const r = req(1, 'sending');
    lane.requests.push(r);
    const delay = lane.retry(r, undefined);
    expect(lane.gateUntil).toBeGreaterThanOrEqual(Date.now() + delay - 5);
    expect(lane.pump()).toBe('gate');
    expect(sent).toEqual([]);
    await new Promise((res) => setTimeout(res, delay + 50));
    expect(wakes()).toBe(1);
    lane.pump();
    expect(sent).toEqual([r]);
  });

  it('close forgets the requests and stops the timer', async () => {
    const { lane, wakes } = mkLane(1);
    lane.requests.push(req(1));
    lane.arm(20);
    lane.close();
    expect(lane.requests).toEqual([]);
    await new Promise((res) => setTimeout(res, 60));
    expect(wakes()).toBe(0);
  });

  it('delivered counts bytes and the success time', () => {
    const { lane } = mkLane(1);
    const before = Date.now();
    lane.delivered(10, 40);
    lane.delivered(5, 20);
    expect(lane.st).toMatchObject({ wireBytes: 15, rawBytes: 60 });
    expect(lane.st.lastSuccessTime).toBeGreaterThanOrEqual(before);
  });
});
