import { Credits } from './credits.js';

describe('Credits', () => {
  it('hands out bytes until the budget is spent, then waits for releases in FIFO order', async () => {
    const c = new Credits(100);
    expect(c.tryAcquire(60)).toBe(true);
    const order: string[] = [];
    const a = c.acquire(50).then(() => order.push('a'));
    const b = c.acquire(10).then(() => order.push('b'));
    expect(c.free).toBe(40);
    await Promise.resolve();
    expect(order).toEqual([]); // b fits but waits behind a (no starvation)
    c.release(60);
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(c.inUse).toBe(60);
  });

  it('clamps a request larger than the budget so it cannot wait forever', async () => {
    const c = new Credits(10);
    await expect(c.acquire(1000)).resolves.toBe(10);
    expect(c.free).toBe(0);
    c.release(1000);
    expect(c.free).toBe(10);
  });

  it('tells listeners (in a microtask) when a reader starts to wait, once per exhaustion', async () => {
    const c = new Credits(100);
    let calls = 0;
    const off = c.onWait(() => calls++);
    expect(c.tryAcquire(100)).toBe(true);
    expect(c.exhausted).toBe(false);
    const a = c.acquire(10);
    const b = c.acquire(10);
    expect(calls).toBe(0); // never inside acquire
    expect(c.exhausted).toBe(true);
    await Promise.resolve();
    expect(calls).toBe(1); // the second waiter joined an exhaustion already announced
    c.release(100);
    await Promise.all([a, b]);
    expect(c.exhausted).toBe(false);
    off();
    void c.acquire(100);
    await Promise.resolve();
    expect(calls).toBe(1);
  });

  it('a waiter with a minimum takes what is free once the minimum is, so bytes it holds itself cannot block it', async () => {
    const c = new Credits(100);
    expect(c.tryAcquire(100)).toBe(true); // a reader read a whole budget...
    const next = c.acquire(100, 50);
    c.release(20); // ...and all of it but a partial line was acknowledged: not enough yet
    c.release(10);
    expect(c.exhausted).toBe(true);
    c.release(60); // 90 free: the partial 10 stays held until the next read completes it
    await expect(next).resolves.toBe(90);
    expect(c.free).toBe(0);
    // Without a minimum the same wait would need all 100.
    c.release(90);
    expect(c.tryAcquire(10)).toBe(true);
    const whole = c.acquire(100);
    let done = false;
    void whole.then(() => (done = true));
    c.release(0);
    await Promise.resolve();
    expect(done).toBe(false);
  });
});
