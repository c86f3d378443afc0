// Paths inside a directory a container can write, as an attacker builds them: a container that puts
// a symlink to a node directory where its subPath was (kubelet's CVE-2017-1002101), in an emptyDir
// before its restart and in a claim before the next run; an image whose /etc/passwd and /etc/group
// lead to the node; then crib-io beneath itself against planted symlinks. The node directory stands in for /etc: the test's own, with a secret in it, so
// a regression shows as a file written there, never as a changed /etc. Root only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as tar from 'tar';
import { call } from '../src/client/client.js';
import { claimDir } from '../src/kube/records/paths.js';
import { beneath, BeneathError } from '../src/host/beneath.js';
import { run } from '../src/util/exec.js';
import { readMounts } from '../src/host/mounts.js';
import { cribRunSuite } from './support/crib-cli.js';
import { cribdWithBusybox, fullBusyboxEntries } from './support/busybox-image.js';
import { rejectsWith } from './support/grpc-assert.js';
import { buildTestImage, type TarEntry } from './support/registry.js';
import { waitFor } from './support/wait-for.js';

const IMAGE = 'localhost/crib/examples:busybox';
const SECRET = 'the node secret\n';

/** A node directory the attacker wants: a secret file in it, nothing else. */
function nodeDir(base: string): string {
  const dir = fs.mkdtempSync(path.join(base, 'node-etc-'));
  fs.writeFileSync(path.join(dir, 'shadow'), SECRET, { mode: 0o600 });
  return dir;
}

const untouched = (dir: string) => {
  assert.deepEqual(fs.readdirSync(dir), ['shadow'], `nothing was created in the node directory ${dir}`);
  assert.equal(fs.readFileSync(path.join(dir, 'shadow'), 'utf8'), SECRET);
};

/**
 * Mounts on the node of `dir` or what is under it: mountinfo's 4th field is the mount's root within
 * its filesystem, which ends with the directory's own (unique, mkdtemp) name.
 */
const mountsOf = (dir: string): string[] =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => (l.split(' ')[3] ?? '').split('/').includes(path.basename(dir)));

describe('subPath in crib run, against a container that plants a symlink', () => {
  const { h, crib, background, manifest, explain } = cribRunSuite(IMAGE);

  it("an emptyDir's subPath replaced by a symlink to a node directory: the restarted container is refused it", async () => {
    const target = nodeDir(h.base);
    const file = manifest(`apiVersion: v1
kind: Pod
metadata: {name: planter}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  volumes: [{name: vol, emptyDir: {}}]
  containers:
    - name: c
      image: ${IMAGE}
      command: [sh, -c]
      args:
        - |
          if [ -e /vol/planted ]; then
            echo "restarted, /data has: $(ls /data | tr '\\n' ' ')"
            cat /data/shadow && echo ESCAPED
            touch /data/written-by-the-container
            exec sleep 3600
          fi
          rm -rf /vol/data && ln -s ${target} /vol/data && touch /vol/planted && echo planted
          exit 1
      volumeMounts:
        - {name: vol, mountPath: /vol}
        - {name: vol, mountPath: /data, subPath: data}
`);
    const r = background(['run', file]);
    await waitFor(async () => /restarting container "c" failed|restarted \(restart count 1\)/.test(r.out.stderr), 'the restart to be tried', 60_000);
    const out = { code: null, ...r.out };
    assert.match(r.out.stdout, /\[c\] planted/, explain(out));
    assert.match(r.out.stderr, /restarting container "c" failed: container "c": subPath refused: bind data beneath .*: leads out of the volume/, explain(out));
    assert.doesNotMatch(r.out.stdout, /restarted, \/data has|ESCAPED|node secret/, explain(out));
    untouched(target);
    assert.deepEqual(mountsOf(target), [], 'the node directory is mounted nowhere');
    r.child.kill('SIGTERM');
    assert.equal(await r.exited, 143, explain(out)); // 128 + SIGTERM: an interrupted run says so
    assert.deepEqual(fs.readdirSync(path.join(h.root, 'pods')), [], "the pod's volumes and subPath binds are gone");
    untouched(target);
  });

  it("a claim's subPath planted by one run's pod is refused to the next run's", async () => {
    const target = nodeDir(h.base);
    const plant = manifest(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: plant}
spec:
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: shared}}]
  containers:
    - name: c
      image: ${IMAGE}
      command: [sh, -c, 'mkdir -p /claim/app && rm -rf /claim/app/conf && ln -s ${target} /claim/app/conf && echo planted']
      volumeMounts: [{name: data, mountPath: /claim}]
`);
    const victim = manifest(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: victim}
spec:
  restartPolicy: Never
  volumes: [{name: data, persistentVolumeClaim: {claimName: shared}}]
  containers:
    - name: c
      image: ${IMAGE}
      command: [sh, -c, 'ls /conf; cat /conf/shadow && echo ESCAPED; touch /conf/written-by-the-container']
      volumeMounts: [{name: data, mountPath: /conf, subPath: app/conf}]
`);
    try {
      const first = await crib(['run', plant]);
      assert.equal(first.code, 0, explain(first));
      assert.equal(fs.readlinkSync(path.join(claimDir(h.root, 'default', 'shared'), 'app', 'conf')), target, 'the symlink is in the claim on the node');
      const second = await crib(['run', victim]);
      assert.equal(second.code, 1, explain(second));
      assert.match(second.stderr, /subPath refused: bind app\/conf beneath .*shared: leads out of the volume/, explain(second));
      assert.doesNotMatch(second.stdout, /ESCAPED|node secret/, explain(second));
      assert.doesNotMatch(second.stderr, /container "c" started/, 'the container was never created');
      untouched(target);
    } finally {
      fs.rmSync(claimDir(h.root, 'default', 'shared'), { recursive: true, force: true });
    }
  });

  it('subPaths that stay inside the volume: a file, a symlink within it, and a missing directory made with the volume mode', async () => {
    const file = manifest(`apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {app.conf: "from the configmap\\n"}
---
apiVersion: v1
kind: Pod
metadata: {name: inside}
spec:
  restartPolicy: Never
  volumes:
    - {name: vol, emptyDir: {}}
    - {name: cfg, configMap: {name: cfg, items: [{key: app.conf, path: deep/er/app.conf}]}}
  initContainers:
    - name: setup
      image: ${IMAGE}
      command: [sh, -c, 'mkdir -p /vol/real && echo "in the volume" > /vol/real/f && ln -s real /vol/link']
      volumeMounts: [{name: vol, mountPath: /vol}]
  containers:
    - name: c
      image: ${IMAGE}
      command: [sh, -c, 'cat /linked/f /app.conf; stat -c "made %a" /made; touch /made/x']
      volumeMounts:
        - {name: vol, mountPath: /linked, subPath: link}
        - {name: vol, mountPath: /made, subPath: new/dir}
        - {name: cfg, mountPath: /app.conf, subPath: deep/er/app.conf}
`);
    const r = await crib(['run', file]);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /\[c\] in the volume\n\[c\] from the configmap\n\[c\] made 777\n/, explain(r));
  });
});

