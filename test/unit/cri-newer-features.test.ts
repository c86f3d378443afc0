// The CRI features of kubelet 1.30-1.33 that crib announces or accepts: recursive read-only mounts,
// SupplementalGroupsPolicy with ContainerStatus.user, image volumes, and Status's feature tables.
// No root, no daemon.
import { describe, it } from 'node:test';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { parseManifests } from '../../src/kube/manifest/documents.js';
import { containerConfig } from '../../src/kube/pod/convert.js';
import type { Pod } from '../../src/kube/manifest/pod-spec.js';
import { initialPods } from '../../src/kube/plan/plan.js';
import { toContainerConfig, toContainerStatus } from '../../src/cri/container-convert.js';
import { criServices } from '../../src/cri/proto.js';
import { runtimeFeatures, toRuntimeHandlers } from '../../src/cri/runtime-features.js';
import type { ContainerConfig as CriContainerConfig } from '../../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';
import type { Mount } from '../../src/cri/generated/runtime/v1/Mount.js';
import { validateContainerConfig } from '../../src/container/validate.js';
import { resolveInRoot } from '../../src/image/sub-path.js';
import type { Container } from '../../src/container/types.js';
import { cgroupLimitWrites, podLimits, sharesToWeight } from '../../src/host/cgroup-limits.js';
import { containerSpec } from '../../src/container/spec/container-spec.js';
import { expandSlice, systemdCgroup } from '../../src/oci/systemd-cgroup.js';
import { noFeatures, parseHandlerFeatures } from '../../src/oci/features.js';
import { processGroups, resolveUser } from '../../src/container/spec/users.js';
import { CribError } from '../../src/util/errors.js';

const invalid = (f: () => unknown, msg: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof CribError && e.kind === 'InvalidArgument' && msg.test(e.message), String(msg));

/** A CreateContainer config through the real encoder and decoder, then crib's conversion. */
function convert(extra: Partial<CriContainerConfig>) {
  const config: CriContainerConfig = { metadata: { name: 'c' }, image: { image: 'busybox' }, command: ['sh'], ...extra };
  const m = criServices().runtime['CreateContainer']!;
  return toContainerConfig((m.requestDeserialize(m.requestSerialize({ pod_sandbox_id: 'p', config })) as CreateContainerRequest__Output).config);
}
const withMount = (mount: Mount) => convert({ mounts: [{ container_path: '/mnt', host_path: '/h', ...mount }] });

describe('runtime features', () => {
  it("reads rro from the runtime's features document; anything else announces nothing", () => {
    const doc = (mountOptions: unknown) => JSON.stringify({ ociVersionMin: '1.0.0', mountOptions });
    assert.deepEqual(parseHandlerFeatures(doc(['ro', 'rbind', 'rro', 'rrw'])), { recursiveReadOnlyMounts: true });
    assert.deepEqual(parseHandlerFeatures(doc(['ro', 'rbind'])), { recursiveReadOnlyMounts: false });
    assert.deepEqual(parseHandlerFeatures(doc('rro')), { recursiveReadOnlyMounts: false }, 'not a list');
    assert.deepEqual(parseHandlerFeatures('{}'), noFeatures);
    assert.throws(() => parseHandlerFeatures('[]'));
    assert.throws(() => parseHandlerFeatures('runc: unknown command "features"'));
  });

  it('lists the default handler first under the empty name (what critest and kubelet look up), then each by name', () => {
    const rro = { recursiveReadOnlyMounts: true };
    const handlers = toRuntimeHandlers(
      [
        { name: 'runc', features: rro },
        { name: 'crun', features: noFeatures },
      ],
      'runc',
      false,
    );
    assert.deepEqual(
      handlers.map((h) => [h.name, h.features?.recursive_read_only_mounts]),
      [
        ['', true],
        ['runc', true],
        ['crun', false],
      ],
    );
    assert.equal(toRuntimeHandlers([{ name: 'crun', features: noFeatures }], 'crun', false)[0]?.name, '');
    // User namespaces are the node's to offer: every handler announces what the node can do.
    assert.deepEqual(
      toRuntimeHandlers([{ name: 'runc', features: noFeatures }], 'runc', true).map((h) => h.features?.user_namespaces),
      [true, true],
    );
    assert.equal(runtimeFeatures.supplemental_groups_policy, true);
  });
});

