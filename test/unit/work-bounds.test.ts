// Work per request grows linearly with every list an attacker controls: an image's Env, a
// request's envs. Each case builds its input as a hostile image or client would.
import { describe, it } from 'node:test';
import { assertLinear } from '../support/growth.js';
import { containerEnv } from '../../src/oci/container-spec.js';

describe('work on untrusted lists is linear', () => {
  it("merges an image's Env of n distinct variables and a request's n envs", () => {
    // The image sets n variables; the request overrides half and sets as many new ones, and the
    // image unsets some of its own by naming them bare (containerd's rule).
    assertLinear(
      'containerEnv',
      (n) => ({
        image: { Env: Array.from({ length: n }, (_, i) => (i % 10 === 9 ? `V${i - 1}` : `V${i}=${i}`)) },
        envs: Array.from({ length: n }, (_, i) => ({ key: `V${i * 2}`, value: 'x' })),
      }),
      (x) => containerEnv({ envs: x.envs, tty: false }, x.image, 'h'),
    );
  });
});
