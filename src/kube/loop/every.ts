// A periodic loop of a run (a CronJob's schedule, a supervisor's rescans): `tick` every `periodMs`
// until the signal, one tick at a time; a failed tick is said and the loop goes on.
import { Aborted, sleep } from './abort.js';

export async function every(signal: AbortSignal, periodMs: number, tick: (now: Date) => Promise<void>, say: (line: string) => void): Promise<void> {
  while (!signal.aborted) {
    try {
      await tick(new Date());
    } catch (err) {
      if (err instanceof Aborted) return;
      say(`${err instanceof Error ? err.message : String(err)}`);
    }
    try {
      await sleep(periodMs, signal);
    } catch (err) {
      if (err instanceof Aborted) return;
      throw err;
    }
  }
}