describe('recursive read-only mounts', () => {
  it('are read-only with private propagation, or refused naming the field', () => {
    validateContainerConfig(withMount({ readonly: true, recursive_read_only: true }));
    invalid(
      () => validateContainerConfig(withMount({ readonly: false, recursive_read_only: true })),
      /^config\.mounts\[0\]\.recursive_read_only: requires readonly/,
    );
    invalid(
      () => validateContainerConfig(withMount({ readonly: true, recursive_read_only: true, propagation: 1 })),
      /^config\.mounts\[0\]\.recursive_read_only: requires propagation/,
    );
    invalid(
      () => validateContainerConfig(withMount({ readonly: true, recursive_read_only: true, propagation: 2 })),
      /^config\.mounts\[0\]\.recursive_read_only: requires propagation/,
    );
    validateContainerConfig(withMount({ readonly: false, propagation: 2 }));
  });

  it('become the rro option beside ro; a plain read-only mount does not', () => {
    const spec = (recursive: boolean) => {
      const config = withMount({ readonly: true, recursive_read_only: recursive });
      return containerSpec({
        id: 'c1',
        config,
        image: {},
        user: { uid: 0, gid: 0, additionalGids: [] },
        namespaces: {},
        hostname: 'h',
        podFiles: { hostname: '/p/hostname', resolvConf: '/p/resolv.conf', hosts: '/p/hosts' },
        shmPath: '/p/shm',
        cgroupsPath: '/crib/c1',
        oomScoreAdj: 0,
        hostDevices: [],
      }).mounts.find((m) => m.destination === '/mnt')?.options;
    };
    assert.deepEqual(spec(true), ['rbind', 'rprivate', 'ro', 'rro']);
    assert.deepEqual(spec(false), ['rbind', 'rprivate', 'ro']);
  });
});

describe('SupplementalGroupsPolicy', () => {
  // critest's image: default-user (1000) belongs to group-defined-in-image (50000) in /etc/group.
  const passwd = 'root:x:0:0::/root:/bin/sh\ndefault-user:x:1000:1000::/home:/bin/sh\n';
  const group = 'root:x:0:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n';
  const ask = (policy?: 'Merge' | 'Strict') => resolveUser({ runAsUser: 1000, supplementalGroups: [1234], supplementalGroupsPolicy: policy, passwd, group });

  it("Merge (the default) adds the image's groups of the user; Strict only those asked for", () => {
    assert.deepEqual(processGroups(ask()).sort(), [1000, 1234, 50000]);
    assert.deepEqual(processGroups(ask('Merge')).sort(), [1000, 1234, 50000]);
    assert.deepEqual(processGroups(ask('Strict')).sort(), [1000, 1234]);
  });

  it('is read from the request (Merge when absent); an unknown value is refused', () => {
    assert.equal(convert({}).security.supplementalGroupsPolicy, 'Merge');
    assert.equal(convert({ linux: { security_context: { supplemental_groups_policy: 1 } } }).security.supplementalGroupsPolicy, 'Strict');
    invalid(() => convert({ linux: { security_context: { supplemental_groups_policy: 7 as 1 } } }), /supplemental_groups_policy/);
  });

  it('ContainerStatus.user gives the ids the process runs with', () => {
    const c = { config: convert({}), paths: { log: '/l' }, image: { ref: 'r', id: 'i', repoDigest: '' }, createdAt: '1' } as unknown as Container;
    assert.equal(toContainerStatus({ container: c, state: 'RUNNING' }).user, undefined, 'records from before it say nothing');
    c.user = { uid: 1000, gid: 1000, supplementalGroups: [1000, 1234] };
    assert.deepEqual(toContainerStatus({ container: c, state: 'RUNNING' }).user, {
      linux: { uid: '1000', gid: '1000', supplemental_groups: ['1000', '1234'] },
    });
  });
});

