// User namespaces, the pure parts: the request rules (containerd 2's and critest's cases), the spec
// a pod's processes get, crib run's blocks of node ids, hostUsers in a manifest, and crib tree's
// reading of an id map. The pods themselves are in test/userns.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CribError } from '../../src/util/errors.js';
import { podRoot, podUserNamespace, sameUserNamespace, validateUserNamespace } from '../../src/sandbox/userns.js';
import { validateSandboxConfig } from '../../src/sandbox/validate.js';
import type { SandboxConfig, UserNamespaceConfig } from '../../src/sandbox/types.js';
import { withUserNamespace } from '../../src/sandbox/userns-spec.js';
import { pauseSpec } from '../../src/sandbox/spec.js';
import { blocksOf, firstFreeBlock, USERNS_LENGTH } from '../../src/kube/pod/userns.js';
import { parseManifests } from '../../src/kube/manifest/documents.js';
import { initialPods } from '../../src/kube/plan/plan.js';
import { ManifestError } from '../../src/kube/manifest/pod-spec.js';
import { namespaceOptions, podSandboxConfig } from '../../src/kube/pod/convert.js';
import { parseIdMap } from '../../src/cli/tree.js';

const F = 'config.linux.security_context.namespace_options.userns_options';
const map = (containerId: number, hostId: number, length: number) => [{ containerId, hostId, length }];
const pod = (uids = map(0, 1000, 100000), gids = uids): UserNamespaceConfig => ({ mode: 'POD', uids, gids });

function refused(u: UserNamespaceConfig, field: string | RegExp): void {
  assert.throws(
    () => validateUserNamespace(F, u),
    (e: unknown) => {
      assert.ok(e instanceof CribError && e.kind === 'InvalidArgument', String(e));
      if (typeof field === 'string') assert.ok(e.message.startsWith(`${field}:`) || e.message.includes(field), e.message);
      else assert.match(e.message, field);
      return true;
    },
  );
}

describe('userns_options rules', () => {
  it("accepts critest's POD mapping and NODE, and nothing (the node's)", () => {
    validateUserNamespace(F, pod());
    validateUserNamespace(F, { mode: 'NODE', uids: [], gids: [] });
    validateUserNamespace(F, undefined);
    assert.deepEqual(podUserNamespace(pod()), { uids: map(0, 1000, 100000)[0], gids: map(0, 1000, 100000)[0] });
    assert.equal(podUserNamespace({ mode: 'NODE', uids: [], gids: [] }), undefined);
  });

  it('refuses CONTAINER and TARGET, more than one mapping, none, container id 0 unmapped, an empty or overlong range, NODE with mappings', () => {
    refused({ mode: 'CONTAINER', uids: [], gids: [] }, `${F}.mode`);
    refused({ mode: 'TARGET', uids: [], gids: [] }, `${F}.mode`);
    refused(pod([...map(0, 1000, 100000), ...map(0, 2000, 100000)]), `${F}.uids`);
    refused(pod(map(0, 1000, 10), [...map(0, 1000, 10), ...map(10, 5000, 10)]), `${F}.gids`);
    refused(pod([], map(0, 1000, 10)), `${F}.uids`);
    refused(pod(map(1, 1000, 100000)), `${F}.uids[0].container_id`);
    refused(pod(map(0, 1000, 0)), `${F}.uids[0].length`);
    refused(pod(map(0, 2 ** 32 - 10, 65536)), `${F}.uids[0]`);
    refused({ mode: 'NODE', uids: map(0, 1000, 10), gids: [] }, /mode NODE takes no mappings/);
  });

  it("refuses a pod's own user namespace with the node's network, PID or IPC namespace", () => {
    const base: SandboxConfig = {
      metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 0 },
      hostname: '',
      logDirectory: '',
      portMappings: [],
      labels: {},
      annotations: {},
      cgroupParent: '',
      sysctls: {},
      namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
      runtimeHandler: '',
      userns: pod(),
    };
    validateSandboxConfig(base);
    for (const kind of ['network', 'pid', 'ipc'] as const) {
      assert.throws(() => validateSandboxConfig({ ...base, namespaces: { ...base.namespaces, [kind]: 'NODE' } }), new RegExp(`namespace_options\\.${kind}`));
    }
    validateSandboxConfig({ ...base, namespaces: { ...base.namespaces, network: 'NODE' }, userns: { mode: 'NODE', uids: [], gids: [] } });
  });

  it("knows the pod's root on the node, and whether a container asks for its pod's namespace", () => {
    assert.deepEqual(podRoot(pod(map(0, 200000, 65536), map(0, 300000, 65536))), { uid: 200000, gid: 300000 });
    assert.deepEqual(podRoot(undefined), { uid: 0, gid: 0 });
    assert.ok(sameUserNamespace(pod(), pod()));
    assert.ok(sameUserNamespace(undefined, { mode: 'NODE', uids: [], gids: [] }));
    assert.ok(!sameUserNamespace(pod(), pod(map(0, 1001, 100000))));
    assert.ok(!sameUserNamespace(pod(), { mode: 'NODE', uids: [], gids: [] }));
  });
});

