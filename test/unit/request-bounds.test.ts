// Requests and image configs built as an attacker builds them, through the real protobuf encoder
// and decoder: what runc or the kernel would refuse only after a container's files exist, and
// what would make a reply larger than kubelet reads, is refused up front, naming the field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { criServices } from '../../src/cri/proto.js';
import { toContainerConfig } from '../../src/cri/container-convert.js';
import { toSandboxConfig } from '../../src/cri/sandbox-convert.js';
import type { ContainerConfig } from '../../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';
import type { PodSandboxConfig } from '../../src/cri/generated/runtime/v1/PodSandboxConfig.js';
import type { RunPodSandboxRequest__Output } from '../../src/cri/generated/runtime/v1/RunPodSandboxRequest.js';
import { cpusetRanges, validateContainerConfig, validateCpusetsOnNode, validateResources } from '../../src/container/validate.js';
import { validateSandboxConfig } from '../../src/sandbox/validate.js';
import { parseImageConfig } from '../../src/image/image-config.js';
import { CribError } from '../../src/util/errors.js';

const invalid = (f: () => unknown, msg: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && msg.test(e.message));

function createContainer(extra: Partial<ContainerConfig>) {
  const m = criServices().runtime['CreateContainer']!;
  const config: ContainerConfig = { metadata: { name: 'c' }, image: { image: 'busybox' }, command: ['sh'], ...extra };
  const req = m.requestDeserialize(m.requestSerialize({ pod_sandbox_id: 'p', config })) as CreateContainerRequest__Output;
  return toContainerConfig(req.config);
}

function runPodSandbox(extra: Partial<PodSandboxConfig>) {
  const m = criServices().runtime['RunPodSandbox']!;
  const config: PodSandboxConfig = { metadata: { name: 'p', namespace: 'default', uid: 'u' }, ...extra };
  const req = m.requestDeserialize(m.requestSerialize({ config })) as RunPodSandboxRequest__Output;
  return toSandboxConfig(req.config, '');
}

/** n entries of keys and values together `bytes` long. */
const metadata = (n: number, bytes: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`.padEnd(8, '-'), 'v'.repeat(bytes / n - 8)]));

describe('labels and annotations are bounded as Kubernetes bounds an object', () => {
  // The API server takes at most 256 KiB of annotations per object; a pod's reach the sandbox as they are.
  const K8S_ANNOTATIONS = 256 * 1024;
  it('refuses two 10 MB annotations on RunPodSandbox and CreateContainer, naming the field', () => {
    const huge = metadata(2, 20 * 1024 * 1024);
    invalid(() => validateSandboxConfig(runPodSandbox({ annotations: huge })), /^config\.annotations: \d+ bytes/);
    invalid(() => validateSandboxConfig(runPodSandbox({ labels: huge })), /^config\.labels: \d+ bytes/);
    invalid(() => validateContainerConfig(createContainer({ annotations: huge })), /^config\.annotations: \d+ bytes/);
    invalid(() => validateContainerConfig(createContainer({ labels: huge })), /^config\.labels: \d+ bytes/);
  });
  it('takes what the API server takes, and refuses a byte more', () => {
    validateSandboxConfig(runPodSandbox({ annotations: metadata(64, K8S_ANNOTATIONS), labels: metadata(64, K8S_ANNOTATIONS) }));
    validateContainerConfig(createContainer({ annotations: metadata(64, K8S_ANNOTATIONS) }));
    const over = { ...metadata(64, K8S_ANNOTATIONS), x: '' };
    invalid(() => validateSandboxConfig(runPodSandbox({ annotations: over })), /^config\.annotations/);
    invalid(() => validateContainerConfig(createContainer({ labels: over })), /^config\.labels/);
  });
});

describe('what runc refuses only after the container exists is refused first', () => {
  it('an env name or value with NUL', () => {
    invalid(() => validateContainerConfig(createContainer({ envs: [{ key: 'A\0B', value: 'x' }] })), /^config\.envs\[0\]\.key: must not contain NUL/);
    invalid(
      () =>
        validateContainerConfig(
          createContainer({
            envs: [
              { key: 'OK', value: '1' },
              { key: 'A', value: 'x\0y' },
            ],
          }),
        ),
      /^config\.envs\[1\]\.value: must not contain NUL/,
    );
    validateContainerConfig(createContainer({ envs: [{ key: 'A', value: '' }] }));
  });
  it("an image config's argument, variable or string with NUL", () => {
    const config = (c: object) => Buffer.from(JSON.stringify({ config: c, rootfs: { type: 'layers', diff_ids: [] } }));
    for (const k of ['Env', 'Cmd', 'Entrypoint']) {
      invalid(() => parseImageConfig(config({ [k]: ['A=1', 'B=\u0000'] }), 'config'), new RegExp(`config\\.${k}: holds a NUL`));
    }
    invalid(() => parseImageConfig(config({ WorkingDir: '/a\u0000' }), 'config'), /config\.WorkingDir: holds a NUL/);
    assert.deepEqual(parseImageConfig(config({ Env: ['A=1'] }), 'config').config, { Env: ['A=1'] });
  });
  it('a cpu or node list out of order or past a safe integer', () => {
    for (const cpuset_cpus of ['1-0', '0-99999999999999999999', '0,', '-1', ' 0']) {
      invalid(() => validateContainerConfig(createContainer({ linux: { resources: { cpuset_cpus } } })), /^config\.linux\.resources\.cpuset_cpus/);
    }
    invalid(() => validateResources('linux', { cpusetMems: '3-2' }), /^linux\.cpuset_mems/);
    assert.deepEqual(cpusetRanges('0-3,5,7-7'), [
      [0, 3],
      [5, 5],
      [7, 7],
    ]);
  });
  it('a CPU or memory node the node does not have online', () => {
    const node = { cpus: '0-1,4-5', mems: '0' };
    validateCpusetsOnNode('linux', { cpusetCpus: '0,1,4-5', cpusetMems: '0' }, node);
    invalid(() => validateCpusetsOnNode('linux', { cpusetCpus: '0-100000' }, node), /^linux\.cpuset_cpus: "0-100000" names CPUs 0-100000/);
    invalid(() => validateCpusetsOnNode('linux', { cpusetCpus: '1-4' }, node), /^linux\.cpuset_cpus/);
    invalid(() => validateCpusetsOnNode('linux', { cpusetCpus: '7' }, node), /^linux\.cpuset_cpus/);
    invalid(() => validateCpusetsOnNode('config.linux.resources', { cpusetMems: '3' }, node), /^config\.linux\.resources\.cpuset_mems/);
  });
  it("a memory limit below what runc's own init needs (CRI-O's 12 MiB)", () => {
    for (const memory_limit_in_bytes of [1, 4096, 1 << 20, 12 * 1024 * 1024 - 1]) {
      invalid(
        () => validateContainerConfig(createContainer({ linux: { resources: { memory_limit_in_bytes } } })),
        /^config\.linux\.resources\.memory_limit_in_bytes/,
      );
    }
    validateContainerConfig(createContainer({ linux: { resources: { memory_limit_in_bytes: 12 * 1024 * 1024 } } }));
  });
});
