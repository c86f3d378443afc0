// An image's User field as ImageStatus reports it (src/cri/image-service.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { imageUser } from '../../src/cri/image-service.js';

describe('image user', () => {
  it('splits numeric uids from names', () => {
    assert.deepEqual(imageUser('1000:1000'), { uid: '1000', username: '' });
    assert.deepEqual(imageUser('nobody'), { username: 'nobody' });
    assert.deepEqual(imageUser(''), { username: '' });
  });
});
