/** The wall clock minus hrtime: hrtime gives the nanoseconds, the wall clock where they sit. */
let anchor: bigint | undefined;
let lastNanos = 0n;
/** A wall clock this far from hrtime's reckoning was stepped: re-anchored. */
const CLOCK_STEP_NS = 1_000_000_000n;

/**
 * Now in nanoseconds since the epoch, as a decimal string (CRI int64; beyond 2^53, so no Number).
 * Each answer is above the one before: events and records are ordered by these times, and calls
 * now come within the same millisecond.
 */
export function nowNanos(): string {
  const wall = BigInt(Date.now()) * 1_000_000n;
  const mono = process.hrtime.bigint();
  if (anchor === undefined) anchor = wall - mono;
  const drift = anchor + mono - wall;
  if (drift > CLOCK_STEP_NS || drift < -CLOCK_STEP_NS) anchor = wall - mono;
  let t = anchor + mono;
  if (t <= lastNanos) t = lastNanos + 1n;
  lastNanos = t;
  return t.toString();
}

/** setTimeout's ceiling (2^31-1 ms, about 24.8 days): a longer delay would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Orders two nanosecond times as nowNanos writes them (decimal strings without leading zeros) by
 * their digits: no BigInt per comparison, which a list call's sort makes n log n of.
 */
export function compareNanos(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
