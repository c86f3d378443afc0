/** Small numeric helpers: timing, percentiles, medians. */

/** The p-th percentile (nearest rank) of the samples; NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

/** Milliseconds since `start` (a process.hrtime.bigint()). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs fn and resolves with its value and how long it took, in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, msSince(t)];
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `worker(i)` for i in [0, n) with at most `concurrency` in flight; the first error rejects once all settled. */
export async function pool(n: number, concurrency: number, worker: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n && errors.length === 0) {
        const i = next++;
        try {
          await worker(i);
        } catch (err) {
          errors.push(err);
        }
      }
    }),
  );
  if (errors.length) throw errors[0];
}
