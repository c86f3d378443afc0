// Kubernetes resource quantities ("500m", "1", "0.5", "64Mi", "1G", "1e3"), parsed exactly (BigInt,
// no floating point) and rounded up the way resource.Quantity's MilliValue() and Value() round.
// Pure: no I/O.

/** A quantity as an exact fraction: num / den, never negative. */
export interface Quantity {
  num: bigint;
  den: bigint;
  /** As written, for messages. */
  text: string;
}

const NUMBER = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

const binary: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const decimalExp: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** Parses a quantity; returns a reason when it is not one (or is negative). */
export function parseQuantity(value: unknown): Quantity | string {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `${value} is not a quantity`;
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    return `expected a quantity (e.g. "500m", "1", "64Mi"), got ${describe(value)}`;
  }
  const m = NUMBER.exec(text);
  if (!m) return `"${text}" is not a quantity (e.g. "500m", "1", "64Mi", "1G")`;
  // Stryker disable next-line StringLiteral: for the type only (the digits group takes part in every match)
  const [, sign, digits = '', suffix, exp] = m;
  // "1.25" is 125 / 10^2: the digits without the point over 10 to the number of digits after it.
  const point = digits.indexOf('.');
  let num = BigInt(digits.replace('.', ''));
  let den = 10n ** BigInt(point < 0 ? 0 : digits.length - point - 1);
  if (sign === '-' && num !== 0n) return `"${text}" is negative`;
  const factor = suffix === undefined ? undefined : binary[suffix];
  if (factor !== undefined) {
    num *= factor;
  } else {
    const e = exp !== undefined ? Number(exp) : (decimalExp[suffix ?? ''] ?? 0);
    if (Math.abs(e) > 40) return `"${text}" is out of range`;
    if (e >= 0) num *= 10n ** BigInt(e);
    else den *= 10n ** BigInt(-e);
  }
  return { num, den, text };
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/** Thousandths, rounded up (resource.Quantity.MilliValue): "500m" → 500, "1" → 1000, "0.1" → 100. */
export function milliValue(q: Quantity): bigint {
  return ceilDiv(q.num * 1000n, q.den);
}

/** The integer value, rounded up (resource.Quantity.Value): "64Mi" → 67108864, "1G" → 1000000000. */
export function intValue(q: Quantity): bigint {
  return ceilDiv(q.num, q.den);
}

/** a <= b, exactly. */
export function quantityLE(a: Quantity, b: Quantity): boolean {
  return a.num * b.den <= b.num * a.den;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? `${typeof v} ${v}` : typeof v;
}

// kubelet's constants (pkg/kubelet/cm/helpers_linux.go).
export const MIN_SHARES = 2n;
export const MAX_SHARES = 262144n;
export const QUOTA_PERIOD = 100000n;
export const MIN_QUOTA_PERIOD = 1000n;

/** kubelet's MilliCPUToShares: 0 (no request) → 2; else millis*1024/1000 clamped to [2, 262144]. */
export function milliCpuToShares(milli: bigint): bigint {
  const shares = (milli * 1024n) / 1000n;
  if (shares < MIN_SHARES) return MIN_SHARES;
  if (shares > MAX_SHARES) return MAX_SHARES;
  return shares;
}

/** kubelet's milliCPUToQuota: 0 (no limit) → 0; else millis*period/1000, at least 1000. */
export function milliCpuToQuota(milli: bigint, period: bigint = QUOTA_PERIOD): bigint {
  if (milli === 0n) return 0n;
  const quota = (milli * period) / 1000n;
  return quota < MIN_QUOTA_PERIOD ? MIN_QUOTA_PERIOD : quota;
}
