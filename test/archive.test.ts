// Archive import (src/image/archive.ts) against archives built to harm the node: paths and digests
// that climb out of the extraction directory, symlinks that lead out of it, sizes crib must not
// buffer. A canary file stands for the host's files: it must keep its content and its inode (not
// be moved into the store), and survive the garbage collection of a reopened store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as tar from 'tar';
import { importArchive } from '../src/image/archive.js';
import { ImageStore } from '../src/image/store.js';
import { CribError } from '../src/util/errors.js';
import { makeTar, type Entry } from './support/tar.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const CANARY = 'CANARY-SECRET-CONTENT\n';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A one-layer image: the layer tar, its config, and the OCI manifest of both. */
function image(config: Record<string, unknown> = {}) {
  const layer = makeTar([{ path: 'hello', data: 'world' }]);
  const configBytes = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] }, ...config }),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
  };
  return { layer, configBytes, manifest };
}

const file = (p: string, data: string | Buffer): Entry => ({ path: p, data });
/** A symlink entry; long targets go in a PAX record. */
const symlink = (p: string, target: string): Entry => ({ path: p, type: '2', linkpath: target, ...(target.length > 100 ? { pax: { linkpath: target } } : {}) });
const blob = (b: Buffer): Entry => file(`blobs/sha256/${sha256(b).slice(7)}`, b);

