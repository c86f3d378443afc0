// How the work of a function grows with its input, without a wall-clock threshold: the same
// function on n and 8n items, in CPU time of this process (what other processes on a loaded machine
// take does not count), the best of several runs (a GC pause or a preemption inflates one run, not
// all). n grows until one run takes long enough to measure, so a quadratic function is caught at a
// small n and never runs for minutes. Linear work grows about 8 times (n log n about 9 or 10),
// quadratic work 64 times; the bound between them is generous on both sides.
import assert from 'node:assert/strict';

const FACTOR = 8;
/** Between linear (8) and quadratic (64): 2.5 times from each. */
const MAX_GROWTH = 24;
/** A run this long is far above the timer's resolution and the cost of one call. */
const MEASURABLE_US = 15_000;
const RUNS = 5;

function cpuMicros<T>(input: T, run: (input: T) => unknown): number {
  let best = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const start = process.cpuUsage();
    run(input);
    const used = process.cpuUsage(start);
    best = Math.min(best, used.user + used.system);
  }
  return best;
}

/**
 * Asserts that `run(build(n))` does work linear (or n log n) in n: `build` makes an input of n
 * items outside the measurement, `run` is what is measured.
 */
export function assertLinear<T>(what: string, build: (n: number) => T, run: (input: T) => unknown, opts: { start?: number; max?: number } = {}): void {
  let n = opts.start ?? 256;
  const max = opts.max ?? 1 << 20;
  let small = cpuMicros(build(n), run);
  while (small < MEASURABLE_US && n * 2 * FACTOR <= max) {
    n *= 2;
    small = cpuMicros(build(n), run);
  }
  const large = cpuMicros(build(n * FACTOR), run);
  const growth = large / Math.max(small, 1);
  assert.ok(
    growth < MAX_GROWTH,
    `${what}: ${FACTOR} times the input took ${growth.toFixed(1)} times the work (${small} µs at n=${n}, ${large} µs at n=${n * FACTOR}); linear work grows about ${FACTOR} times`,
  );
}
