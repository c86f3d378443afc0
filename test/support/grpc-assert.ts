import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';

/** Asserts that a CRI call fails with `code` and, when given, a message matching `msg`. */
export async function rejectsWith(p: Promise<unknown>, code: grpc.status, msg?: RegExp): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
    if (msg) assert.match(err.details, msg);
    return true;
  });
}