describe('image volumes', () => {
  it('name an image and no host path; a sub path only with an image', () => {
    const cfg = convert({ mounts: [{ container_path: '/vol', image: { image: 'localhost/data:1' }, readonly: true }] });
    assert.equal(cfg.mounts[0]?.image, 'localhost/data:1');
    validateContainerConfig(cfg);
    invalid(
      () => validateContainerConfig(convert({ mounts: [{ container_path: '/vol', host_path: '/h', image: { image: 'localhost/data:1' } }] })),
      /^config\.mounts\[0\]\.host_path: must be empty/,
    );
    assert.equal(convert({ mounts: [{ container_path: '/vol', image: { image: 'x' }, image_sub_path: 'a/b' }] }).mounts[0]?.imageSubPath, 'a/b');
    invalid(
      () => validateContainerConfig(convert({ mounts: [{ container_path: '/vol', host_path: '/h', image_sub_path: 'a' }] })),
      /^config\.mounts\[0\]\.image_sub_path/,
    );
    invalid(() => validateContainerConfig(convert({ mounts: [{ container_path: '/vol', host_path: '' }] })), /^config\.mounts\[0\]\.host_path/);
  });
});

describe('UpdatePodSandboxResources: the pod cgroup', () => {
  it("is kubelet's sum of the containers plus the overhead, quotas counted in one period", () => {
    assert.deepEqual(
      podLimits(
        { cpuShares: 1024, cpuQuota: 100_000, cpuPeriod: 100_000, memoryLimitBytes: 256 << 20 },
        { cpuShares: 102, cpuQuota: 5_000, cpuPeriod: 50_000, memoryLimitBytes: 64 << 20 },
      ),
      { cpuShares: 1126, cpuPeriod: 100_000, cpuQuota: 110_000, memoryLimitBytes: 320 << 20 },
    );
    assert.deepEqual(podLimits({ memoryLimitBytes: 1 << 20 }, {}), {
      cpuShares: undefined,
      cpuPeriod: undefined,
      cpuQuota: undefined,
      memoryLimitBytes: 1 << 20,
    });
    assert.equal(podLimits({ cpuQuota: -1, cpuPeriod: 100_000 }, { cpuQuota: 5_000 }).cpuQuota, -1, 'no limit in one part is none for the pod');
  });

  it('is written as cgroup v1 and v2 files, period before quota', () => {
    const r = { cpuShares: 1024, cpuPeriod: 100_000, cpuQuota: 50_000, memoryLimitBytes: 1 << 30 };
    assert.deepEqual(cgroupLimitWrites(r, 1), [
      { controller: 'cpu', file: 'cpu.shares', value: '1024' },
      { controller: 'cpu', file: 'cpu.cfs_period_us', value: '100000' },
      { controller: 'cpu', file: 'cpu.cfs_quota_us', value: '50000' },
      { controller: 'memory', file: 'memory.limit_in_bytes', value: String(1 << 30) },
    ]);
    // cpu.weight from shares as runc converts it: 2 → 1, 1024 → 39, 262144 → 10000 (the kernel's bounds).
    assert.deepEqual(cgroupLimitWrites(r, 2), [
      { file: 'cpu.weight', value: '39' },
      { file: 'cpu.max', value: '50000 100000' },
      { file: 'memory.max', value: String(1 << 30) },
    ]);
    assert.deepEqual([2, 262144].map(sharesToWeight), [1, 10000]);
    assert.deepEqual(cgroupLimitWrites({ cpuQuota: -1, cpuPeriod: 100_000 }, 2), [{ file: 'cpu.max', value: 'max 100000' }]);
    assert.deepEqual(cgroupLimitWrites({}, 1), []);
  });
});

