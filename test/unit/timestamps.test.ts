// The CRI's nanosecond timestamps (src/util/time.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nowNanos } from '../../src/util/time.js';

describe('timestamps', () => {
  it('rise with every call, on the wall clock', () => {
    let last = 0n;
    for (let i = 0; i < 20_000; i++) {
      const t = BigInt(nowNanos());
      assert.ok(t > last, `${t} after ${last}`);
      last = t;
    }
    const skew = Number(last / 1_000_000n) - Date.now();
    assert.ok(Math.abs(skew) < 1000, `${skew} ms from Date.now()`);
  });
});
