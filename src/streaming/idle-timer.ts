// One timer per session that fires after a quiet spell: any frame or message in either direction
// counts as activity (as in kubelet's SPDY and WebSocket connections).

import { MAX_TIMER_MS } from '../util/time.js';

export class IdleTimer {
  private timer: NodeJS.Timeout | undefined;

  /** `timeoutMs` of 0 disables the timer. */
  constructor(timeoutMs: number, onIdle: () => void) {
    if (timeoutMs > 0) this.timer = setTimeout(onIdle, Math.min(timeoutMs, MAX_TIMER_MS));
  }

  touch(): void {
    this.timer?.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
