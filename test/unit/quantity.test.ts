// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource): the serialization format
// (<signedNumber><suffix>: binarySI Ki..Ei, decimalSI n u m "" k M G T P E, or an e/E exponent),
// MilliValue() and Value() rounding up, the comparison behind "requests <= limits", and kubelet's
// CPU shares and quota (pkg/kubelet/cm/helpers_linux.go). Imports quantity.ts alone, so the
// run-parsing mutation suite runs it for that module's mutants (test/mutation.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  describe as describeValue,
  intValue,
  milliCpuToQuota,
  milliCpuToShares,
  milliValue,
  parseQuantity,
  quantityLE,
  type Quantity,
} from '../../src/kube/quantity/quantity.js';

const q = (v: unknown): Quantity => {
  const r = parseQuantity(v);
  assert.ok(typeof r !== 'string', `${String(v)}: ${r as string}`);
  return r;
};
/** The exact value as a fraction num/den, reduced to compare (1.5 → "3/2"). */
const exact = (v: unknown): string => {
  const { num, den } = q(v);
  const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
  const g = gcd(num, den) || 1n;
  return `${num / g}/${den / g}`;
};

describe('quantities: the serialization format', () => {
  it('reads every suffix with its factor: binarySI powers of 2^10, decimalSI powers of 10^3', () => {
    const binary = ['Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
    binary.forEach((s, i) => assert.equal(exact(`1${s}`), `${1n << BigInt(10 * (i + 1))}/1`, s));
    const decimal: [string, number][] = [
      ['n', -9],
      ['u', -6],
      ['m', -3],
      ['', 0],
      ['k', 3],
      ['M', 6],
      ['G', 9],
      ['T', 12],
      ['P', 15],
      ['E', 18],
    ];
    for (const [s, e] of decimal) assert.equal(exact(`1${s}`), e >= 0 ? `${10n ** BigInt(e)}/1` : `1/${10n ** BigInt(-e)}`, s || '(none)');
  });

  it('reads a decimal exponent, e or E, with or without a sign', () => {
    assert.equal(exact('1e3'), '1000/1');
    assert.equal(exact('1E3'), '1000/1');
    assert.equal(exact('1e+3'), '1000/1');
    assert.equal(exact('1e-3'), '1/1000');
    assert.equal(exact('2.5e2'), '250/1');
    assert.equal(exact('129e6'), '129000000/1');
    assert.equal(exact('1e0'), '1/1');
  });

  it('reads the number forms of the grammar: digits, digits.digits, digits., .digits, a sign', () => {
    assert.equal(exact('12'), '12/1');
    assert.equal(exact('1.5'), '3/2');
    assert.equal(exact('0.125'), '1/8');
    assert.equal(exact('1.'), '1/1');
    assert.equal(exact('.5'), '1/2');
    assert.equal(exact('.25'), '1/4');
    assert.equal(exact('10.05'), '201/20');
    assert.equal(exact('.5Ki'), '512/1');
    assert.equal(exact('1.5Gi'), `${1536n << 20n}/1`);
    assert.equal(exact('+5'), '5/1');
    assert.equal(exact('007'), '7/1');
    assert.equal(exact('-0'), '0/1', 'minus zero is zero, not negative');
    assert.equal(exact('0'), '0/1');
  });

  it('takes YAML numbers, and strings with the surrounding spaces Quantity.UnmarshalJSON trims', () => {
    assert.equal(exact(1), '1/1');
    assert.equal(exact(0.5), '1/2');
    assert.equal(exact(1e21), `${10n ** 21n}/1`);
    assert.equal(exact(' 64Mi '), `${64n << 20n}/1`);
    assert.equal(q(' 64Mi ').text, '64Mi', 'the text as read, for messages');
    assert.equal(q('500m').text, '500m');
  });

  it('refuses what the grammar does not have, naming the value', () => {
    const bad = [
      '',
      ' ',
      'abc',
      '.',
      '1.2.3',
      '64MB',
      '1 Gi',
      'Mi',
      '1K',
      '1mi',
      '1e',
      '1e+',
      '1e1.5',
      'e3',
      '1Ki1',
      'x1',
      '1x',
      '--1',
      '+-1',
      '0x10',
      '1,5',
      'Infinity',
    ];
    for (const v of bad) {
      const r = parseQuantity(v);
      assert.equal(typeof r, 'string', `"${v}" must be refused`);
      assert.match(r as string, /is not a quantity/, v);
      assert.ok((r as string).includes(`"${v.trim()}"`), `${v}: the message names the value: ${r as string}`);
    }
  });

  it('refuses negative quantities (a request or limit is never below 0)', () => {
    for (const v of ['-1', '-0.5', '-1Mi', '-1e3', '-1m']) assert.equal(parseQuantity(v), `"${v}" is negative`);
    assert.equal(parseQuantity(-1), '"-1" is negative');
  });

  it('refuses an exponent no resource has, before doing the arithmetic (1e999999999 is no work)', () => {
    for (const v of ['1e999999999', '1e-999999999', '1E100']) assert.match(parseQuantity(v) as string, new RegExp(`^"${v}" is out of range$`));
    // Every suffix of the grammar stays within range: 1E = 1e18, 1n = 1e-9.
    assert.equal(exact('1e18'), exact('1E'));
    assert.equal(exact('1e-9'), exact('1n'));
  });

  it('refuses what is not a string or a number, saying what it got', () => {
    assert.equal(parseQuantity(true), 'expected a quantity (e.g. "500m", "1", "64Mi"), got boolean true');
    assert.equal(parseQuantity(null), 'expected a quantity (e.g. "500m", "1", "64Mi"), got null');
    assert.equal(parseQuantity([1]), 'expected a quantity (e.g. "500m", "1", "64Mi"), got a list');
    assert.equal(parseQuantity({ a: 1 }), 'expected a quantity (e.g. "500m", "1", "64Mi"), got a map');
    assert.equal(parseQuantity(undefined), 'expected a quantity (e.g. "500m", "1", "64Mi"), got undefined');
    assert.equal(parseQuantity(Infinity), 'Infinity is not a quantity');
    assert.equal(parseQuantity(NaN), 'NaN is not a quantity');
  });
});

describe('quantities: MilliValue, Value and comparison', () => {
  it('MilliValue: thousandths, rounded up', () => {
    assert.equal(milliValue(q('500m')), 500n);
    assert.equal(milliValue(q('1')), 1000n);
    assert.equal(milliValue(q(1)), 1000n);
    assert.equal(milliValue(q(0.5)), 500n);
    assert.equal(milliValue(q('1.5')), 1500n);
    assert.equal(milliValue(q('0.1m')), 1n, 'a fraction of a thousandth rounds up');
    assert.equal(milliValue(q('1n')), 1n);
    assert.equal(milliValue(q('1001u')), 2n);
    assert.equal(milliValue(q('1000u')), 1n, 'exact: no rounding');
    assert.equal(milliValue(q('2k')), 2_000_000n);
    assert.equal(milliValue(q('1e-3')), 1n);
    assert.equal(milliValue(q('0')), 0n);
  });

  it('Value: the integer, rounded up', () => {
    assert.equal(intValue(q('64Mi')), 67_108_864n);
    assert.equal(intValue(q('1G')), 1_000_000_000n);
    assert.equal(intValue(q('1Gi')), 1_073_741_824n);
    assert.equal(intValue(q('1.5Ki')), 1536n);
    assert.equal(intValue(q('128974848')), 128_974_848n);
    assert.equal(intValue(q('123Mi')), 128_974_848n);
    assert.equal(intValue(q('100m')), 1n, 'a fraction rounds up');
    assert.equal(intValue(q('1001m')), 2n);
    assert.equal(intValue(q('1000m')), 1n, 'exact: no rounding');
    assert.equal(intValue(q('0')), 0n);
    assert.equal(intValue(q('1Ei')), 1n << 60n);
  });

  it('compares exactly, across suffixes (a request must not exceed its limit)', () => {
    assert.equal(quantityLE(q('500m'), q('1')), true);
    assert.equal(quantityLE(q('1'), q('1000m')), true, 'equal counts');
    assert.equal(quantityLE(q('1000m'), q('1')), true);
    assert.equal(quantityLE(q('1001m'), q('1')), false);
    assert.equal(quantityLE(q('1Ki'), q('1k')), false, '1024 > 1000');
    assert.equal(quantityLE(q('1k'), q('1Ki')), true);
    assert.equal(quantityLE(q('0.5'), q('0.4')), false);
    assert.equal(quantityLE(q('1.5'), q('1.25')), false, 'both fractions');
    assert.equal(quantityLE(q('1.25'), q('1.5')), true);
  });
});

describe("quantities: kubelet's CPU shares and quota", () => {
  it('MilliCPUToShares: millis × 1024 / 1000, clamped to [2, 262144]; no request is the minimum', () => {
    assert.equal(milliCpuToShares(0n), 2n, 'no request: the minimum');
    assert.equal(milliCpuToShares(1n), 2n);
    assert.equal(milliCpuToShares(2n), 2n, '2 × 1024 / 1000 = 2');
    assert.equal(milliCpuToShares(3n), 3n);
    assert.equal(milliCpuToShares(500n), 512n);
    assert.equal(milliCpuToShares(1000n), 1024n);
    assert.equal(milliCpuToShares(256_000n), 262_144n, 'exactly the maximum');
    assert.equal(milliCpuToShares(256_001n), 262_144n, 'capped');
    assert.equal(milliCpuToShares(255_999n), 262_142n);
    assert.equal(milliCpuToShares(1_000_000n), 262_144n, 'capped');
  });

  it('milliCPUToQuota: millis × period / 1000, at least 1000 µs; no limit is no quota', () => {
    assert.equal(milliCpuToQuota(0n), 0n, 'no limit: no quota');
    assert.equal(milliCpuToQuota(500n), 50_000n);
    assert.equal(milliCpuToQuota(1n), 1000n, 'at least the minimum quota');
    assert.equal(milliCpuToQuota(10n), 1000n, 'exactly the minimum');
    assert.equal(milliCpuToQuota(11n), 1100n);
    assert.equal(milliCpuToQuota(250n, 50_000n), 12_500n, 'another period');
  });

  it('describes a value that is not a quantity for messages', () => {
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue([]), 'a list');
    assert.equal(describeValue({}), 'a map');
    assert.equal(describeValue('x'), 'the string "x"');
    assert.equal(describeValue(3), 'number 3');
    assert.equal(describeValue(false), 'boolean false');
    assert.equal(describeValue(5n), 'bigint 5');
    assert.equal(describeValue(undefined), 'undefined');
  });
});
