// The CRI features of kubelet 1.30-1.33 on real pods: recursive read-only mounts, SupplementalGroupsPolicy
// with ContainerStatus.user, image volumes, UpdatePodSandboxResources, and Stop of unknown ids.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as tar from 'tar';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { rejectsWith } from './support/grpc-assert.js';
import { mountsUnder } from './support/leaks.js';
import { TEST_IMAGE, cribdWithBusybox } from './support/busybox-image.js';
import { buildTestImage } from './support/registry.js';

describe('newer CRI features on real pods', () => {
  const h = cribdWithBusybox();

  const ctr = (name: string, extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image: TEST_IMAGE },
    command: ['sleep', '1000'],
    log_path: `${name}.log`,
    ...extra,
  });
  async function pod(name: string) {
    const id = await h.runPod(name);
    return { id, config: h.podConfig(name) };
  }
  const create = (p: { id: string; config: object }, c: ContainerConfig) =>
    call(h.runtime, 'CreateContainer', { pod_sandbox_id: p.id, config: c, sandbox_config: p.config }).then((r) => r.container_id);
  async function run(p: { id: string; config: object }, c: ContainerConfig) {
    const id = await create(p, c);
    await call(h.runtime, 'StartContainer', { container_id: id });
    return id;
  }
  const sh = async (id: string, script: string) => {
    const r = await call(h.runtime, 'ExecSync', { container_id: id, cmd: ['sh', '-c', script], timeout: 10 });
    return { code: r.exit_code, out: `${r.stdout.toString()}${r.stderr.toString()}`.trim() };
  };

  it('announces rro for the default handler (empty name) and by name, and supplemental_groups_policy', async () => {
    const st = await call(h.runtime, 'Status', {});
    const rro = Object.fromEntries(st.runtime_handlers.map((r) => [r.name, r.features?.recursive_read_only_mounts]));
    // runc 1.1+ lists rro among its mount options (`runc features`); that is what is announced.
    const listed = (JSON.parse(execFileSync('runc', ['features'], { encoding: 'utf8' })) as { mountOptions: string[] }).mountOptions.includes('rro');
    assert.equal(rro[''], listed);
    assert.equal(rro['runc'], listed);
    assert.equal(st.features?.supplemental_groups_policy, true);
  });

  it('mounts recursive read-only: a mount below the host path is read-only too; refuses rro with rw or propagation', async () => {
    const host = path.join(h.base, 'rro-host');
    const below = path.join(host, 'tmpfs');
    fs.mkdirSync(below, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'none', below]);
    try {
      const p = await pod('rro');
      const mount = (recursive_read_only: boolean) => ({ container_path: '/mnt', host_path: host, readonly: true, recursive_read_only });
      const plain = await run(p, ctr('plain', { mounts: [mount(false)] }));
      const rro = await run(p, ctr('rro', { mounts: [mount(true)] }));
      assert.equal((await sh(plain, 'touch /mnt/tmpfs/x')).code, 0, 'ro alone leaves the mount below writable');
      const denied = await sh(rro, 'touch /mnt/tmpfs/y');
      assert.notEqual(denied.code, 0);
      assert.match(denied.out, /Read-only file system/);
      assert.equal((await sh(rro, 'touch /mnt/z')).code !== 0, true);
      const st = (await call(h.runtime, 'ContainerStatus', { container_id: rro })).status!;
      assert.equal(st.mounts[0]?.recursive_read_only, true);
      await rejectsWith(
        create(p, ctr('rw', { mounts: [{ ...mount(true), readonly: false }] })),
        grpc.status.INVALID_ARGUMENT,
        /mounts\[0\]\.recursive_read_only/,
      );
      await rejectsWith(
        create(p, ctr('shared', { mounts: [{ ...mount(true), propagation: 2 }] })),
        grpc.status.INVALID_ARGUMENT,
        /mounts\[0\]\.recursive_read_only/,
      );
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
    } finally {
      execFileSync('umount', [below]);
    }
  });

  it('applies SupplementalGroupsPolicy Merge and Strict, and reports the ids in ContainerStatus.user', async () => {
    // The image's /etc/group puts app (1000) in extra (2000).
    const p = await pod('groups');
    const sc = (policy: 0 | 1) => ({
      linux: { security_context: { run_as_user: { value: '1000' }, supplemental_groups: ['1234'], supplemental_groups_policy: policy } },
    });
    const merge = await run(p, ctr('merge', sc(0)));
    const strict = await run(p, ctr('strict', sc(1)));
    assert.equal((await sh(merge, 'id -G')).out, '1000 1234 2000');
    assert.equal((await sh(strict, 'id -G')).out, '1000 1234');
    const user = async (id: string) => {
      const u = (await call(h.runtime, 'ContainerStatus', { container_id: id })).status?.user?.linux;
      return u && { ...u, supplemental_groups: u.supplemental_groups.sort() }; // a set, in no order (critest sorts too)
    };
    assert.deepEqual(await user(merge), { uid: '1000', gid: '1000', supplemental_groups: ['1000', '1234', '2000'] });
    assert.deepEqual(await user(strict), { uid: '1000', gid: '1000', supplemental_groups: ['1000', '1234'] });
  });

  it('mounts an image volume read-only from the store, refuses a missing image and the image removal while in use', async () => {
    const data = 'localhost/test/data:1';
    const dir = path.join(h.base, 'data-image');
    const layout = await buildTestImage(
      dir,
      {
        layers: [
          {
            entries: [
              { path: 'data', type: 'dir' },
              { path: 'data/hello.txt', content: 'from the image volume\n' },
            ],
          },
        ],
      },
      '1',
    );
    await tar.c({ cwd: layout.dir, file: `${dir}.tar` }, await fsp.readdir(layout.dir));
    await call(h.client.cribImages, 'Import', { path: `${dir}.tar`, name: data });
    const p = await pod('imgvol');
    const vol = (image: string) => ({ mounts: [{ container_path: '/vol', image: { image }, readonly: true }] });
    const id = await run(p, ctr('reader', vol(data)));
    assert.equal((await sh(id, 'cat /vol/data/hello.txt')).out, 'from the image volume');
    assert.match((await sh(id, 'touch /vol/x')).out, /Read-only file system/);
    const st = (await call(h.runtime, 'ContainerStatus', { container_id: id })).status!;
    assert.equal(st.mounts[0]?.image?.image, data);
    await rejectsWith(create(p, ctr('missing', vol('localhost/test/nope:1'))), grpc.status.NOT_FOUND, /mounts\[0\]\.image/);
    // kubelet 1.33's subPath: a directory of the image mounted instead of its root; one that is not there is NOT_FOUND.
    const sub = (image_sub_path: string) => ({ mounts: [{ container_path: '/sub', image: { image: data }, readonly: true, image_sub_path }] });
    const subbed = await run(p, ctr('sub', sub('./data')));
    assert.equal((await sh(subbed, 'cat /sub/hello.txt')).out, 'from the image volume');
    await rejectsWith(create(p, ctr('nosub', sub('nothing/here'))), grpc.status.NOT_FOUND, /mounts\[0\]\.image_sub_path/);
    await call(h.runtime, 'RemoveContainer', { container_id: subbed });
    await rejectsWith(call(h.client.image, 'RemoveImage', { image: { image: data } }), grpc.status.FAILED_PRECONDITION, new RegExp(id));
    const volumeMount = path.join(h.root, 'containers', id, 'image-volumes', '0');
    assert.deepEqual(await mountsUnder(path.dirname(volumeMount)), [volumeMount]);
    await call(h.runtime, 'RemoveContainer', { container_id: id });
    assert.deepEqual(await mountsUnder(path.join(h.root, 'containers')), [], "the volume's overlay goes with its container");
    await call(h.client.image, 'RemoveImage', { image: { image: data } });
  });

  it("UpdatePodSandboxResources sets the pod cgroup's limits; an unknown pod is NOT_FOUND", async () => {
    const p = await pod('resize');
    const mib = 1024 * 1024;
    await call(h.runtime, 'UpdatePodSandboxResources', {
      pod_sandbox_id: p.id,
      resources: { cpu_shares: '512', cpu_period: '100000', cpu_quota: '50000', memory_limit_in_bytes: String(256 * mib) },
      overhead: { memory_limit_in_bytes: String(16 * mib) },
    });
    const podCgroup = `${h.cgroupRoot}/pod-${p.id}`;
    const read = (controller: string, file: string) => fs.readFileSync(path.join('/sys/fs/cgroup', controller, podCgroup, file), 'utf8').trim();
    if (fs.existsSync('/sys/fs/cgroup/memory')) {
      assert.equal(read('memory', 'memory.limit_in_bytes'), String(272 * mib));
      assert.equal(read('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(read('cpu', 'cpu.shares'), '512');
    } else {
      assert.equal(read('', 'memory.max'), String(272 * mib));
      assert.equal(read('', 'cpu.max'), '50000 100000');
    }
    await rejectsWith(call(h.runtime, 'UpdatePodSandboxResources', { pod_sandbox_id: 'f'.repeat(64), resources: {} }), grpc.status.NOT_FOUND);
    await rejectsWith(
      call(h.runtime, 'UpdatePodSandboxResources', { pod_sandbox_id: p.id, resources: { cpu_shares: '1' } }),
      grpc.status.INVALID_ARGUMENT,
      /resources\.cpu_shares/,
    );
  });
});
