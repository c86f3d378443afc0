// cribd against images built to harm the node, end to end through the CRI and crib.v1.Images: a
// layer that used to exhaust its heap, a manifest that names a 1 TiB config, archives that name a
// host file. After each, the host file is untouched, the error is INVALID_ARGUMENT naming the
// fault, and cribd is still serving, having stayed within bounded memory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { Harness } from './support/harness.js';
import { fakeImage, startFakeRegistry, type FakeRegistry } from './support/fake-registry.js';
import { globalXattrBomb, makeTar, type Entry } from './support/tar.js';

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const CANARY = 'CANARY-SECRET-CONTENT\n';
/** cribd's peak resident memory may not pass this (it peaks at about 80 MiB in these tests). */
const RSS_BOUND_KIB = 512 * 1024;

async function rejectsWith(p: Promise<unknown>, code: grpc.status, msg: RegExp): Promise<void> {
  await assert.rejects(p, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `expected ${grpc.status[code]}, got ${grpc.status[err.code]}: ${err.details}`);
    assert.match(err.details, msg);
    assert.ok(!err.details.includes('CANARY'), `the error quotes a host file: ${err.details}`);
    return true;
  });
}

describe('cribd against hostile images', () => {
  let work = '';
  let canary = '';
  let canaryIno = 0;
  let fake: FakeRegistry | undefined;
  let h: Harness | undefined;
  const H = () => h as Harness;
  const F = () => fake as FakeRegistry;

  before(async () => {
    work = await fsp.mkdtemp(path.join(os.tmpdir(), 'crib-hostile-'));
    canary = path.join(work, 'canary');
    await fsp.writeFile(canary, CANARY);
    canaryIno = (await fsp.stat(canary)).ino;
    fake = await startFakeRegistry();
    h = new Harness();
    await h.start();
  });
  after(async () => {
    await h?.cleanup();
    await fake?.close();
    await fsp.rm(work, { recursive: true, force: true });
  });

  /** cribd answers, has not grown past the bound, and left nothing in its store's tmp. */
  async function stillServing(): Promise<void> {
    const v = await call(H().runtime, 'Version', { version: 'v1' });
    assert.equal(v.runtime_name, 'crib');
    const status = fs.readFileSync(`/proc/${H().daemon?.pid}/status`, 'utf8');
    const peak = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
    assert.ok(peak < RSS_BOUND_KIB, `cribd's peak RSS is ${Math.round(peak / 1024)} MiB`);
    assert.deepEqual(fs.readdirSync(path.join(H().root, 'images', 'tmp')), [], "nothing left in the store's tmp");
  }
  async function hostUntouched(): Promise<void> {
    assert.equal(await fsp.readFile(canary, 'utf8'), CANARY);
    assert.equal((await fsp.stat(canary)).ino, canaryIno, 'the host file was not moved');
  }
  const pull = (image: string) => call(H().client.image, 'PullImage', { image: { image } });
  const importTar = async (name: string, entries: Entry[]) => {
    const file = path.join(work, name);
    await fsp.writeFile(file, makeTar(entries));
    return call(H().client.cribImages, 'Import', { path: file });
  };
  const climb = () => `${'../'.repeat(30)}${canary.slice(1)}`;

  it('refuses a 30 KiB layer that used to exhaust its heap, and keeps serving', async () => {
    const bomb = globalXattrBomb();
    F().serveImage('evil/bomb', '1', fakeImage([{ blob: bomb, diffId: sha256(zlib.gunzipSync(bomb)) }]));
    const ref = `${F().host}/evil/bomb:1`;
    await rejectsWith(pull(ref), grpc.status.INVALID_ARGUMENT, /more than 67108864 bytes of extended attributes \(a per-layer limit\)/);
    assert.equal((await call(H().client.image, 'ImageStatus', { image: { image: ref } })).image, null);
    await stillServing();
  });

  it('refuses a manifest that says its config is 1 TiB, without fetching it', async () => {
    const img = fakeImage([]);
    img.manifest.config = { ...(img.manifest.config as object), size: 2 ** 40 };
    F().serveImage('evil/config', '1', img);
    F().requests.length = 0;
    await rejectsWith(pull(`${F().host}/evil/config:1`), grpc.status.INVALID_ARGUMENT, /is 1099511627776 bytes, more than the 8388608 crib takes/);
    assert.deepEqual(
      F().requests.filter((p) => p.includes('/blobs/')),
      [],
    );
    await stillServing();
  });

  it('imports no host file from a docker-archive that names one, and its garbage collection after a restart leaves it alone', async () => {
    await rejectsWith(
      importTar('docker.tar', [{ path: 'manifest.json', data: JSON.stringify([{ Config: climb(), RepoTags: ['evil:1'], Layers: [climb()] }]) }]),
      grpc.status.INVALID_ARGUMENT,
      /^archive: config ".*leaves the archive$/,
    );
    await rejectsWith(
      importTar('abs.tar', [{ path: 'manifest.json', data: JSON.stringify([{ Config: canary, Layers: [] }]) }]),
      grpc.status.INVALID_ARGUMENT,
      /leaves the archive/,
    );
    await hostUntouched();
    await stillServing();
    await H().stopDaemon();
    await H().start();
    await hostUntouched();
  });

  it('reads no host file for an oci-archive whose index names sha256:../../', async () => {
    const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${climb()}`, size: 22 }] };
    await rejectsWith(
      importTar('oci.tar', [{ path: 'index.json', data: JSON.stringify(index) }]),
      grpc.status.INVALID_ARGUMENT,
      /manifests\[0\]\.digest: malformed digest "sha256:\.\.\/\.\.\//,
    );
    await hostUntouched();
    await stillServing();
  });
});
