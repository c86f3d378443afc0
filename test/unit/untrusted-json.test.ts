// JSON from a container, an image or a user (src/util/json.ts): errors say where, never the content.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CribError } from '../../src/util/errors.js';
import { parseUntrustedJson } from '../../src/util/json.js';

describe('untrusted JSON', () => {
  it('says what was read and where it broke, never the content', () => {
    assert.deepEqual(parseUntrustedJson('{"a":1}', 'x'), { a: 1 });
    assert.throws(
      () => parseUntrustedJson(Buffer.from('root:x:0:0:root:/root:/bin/bash\n'), 'seccomp profile /etc/passwd'),
      (e: unknown) =>
        e instanceof CribError &&
        e.kind === 'InvalidArgument' &&
        /^seccomp profile \/etc\/passwd is not valid JSON/.test(e.message) &&
        !e.message.includes('root:x'),
    );
  });
});
