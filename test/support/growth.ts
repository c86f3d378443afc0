// How the work of a function grows with its input, without a wall-clock threshold: the same
// function on n and 8n items, in CPU time of this process (what other processes on a loaded machine
// take does not count), the best of several batches (a GC pause or a preemption inflates one batch,
// not all), each batch long enough to measure. The cost of a call on one item is taken off both, so
// a fixed cost cannot hide a quadratic term; n grows only until the per-item work dominates, so a
// quadratic function is caught at a small n and never runs for minutes, and inputs stay small
// enough that the young generation holds them (a major GC would bill the large input alone).
// Linear work grows about 8 times (n log n a little more), quadratic work 64 times; the bound
// between them is generous on both sides.
import assert from 'node:assert/strict';

const FACTOR = 8;
/** Between linear (8, up to 16 measured where the larger input leaves the caches) and quadratic (64). */
const MAX_GROWTH = 32;
/** A batch this long is far above the timer's resolution. */
const MEASURABLE_US = 10_000;
const BATCHES = 5;

/** CPU µs one call of `run(input)` takes: calls are batched until a batch is measurable. */
function perCall<T>(input: T, run: (input: T) => unknown): number {
  const batch = (reps: number): number => {
    const start = process.cpuUsage();
    for (let i = 0; i < reps; i++) run(input);
    const used = process.cpuUsage(start);
    return used.user + used.system;
  };
  let reps = 1;
  while (batch(reps) < MEASURABLE_US) reps *= 2;
  let best = Infinity;
  for (let i = 0; i < BATCHES; i++) best = Math.min(best, batch(reps));
  return best / reps;
}

/**
 * Asserts that `run(build(n))` does work linear (or n log n) in n: `build` makes an input of n
 * items outside the measurement, `run` is what is measured; `max` bounds the largest n built.
 */
export function assertLinear<T>(what: string, build: (n: number) => T, run: (input: T) => unknown, opts: { max?: number } = {}): void {
  const max = opts.max ?? 1 << 16;
  const fixed = perCall(build(1), run);
  let n = 1024;
  let small = perCall(build(n), run);
  while (small < 10 * fixed && n * 2 * FACTOR <= max) {
    n *= 2;
    small = perCall(build(n), run);
  }
  const large = perCall(build(n * FACTOR), run);
  const growth = (large - fixed) / Math.max(small - fixed, 0.001);
  const figures = `${fixed.toFixed(1)} µs for 1 item, ${small.toFixed(1)} µs for ${n}, ${large.toFixed(1)} µs for ${n * FACTOR}`;
  assert.ok(
    growth < MAX_GROWTH,
    `${what}: ${FACTOR} times the items took ${growth.toFixed(1)} times the work (${figures}); linear work grows about ${FACTOR} times`,
  );
  if (process.env.GROWTH_VERBOSE) console.log(`${what}: growth ${growth.toFixed(1)} (${figures})`);
}
