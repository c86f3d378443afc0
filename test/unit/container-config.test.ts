// CreateContainer's request: conversion from the CRI message and validation. No root, no daemon.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toContainerConfig } from '../../src/cri/container-convert.js';
import { criServices } from '../../src/cri/proto.js';
import type { ContainerConfig } from '../../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';
import type { SecurityProfile } from '../../src/cri/generated/runtime/v1/SecurityProfile.js';
import type { LinuxContainerSecurityContext } from '../../src/cri/generated/runtime/v1/LinuxContainerSecurityContext.js';
import { containerLogPath, validateContainerConfig, validateResources } from '../../src/container/validate.js';
import { CribError } from '../../src/util/errors.js';

const invalid = (f: () => unknown, msg: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && msg.test(e.message));

/** A CreateContainer request through the real encoder and decoder: what a handler receives. */
function request(name: string, security_context?: LinuxContainerSecurityContext): CreateContainerRequest__Output['config'] {
  const config: ContainerConfig = { metadata: { name }, image: { image: 'busybox' }, command: ['sh'], linux: { security_context } };
  const m = criServices().runtime['CreateContainer']!;
  return (m.requestDeserialize(m.requestSerialize({ pod_sandbox_id: 'p', config })) as CreateContainerRequest__Output).config;
}

const convert = (sec: LinuxContainerSecurityContext) => toContainerConfig(request('c', sec));

describe('container names', () => {
  it('takes names longer than a DNS label, as containerd and CRI-O do (critest sends them)', () => {
    validateContainerConfig(toContainerConfig(request(`container-for-create-test-${'0123456789'.repeat(8)}`)));
  });
  it('refuses an empty name and control characters', () => {
    invalid(() => validateContainerConfig(toContainerConfig(request(''))), /^config\.metadata\.name: must not be empty/);
    invalid(() => validateContainerConfig(toContainerConfig(request('a\u001b[2Jb'))), /^config\.metadata\.name.*control/);
  });
});

describe('container security context', () => {
  it('refuses run_as_group without a user, as containerd does', () => {
    invalid(() => validateContainerConfig(convert({ run_as_group: { value: '1002' } })), /^config\.linux\.security_context\.run_as_group/);
    validateContainerConfig(convert({ run_as_group: { value: '1002' }, run_as_user: { value: '1000' } }));
    validateContainerConfig(convert({ run_as_group: { value: '1002' }, run_as_username: 'www-data' }));
  });
  it('reads the deprecated seccomp_profile_path and refuses a path without localhost/', () => {
    assert.deepEqual(convert({ seccomp_profile_path: '' }).security.seccomp, { type: 'Unconfined' });
    assert.deepEqual(convert({ seccomp_profile_path: 'unconfined' }).security.seccomp, { type: 'Unconfined' });
    assert.deepEqual(convert({ seccomp_profile_path: 'docker/default' }).security.seccomp, { type: 'RuntimeDefault' });
    assert.deepEqual(convert({ seccomp_profile_path: 'runtime/default' }).security.seccomp, { type: 'RuntimeDefault' });
    assert.deepEqual(convert({ seccomp_profile_path: 'localhost//etc/p.json' }).security.seccomp, { type: 'Localhost', path: '//etc/p.json' });
    invalid(() => convert({ seccomp_profile_path: '/tmp/block-host-name.json' }), /^config\.linux\.security_context\.seccomp_profile_path/);
  });
  it('reads the seccomp field first and refuses an unknown profile type', () => {
    const field = (profile_type: SecurityProfile['profile_type'], localhost_ref = '') =>
      convert({ seccomp: { profile_type, localhost_ref }, seccomp_profile_path: 'bogus' });
    assert.deepEqual(field(0).security.seccomp, { type: 'RuntimeDefault' });
    assert.deepEqual(field(1).security.seccomp, { type: 'Unconfined' });
    assert.deepEqual(field(2, '/p.json').security.seccomp, { type: 'Localhost', path: '/p.json' });
    invalid(() => field(2, 'p.json'), /seccomp\.localhost_ref/);
    invalid(() => field(7 as SecurityProfile['profile_type']), /seccomp\.profile_type/); // a value newer than this proto
  });
});

describe('container log path', () => {
  it('keeps the log inside the log directory, even when that is /', () => {
    assert.equal(containerLogPath('/var/log/pods/p', 'app/0.log', 'id'), '/var/log/pods/p/app/0.log');
    assert.equal(containerLogPath('/', 'app.log', 'id'), '/app.log'); // refused every container before
    assert.equal(containerLogPath('/var/log/pods/p', '', 'abc'), '/var/log/pods/p/abc.log');
    assert.equal(containerLogPath('/logs', '..log', 'id'), '/logs/..log');
    for (const bad of ['../x.log', '/etc/x.log', 'a/../../x.log', '.', 'x\0.log']) {
      invalid(() => containerLogPath('/var/log/pods/p', bad, 'id'), /^config\.log_path/);
    }
  });
});

