// RunPodSandbox's request rules (src/sandbox/validate.ts): what protects the node is refused, naming
// the CRI field; what is the API server's business is not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SandboxConfig } from '../../src/sandbox/types.js';
import { validateSandboxConfig } from '../../src/sandbox/validate.js';
import { validateId } from '../../src/util/validate.js';
import type { CribError } from '../../src/util/errors.js';

const base: SandboxConfig = {
  metadata: { name: 'web', uid: 'u1', namespace: 'default', attempt: 0 },
  hostname: 'web',
  logDirectory: '/var/log/pods/x',
  portMappings: [],
  labels: {},
  annotations: {},
  cgroupParent: '',
  sysctls: {},
  namespaces: { network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' },
  runtimeHandler: '',
};

const invalid = (c: Partial<SandboxConfig>, field: RegExp) =>
  assert.throws(
    () => validateSandboxConfig({ ...base, ...c }),
    (e: CribError) => e.kind === 'InvalidArgument' && field.test(e.message),
  );

describe('sandbox config validation', () => {
  it('accepts a kubelet-like config', () => validateSandboxConfig(base));
  it('names the field at fault', () => {
    invalid({ metadata: { ...base.metadata, name: '' } }, /^config\.metadata\.name/);
    invalid({ metadata: { ...base.metadata, namespace: 'a;K8S_POD_NAME=other' } }, /^config\.metadata\.namespace.*CNI_ARGS/);
    invalid({ metadata: { ...base.metadata, uid: 'u;x' } }, /^config\.metadata\.uid/);
    invalid({ metadata: { ...base.metadata, name: 'web\nINFO forged' } }, /^config\.metadata\.name.*control/);
    invalid({ hostname: 'two words' }, /^config\.hostname/);
    invalid({ hostname: 'a'.repeat(65) }, /^config\.hostname.*64 bytes/);
    invalid({ logDirectory: 'rel' }, /^config\.log_directory/);
    invalid({ logDirectory: '/a/../b' }, /^config\.log_directory/);
    invalid({ portMappings: [{ hostPort: 70000, containerPort: 80, protocol: 'tcp' }] }, /port_mappings\[0\]\.host_port/);
    invalid({ portMappings: [{ hostPort: -8080, containerPort: 80, protocol: 'tcp' }] }, /port_mappings\[0\]\.host_port/);
    invalid({ namespaces: { ...base.namespaces, network: 'CONTAINER' } }, /namespace_options\.network/);
    invalid({ namespaces: { ...base.namespaces, pid: 'TARGET' } }, /namespace_options\.pid/);
    invalid({ cgroupParent: 'kubepods.slice' }, /cgroup_parent/);
    invalid({ cgroupParent: '/kubepods.slice' }, /cgroup_parent/);
    invalid({ sysctls: { 'vm.swappiness': '1' } }, /sysctls\[vm\.swappiness\]/);
    invalid({ sysctls: { 'kernel.shmmax': '1' }, namespaces: { ...base.namespaces, ipc: 'NODE' } }, /sysctls\[kernel\.shmmax\]/);
  });
  it('leaves naming rules to the API server, as containerd and CRI-O do', () => {
    // critest's names are longer than a DNS label; the kernel takes any 64-byte hostname.
    validateSandboxConfig({ ...base, metadata: { ...base.metadata, name: `podsandbox-for-test-${'x'.repeat(90)}`, uid: '' } });
    validateSandboxConfig({ ...base, hostname: 'A_host-name.'.padEnd(64, 'z') });
    validateSandboxConfig({ ...base, hostname: '' });
  });
  it('allows namespaced sysctls in either separator style', () => {
    validateSandboxConfig({ ...base, sysctls: { 'net/ipv4/ip_forward': '1', 'kernel.sem': '250 32000 32 128', 'fs.mqueue.msg_max': '20' } });
  });
  it('checks ids', () => {
    validateId('id', 'abc123');
    assert.throws(() => validateId('pod_sandbox_id', '../x'), /pod_sandbox_id/);
    assert.throws(() => validateId('pod_sandbox_id', ''), /must not be empty/);
  });
});