describe('the spec of a process in the pod user namespace', () => {
  it('joins the pinned namespace with its mappings beside it, roots where the pod can reach, binds through the idmapped clones', () => {
    const plain = pauseSpec({
      args: ['/pause'],
      env: [],
      netnsPath: '/run/crib/netns/p',
      newPidNamespace: true,
      newIpcNamespace: true,
      hostname: 'p',
      shmPath: '/run/crib/shm/p',
      etcFiles: { hostname: '/h', resolvConf: '/r', hosts: '/hosts' },
      cgroupsPath: '/crib/p',
      sysctls: {},
      uid: 0,
      gid: 0,
      oomScoreAdj: 0,
      annotations: {},
    });
    const spec = withUserNamespace(plain, {
      path: '/run/crib/userns/p',
      uids: { containerId: 0, hostId: 200000, length: 65536 },
      gids: { containerId: 0, hostId: 300000, length: 65536 },
      rootPath: '/run/crib/roots/p/rootfs',
      mountSources: new Map([['/h', '/var/lib/crib/x/idmap/v0']]),
    });
    assert.deepEqual(spec.linux.namespaces[0], { type: 'user', path: '/run/crib/userns/p' });
    assert.equal(spec.linux.namespaces.filter((n) => n.type === 'user').length, 1);
    assert.deepEqual(
      spec.linux.namespaces.slice(1),
      plain.linux.namespaces,
      'the other namespaces as they were (runc makes the new ones inside the pod namespace)',
    );
    assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: 200000, size: 65536 }]);
    assert.deepEqual(spec.linux.gidMappings, [{ containerID: 0, hostID: 300000, size: 65536 }]);
    assert.equal(spec.root.path, '/run/crib/roots/p/rootfs');
    assert.equal(spec.root.readonly, true);
    assert.equal(spec.mounts.find((m) => m.destination === '/etc/hostname')?.source, '/var/lib/crib/x/idmap/v0');
    assert.equal(spec.mounts.find((m) => m.destination === '/etc/hosts')?.source, '/hosts', 'a mount not idmapped keeps its source');
    assert.equal(plain.root.path, 'rootfs', 'the input is not changed');
  });
});

describe("crib run's blocks of node ids", () => {
  it('finds the blocks a mapping touches, aligned or not', () => {
    assert.deepEqual(blocksOf(65536, 65536), [1]);
    assert.deepEqual(blocksOf(1000, 100000), [0, 1]);
    assert.deepEqual(blocksOf(131071, 2), [1, 2]);
    assert.deepEqual(blocksOf(0, 0), []);
  });

  it('takes the lowest free block above the node ids, and none past the last', () => {
    assert.equal(firstFreeBlock(new Set()), 1, "ids 0-65535 stay the node's");
    assert.equal(firstFreeBlock(new Set([1, 2, 4])), 3);
    assert.equal(firstFreeBlock(new Set([1]), 5), 5);
    const all = new Set(Array.from({ length: 2 ** 32 / USERNS_LENGTH }, (_, i) => i));
    assert.equal(firstFreeBlock(all), undefined);
    // The last block ends before (u32)-1, which is never an id.
    const last = firstFreeBlock(new Set(Array.from({ length: 65533 }, (_, i) => i + 1)));
    assert.ok(last !== undefined && (last + 1) * USERNS_LENGTH - 1 < 2 ** 32 - 1, String(last));
  });
});

describe('hostUsers in a manifest', () => {
  const yaml = (extra: string) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: busybox\n${extra}`;
  const onePod = (extra: string) => {
    const m = parseManifests(yaml(extra));
    const pods = m.workloads.flatMap((w) => initialPods(w, () => 0));
    assert.equal(pods.length, 1);
    return pods[0]!;
  };

  it('is true by default; false asks the runtime for the pod user namespace in the sandbox and every container', () => {
    assert.equal(onePod('').spec.hostUsers, true);
    const p = onePod('  hostUsers: false\n');
    assert.equal(p.spec.hostUsers, false);
    const ids = [{ container_id: 0, host_id: 131072, length: 65536 }];
    assert.deepEqual(namespaceOptions(p, 131072).userns_options, { mode: 0, uids: ids, gids: ids });
    assert.equal(namespaceOptions(p).userns_options, undefined);
    const sb = podSandboxConfig(p, { uid: 'u', seccompRoot: '/s', usernsHostId: 131072 });
    assert.deepEqual(sb.linux?.security_context?.namespace_options?.userns_options, { mode: 0, uids: ids, gids: ids });
  });

  it('refuses hostUsers: false with hostNetwork, hostPID or hostIPC, as the API server does', () => {
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) {
      assert.throws(
        () => parseManifests(yaml(`  hostUsers: false\n  ${k}: true\n`)),
        (e: unknown) => e instanceof ManifestError && e.field.endsWith('spec.hostUsers') && e.message.includes(k),
      );
    }
  });
});

describe("crib tree's id maps", () => {
  it('reads /proc/PID/uid_map lines, padded as the kernel pads them', () => {
    assert.deepEqual(parseIdMap('         0     200000      65536\n'), [{ inside: 0, node: 200000, length: 65536 }]);
    assert.deepEqual(parseIdMap('         0          0 4294967295\n'), [{ inside: 0, node: 0, length: 4294967295 }]);
    assert.deepEqual(parseIdMap(''), []);
  });
});
