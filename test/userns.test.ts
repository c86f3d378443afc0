// Pods with their own user namespace (CRI userns_options POD), checked from the node: the
// processes' uids in /proc, the namespace they share and its pin, the idmapped mounts in the node's
// mount table, and the owners of what the pod writes; and from inside, that the image and the
// volumes look as they do without a user namespace. Then the requests that must be refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { IDMapping } from '../src/cri/generated/runtime/v1/IDMapping.js';
import type { UserNamespace } from '../src/cri/generated/runtime/v1/UserNamespace.js';
import { readMounts } from '../src/host/mounts.js';
import { runCapture } from '../src/util/exec.js';
import { builtCribIoBinary, cribIoMount, cribIoUserns } from '../src/host/crib-io.js';
import { mountIdmappedOverlay, releaseIdmapped } from '../src/image/idmapped.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { rejectsWith } from './support/grpc-assert.js';
import { Harness, readProcStatus } from './support/harness.js';
import { cribCli } from './support/crib-cli.js';

/** kubelet gives each pod 65536 ids above 65535; this test's pods get blocks far above the node's users. */
const HOST_BASE = 3 * 65536 * 16;
const LENGTH = 65536;
const mapping = (hostId: number): IDMapping[] => [{ container_id: 0, host_id: hostId, length: LENGTH }];
const podUserns = (hostId: number): UserNamespace => ({ mode: 'POD', uids: mapping(hostId), gids: mapping(hostId) });

const nsInode = (pid: number | string, kind: string) => fs.readlinkSync(`/proc/${pid}/ns/${kind}`);