describe('crib-io beneath, against planted symlinks', () => {
  let base = '';
  let vol = '';
  let node = '';
  let stage = '';
  before(() => {
    base = fs.mkdtempSync('/tmp/crib-beneath-');
    vol = path.join(base, 'vol');
    stage = path.join(base, 'stage');
    fs.mkdirSync(vol, { mode: 0o750 });
    fs.mkdirSync(stage);
    node = nodeDir(base);
    fs.mkdirSync(path.join(vol, 'real'));
    fs.writeFileSync(path.join(vol, 'real', 'f'), 'inside\n');
    fs.symlinkSync(node, path.join(vol, 'abs'));
    fs.symlinkSync('../' + path.basename(node), path.join(vol, 'up'));
    fs.symlinkSync('real', path.join(vol, 'in'));
    fs.symlinkSync('/proc/self/root' + node, path.join(vol, 'magic'));
  });
  after(async () => {
    for (const m of (await readMounts()).filter((x) => x.mountPoint.startsWith(`${base}/`)).reverse()) await run('umount', ['-l', m.mountPoint]);
    fs.rmSync(base, { recursive: true, force: true });
  });

  const refused = async (p: Promise<void>, why: RegExp) => {
    await assert.rejects(p, (err: unknown) => err instanceof BeneathError && why.test(err.message));
  };

  it('refuses a symlink out, absolute or by "..", as the subPath or on the way to it, and a ".." itself', async () => {
    for (const rel of ['abs', 'up', 'abs/x', 'up/shadow', 'real/../../' + path.basename(node), 'magic']) {
      await refused(beneath(vol, [{ bind: rel, target: path.join(stage, 'x') }]), /leads out of the volume|symlink loop or a magic link/);
      await refused(beneath(vol, [{ mkdir: `${rel}/made` }]), /leads out of the volume|symlink loop or a magic link/);
    }
    assert.deepEqual(mountsOf(node), []);
    untouched(node);
  });

  it('binds what it opened: a directory, a file, through a symlink that stays inside; missing directories get the volume mode', async () => {
    await beneath(vol, [
      { bind: 'in', target: path.join(stage, 'dir') },
      { bind: 'real/f', target: path.join(stage, 'file') },
      { bind: 'a/b', target: path.join(stage, 'made') },
    ]);
    assert.equal(fs.readFileSync(path.join(stage, 'dir', 'f'), 'utf8'), 'inside\n');
    assert.equal(fs.readFileSync(path.join(stage, 'file'), 'utf8'), 'inside\n');
    for (const d of ['a', 'a/b']) assert.equal(fs.statSync(path.join(vol, d)).mode & 0o7777, 0o750, d);
    // Bound again (a restart): the earlier bind is replaced, not stacked.
    await beneath(vol, [{ bind: 'real', target: path.join(stage, 'dir') }]);
    assert.equal((await readMounts()).filter((m) => m.mountPoint === path.join(stage, 'dir')).length, 1);
  });

  it('writes files with their mode, never through a planted symlink, replacing one in their place', async () => {
    fs.symlinkSync(path.join(node, 'shadow'), path.join(vol, 'real', 'planted'));
    await beneath(vol, [
      { write: 'real/planted', data: Buffer.from('mine\n'), mode: 0o640 },
      { write: 'cfg/deep/x', data: Buffer.from('x'), mode: 0o4755 },
    ]);
    const st = fs.lstatSync(path.join(vol, 'real', 'planted'));
    assert.ok(st.isFile(), 'the symlink was replaced by a file');
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(fs.statSync(path.join(vol, 'cfg', 'deep', 'x')).mode & 0o7777, 0o4755, 'the umask takes no bits');
    await refused(beneath(vol, [{ write: 'abs/shadow', data: Buffer.from('pwned'), mode: 0o644 }]), /leads out of the volume/);
    untouched(node);
  });
});