describe("kubelet's systemd cgroup driver: the slice mapping (not run here: no systemd as PID 1)", () => {
  const id = 'ab12'.repeat(16);
  it("expands a pod's slice as systemd nests it and writes runc's SLICE:PREFIX:NAME", () => {
    assert.deepEqual(systemdCgroup('kubepods-burstable-pod1234_5678.slice', id), {
      cgroupsPath: `kubepods-burstable-pod1234_5678.slice:crib:${id}`,
      unit: `crib-${id}.scope`,
      cgroupfsPath: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice/crib-${id}.scope`,
    });
    assert.equal(systemdCgroup('kubepods.slice', id).cgroupfsPath, `/kubepods.slice/crib-${id}.scope`);
    assert.equal(systemdCgroup('', id).cgroupsPath, `system.slice:crib:${id}`, "runc's default slice");
    assert.equal(systemdCgroup('-.slice', id).cgroupfsPath, `/crib-${id}.scope`, 'the root slice');
    assert.equal(expandSlice('a-b-c.slice'), '/a.slice/a-b.slice/a-b-c.slice');
  });
  it('refuses what systemd would: no .slice, a path, an empty part; and an id that is not one', () => {
    for (const bad of ['kubepods', '/kubepods/burstable', 'kubepods/x.slice', 'kubepods--x.slice', '-kubepods.slice', 'kubepods-.slice', '.slice']) {
      invalid(() => systemdCgroup(bad, id), /^config\.linux\.cgroup_parent/);
    }
    invalid(() => systemdCgroup('kubepods.slice', '../x'), /^id/);
  });
});

describe('crib run: the image volume source', () => {
  const manifest = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  volumes:
    - {name: tools, image: {reference: "localhost/tools:1"}}
    - {name: latest, image: {reference: "localhost/tools", pullPolicy: Never}}
  containers:
    - name: c
      image: busybox:1.36
      volumeMounts: [{name: tools, mountPath: /tools}, {name: latest, mountPath: /latest, subPath: bin}]
`;
  it('reads the reference and pull policy (defaulted as the API server does) and asks the runtime to mount it read-only', () => {
    const m = parseManifests(manifest);
    assert.deepEqual(m.warnings, []);
    const pod = m.workloads.flatMap((w) => initialPods(w, () => 0))[0] as Pod;
    assert.deepEqual(pod.spec.volumes, [
      { name: 'tools', image: { reference: 'localhost/tools:1', pullPolicy: 'IfNotPresent' } },
      { name: 'latest', image: { reference: 'localhost/tools', pullPolicy: 'Never' } },
    ]);
    const c = containerConfig(pod, pod.spec.containers[0]!, {
      uid: 'u',
      podIP: '10.0.0.2',
      podIPs: ['10.0.0.2'],
      nodeName: 'n',
      attempt: 0,
      imageRef: 'sha256:abc',
      volumePaths: {},
      seccompRoot: '/s',
      init: false,
      objects: new Map(),
      capacity: { cpuMilli: 1000n, memoryBytes: 1n << 30n },
    });
    assert.deepEqual(c.mounts, [
      { container_path: '/tools', image: { image: 'localhost/tools:1' }, readonly: true },
      { container_path: '/latest', image: { image: 'localhost/tools' }, readonly: true, image_sub_path: 'bin' },
    ]);
  });
});

describe('image volume sub paths: resolved inside the volume', () => {
  it('follows symlinks and ".." inside the root only, and needs the path to exist', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-subpath-'));
    try {
      await fsp.mkdir(path.join(root, 'data', 'deep'), { recursive: true });
      await fsp.writeFile(path.join(root, 'data', 'file'), 'x');
      await fsp.symlink('/data', path.join(root, 'abs')); // absolute: from the volume's root
      await fsp.symlink('../../../../etc', path.join(root, 'data', 'up')); // climbs no higher than the root
      await fsp.symlink('deep', path.join(root, 'data', 'rel'));
      await fsp.symlink('loop', path.join(root, 'loop'));
      const field = 'config.mounts[0].image_sub_path';
      const at = (sub: string) => resolveInRoot(root, sub, field);
      assert.equal(await at('data/deep'), path.join(root, 'data', 'deep'));
      assert.equal(await at('abs/file'), path.join(root, 'data', 'file'));
      assert.equal(await at('data/rel'), path.join(root, 'data', 'deep'));
      assert.equal(await at('../../data/./deep/..'), path.join(root, 'data'));
      await fsp.mkdir(path.join(root, 'etc'));
      assert.equal(await at('data/up'), path.join(root, 'etc'), "the host's /etc is never reached");
      const kind = (k: string, re: RegExp) => (e: unknown) => e instanceof CribError && e.kind === k && re.test(e.message);
      await assert.rejects(at('missing'), kind('NotFound', /^config\.mounts\[0\]\.image_sub_path: "missing" is not in the image/));
      await assert.rejects(at('data/file/below'), kind('NotFound', /is not in the image/));
      await assert.rejects(at('loop'), kind('InvalidArgument', /more than 40 symlinks/));
      await assert.rejects(at('/data'), kind('InvalidArgument', /must be a relative path/));
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});
