// Every request rule of the sandbox and container validators, each refusal with its whole message
// (the field and why), and the values just inside each bound accepted: what mutation testing of
// src/*/validate.ts showed the field-only checks elsewhere let through.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateSandboxConfig, sysctlNamespace } from '../../src/sandbox/validate.js';
import { containerLogPath, validateContainerConfig, validateResources } from '../../src/container/validate.js';
import { toContainerConfig } from '../../src/cri/container-convert.js';
import type { SandboxConfig } from '../../src/sandbox/types.js';
import type { ContainerConfig } from '../../src/container/types.js';
import { CribError } from '../../src/util/errors.js';
import { validateAbsolutePath, validateId, validateUnixId } from '../../src/util/validate.js';
import { criServices } from '../../src/cri/proto.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';

/** Asserts `fn` throws INVALID_ARGUMENT with exactly `message`. */
function refuses(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CribError && e.kind === 'InvalidArgument', String(e));
    assert.equal(e.message, message);
    return true;
  });
}

const sandbox: SandboxConfig = {
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
const sb = (c: Partial<SandboxConfig>) => () => validateSandboxConfig({ ...sandbox, ...c });
const NS = 'config.linux.security_context.namespace_options';

describe('sandbox request rules', () => {
  it('dns_config: servers are IPs, searches and options single words', () => {
    const dns = (d: Partial<NonNullable<SandboxConfig['dnsConfig']>>) => sb({ dnsConfig: { servers: [], searches: [], options: [], ...d } });
    dns({ servers: ['10.0.0.10', 'fd00::a'], searches: ['svc.cluster.local'], options: ['ndots:5'] })();
    refuses(dns({ servers: ['10.0.0.10', 'dns.example'] }), 'config.dns_config.servers: "dns.example" is not an IP address');
    refuses(dns({ searches: [''] }), 'config.dns_config.searches: "" is not a domain');
    refuses(dns({ searches: ['a b'] }), 'config.dns_config.searches: "a b" is not a domain');
    refuses(dns({ options: [''] }), 'config.dns_config.options: "" is not a resolver option');
    refuses(dns({ options: ['ndots:5\nnameserver 1.2.3.4'] }), 'config.dns_config.options: "ndots:5\nnameserver 1.2.3.4" is not a resolver option');
  });

  it('port_mappings: container ports 1-65535, host ports 0-65535, host_ip an IP', () => {
    const pm = (containerPort: number, hostPort: number, hostIP?: string) =>
      sb({
        portMappings: [
          { containerPort: 80, hostPort: 8080, protocol: 'tcp' },
          { containerPort, hostPort, protocol: 'tcp', ...(hostIP ? { hostIP } : {}) },
        ],
      });
    pm(1, 0)();
    pm(65535, 65535, '127.0.0.1')();
    refuses(pm(0, 80), 'config.port_mappings[1].container_port: 0 is not a port');
    refuses(pm(65536, 80), 'config.port_mappings[1].container_port: 65536 is not a port');
    refuses(pm(80, -1), 'config.port_mappings[1].host_port: -1 is not a port');
    refuses(pm(80, 65536), 'config.port_mappings[1].host_port: 65536 is not a port');
    refuses(pm(80, 80, 'localhost'), 'config.port_mappings[1].host_ip: "localhost" is not an IP address');
  });

  it('namespaces: network and ipc POD or NODE, pid never TARGET', () => {
    sb({ namespaces: { network: 'NODE', pid: 'NODE', ipc: 'NODE', targetId: '' } })();
    sb({ namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' } })();
    refuses(sb({ namespaces: { ...sandbox.namespaces, network: 'CONTAINER' } }), `${NS}.network: CONTAINER is not allowed for a sandbox (POD or NODE)`);
    refuses(sb({ namespaces: { ...sandbox.namespaces, ipc: 'CONTAINER' } }), `${NS}.ipc: CONTAINER is not allowed for a sandbox (POD or NODE)`);
    refuses(sb({ namespaces: { ...sandbox.namespaces, pid: 'TARGET' } }), `${NS}.pid: TARGET is only for containers`);
  });

  it('names and paths: CNI_ARGS-safe names, absolute log directory, cgroupfs parents', () => {
    refuses(
      sb({ metadata: { ...sandbox.metadata, name: 'a;b' } }),
      `config.metadata.name: "a;b" must not contain ';' (it is passed to CNI plugins in CNI_ARGS)`,
    );
    refuses(sb({ hostname: 'a b' }), `config.hostname: "a b" must not contain spaces, control characters or '/'`);
    refuses(sb({ logDirectory: 'logs' }), 'config.log_directory: "logs" must be an absolute path');
    sb({ logDirectory: '' })(); // none: the containers' logs then go nowhere kubelet reads, not an error
    sb({ cgroupParent: '/kubepods/burstable' })();
    refuses(sb({ cgroupParent: '/kubepods.slice' }), 'config.linux.cgroup_parent: "/kubepods.slice" is a systemd slice; crib uses the cgroupfs driver');
  });

  it('run_as_user and run_as_group: ids runc takes', () => {
    sb({ runAsUser: 0, runAsGroup: 2147483647 })();
    refuses(sb({ runAsUser: -1 }), 'config.linux.security_context.run_as_user: -1 is not a valid id (0..2147483647)');
    refuses(sb({ runAsGroup: 2 ** 31 }), 'config.linux.security_context.run_as_group: 2147483648 is not a valid id (0..2147483647)');
  });

  it('sysctls: namespaced ones only, each in a namespace the pod owns, with a single-line value', () => {
    assert.equal(sysctlNamespace('net.core.somaxconn'), 'net');
    for (const k of ['kernel.shmmax', 'kernel.shm_rmid_forced', 'kernel.msgmax', 'kernel.msgmnb', 'kernel.sem', 'fs.mqueue.queues_max'])
      assert.equal(sysctlNamespace(k), 'ipc', k);
    for (const k of ['kernel.semx', 'kernel.shm1', 'kernel.msg.x', 'xkernel.sem', 'kernel.sem.x', 'kernel.hostname', 'vm.swappiness'])
      assert.equal(sysctlNamespace(k), undefined, k);
    const s = (key: string, value = '1', ns: Partial<SandboxConfig['namespaces']> = {}) =>
      sb({ sysctls: { [key]: value }, namespaces: { ...sandbox.namespaces, ...ns } });
    refuses(s('Net.x'), 'config.linux.sysctls[Net.x]: not a sysctl name');
    refuses(s('net.core.somaxconn!'), 'config.linux.sysctls[net.core.somaxconn!]: not a sysctl name');
    refuses(
      s('vm.swappiness'),
      'config.linux.sysctls[vm.swappiness]: not a namespaced sysctl; only net.*, kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* may be set per pod',
    );
    refuses(s('net.core.somaxconn', '1', { network: 'NODE' }), 'config.linux.sysctls[net.core.somaxconn]: cannot be set for a pod on the node network');
    refuses(s('kernel.msgmax', '1', { ipc: 'NODE' }), 'config.linux.sysctls[kernel.msgmax]: cannot be set for a pod on the node IPC namespace');
    s('kernel.msgmax', '1', { network: 'NODE' })();
    s('net.core.somaxconn', '1', { ipc: 'NODE' })();
    refuses(s('net.core.somaxconn', ''), 'config.linux.sysctls[net.core.somaxconn]: needs a single-line value');
    refuses(s('net.core.somaxconn', '1\n2'), 'config.linux.sysctls[net.core.somaxconn]: needs a single-line value');
  });
});

/** A CreateContainer request's config through the real encoder and decoder, as a handler gets it. */
function container(): ContainerConfig {
  const m = criServices().runtime['CreateContainer']!;
  const config = { metadata: { name: 'c' }, image: { image: 'busybox' }, command: ['sh'] };
  return toContainerConfig((m.requestDeserialize(m.requestSerialize({ pod_sandbox_id: 'p', config })) as CreateContainerRequest__Output).config);
}
const ctr = (c: Partial<ContainerConfig>) => () => validateContainerConfig({ ...container(), ...c });

describe('container request rules', () => {
  it('log_path stays inside the log directory', () => {
    refuses(() => containerLogPath('/logs', 'x\0', 'id'), 'config.log_path: must not contain NUL');
    refuses(() => containerLogPath('/logs', '../x.log', 'id'), `config.log_path: "../x.log" escapes the sandbox's log_directory`);
    refuses(() => containerLogPath('/logs', '.', 'id'), `config.log_path: "." escapes the sandbox's log_directory`);
    refuses(() => containerLogPath('/logs', '..', 'id'), `config.log_path: ".." escapes the sandbox's log_directory`);
    refuses(() => containerLogPath('/logs', 'a/../..', 'id'), `config.log_path: "a/../.." escapes the sandbox's log_directory`);
  });

  it('resources: each value in the range the kernel takes, swap not below memory, CPU and node lists', () => {
    const r = (x: Parameters<typeof validateResources>[1]) => () => validateResources('linux', x);
    // CRI-O's smallest memory limit, 12 MiB: below a few MiB runc's own init is OOM-killed.
    const mib12 = 12 * 1024 * 1024;
    r({ cpuShares: 262144, cpuPeriod: 1_000_000, cpuQuota: -1, memoryLimitBytes: mib12, memorySwapLimitBytes: -1, oomScoreAdj: 1000 })();
    r({ cpuShares: 2, cpuPeriod: 1000, cpuQuota: 1000, oomScoreAdj: -1000, memoryLimitBytes: mib12, memorySwapLimitBytes: mib12 })();
    refuses(r({ memoryLimitBytes: mib12 - 1 }), `linux.memory_limit_in_bytes: ${mib12 - 1} is out of range (${mib12} to ${Number.MAX_SAFE_INTEGER})`);
    refuses(r({ cpuShares: 262145 }), 'linux.cpu_shares: 262145 is out of range (2 to 262144)');
    refuses(r({ cpuPeriod: 999 }), 'linux.cpu_period: 999 is out of range (1000 to 1000000)');
    refuses(r({ cpuQuota: -2 }), `linux.cpu_quota: -2 is out of range (1000 to ${Number.MAX_SAFE_INTEGER} or -1)`);
    refuses(r({ memorySwapLimitBytes: 0 }), `linux.memory_swap_limit_in_bytes: 0 is out of range (1 to ${Number.MAX_SAFE_INTEGER} or -1)`);
    refuses(r({ oomScoreAdj: 1001 }), 'linux.oom_score_adj: 1001 is out of range (-1000 to 1000)');
    refuses(
      r({ memoryLimitBytes: mib12 + 10, memorySwapLimitBytes: mib12 + 9 }),
      `linux.memory_swap_limit_in_bytes: ${mib12 + 9} is below memory_limit_in_bytes (it counts memory plus swap)`,
    );
    r({ memorySwapLimitBytes: 9 })();
    r({ memoryLimitBytes: mib12, memorySwapLimitBytes: -1 })();
    r({ cpusetCpus: '10-12,14,16-31', cpusetMems: '0,10' })();
    for (const bad of ['0-', '-1', '1,', 'a', '0-1x', ' 0']) refuses(r({ cpusetCpus: bad }), `linux.cpuset_cpus: "${bad}" is not a CPU list like 0-3,5`);
    for (const bad of ['0-1-', '1-a']) refuses(r({ cpusetMems: bad }), `linux.cpuset_mems: "${bad}" is not a node list like 0-1`);
  });

  it('paths, devices, envs and ids, each with its message', () => {
    const mount = (containerPath: string, hostPath = '/h') => ({ containerPath, hostPath, readonly: false, propagation: 'private' as const });
    refuses(ctr({ image: '' }), 'config.image.image: required');
    refuses(ctr({ workingDir: 'w' }), 'config.working_dir: "w" must be absolute');
    refuses(ctr({ mounts: [mount('m')] }), 'config.mounts[0].container_path: "m" must be absolute');
    refuses(ctr({ mounts: [mount('/')] }), "config.mounts[0].container_path: cannot mount over the container's root");
    refuses(ctr({ mounts: [mount('/m', 'h')] }), 'config.mounts[0].host_path: "h" must be absolute');
    const dev = (containerPath: string, hostPath: string, permissions: string) => ctr({ devices: [{ containerPath, hostPath, permissions }] });
    dev('/dev/a', '/dev/b', '')();
    dev('/dev/a', '/dev/b', 'rwm')();
    refuses(dev('d', '/dev/b', 'r'), 'config.devices[0].container_path: "d" must be absolute');
    refuses(dev('/dev/a', 'b', 'r'), 'config.devices[0].host_path: "b" must be absolute');
    refuses(dev('/dev/a', '/dev/b', 'rx'), 'config.devices[0].permissions: "rx" must be letters of "rwm"');
    refuses(ctr({ envs: [{ key: 'A=B', value: '' }] }), 'config.envs[0].key: "A=B" is not a variable name');
    const sec = (s: Partial<ContainerConfig['security']>) => ctr({ security: { ...container().security, ...s } });
    refuses(sec({ runAsGroup: 5 }), 'config.linux.security_context.run_as_group: is set without run_as_user or run_as_username');
    refuses(
      sec({ namespaces: { ...container().security.namespaces, pid: 'TARGET', targetId: '' } }),
      `config.linux.security_context.namespace_options.target_id: required with pid TARGET`,
    );
  });
});

describe('shared rules', () => {
  it('ids, absolute paths and unix ids, each with its message', () => {
    validateId('id', `a${'b'.repeat(127)}`);
    refuses(() => validateId('container_id', 'abc!'), 'container_id: "abc!" is not a valid id');
    refuses(() => validateId('container_id', `a${'b'.repeat(128)}`), `container_id: "a${'b'.repeat(128)}" is not a valid id`);
    refuses(() => validateAbsolutePath('p', '/a/../b'), 'p: "/a/../b" must not contain ".." or NUL');
    validateUnixId('u', 0);
    refuses(() => validateUnixId('u', -1), 'u: -1 is not a valid id (0..2147483647)');
  });
});