describe("an image's /etc/passwd and /etc/group, which cribd reads for the container's user", () => {
  const h = cribdWithBusybox();

  /** The busybox image with some of its /etc files replaced, imported as localhost/test/hostile:NAME. */
  async function importWith(name: string, replace: Record<string, TarEntry>, user: string, extra: TarEntry[] = []): Promise<string> {
    const entries = [...fullBusyboxEntries().map((e) => replace[e.path] ?? e), ...extra];
    const dir = path.join(h.base, `image-${name}`);
    const layout = await buildTestImage(dir, { layers: [{ entries }], config: { Cmd: ['/bin/sh'], User: user } }, name);
    const file = `${dir}.tar`;
    await tar.c({ cwd: layout.dir, file }, await fsp.readdir(layout.dir));
    const ref = `localhost/test/hostile:${name}`;
    await call(h.client.cribImages, 'Import', { path: file, name: ref });
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rm(file, { force: true });
    return ref;
  }

  const create = async (podId: string, image: string) =>
    call(h.runtime, 'CreateContainer', {
      pod_sandbox_id: podId,
      config: { metadata: { name: 'c' }, image: { image }, command: ['true'], log_path: 'c.log' },
      sandbox_config: h.podConfig('users'),
    });

  it('resolves their symlinks inside the rootfs, never on the node', async () => {
    const node = nodeDir(h.base);
    fs.writeFileSync(path.join(node, 'passwd'), 'evil:x:4242:4242::/:/bin/sh\n');
    const image = await importWith('abs', { 'etc/passwd': { path: 'etc/passwd', type: 'symlink', target: path.join(node, 'passwd') } }, 'evil');
    const podId = await h.runPod('users');
    await rejectsWith(create(podId, image), grpc.status.INVALID_ARGUMENT, /user "evil" not found in the image's \/etc\/passwd/);
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, [], 'nothing half-created');
  });

  it('refuses a fifo or an oversized file there, at once, and serves on', async () => {
    const podId = await h.runPod('users');
    const fifo = await importWith('fifo', { 'etc/group': { path: 'etc/group', type: 'fifo' } }, 'root');
    await rejectsWith(create(podId, fifo), grpc.status.INVALID_ARGUMENT, /read etc\/group in .*: not a regular file/);
    // Through a symlink, which only crib-io resolves (inside the rootfs).
    const linked = await importWith('linked-fifo', { 'etc/group': { path: 'etc/group', type: 'symlink', target: '/etc/real-group' } }, 'root', [
      { path: 'etc/real-group', type: 'fifo' },
    ]);
    await rejectsWith(create(podId, linked), grpc.status.INVALID_ARGUMENT, /read etc\/group in .*: not a regular file/);
    // Bounded by what a passwd of every 16-bit uid needs (a line of at most 64 bytes each), not by crib's constant.
    const huge = await importWith('huge', { 'etc/passwd': { path: 'etc/passwd', content: Buffer.alloc(65536 * 64 * 4, 'x') } }, 'root');
    await rejectsWith(create(podId, huge), grpc.status.INVALID_ARGUMENT, /read etc\/passwd in .*: larger than/);
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, [], 'nothing half-created');
    assert.equal((await call(h.runtime, 'Version', { version: 'v1' })).runtime_name, 'crib', 'still serving');
  });
});
