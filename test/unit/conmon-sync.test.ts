// conmon's sync pipe (src/oci/conmon.ts): the pid, or the runtime's failure message.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSyncMessage } from '../../src/oci/conmon.js';

describe('conmon sync pipe', () => {
  it('reads the pid, or the failure message even when it holds braces', () => {
    assert.deepEqual(parseSyncMessage('{"data": 42}\n'), { message: { data: 42 }, rest: '' });
    assert.deepEqual(parseSyncMessage('{"data": -1, "message": "bad {x}"}\n'), { message: { data: -1, message: 'bad {x}' }, rest: '' });
    assert.equal(parseSyncMessage('{"data": 4'), undefined);
    // Two messages may come in one read.
    assert.deepEqual(parseSyncMessage('{"data": 4242}\n{"data": 3}\n'), { message: { data: 4242 }, rest: '{"data": 3}\n' });
  });
});