describe('pods with their own user namespace', () => {
  const h = cribdWithBusybox();
  // runc reaches the rootfs as the pod's root, an unprivileged node uid: the test's temp dir must
  // let it pass, as /run does for /run/crib (else cribd does not announce the feature: below).
  fs.chmodSync(h.base, 0o711);
  const US = 'config.linux.security_context.namespace_options.userns_options';

  async function podWithUserns(name: string, hostId: number, mounts: ContainerConfig['mounts'] = []) {
    const ns = { userns_options: podUserns(hostId) };
    const podConfig = h.podConfig(name, { linux: { security_context: { namespace_options: ns } } });
    const podId = (await call(h.runtime, 'RunPodSandbox', { config: podConfig })).pod_sandbox_id;
    const config: ContainerConfig = {
      metadata: { name: 'main' },
      image: { image: TEST_IMAGE },
      command: ['sleep', '1000'],
      log_path: 'main.log',
      mounts,
      linux: { security_context: { namespace_options: ns } },
    };
    const id = (await call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: podConfig })).container_id;
    await call(h.runtime, 'StartContainer', { container_id: id });
    const pid = JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: id, verbose: true })).info['info'] ?? '{}').pid as number;
    return { podId, id, pid, pause: (await h.inspect(podId)).info.pid };
  }

  const sh = async (id: string, script: string) => {
    const r = await call(h.runtime, 'ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 30 });
    assert.equal(r.exit_code, 0, `${script}: ${r.stderr.toString()}`);
    return r.stdout.toString().trim();
  };

  it('announces user namespaces for the default handler ("") and runc', async () => {
    const st = await call(h.runtime, 'Status', {});
    const names = st.runtime_handlers.filter((r) => r.features?.user_namespaces).map((r) => r.name);
    assert.ok(names.includes('') && names.includes('runc'), `handlers with user namespaces: ${JSON.stringify(names)}`);
  });

  it("runs pause and the containers in one user namespace, pinned, whose root is an unprivileged node uid; the image's files are root's inside", async () => {
    const hostId = HOST_BASE;
    const { id, pid, pause } = await podWithUserns('userns', hostId);
    // From the node: the container's and pause's uids are the mapped ones, in the same namespace, the pinned one.
    for (const p of [pid, pause]) {
      const st = readProcStatus(p);
      assert.deepEqual(st['Uid']?.split(/\s+/), Array(4).fill(String(hostId)), `uids of ${p} on the node`);
      assert.deepEqual(st['Gid']?.split(/\s+/), Array(4).fill(String(hostId)), `gids of ${p} on the node`);
      assert.deepEqual(fs.readFileSync(`/proc/${p}/uid_map`, 'utf8').trim().split(/\s+/), ['0', String(hostId), String(LENGTH)]);
    }
    assert.equal(nsInode(pid, 'user'), nsInode(pause, 'user'));
    assert.notEqual(nsInode(pid, 'user'), nsInode('self', 'user'));
    const pins = fs.readdirSync(path.join(h.state, 'userns')).filter((e) => !e.startsWith('probe-'));
    assert.equal(pins.length, 1);
    assert.equal(nsInode(pid, 'user'), `user:[${fs.statSync(path.join(h.state, 'userns', pins[0]!)).ino}]`, 'the namespace is the pinned one');
    // The pod's netns is owned by its user namespace: else the kernel would have refused the
    // container its sysfs, which shows the pod's own interfaces.
    assert.deepEqual((await sh(id, 'ls /sys/class/net')).split(/\s+/).sort(), ['eth0', 'lo']);
    // From the node's mount table: the image's layers are idmapped clones under the private root, stacked in an overlay.
    const mounts = await readMounts();
    const clones = mounts.filter((m) => m.mountPoint.startsWith(path.join(h.root, 'containers', id, 'idmap') + '/'));
    assert.ok(clones.length >= 1, 'idmapped layer clones are mounted');
    const info = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
    for (const c of clones)
      assert.ok(
        info.some((l) => l.split(' ')[4] === c.mountPoint && l.split(' ')[5]?.split(',').includes('idmapped')),
        `${c.mountPoint} is idmapped`,
      );
    assert.ok(
      mounts.some((m) => m.mountPoint === path.join(h.state, 'roots', id, 'rootfs') && m.fstype === 'overlay'),
      'the rootfs overlay is under STATE/roots',
    );
    // Inside: root, and the image's files are root's; what it writes lands as its node uid.
    assert.equal(await sh(id, 'id -u; id -g'), '0\n0');
    assert.equal(await sh(id, 'stat -c %u:%g /bin/busybox /etc/passwd'), '0:0\n0:0');
    await sh(id, 'touch /made-inside');
    const upper = path.join(h.root, 'containers', id, 'upper', 'made-inside');
    assert.equal(fs.statSync(upper).uid, hostId, 'a file the pod makes in its rootfs is its node uid');
    // Only the pod's root group may pass its roots directory.
    const roots = fs.statSync(path.join(h.state, 'roots', id));
    assert.deepEqual([roots.mode & 0o777, roots.uid, roots.gid], [0o710, 0, hostId]);
  });

  it('lets the pod use its volumes as without a user namespace: node-root files are root-owned inside, and what root writes there is node root', async () => {
    const vol = path.join(h.base, 'vol');
    fs.mkdirSync(vol, { mode: 0o755 });
    fs.writeFileSync(path.join(vol, 'config'), 'from the node\n', { mode: 0o644 });
    const file = path.join(h.base, 'single-file');
    fs.writeFileSync(file, 'one file\n', { mode: 0o600 });
    const { id } = await podWithUserns('volumes', HOST_BASE + LENGTH, [
      { container_path: '/vol', host_path: vol },
      { container_path: '/etc/single', host_path: file },
      { container_path: '/ro', host_path: vol, readonly: true },
    ]);
    assert.equal(await sh(id, 'cat /vol/config; stat -c %u:%g /vol /vol/config'), 'from the node\n0:0\n0:0');
    assert.equal(await sh(id, 'cat /etc/single; stat -c %u:%g /etc/single'), 'one file\n0:0');
    await sh(id, 'echo written > /vol/made && echo more >> /etc/single && mkdir /vol/dir');
    for (const p of ['made', 'dir']) assert.deepEqual([fs.statSync(path.join(vol, p)).uid, fs.statSync(path.join(vol, p)).gid], [0, 0], `${p} is node root's`);
    assert.equal(fs.readFileSync(file, 'utf8'), 'one file\nmore\n');
    const ro = await call(h.runtime, 'ExecSync', { container_id: id, cmd: ['touch', '/ro/x'], timeout: 30 });
    assert.notEqual(ro.exit_code, 0, 'a read-only volume stays read-only');
  });

  it('keeps the namespace, mounts and pins only while the pod exists', async () => {
    const { podId, id } = await podWithUserns('gone', HOST_BASE + 2 * LENGTH);
    await call(h.runtime, 'StopPodSandbox', { pod_sandbox_id: podId });
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: podId });
    const left = (await readMounts()).filter((m) => m.mountPoint.startsWith(h.base + '/'));
    assert.deepEqual(left, []);
    assert.ok(!fs.existsSync(path.join(h.state, 'roots', id)));
    await h.assertNoLeaks();
  });

  it('refuses CONTAINER and TARGET, more than one mapping, container id 0 unmapped, NODE with mappings, and node namespaces, naming the field', async () => {
    const refused: [UserNamespace, Record<string, number>, RegExp][] = [
      [{ mode: 'CONTAINER' }, {}, new RegExp(`${US}\\.mode`)],
      [{ mode: 'TARGET' }, {}, new RegExp(`${US}\\.mode`)],
      [{ mode: 'POD', uids: [...mapping(HOST_BASE), ...mapping(HOST_BASE + LENGTH)], gids: mapping(HOST_BASE) }, {}, new RegExp(`${US}\\.uids`)],
      [
        { mode: 'POD', uids: mapping(HOST_BASE), gids: [{ container_id: 1, host_id: HOST_BASE, length: LENGTH }] },
        {},
        new RegExp(`${US}\\.gids\\[0\\]\\.container_id`),
      ],
      [{ mode: 'POD', uids: [], gids: mapping(HOST_BASE) }, {}, new RegExp(`${US}\\.uids`)],
      [{ mode: 'NODE', uids: mapping(HOST_BASE), gids: mapping(HOST_BASE) }, {}, new RegExp(US)],
      [podUserns(HOST_BASE), { network: 2 }, /namespace_options\.network/],
      [podUserns(HOST_BASE), { pid: 2 }, /namespace_options\.pid/],
    ];
    for (const [userns, modes, field] of refused) {
      const config = h.podConfig('refused', { linux: { security_context: { namespace_options: { ...modes, userns_options: userns } } } });
      await rejectsWith(call(h.runtime, 'RunPodSandbox', { config }), grpc.status.INVALID_ARGUMENT, field);
    }
    assert.deepEqual((await call(h.runtime, 'ListPodSandbox', {})).items, [], 'nothing half-created');
  });

  it("refuses a container that asks for another user namespace than its pod's", async () => {
    const { podId } = await podWithUserns('mismatch', HOST_BASE + 3 * LENGTH);
    for (const userns of [podUserns(HOST_BASE), { mode: 'NODE' } as UserNamespace]) {
      const config: ContainerConfig = {
        metadata: { name: 'other' },
        image: { image: TEST_IMAGE },
        command: ['true'],
        linux: { security_context: { namespace_options: { userns_options: userns } } },
      };
      await rejectsWith(
        call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: h.podConfig('mismatch') }),
        grpc.status.INVALID_ARGUMENT,
        new RegExp(US),
      );
    }
  });
});

