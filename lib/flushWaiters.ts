/**
 * What a queueing sink's `flush(deadline)` waits for: the entries written before the call (by
 * sequence number) to be acknowledged, or the deadline, whichever comes first. The sink calls
 * `settled(baseSeq)` whenever its oldest unacknowledged sequence number moves, and `finishAll()`
 * when it shuts down; `active` says whether any flush waits (its requests then stop lingering).
 */
export class FlushWaiters {
  private waiters: { target: number; finish: () => void }[] = [];

  /** Whether a flush is waiting. */
  get active(): boolean {
    return this.waiters.length > 0;
  }

  /** Resolves once everything up to sequence `target` is acknowledged, or after `deadlineMs`. */
  wait(target: number, deadlineMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w.finish !== finish);
        resolve();
      };
      this.waiters.push({ target, finish });
      if (deadlineMs !== undefined && Number.isFinite(deadlineMs)) timer = setTimeout(finish, Math.max(0, deadlineMs));
    });
  }

  /** Ends the flushes whose entries are all acknowledged (`baseSeq`: the oldest still pending). */
  settled(baseSeq: number): void {
    for (const w of [...this.waiters]) if (w.target < baseSeq) w.finish();
  }

  /** Ends every flush (the sink stopped). */
  finishAll(): void {
    for (const w of [...this.waiters]) w.finish();
  }
}
