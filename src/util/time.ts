/** Now in nanoseconds since the epoch, as a decimal string (CRI int64; beyond 2^53, so no Number). */
export function nowNanos(): string {
  return (BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)).toString();
}

/** setTimeout's ceiling (2^31-1 ms, about 24.8 days): a longer delay would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