describe('crib run with hostUsers: false', () => {
  const h = cribdWithBusybox();
  fs.chmodSync(h.base, 0o711);
  const { crib } = cribCli(h);
  /** crib run's pods are deleted through crib run (its volumes and blocks are its own), even after a failure. */
  const started: string[] = [];
  const deleteStarted = async () => {
    for (const id of started.splice(0)) await crib(['delete', id]);
  };

  const manifest = (name: string, hostPath: string) => {
    const file = path.join(h.base, `${name}.yaml`);
    fs.writeFileSync(
      file,
      `apiVersion: v1
kind: ConfigMap
metadata: { name: ${name}-config }
data: { greeting: hello }
---
apiVersion: v1
kind: Secret
metadata: { name: ${name}-secret }
stringData: { password: s3cret }
---
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: ${TEST_IMAGE}
      command: [sleep, '1000']
      volumeMounts:
        - { name: scratch, mountPath: /scratch }
        - { name: config, mountPath: /config }
        - { name: secret, mountPath: /secret }
        - { name: both, mountPath: /projected }
        - { name: host, mountPath: /host }
  volumes:
    - { name: scratch, emptyDir: {} }
    - { name: config, configMap: { name: ${name}-config } }
    - { name: secret, secret: { secretName: ${name}-secret, defaultMode: 0400 } }
    - name: both
      projected: { sources: [{ configMap: { name: ${name}-config } }, { secret: { name: ${name}-secret } }] }
    - { name: host, hostPath: { path: ${hostPath}, type: DirectoryOrCreate } }
`,
    );
    return file;
  };

  async function runPod(name: string) {
    const hostDir = path.join(h.base, `${name}-host`);
    const r = await crib(['run', '-d', manifest(name, hostDir)]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${h.logTail()}`);
    const podId = r.stdout.trim();
    started.push(podId);
    const [ctr] = (await call(h.runtime, 'ListContainers', { filter: { pod_sandbox_id: podId } })).containers;
    assert.ok(ctr);
    const pid = JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: ctr.id, verbose: true })).info['info'] ?? '{}').pid as number;
    const [inside, node, length] = fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/).map(Number);
    return { podId, ctrId: ctr.id, pid, hostDir, map: { inside: inside!, node: node!, length: length! } };
  }

  const sh = async (id: string, script: string) => {
    const r = await call(h.runtime, 'ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 30 });
    assert.equal(r.exit_code, 0, `${script}: ${r.stderr.toString()}`);
    return r.stdout.toString().trim();
  };

  it("picks each pod a block of 65536 node ids above 65535, disjoint from the others', in which its volumes work as without one", async () => {
    try {
      await blocksAndVolumes();
    } finally {
      await deleteStarted();
    }
  });

  async function blocksAndVolumes() {
    const a = await runPod('usa');
    const b = await runPod('usb');
    for (const p of [a, b]) {
      assert.equal(p.map.inside, 0);
      assert.equal(p.map.length, 65536);
      assert.ok(p.map.node >= 65536 && p.map.node % 65536 === 0, `node ids from ${p.map.node}`);
      assert.equal(readProcStatus(p.pid)['Uid']?.split(/\s+/)[0], String(p.map.node), "root inside is the block's first id on the node");
    }
    assert.notEqual(a.map.node, b.map.node, 'the blocks are disjoint');

    assert.equal(await sh(a.ctrId, 'id -u; stat -c %u /bin/busybox'), '0\n0');
    assert.equal(
      await sh(a.ctrId, 'cat /config/greeting /projected/greeting /projected/password /secret/password; echo; stat -c %u /secret/password'),
      'hellohellos3crets3cret\n0',
    );
    await sh(a.ctrId, 'echo x > /scratch/f && echo y > /host/f && cat /scratch/f /host/f');
    const host = fs.statSync(path.join(a.hostDir, 'f'));
    assert.deepEqual([host.uid, host.gid], [0, 0], 'what root writes to a hostPath is node root, as without a user namespace');

    const tree = await crib(['tree', a.podId]);
    assert.equal(tree.code, 0, tree.stderr);
    assert.match(tree.stdout, /Pod's user namespace {2}user:\[\d+\]/);
    assert.match(tree.stdout, new RegExp(`uids 0-65535 → node ${a.map.node}-${a.map.node + 65535}`));
    assert.match(tree.stdout, /user:\[\d+\] = pause/);

    // cribd restarted: the pods keep their namespaces, and a new pod still gets a block of its own.
    await h.stopDaemon();
    await h.start();
    assert.equal(await sh(a.ctrId, 'id -u'), '0');
    assert.equal(readProcStatus(a.pid)['Uid']?.split(/\s+/)[0], String(a.map.node));
    const b2 = await runPod('usb2');
    assert.ok(![a.map.node, b.map.node].includes(b2.map.node), `a third block after the restart: ${b2.map.node}`);

    // Deleted, its block is free again: the next pod may get it.
    assert.equal((await crib(['delete', a.podId])).code, 0);
    started.splice(started.indexOf(a.podId), 1);
    const c = await runPod('usc');
    assert.equal(c.map.node, a.map.node, 'the freed block is reused (the lowest free one)');
  }
});

describe('what cribd announces', () => {
  it('does not announce user namespaces when a pod could not reach its rootfs (a directory above STATE lets no one pass)', async () => {
    const h = new Harness();
    try {
      await h.start();
      assert.equal(fs.statSync(h.base).mode & 0o777, 0o700);
      const st = await call(h.runtime, 'Status', {});
      assert.deepEqual(
        st.runtime_handlers.filter((r) => r.features?.user_namespaces).map((r) => r.name),
        [],
      );
    } finally {
      await h.cleanup();
    }
  });
});

describe('crib-io userns and idmap', () => {
  const crib_io = (args: string[]) => runCapture(builtCribIoBinary, args, { timeoutMs: 10_000 });

  it('refuses maps that are not one u32 range starting anywhere, of length 1 or more, ending before 2^32-1, and leaves nothing mounted', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-io-userns-'));
    try {
      const pin = path.join(dir, 'pin');
      fs.writeFileSync(pin, '');
      for (const bad of ['0:1:0', '0:1', '0:1:2:3', 'a:1:1', '0::1', '0:4294967295:2', '4294967296:0:1', '0:1:1 ']) {
        const r = await crib_io(['userns', pin, bad, '0:1:1']);
        assert.equal(r.code, 2, `${bad}: ${r.stderr.toString()}`);
      }
      // A pin that does not exist: the namespace was made, the pin failed, nothing is left.
      const r = await crib_io(['userns', path.join(dir, 'missing'), '0:200000:65536', '0:200000:65536', pin]);
      assert.equal(r.code, 1);
      assert.match(r.stderr.toString(), /^error: bind .*missing: No such file or directory\n$/);
      assert.deepEqual(
        (await readMounts()).filter((m) => m.mountPoint.startsWith(dir)),
        [],
      );
      const idmap = await crib_io(['idmap', pin, dir, path.join(dir, 'nowhere')]);
      assert.equal(idmap.code, 1, 'an empty file is no user namespace');
      assert.equal((await crib_io(['idmap', pin, dir])).code, 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("unmounts every idmapped clone before removing anything, even through a symlinked path: the image's files stay", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-io-idmap-'));
    const real = path.join(dir, 'real');
    const layer = path.join(dir, 'layer');
    try {
      fs.mkdirSync(real);
      fs.mkdirSync(path.join(layer, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(layer, 'bin', 'tool'), 'image content');
      fs.symlinkSync(real, path.join(dir, 'link'));
      const pin = path.join(real, 'pin');
      fs.writeFileSync(pin, '');
      const ids = { containerId: 0, hostId: HOST_BASE, length: LENGTH };
      await cribIoUserns({ pin, uids: ids, gids: ids });
      // Made and released through the symlink, as a --root or --state behind one would be.
      const via = path.join(dir, 'link');
      const o = { rootsDir: path.join(via, 'roots'), stagingDir: path.join(via, 'idmap') };
      await mountIdmappedOverlay({
        userns: pin,
        lowerDirs: [layer],
        upperDir: path.join(via, 'upper'),
        workDir: path.join(via, 'work'),
        ...o,
        owner: { uid: HOST_BASE, gid: HOST_BASE },
        volumes: [layer],
      });
      assert.equal(fs.readFileSync(path.join(real, 'roots', 'rootfs', 'bin', 'tool'), 'utf8'), 'image content');
      await releaseIdmapped(o.rootsDir, o.stagingDir);
      assert.equal(fs.readFileSync(path.join(layer, 'bin', 'tool'), 'utf8'), 'image content', 'the layer is untouched');
      assert.ok(!fs.existsSync(path.join(real, 'idmap')) && !fs.existsSync(path.join(real, 'roots')));
      await cribIoMount([{ umount: pin }]);
      assert.deepEqual(
        (await readMounts()).filter((m) => m.mountPoint.startsWith(dir)),
        [],
      );
    } finally {
      for (const m of (await readMounts()).filter((x) => x.mountPoint.startsWith(dir)).reverse())
        await cribIoMount([{ umount: m.mountPoint }]).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
