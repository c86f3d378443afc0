import { log } from './log.js';

const since = (t: bigint): number => Math.round(Number(process.hrtime.bigint() - t) / 1e5) / 10;

/** How long each step of a call took, written as one debug line: where a call's time goes. */
export class StepTimes {
  private readonly started = process.hrtime.bigint();
  private last = this.started;
  private readonly ms: Record<string, number> = {};

  /** The step that just ended, timed from the previous mark. */
  mark(step: string): void {
    this.ms[step] = since(this.last);
    this.last = process.hrtime.bigint();
  }

  /** A step that runs beside others, timed from now until it settles. */
  time<T>(step: string, work: Promise<T>): Promise<T> {
    const t = process.hrtime.bigint();
    return work.finally(() => (this.ms[step] = since(t)));
  }

  /** The debug line: every step's milliseconds and the total. */
  done(msg: string): void {
    log.debug(msg, { ...this.ms, total: since(this.started) });
  }
}
