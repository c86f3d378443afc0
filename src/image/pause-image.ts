import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sha256, type ImageStore } from './store.js';
import type { Image } from './types.js';
import { unpackLayer } from './unpack.js';

/** A reproducible one-file tar layer: `/pause`, root-owned, mode 0755, mtime 0. */
async function pauseLayer(binary: string): Promise<Buffer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'crib-pause-'));
  try {
    await fs.copyFile(binary, path.join(dir, 'pause'));
    await fs.chmod(path.join(dir, 'pause'), 0o755);
    const tar = await import('tar');
    const chunks: Buffer[] = [];
    const stream = tar.c({ cwd: dir, portable: true, mtime: new Date(0), noDirRecurse: true }, ['pause']);
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function sameBytes(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.readFile(a), fs.readFile(b)]).catch(() => [undefined, undefined]);
  return x !== undefined && y !== undefined && x.equals(y);
}

/**
 * Builds crib's pause image from the static binary and stores it under `ref`, pinned: one
 * uncompressed layer holding only /pause, entrypoint ["/pause"]. Nothing is pulled.
 */
export async function installPauseImage(store: ImageStore, binary: string, ref: string): Promise<Image> {
  // Installed by an earlier start, from this binary (its one layer's /pause is the same bytes):
  // nothing to build, and the tar module stays unloaded.
  const current = store.resolve(ref);
  const layer0 = current?.pinned && current.diffIds.length === 1 ? current.diffIds[0] : undefined;
  if (current && layer0 && (await sameBytes(path.join(store.layerPath(layer0), 'pause'), binary))) return current;
  const layer = await pauseLayer(binary);
  const diffId = sha256(layer);
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: ['/pause'], Env: ['PATH=/'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created_by: 'crib: helpers/pause/pause.c', created: new Date(0).toISOString() }],
  };
  const configBlob = Buffer.from(JSON.stringify(config));
  const configDigest = await store.putBlob(configBlob);
  await store.putBlob(layer, diffId);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBlob.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: diffId, size: layer.length }],
    }),
  );
  const manifestDigest = await store.putBlob(manifest);
  await store.ensureLayer(diffId, (dir) => unpackLayer(store.blobPath(diffId), dir, { compression: 'none', diffId }).then(() => undefined));
  const image: Image = {
    id: configDigest,
    repoTags: [ref],
    repoDigests: [],
    manifestDigest,
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    layers: [{ digest: diffId, size: layer.length, mediaType: 'application/vnd.oci.image.layer.v1.tar' }],
    diffIds: [diffId],
    size: layer.length + configBlob.length + manifest.length,
    config: config.config,
    pinned: true,
  };
  await store.put(image);
  return store.resolve(image.id) ?? image;
}
