import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call, serverStream } from '../src/client/client.js';
import { run } from '../src/util/exec.js';
import { exportArchive, importArchive } from '../src/image/archive.js';
import { mountOverlay, unmountOverlay } from '../src/image/overlay.js';
import { pushImage } from '../src/image/push.js';
import { RegistryClient } from '../src/image/registry/client.js';
import { ImageStore } from '../src/image/store.js';
import { Harness } from './support/harness.js';
import { fakeImage, fakeLayer, stallingAnswer, startFakeRegistry } from './support/fake-registry.js';
import { rejectsWith } from './support/grpc-assert.js';
import { waitFor } from './support/wait-for.js';
import {
  buildTestImage,
  buildTestIndex,
  busyboxLayer,
  pushLayout,
  registryBlobPath,
  skopeoCopy,
  skopeoInspect,
  startRegistry,
  type TestLayout,
  type TestRegistry,
} from './support/registry.js';

const user = { user: 'crib', password: 's3cret' };

describe('images: pull, status, remove, import, export, push', () => {
  let reg: TestRegistry;
  let secure: TestRegistry;
  let work: string;
  let h: Harness;
  let multi: TestLayout;
  const layoutDir = (name: string) => path.join(work, name);

  before(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-images-'));
    reg = await startRegistry({ accessLog: true });
    secure = await startRegistry({ tls: true, htpasswd: user });
    // A three-layer image: busybox; files; then a whiteout of etc/gone and an opaque etc/conf.
    multi = await buildTestImage(layoutDir('multi'), {
      config: { User: '1000:1000', Entrypoint: ['/bin/sh'] },
      layers: [
        { entries: busyboxLayer() },
        {
          entries: [
            { path: 'etc', type: 'dir' },
            { path: 'etc/gone', content: 'bye' },
            { path: 'etc/kept', content: 'v1' },
            { path: 'etc/conf', type: 'dir' },
            { path: 'etc/conf/a', content: 'old' },
          ],
        },
        {
          entries: [
            { path: 'etc', type: 'dir' },
            { path: 'etc/.wh.gone', content: '' },
            { path: 'etc/kept', content: 'v2' },
            { path: 'etc/conf', type: 'dir' },
            { path: 'etc/conf/.wh..wh..opq', content: '' },
            { path: 'etc/conf/b', content: 'new' },
          ],
          compression: 'none',
        },
      ],
    });
    await pushLayout(multi, reg, 'test/multi', '1');
    await pushLayout(multi, secure, 'test/multi', '1', user);
    // Same base layer, one more layer: shares content with test/multi.
    const other = await buildTestImage(layoutDir('other'), {
      layers: [{ entries: busyboxLayer() }, { entries: [{ path: 'other', content: 'x'.repeat(1000) }] }],
    });
    await pushLayout(other, reg, 'test/other', '1');
    const idx = await buildTestIndex(layoutDir('index'), [
      { layers: [{ entries: [{ path: 'arch', content: 'amd64' }] }], architecture: 'amd64' },
      { layers: [{ entries: [{ path: 'arch', content: 'arm64' }] }], architecture: 'arm64', variant: 'v8' },
    ]);
    await pushLayout(idx, reg, 'test/oci-index', '1');
    const list = await buildTestIndex(
      layoutDir('list'),
      [
        { layers: [{ entries: [{ path: 'arch', content: 'amd64' }] }], architecture: 'amd64' },
        { layers: [{ entries: [{ path: 'arch', content: 'arm64' }] }], architecture: 'arm64', variant: 'v8' },
      ],
      'latest',
      'docker',
    );
    await pushLayout(list, reg, 'test/docker-list', '1');
    h = new Harness({ config: { registries: { caFiles: [secure.caFile] } } });
    await h.start();
  });

  after(async () => {
    await h?.cleanup();
    await reg?.stop();
    await secure?.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  const pull = (image: string, auth?: object) => call(h.client.image, 'PullImage', { image: { image }, ...(auth ? { auth } : {}) });
  const status = (image: string, verbose = false) => call(h.client.image, 'ImageStatus', { image: { image }, verbose });
  const storeDir = () => path.join(h.root, 'images');

  it('pulls a multi-layer image, applies whiteouts and opaque dirs, and reports it as kubelet reads it', async () => {
    const ref = `${reg.host}/test/multi:1`;
    const res = await pull(ref);
    const built = multi.images[0]!;
    assert.equal(res.image_ref, built.config.digest);
    const st = await status(ref, true);
    assert.equal(st.image?.id, built.config.digest);
    assert.deepEqual(st.image?.repo_tags, [ref]);
    assert.deepEqual(st.image?.repo_digests, [`${reg.host}/test/multi@${built.manifest.digest}`]);
    assert.equal(st.image?.uid?.value, '1000');
    assert.equal(st.image?.pinned, false);
    assert.equal(Number(st.image?.size), built.config.size + built.layers.reduce((n, l) => n + l.size, 0));
    assert.deepEqual(JSON.parse(st.info['info'] ?? '{}').imageSpec.Entrypoint, ['/bin/sh']);
    const listed = await call(h.client.image, 'ListImages', { filter: { image: { image: ref } } });
    assert.deepEqual(
      listed.images.map((i) => i.id),
      [built.config.digest],
    );

    // The unpacked layers, stacked by overlayfs, give the image's view.
    const layers = built.layers.map((l) => path.join(storeDir(), 'layers', l.diffId.slice(7)));
    const top = layers[2] as string;
    assert.ok(fs.statSync(path.join(top, 'etc/gone')).isCharacterDevice(), 'whiteout is a 0:0 char device');
    const { stdout } = await run('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', path.join(top, 'etc/conf')]);
    assert.equal(stdout, 'y');
    const mnt = path.join(work, 'rootfs');
    await fsp.mkdir(mnt);
    await mountOverlay({ lowerDirs: [...layers].reverse(), target: mnt, readonly: true });
    try {
      assert.equal(fs.existsSync(path.join(mnt, 'etc/gone')), false);
      assert.equal(fs.readFileSync(path.join(mnt, 'etc/kept'), 'utf8'), 'v2');
      assert.deepEqual(fs.readdirSync(path.join(mnt, 'etc/conf')), ['b']);
      assert.equal(fs.readlinkSync(path.join(mnt, 'bin/sh')), 'busybox');
    } finally {
      await unmountOverlay(mnt);
    }
    // Short names resolve as Docker's do.
    assert.equal((await status(`${reg.host}/test/multi:1`)).image?.id, built.config.digest);
  });

  it("picks this node's platform from an OCI index and from a Docker manifest list", async () => {
    for (const repo of ['test/oci-index', 'test/docker-list']) {
      const res = await pull(`${reg.host}/${repo}:1`);
      const st = await status(`${reg.host}/${repo}:1`, true);
      const diffId = (JSON.parse(st.info['info'] ?? '{}').chainIds as string[])[0] as string;
      assert.equal(fs.readFileSync(path.join(storeDir(), 'layers', diffId.slice(7), 'arch'), 'utf8'), 'amd64', repo);
      assert.ok(res.image_ref.startsWith('sha256:'));
    }
  });

  it('pulls over TLS with Basic auth from the CRI AuthConfig, and refuses a wrong password', async () => {
    const ref = `${secure.host}/test/multi:1`;
    await rejectsWith(pull(ref, { username: user.user, password: 'wrong' }), grpc.status.UNAUTHENTICATED, /unauthorized/);
    await rejectsWith(pull(ref), grpc.status.UNAUTHENTICATED, /unauthorized/);
    const res = await pull(ref, { auth: Buffer.from(`${user.user}:${user.password}`).toString('base64') });
    assert.equal(res.image_ref, multi.images[0]?.config.digest);
    assert.deepEqual((await status(ref)).image?.repo_tags.sort(), [`${reg.host}/test/multi:1`, ref].sort());
  });

  it('answers NOT_FOUND for a missing tag and stores nothing', async () => {
    await rejectsWith(pull(`${reg.host}/test/multi:nope`), grpc.status.NOT_FOUND, /test\/multi:nope/);
    assert.equal((await status(`${reg.host}/test/multi:nope`)).image, null);
  });

  it('refuses a blob corrupted in the registry, leaving nothing behind', async () => {
    const bad = await buildTestImage(layoutDir('bad'), { layers: [{ entries: [{ path: 'data', content: 'y'.repeat(5000) }] }] });
    await pushLayout(bad, reg, 'test/bad', '1');
    const layer = bad.images[0]!.layers[0]!;
    const blob = registryBlobPath(reg, layer.digest);
    const data = fs.readFileSync(blob);
    data[data.length - 5]! ^= 0xff;
    fs.writeFileSync(blob, data);
    await rejectsWith(pull(`${reg.host}/test/bad:1`), grpc.status.INTERNAL, /digest mismatch/);
    assert.equal((await status(`${reg.host}/test/bad:1`)).image, null);
    assert.equal(fs.existsSync(path.join(storeDir(), 'blobs', 'sha256', layer.digest.slice(7))), false);
    assert.deepEqual(fs.readdirSync(path.join(storeDir(), 'tmp')), []);
  });

  it('downloads each blob once when two pulls of an image run at the same time', async () => {
    const img = await buildTestImage(layoutDir('twice'), {
      layers: [{ entries: [{ path: 'a', content: Buffer.alloc(300_000, 1) }] }, { entries: [{ path: 'b', content: Buffer.alloc(200_000, 2) }] }],
    });
    await pushLayout(img, reg, 'test/twice', '1');
    const ref = `${reg.host}/test/twice:1`;
    const [a, b] = await Promise.all([pull(ref), pull(ref)]);
    assert.equal(a.image_ref, b.image_ref);
    const log = fs.readFileSync(reg.logFile, 'utf8');
    for (const l of img.images[0]!.layers) {
      const gets = log.split('\n').filter((line) => line.includes(`"GET /v2/test/twice/blobs/${l.digest}`)).length;
      assert.equal(gets, 1, `layer ${l.digest} fetched ${gets} times`);
    }
  });

  it('removes one tag of several and keeps the image; removes content no other image shares', async () => {
    const a = `${reg.host}/test/multi:1`;
    const b = `${reg.host}/test/other:1`;
    await pull(a);
    const blobs = () => fs.readdirSync(path.join(storeDir(), 'blobs', 'sha256')).sort();
    const blobsOfA = blobs();
    await pull(b);
    const ownOfB = blobs().filter((d) => !blobsOfA.includes(d));
    assert.ok(ownOfB.length > 0, 'b brought blobs of its own (its manifest, config and own layer)');
    const layerDir = (d: string) => path.join(storeDir(), 'layers', d.slice(7));
    const stB = await status(b, true);
    const [baseDiff, ownDiff] = JSON.parse(stB.info['info'] ?? '{}').chainIds as string[];
    assert.ok(fs.existsSync(layerDir(baseDiff as string)) && fs.existsSync(layerDir(ownDiff as string)));
    await call(h.client.image, 'RemoveImage', { image: { image: stB.image?.id ?? '' } });
    assert.equal((await status(b)).image, null);
    assert.equal(fs.existsSync(layerDir(ownDiff as string)), false, 'its own layer is gone');
    assert.equal(fs.existsSync(layerDir(baseDiff as string)), true, 'the shared base layer stays');
    // The sweep takes every blob no image references (an earlier test's failed pull may have left
    // some): b's own must be gone, a's must stay.
    const left = blobs();
    assert.deepEqual(
      left.filter((d) => ownOfB.includes(d)),
      [],
      "b's own blobs are gone",
    );
    const ofA = multi.images[0]!;
    for (const d of [ofA.manifest.digest, ofA.config.digest, ...ofA.layers.map((l) => l.digest)]) assert.ok(left.includes(d.slice(7)), `a's blob ${d} stays`);
    await call(h.client.image, 'RemoveImage', { image: { image: stB.image?.id ?? '' } }); // idempotent

    // The same image from the TLS registry: one image, two tags.
    const secureRef = `${secure.host}/test/multi:1`;
    await pull(secureRef, { username: user.user, password: user.password });
    assert.deepEqual((await status(a)).image?.repo_tags.sort(), [a, secureRef].sort());
    await call(h.client.image, 'RemoveImage', { image: { image: secureRef } });
    assert.deepEqual((await status(a)).image?.repo_tags, [a], 'one tag removed, image kept');
    assert.equal(fs.existsSync(layerDir(baseDiff as string)), true, 'its layers kept');
    const byDigest = `${reg.host}/test/multi@${multi.images[0]?.manifest.digest}`;
    await call(h.client.image, 'RemoveImage', { image: { image: byDigest } });
    assert.equal((await status(a)).image, null, 'removed by digest');
    assert.equal(fs.existsSync(layerDir(baseDiff as string)), false, 'the last user of the base layer is gone, so is the layer');
  });

  it('refuses to remove an image a sandbox uses, naming it', async () => {
    const pause = (await call(h.client.image, 'ListImages', {})).images.find((i) => i.pinned);
    assert.ok(pause);
    const id = await h.runPod('holder');
    await rejectsWith(call(h.client.image, 'RemoveImage', { image: { image: pause.id } }), grpc.status.FAILED_PRECONDITION, new RegExp(`sandbox ${id}`));
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    await h.assertNoLeaks();
  });

  it('reports the image filesystem usage', async () => {
    const res = await call(h.client.image, 'ImageFsInfo', {});
    const fsu = res.image_filesystems[0];
    assert.equal(fsu?.fs_id?.mountpoint, storeDir());
    assert.ok(Number(fsu?.used_bytes?.value) > 100_000);
    assert.ok(Number(fsu?.inodes_used?.value) > 10);
  });

  it('imports and exports oci-archive and docker-archive with byte-identical manifests, and pushes', async () => {
    const store = new ImageStore(path.join(work, 'store'));
    await store.open();
    const ociTar = path.join(work, 'multi-oci.tar');
    await skopeoCopy(`docker://${reg.host}/test/multi:1`, `oci-archive:${ociTar}:${reg.host}/test/multi:1`, { srcTlsVerify: false, preserveDigests: true });
    const [imported] = await importArchive(store, ociTar);
    assert.equal(imported?.id, multi.images[0]?.config.digest);
    assert.equal(imported?.manifestDigest, multi.images[0]?.manifest.digest, 'manifest kept byte for byte');
    assert.deepEqual(imported?.repoTags, [`${reg.host}/test/multi:1`]);

    const outOci = path.join(work, 'out-oci.tar');
    await exportArchive(store, [imported], outOci, 'oci-archive');
    const store2 = new ImageStore(path.join(work, 'store2'));
    await store2.open();
    const [again] = await importArchive(store2, outOci);
    assert.equal(again?.manifestDigest, imported?.manifestDigest);
    assert.ok((await store2.readBlob(again.manifestDigest)).equals(await store.readBlob(imported.manifestDigest)));
    // skopeo reads our export too
    const inspected = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci-archive:${outOci}`], { env: { HOME: work } })).stdout) as {
      config: { digest: string };
    };
    assert.equal(inspected.config.digest, imported?.id);

    const dockerTar = path.join(work, 'multi-docker.tar');
    await skopeoCopy(`docker://${reg.host}/test/multi:1`, `docker-archive:${dockerTar}:test/multi:1`, { srcTlsVerify: false });
    const store3 = new ImageStore(path.join(work, 'store3'));
    await store3.open();
    const [fromDocker] = await importArchive(store3, dockerTar);
    assert.equal(fromDocker?.id, multi.images[0]?.config.digest, 'same config, same image id');
    assert.deepEqual(fromDocker?.repoTags, ['docker.io/test/multi:1']);
    const outDocker = path.join(work, 'out-docker.tar');
    await exportArchive(store3, [fromDocker], outDocker, 'docker-archive');
    const store4 = new ImageStore(path.join(work, 'store4'));
    await store4.open();
    const [roundTrip] = await importArchive(store4, outDocker);
    assert.equal(roundTrip?.manifestDigest, fromDocker?.manifestDigest, 'docker-archive round trip keeps the manifest');
    await run('skopeo', ['inspect', `docker-archive:${outDocker}`], { env: { HOME: work } });

    // push the imported image to another repository; skopeo sees the same manifest
    const client = new RegistryClient({ mirrors: {}, insecure: [], caFiles: [] });
    try {
      const digest = await pushImage(store, client, imported, `${reg.host}/pushed/multi:2`);
      const raw = await skopeoInspect(`docker://${reg.host}/pushed/multi:2`, { tlsVerify: false, raw: true });
      assert.ok(Buffer.from(raw).equals(await store.readBlob(digest)));
    } finally {
      client.close();
    }
  });

  it('streams pull progress, and imports, exports and pushes through cribd (crib.v1.Images)', async () => {
    const img = await buildTestImage(layoutDir('progress'), { layers: [{ entries: [{ path: 'p', content: randomish(3_000_000, 7) }], compression: 'none' }] });
    await pushLayout(img, reg, 'test/progress', '1');
    const events: { digest: string; done: string; total: string; image_id: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = serverStream(h.client.cribImages, 'PullWithProgress', { image: `${reg.host}/test/progress:1` });
      stream.on('data', (e: (typeof events)[number]) => events.push(e));
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    const layer = img.images[0]!.layers[0]!;
    const last = events.filter((e) => e.digest === layer.digest).at(-1);
    assert.equal(Number(last?.done), layer.size);
    assert.equal(Number(last?.total), layer.size);
    assert.equal(events.at(-1)?.image_id, img.images[0]?.config.digest);

    const tarFile = path.join(work, 'via-daemon.tar');
    await call(h.client.cribImages, 'Export', { images: [`${reg.host}/test/progress:1`], path: tarFile, format: 'docker-archive' });
    await call(h.client.image, 'RemoveImage', { image: { image: `${reg.host}/test/progress:1` } });
    const res = await call(h.client.cribImages, 'Import', { path: tarFile });
    assert.deepEqual(res.repo_tags, [`${reg.host}/test/progress:1`]);
    assert.equal((await status(`${reg.host}/test/progress:1`)).image?.id, img.images[0]?.config.digest);
    const pushed = await call(h.client.cribImages, 'Push', { image: `${reg.host}/test/progress:1`, target: `${reg.host}/mirrored/progress:1` });
    assert.ok(pushed.digest.startsWith('sha256:'));
    await skopeoInspect(`docker://${reg.host}/mirrored/progress:1`, { tlsVerify: false });
    await rejectsWith(call(h.client.cribImages, 'Import', { path: 'relative.tar' }), grpc.status.INVALID_ARGUMENT, /path/);
  });

  it('leaves no half image after cribd is killed during a pull', async () => {
    // A registry that sends half of the big layer and holds the rest: the kill lands mid-transfer.
    const fake = await startFakeRegistry();
    try {
      const small = fakeLayer([{ path: 'small', content: 'x' }]);
      const big = fakeLayer([{ path: 'big', content: randomish(4_000_000, 9) }]);
      const half = Math.floor(big.blob.length / 2);
      const stall = stallingAnswer(big.blob, half);
      fake.serveImage('test/crash', '1', fakeImage([small, big]));
      fake.answers.set(`/v2/test/crash/blobs/${big.digest}`, stall.answer);
      const ref = `${fake.host}/test/crash:1`;
      const tmp = path.join(storeDir(), 'tmp');
      const partial = () => fs.readdirSync(tmp).filter((f) => f.startsWith(big.digest.replace(':', '_')));
      const partialSize = () => partial().reduce((n, f) => n + fs.statSync(path.join(tmp, f)).size, 0);

      // The pull's failure is caught at once: it comes while the test is busy killing cribd.
      const pulling = pull(ref).then(
        () => 'pulled',
        (err: grpc.ServiceError) => err.code,
      );
      await waitFor(
        () => partialSize() === half,
        () => `cribd to hold half of the big layer (${partialSize()} of ${half} bytes)`,
        30_000,
      );
      await h.stopDaemon('SIGKILL');
      assert.equal(await pulling, grpc.status.UNAVAILABLE, 'the pull died with cribd');
      assert.equal(partial().length, 1, 'the kill left a partial download');

      await h.start();
      assert.equal((await status(ref)).image, null, 'no image is listed');
      assert.deepEqual(fs.readdirSync(tmp), [], 'no partial download is left');
      assert.equal(fs.existsSync(path.join(storeDir(), 'blobs', 'sha256', big.digest.slice(7))), false, 'the half blob was never stored');
      assert.equal(fs.existsSync(path.join(storeDir(), 'layers', big.diffId.slice(7))), false, 'nor unpacked');

      stall.release();
      await pull(ref);
      const st = await status(ref, true);
      assert.deepEqual(JSON.parse(st.info['info'] ?? '{}').chainIds, [small.diffId, big.diffId]);
      for (const l of [small, big]) assert.ok(fs.existsSync(path.join(storeDir(), 'layers', l.diffId.slice(7))), 'a listed image is whole');
    } finally {
      await fake.close();
    }
  });
});

describe('a --pause-image that must be pulled', () => {
  let reg: TestRegistry;
  let h: Harness;
  let work: string;
  before(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-pauseimg-'));
    reg = await startRegistry();
    // Two layers: the sandbox's root filesystem is then an overlay (one layer is hard-linked).
    const img = await buildTestImage(path.join(work, 'p'), {
      config: { Entrypoint: ['/bin/sleep'], Cmd: ['100000'] },
      layers: [
        { entries: busyboxLayer() },
        {
          entries: [
            { path: 'etc', type: 'dir' },
            { path: 'etc/pause-release', content: 'custom' },
          ],
        },
      ],
    });
    await pushLayout(img, reg, 'mirror/pause', '3.10');
    h = new Harness({ flags: ['--pause-image', `${reg.host}/mirror/pause:3.10`] });
    await h.start();
  });
  after(async () => {
    await h?.cleanup();
    await reg?.stop();
    await fsp.rm(work, { recursive: true, force: true });
  });

  it('pulls it for the first sandbox, pins it, and runs the pod with it', async () => {
    const id = await h.runPod('custom');
    const { status, info } = await h.inspect(id);
    assert.equal(status?.state, 0);
    assert.match(fs.readFileSync(`/proc/${info.pid}/cmdline`, 'utf8'), /sleep/);
    assert.equal(fs.readFileSync(`/proc/${info.pid}/root/etc/pause-release`, 'utf8'), 'custom');
    const img = await call(h.client.image, 'ImageStatus', { image: { image: `${reg.host}/mirror/pause:3.10` } });
    assert.equal(img.image?.pinned, true);
    await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
    await h.assertNoLeaks();
  });
});

/** Incompressible-ish bytes, made quickly. */
function randomish(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 2463534242 + seed;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}
