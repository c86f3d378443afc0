// A warning any client can trigger at will (a refused or misbehaving connection) must not let
// that client flood the log: each kind is logged at most once per interval, and the line at the
// end of the interval says how many it stands for.

import { log } from '../util/log.js';

export type WarningSink = (message: string, fields: Record<string, unknown>) => void;

export class ThrottledWarning {
  private lastLoggedAt = -Infinity;
  /** Warnings since the last line, and the fields of the newest of them. */
  private held = 0;
  private heldFields: Record<string, unknown> = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly message: string,
    private readonly intervalMs: number,
    private readonly sink: WarningSink = log.warn,
  ) {}

  warn(fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (now - this.lastLoggedAt >= this.intervalMs && this.held === 0) {
      this.lastLoggedAt = now;
      this.sink(this.message, fields);
      return;
    }
    this.held++;
    this.heldFields = fields;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), Math.max(0, this.lastLoggedAt + this.intervalMs - now));
      // A pending summary is no reason to keep the process alive.
      this.timer.unref();
    }
  }

  /** Log what is held now and stop the timer (when the listener closes). */
  close(): void {
    this.flush();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held === 0) return;
    this.lastLoggedAt = Date.now();
    this.sink(`${this.message} (${this.held} more since the last such line)`, this.heldFields);
    this.held = 0;
  }
}