describe('archive import: hostile archives', () => {
  let work = '';
  let canary = '';
  let canaryIno = 0;
  let storeDir = '';
  let store: ImageStore;
  let n = 0;

  before(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-archive-test-'));
    await fsp.mkdir(path.join(work, 'host'));
    canary = path.join(work, 'host', 'canary');
    await fsp.writeFile(canary, CANARY);
    canaryIno = (await fsp.stat(canary)).ino;
    storeDir = path.join(work, 'store');
    store = new ImageStore(storeDir);
    await store.open();
  });
  after(async () => {
    await fsp.rm(work, { recursive: true, force: true });
  });

  const archive = async (entries: Entry[]): Promise<string> => {
    const f = path.join(work, `archive-${++n}.tar`);
    await fsp.writeFile(f, makeTar(entries));
    return f;
  };
  /** "../" enough times to reach / from anywhere, then the canary's path. */
  const climb = () => `${'../'.repeat(30)}${canary.slice(1)}`;
  /**
   * A symlink that node-tar accepts (its target normalizes to a path inside) but the kernel
   * resolves outside: `x` points at ".", so x/x/.../x is the extraction dir, and the ".."s that
   * follow climb from there. The same number of each, up to 20 levels (the kernel follows 40 links).
   */
  const escaping = (name: string, to: string): Entry[] => {
    const up = '../'.repeat(name.split('/').length - 1); // from the link's directory to the top
    return [symlink('x', '.'), symlink(name, `${up}${'x/'.repeat(20)}${'../'.repeat(20)}${to.slice(1)}`)];
  };
  const hostUntouched = async () => {
    assert.equal(await fsp.readFile(canary, 'utf8'), CANARY);
    assert.equal((await fsp.stat(canary)).ino, canaryIno, 'the canary was not moved');
    assert.deepEqual(store.list(), []);
    assert.deepEqual(await fsp.readdir(path.join(storeDir, 'blobs', 'sha256')), [], 'nothing entered the store');
    assert.deepEqual(await fsp.readdir(path.join(storeDir, 'tmp')), [], 'the extraction is gone');
  };
  const refused = (re: RegExp) => (e: unknown) => {
    assert.ok(e instanceof CribError, `not a CribError: ${String(e)}`);
    assert.equal(e.kind, 'InvalidArgument', e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('CANARY'), `the error quotes the file: ${e.message}`);
    return true;
  };
  const docker = (config: string, layers: string[], extra: Entry[] = []) =>
    archive([file('manifest.json', JSON.stringify([{ Config: config, RepoTags: ['evil:1'], Layers: layers }])), ...extra]);
  const oci = (indexDigest: string, extra: Entry[] = []) =>
    archive([
      file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'),
      file('index.json', JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: indexDigest, size: 100 }] })),
      ...extra,
    ]);

  it('docker-archive: a config or layer path that climbs out with ../ is refused, and the host file stays where it is', async () => {
    const img = image();
    await assert.rejects(importArchive(store, await docker(climb(), [])), refused(/^archive: config "\.\.\/\.\.\/.*leaves the archive$/));
    await assert.rejects(
      importArchive(store, await docker('config.json', [climb()], [file('config.json', img.configBytes)])),
      refused(/^archive: layer "\.\.\/\.\.\/.*leaves the archive$/),
    );
    await hostUntouched();
  });

  it('docker-archive: an absolute path is refused', async () => {
    await assert.rejects(importArchive(store, await docker(canary, [])), refused(/config ".*canary" leaves the archive/));
    await hostUntouched();
  });

  it('docker-archive: a symlink entry that leads out, and a path through one, are refused', async () => {
    // The hostile input is real: extracted as importArchive extracts it, the kernel resolves it to the canary.
    const probe = path.join(work, 'probe');
    await fsp.mkdir(probe);
    await tar.x({ file: await archive(escaping('cfg', canary)), cwd: probe, strict: true });
    assert.equal(await fsp.realpath(path.join(probe, 'cfg')), canary);

    await assert.rejects(importArchive(store, await docker('cfg', [], escaping('cfg', canary))), refused(/config "cfg" leaves the archive through a symlink/));
    const dir = path.dirname(canary);
    await assert.rejects(
      importArchive(store, await docker('d/canary', [], escaping('d', dir))),
      refused(/config "d\/canary" leaves the archive through a symlink/),
    );
    await hostUntouched();
  });

  it('docker-archive: a symlink loop, a directory, a missing file and a malformed manifest.json are refused, naming the fault', async () => {
    await assert.rejects(importArchive(store, await docker('a', [], [symlink('a', 'a')])), refused(/config "a" cannot be resolved \(a symlink loop\)/));
    await assert.rejects(importArchive(store, await docker('d', [], [{ path: 'd/', type: '5' }])), refused(/config "d" is not a regular file/));
    await assert.rejects(importArchive(store, await docker('nothing', [])), refused(/config "nothing" is not in the archive/));
    await assert.rejects(importArchive(store, await archive([file('manifest.json', 'CANARY{')])), refused(/^archive: manifest.json is not valid JSON/));
    await assert.rejects(importArchive(store, await archive([file('manifest.json', '[{"Config":1}]')])), refused(/manifest.json\[0\].Config: not a string/));
    await assert.rejects(
      importArchive(store, await archive([file('manifest.json', '[{"Config":"c","Layers":"l"}]')])),
      refused(/manifest.json\[0\].Layers: not a list of strings/),
    );
    await hostUntouched();
  });

  it('oci-archive: a digest like sha256:../../ is refused before any file is read', async () => {
    await assert.rejects(importArchive(store, await oci(`sha256:${climb()}`)), refused(/malformed digest "sha256:..\/..\//));
    await assert.rejects(
      importArchive(store, await oci(`sha512:${'a'.repeat(128)}`)),
      refused(/unsupported digest algorithm "sha512" \(only sha256 is supported\)/),
    );
    // A manifest that is fine itself, naming a layer by such a digest.
    const img = image();
    img.manifest.layers[0]!.digest = `sha256:${climb()}`;
    const m = Buffer.from(JSON.stringify(img.manifest));
    const index = { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(m), size: m.length }] };
    const f = await archive([file('index.json', JSON.stringify(index)), blob(m), blob(img.configBytes)]);
    await assert.rejects(importArchive(store, f), refused(/layers\[0\]\.digest: malformed digest/));
    await hostUntouched();
  });

  it('oci-archive: a blob that is a symlink out of the archive is refused, even when its digest is right', async () => {
    // The attacker knows the file's digest: without the containment check, it would pass every other one.
    const digest = sha256(CANARY);
    const entries = escaping(`blobs/sha256/${digest.slice(7)}`, canary);
    const index = { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest, size: CANARY.length }] };
    const f = await archive([file('index.json', JSON.stringify(index)), ...entries]);
    await assert.rejects(importArchive(store, f), refused(/manifest sha256:[a-f0-9]{64} "blobs\/sha256\/[a-f0-9]{64}" leaves the archive through a symlink/));
    // index.json itself, as a symlink to the host's file.
    await assert.rejects(
      importArchive(store, await archive(escaping('index.json', canary))),
      refused(/index "index.json" leaves the archive through a symlink/),
    );
    await hostUntouched();
  });

  it('refuses what it will not buffer: an index.json over 8 MiB, a config said to be over 8 MiB', async () => {
    await assert.rejects(
      importArchive(store, await archive([file('index.json', Buffer.alloc(9 << 20, 0x20))])),
      refused(/index.json is 9437184 bytes, more than the 8388608 crib takes/),
    );
    const img = image();
    img.manifest.config.size = 2 ** 40;
    const m = Buffer.from(JSON.stringify(img.manifest));
    const index = { schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(m), size: m.length }] };
    await assert.rejects(
      importArchive(store, await archive([file('index.json', JSON.stringify(index)), blob(m), blob(img.configBytes)])),
      refused(/image config sha256:\w+ is 1099511627776 bytes, more than the 8388608 crib takes/),
    );
    await hostUntouched();
  });

  it('refuses a file that is not a tar archive, and says when there is no file', async () => {
    await assert.rejects(importArchive(store, canary), refused(/^archive .*canary cannot be unpacked: TAR_BAD_ARCHIVE/));
    await assert.rejects(importArchive(store, path.join(work, 'host')), refused(/is not a regular file/));
    await assert.rejects(importArchive(store, path.join(work, 'none.tar')), (e: unknown) => e instanceof CribError && e.kind === 'NotFound');
    await hostUntouched();
  });

  it("leaves the host file alone through a reopened store's garbage collection", async () => {
    const again = new ImageStore(storeDir);
    await again.open();
    assert.equal(await fsp.readFile(canary, 'utf8'), CANARY);
    assert.equal((await fsp.stat(canary)).ino, canaryIno);
  });

  it('still imports what docker save writes: a layer one image shares with another, linked from its directory', async () => {
    const img = image();
    const cfg2 = Buffer.from(img.configBytes.toString().replace('"/hello"', '"/hello2"'));
    const manifest = [
      { Config: 'a.json', RepoTags: ['one:1'], Layers: ['a/layer.tar'] },
      { Config: 'b.json', RepoTags: ['two:1'], Layers: ['b/layer.tar'] },
    ];
    const f = await archive([
      file('manifest.json', JSON.stringify(manifest)),
      file('a.json', img.configBytes),
      file('b.json', cfg2),
      file('a/layer.tar', img.layer),
      symlink('b/layer.tar', '../a/layer.tar'),
    ]);
    const s = new ImageStore(path.join(work, 'good-store'));
    await s.open();
    const imported = await importArchive(s, f);
    assert.deepEqual(
      imported.map((i) => i.repoTags),
      [['docker.io/library/one:1'], ['docker.io/library/two:1']],
    );
    assert.equal(fs.readFileSync(path.join(s.layerPath(sha256(img.layer)), 'hello'), 'utf8'), 'world');
    assert.deepEqual(imported[1]?.config, { Cmd: ['/hello2'] });
  });
});
