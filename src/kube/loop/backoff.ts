// kubelet's crash-loop back-off (flowcontrol.Backoff): 10 s doubling to 5 min by default; crib run
// --backoff sets another base (the cap stays 30 times it), so tests need not wait minutes.

export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
}

export const KUBELET_BACKOFF: BackoffSettings = { initialMs: 10_000, maxMs: 300_000 };

/** A base of `ms`, capped as kubelet's is (5 min for 10 s: 30 times the base). */
export const backoffFrom = (ms: number): BackoffSettings => ({ initialMs: ms, maxMs: ms * 30 });

/**
 * The first restart is immediate, each further one waits its delay after the container finished;
 * a container that ran for more than twice the cap starts over.
 */
export class Backoff {
  private backoffMs = 0;
  private lastUpdate = 0;

  constructor(private readonly s: BackoffSettings = KUBELET_BACKOFF) {}

  /** How long to wait before restarting a container that finished at `finishedAt` (ms epoch). */
  delay(finishedAt: number, now = Date.now()): number {
    if (this.backoffMs === 0 || now - this.lastUpdate > 2 * this.s.maxMs) return 0;
    return Math.max(0, finishedAt + this.backoffMs - now);
  }

  /** Records a restart (of a container that finished at `finishedAt`). */
  next(finishedAt: number, now = Date.now()): void {
    if (this.backoffMs === 0 || finishedAt - this.lastUpdate > 2 * this.s.maxMs) this.backoffMs = this.s.initialMs;
    else this.backoffMs = Math.min(this.backoffMs * 2, this.s.maxMs);
    this.lastUpdate = now;
  }

  get currentMs(): number {
    return this.backoffMs;
  }
}