describe('container resources', () => {
  it('takes what kubelet sends', () => {
    validateResources('r', {
      cpuShares: 2,
      cpuPeriod: 100_000,
      cpuQuota: 50_000,
      memoryLimitBytes: 64 << 20,
      oomScoreAdj: -997,
      cpusetCpus: '0-1,3',
      cpusetMems: '0',
    });
    validateResources('r', { cpuQuota: -1, memorySwapLimitBytes: -1 });
    validateResources('r', {});
  });
  it('refuses values runc would fail on, naming the field', () => {
    invalid(() => validateResources('linux', { cpuShares: -5 }), /^linux\.cpu_shares/);
    invalid(() => validateResources('linux', { cpuShares: 2 ** 40 }), /^linux\.cpu_shares/);
    invalid(() => validateResources('linux', { cpuPeriod: 10 }), /^linux\.cpu_period/);
    invalid(() => validateResources('linux', { cpuQuota: -7 }), /^linux\.cpu_quota/);
    invalid(() => validateResources('linux', { memoryLimitBytes: -1 }), /^linux\.memory_limit_in_bytes/);
    invalid(() => validateResources('linux', { memoryLimitBytes: 100 << 20, memorySwapLimitBytes: 50 << 20 }), /^linux\.memory_swap_limit_in_bytes/);
    invalid(() => validateResources('linux', { oomScoreAdj: 1001 }), /^linux\.oom_score_adj/);
    invalid(() => validateResources('linux', { cpusetCpus: '0-1;reboot' }), /^linux\.cpuset_cpus/);
    invalid(() => validateResources('linux', { cpusetMems: 'x' }), /^linux\.cpuset_mems/);
  });
  it("checks a CreateContainer request's resources too", () => {
    const config = toContainerConfig(request('c'));
    invalid(() => validateContainerConfig({ ...config, resources: { cpuShares: -2 } }), /^config\.linux\.resources\.cpu_shares/);
  });
});

describe('container config: every request rule in validateContainerConfig', () => {
  const base = () => toContainerConfig(request('c'));
  const mount = (containerPath: string, hostPath = '/h') => ({ containerPath, hostPath, readonly: false, propagation: 'private' as const });
  it('paths: working dir, mount destinations (absolute, not /, once) and sources, devices', () => {
    invalid(() => validateContainerConfig({ ...base(), workingDir: 'work' }), /^config\.working_dir/);
    invalid(() => validateContainerConfig({ ...base(), mounts: [mount('/ok'), mount('rel')] }), /^config\.mounts\[1\]\.container_path/);
    invalid(() => validateContainerConfig({ ...base(), mounts: [mount('/')] }), /^config\.mounts\[0\]\.container_path/);
    invalid(() => validateContainerConfig({ ...base(), mounts: [mount('/a'), mount('/a/')] }), /^config\.mounts\[1\]\.container_path: "\/a" is mounted twice/);
    invalid(() => validateContainerConfig({ ...base(), mounts: [mount('/a', 'h')] }), /^config\.mounts\[0\]\.host_path/);
    invalid(
      () => validateContainerConfig({ ...base(), devices: [{ containerPath: '/dev/x', hostPath: '/dev/x', permissions: 'rwx' }] }),
      /^config\.devices\[0\]\.permissions/,
    );
    invalid(
      () => validateContainerConfig({ ...base(), devices: [{ containerPath: 'dev/x', hostPath: '/dev/x', permissions: 'r' }] }),
      /^config\.devices\[0\]\.container_path/,
    );
  });
  it('ids: run_as_user, run_as_group and supplemental groups as runc takes them (int32)', () => {
    const sec = (s: Partial<ReturnType<typeof base>['security']>) => ({ ...base(), security: { ...base().security, ...s } });
    invalid(() => validateContainerConfig(sec({ runAsUser: 2 ** 31 })), /run_as_user/);
    invalid(() => validateContainerConfig(sec({ runAsUser: 0, runAsGroup: -1 })), /run_as_group/);
    invalid(() => validateContainerConfig(sec({ supplementalGroups: [1, 2 ** 40] })), /supplemental_groups\[1\]/);
    validateContainerConfig(sec({ runAsUser: 65534, runAsGroup: 65534, supplementalGroups: [0, 2 ** 31 - 1] }));
  });
  it('envs: a key is a name, neither empty nor holding "=" (execve would split it); pid TARGET names its target', () => {
    const env = (key: string) => ({
      ...base(),
      envs: [
        { key: 'OK', value: 'v' },
        { key, value: 'v' },
      ],
    });
    invalid(() => validateContainerConfig(env('')), /^config\.envs\[1\]\.key/);
    invalid(() => validateContainerConfig(env('A=B')), /^config\.envs\[1\]\.key/);
    validateContainerConfig(env('A_B'));
    const ns = (targetId: string) => ({
      ...base(),
      security: { ...base().security, namespaces: { ...base().security.namespaces, pid: 'TARGET' as const, targetId } },
    });
    invalid(() => validateContainerConfig(ns('')), /^config\.linux\.security_context\.namespace_options\.target_id/);
    validateContainerConfig(ns('b'.repeat(64)));
  });
});
