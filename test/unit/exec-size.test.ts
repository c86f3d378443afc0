// What a container's process may be given to exec: execve's limits (MAX_ARG_STRLEN per string,
// ARG_MAX for the whole under the usual 8 MiB stack limit, from the kernel's fs/exec.c and
// include/uapi/linux/binfmts.h) and the count of variables runc 1.1's init sets up in time.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkExecSize } from '../../src/container/exec-size.js';
import { validateContainerConfig } from '../../src/container/validate.js';
import { toContainerConfig } from '../../src/cri/container-convert.js';
import { criServices } from '../../src/cri/proto.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';

/** The kernel's values, written out here rather than read from the module under test. */
const PAGE = 4096;
const KERNEL_MAX_ARG_STRLEN = 32 * PAGE;
const KERNEL_ARG_MAX = (8 * 1024 * 1024) / 4;

const refusal = (field: RegExp) => (err: unknown) => {
  assert.equal((err as { kind?: string }).kind, 'InvalidArgument', String(err));
  assert.match((err as Error).message, field);
  return true;
};

describe('the size of what a container execs', () => {
  it('takes what kubelet sends: a few thousand service-link variables, long arguments', () => {
    const env = Array.from({ length: 7 * 700 }, (_, i) => `SVC_${i}_SERVICE_HOST=10.96.${i % 256}.${i % 200}`);
    checkExecSize([
      { field: 'config.args', values: ['sh', '-c', 'x'.repeat(KERNEL_MAX_ARG_STRLEN - 1)] },
      { field: 'config.envs', values: env, env: true },
    ]);
  });

  it('refuses a string execve refuses, naming its index', () => {
    assert.throws(() => checkExecSize([{ field: 'config.args', values: ['ok', 'x'.repeat(KERNEL_MAX_ARG_STRLEN)] }]), refusal(/config\.args\[1\]/));
    assert.throws(
      () => checkExecSize([{ field: 'config.envs', values: [`A=${'é'.repeat(KERNEL_MAX_ARG_STRLEN / 2)}`], env: true }]),
      refusal(/config\.envs\[0\]/),
      'bytes, not characters',
    );
  });

  it('refuses more than execve takes in all', () => {
    const big = 'x'.repeat(KERNEL_MAX_ARG_STRLEN / 2);
    const values = Array.from({ length: Math.ceil(KERNEL_ARG_MAX / big.length) + 1 }, () => big);
    assert.throws(
      () =>
        checkExecSize([
          { field: 'config.command', values },
          { field: 'config.envs', values: [], env: true },
        ]),
      refusal(/config\.command, config\.envs/),
    );
  });

  it("refuses the 50,000 variables runc 1.1's create hung on (1 MB, far below execve's limit)", () => {
    const env = Array.from({ length: 50_000 }, (_, i) => `V${i}=1`);
    assert.throws(() => checkExecSize([{ field: 'config.envs', values: env, env: true }]), refusal(/config\.envs/));
  });

  it('is checked on CreateContainer, naming the request field', () => {
    // Through the real decoder and converter: what the handler hands the service.
    const m = criServices().runtime['CreateContainer']!;
    const envs = Array.from({ length: 50_000 }, (_, i) => ({ key: `V${i}`, value: '1' }));
    const req = m.requestDeserialize(
      m.requestSerialize({ pod_sandbox_id: 'p', config: { metadata: { name: 'c' }, image: { image: 'busybox' }, envs } }),
    ) as CreateContainerRequest__Output;
    assert.throws(() => validateContainerConfig(toContainerConfig(req.config)), refusal(/^config\.envs: /));
  });
});
