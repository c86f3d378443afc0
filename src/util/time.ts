/** Now in nanoseconds since the epoch, as a decimal string (CRI int64; beyond 2^53, so no Number). */
export function nowNanos(): string {
  return (BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)).toString();
}
