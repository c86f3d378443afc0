import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { CribError } from '../util/errors.js';
import { exists } from '../util/fsx.js';
import { INDEX_TYPES, MediaType, parseManifestOrIndex, selectPlatform } from './manifest.js';
import { formatReference, parseReference } from './reference.js';
import type { Descriptor } from './registry/types.js';
import type { ImageStore } from './store.js';
import type { BlobRef, Image, ImageRuntimeConfig } from './types.js';
import { unpackLayer } from './unpack.js';

export type ArchiveFormat = 'oci-archive' | 'docker-archive';

/** Uncompressed Docker layer (docker save writes plain tars). */
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
const NAME_ANNOTATION = 'io.containerd.image.name';
const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

interface ManifestJson {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  manifests?: Descriptor[];
}

/** One image found in an archive, before it is verified and stored. */
interface Candidate {
  names: string[];
  manifestBytes: Buffer;
  manifest: ManifestJson;
  /** Where each blob (config and layers) sits in the unpacked archive. */
  blobFile: (digest: string) => string;
}

async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

const blobIn = (dir: string) => (digest: string) => path.join(dir, 'blobs', ...digest.split(':'));

const readJsonFile = async <T>(file: string): Promise<T> => JSON.parse(await fs.readFile(file, 'utf8')) as T;

/** Normalizes a name from an archive; a bare tag (skopeo's oci-archive:FILE:latest) joins `defaultName`. */
function normalizeName(name: string | undefined, defaultName?: string): string | undefined {
  if (!name) return defaultName ? formatReference(parseReference(defaultName)) : undefined;
  if (/^[\w][\w.-]{0,127}$/.test(name) && !name.includes('.') && defaultName) {
    const base = parseReference(defaultName);
    return formatReference({ ...base, tag: name, digest: undefined });
  }
  try {
    return formatReference(parseReference(name));
  } catch {
    return undefined;
  }
}

/** Follows an index in the archive down to this node's platform manifest. */
async function platformManifest(dir: string, desc: Descriptor): Promise<Descriptor> {
  if (!INDEX_TYPES.has(desc.mediaType)) return desc;
  const parsed = parseManifestOrIndex(await fs.readFile(blobIn(dir)(desc.digest)), desc.mediaType);
  return parsed.kind === 'index' ? platformManifest(dir, selectPlatform(parsed.index)) : desc;
}

async function ociCandidates(dir: string, defaultName?: string): Promise<Candidate[]> {
  const index = await readJsonFile<{ manifests?: Descriptor[] }>(path.join(dir, 'index.json'));
  const byDigest = new Map<string, Candidate>();
  for (const top of index.manifests ?? []) {
    const desc = await platformManifest(dir, top);
    const a = top.annotations ?? {};
    const name = normalizeName(a[NAME_ANNOTATION] ?? a[REF_ANNOTATION], defaultName);
    let c = byDigest.get(desc.digest);
    if (!c) {
      const manifestBytes = await fs.readFile(blobIn(dir)(desc.digest));
      c = { names: [], manifestBytes, manifest: JSON.parse(manifestBytes.toString()) as ManifestJson, blobFile: blobIn(dir) };
      byDigest.set(desc.digest, c);
    }
    if (name) c.names.push(name);
  }
  return [...byDigest.values()];
}

/** docker save: manifest.json lists config and layer files; a registry manifest is made for them. */
async function dockerCandidates(dir: string): Promise<Candidate[]> {
  const entries = await readJsonFile<{ Config: string; RepoTags?: string[] | null; Layers: string[] }[]>(path.join(dir, 'manifest.json'));
  const out: Candidate[] = [];
  for (const e of entries) {
    const files = new Map<string, string>();
    const describe = async (rel: string, mediaType: (head: Buffer) => string): Promise<Descriptor> => {
      const file = path.join(dir, rel);
      const digest = await fileDigest(file);
      files.set(digest, file);
      const fh = await fs.open(file);
      const head = Buffer.alloc(2);
      await fh.read(head, 0, 2, 0);
      await fh.close();
      return { mediaType: mediaType(head), digest, size: (await fs.stat(file)).size };
    };
    const config = await describe(e.Config, () => MediaType.DockerConfig);
    const layers: Descriptor[] = [];
    for (const l of e.Layers) layers.push(await describe(l, (h) => (h[0] === 0x1f && h[1] === 0x8b ? MediaType.DockerLayerGzip : DOCKER_LAYER)));
    const manifest: ManifestJson = { mediaType: MediaType.DockerManifest, config, layers };
    out.push({
      names: (e.RepoTags ?? []).map((t) => formatReference(parseReference(t))),
      manifestBytes: Buffer.from(JSON.stringify({ schemaVersion: 2, ...manifest })),
      manifest,
      blobFile: (d) => files.get(d) ?? '',
    });
  }
  return out;
}

/**
 * Imports a docker-archive (`docker save`) or oci-archive tar into the store, with its tags.
 * Every blob is checked against its digest; nothing is listed unless all of an image is stored.
 */
export async function importArchive(store: ImageStore, file: string, opts: { name?: string } = {}): Promise<Image[]> {
  const dir = store.tmpPath('import');
  await fs.mkdir(dir);
  try {
    await tar.x({ file, cwd: dir, strict: true });
    const candidates = (await exists(path.join(dir, 'index.json'))) && !(await exists(path.join(dir, 'manifest.json')))
      ? await ociCandidates(dir, opts.name)
      : (await exists(path.join(dir, 'manifest.json')))
        ? await dockerCandidates(dir)
        : (() => {
            throw new CribError('InvalidArgument', `${file} is neither an OCI archive (index.json) nor a docker archive (manifest.json)`);
          })();
    const images: Image[] = [];
    for (const c of candidates) images.push(await storeCandidate(store, c));
    return images;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function storeCandidate(store: ImageStore, c: Candidate): Promise<Image> {
  const { manifest } = c;
  const blobs = [manifest.config, ...manifest.layers];
  const release = store.hold(blobs.map((b) => b.digest));
  try {
    for (const b of blobs) {
      if (await store.hasBlob(b.digest)) continue;
      const src = c.blobFile(b.digest);
      if (!src || !(await exists(src))) throw new CribError('InvalidArgument', `archive lacks blob ${b.digest}`);
      const actual = await fileDigest(src);
      if (actual !== b.digest) throw new CribError('InvalidArgument', `archive blob ${b.digest} is corrupt (content is ${actual})`);
      await store.commitBlobFile(src, b.digest);
    }
    const configDigest = await store.putBlob(await store.readBlob(manifest.config.digest), manifest.config.digest);
    const config = JSON.parse((await store.readBlob(configDigest)).toString()) as { config?: ImageRuntimeConfig; rootfs?: { diff_ids?: string[] } };
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) throw new CribError('InvalidArgument', `image config ${configDigest} does not match its layers`);
    const releaseLayers = store.hold(diffIds);
    try {
      const manifestDigest = await store.putBlob(c.manifestBytes);
      for (const [i, l] of manifest.layers.entries()) {
        await store.ensureLayer(diffIds[i] as string, (dir) => unpackLayer(store.blobPath(l.digest), dir, { compression: 'auto', diffId: diffIds[i] }).then(() => undefined));
      }
      const layers: BlobRef[] = manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
      return await store.put({
        id: configDigest,
        repoTags: c.names,
        repoDigests: [],
        manifestDigest,
        manifestMediaType: manifest.mediaType ?? MediaType.OciManifest,
        layers,
        diffIds,
        size: manifest.config.size + layers.reduce((n, l) => n + l.size, 0),
        config: config.config ?? {},
        pinned: false,
      });
    } finally {
      releaseLayers();
    }
  } finally {
    release();
  }
}

/** Writes images to a docker-archive or oci-archive tar (both hold the blobs under blobs/sha256). */
export async function exportArchive(store: ImageStore, images: Image[], file: string, format: ArchiveFormat): Promise<void> {
  const stage = store.tmpPath('export');
  await fs.mkdir(path.join(stage, 'blobs', 'sha256'), { recursive: true });
  try {
    const blobs = new Set<string>();
    for (const img of images) for (const d of [img.manifestDigest, img.id, ...img.layers.map((l) => l.digest)]) blobs.add(d);
    for (const d of blobs) await fs.link(store.blobPath(d), path.join(stage, 'blobs', ...d.split(':')));
    const manifests: Descriptor[] = [];
    for (const img of images) {
      const size = (await fs.stat(store.blobPath(img.manifestDigest))).size;
      const base = { mediaType: img.manifestMediaType, digest: img.manifestDigest, size };
      if (img.repoTags.length === 0) manifests.push(base);
      for (const t of img.repoTags) {
        manifests.push({ ...base, annotations: { [NAME_ANNOTATION]: t, [REF_ANNOTATION]: parseReference(t).tag ?? 'latest' } });
      }
    }
    await fs.writeFile(path.join(stage, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await fs.writeFile(path.join(stage, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
    const names = ['oci-layout', 'index.json', 'blobs'];
    if (format === 'docker-archive') {
      const entries = images.map((img) => ({
        Config: `blobs/sha256/${img.id.slice(7)}`,
        RepoTags: img.repoTags.map(dockerTag),
        Layers: img.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
      }));
      await fs.writeFile(path.join(stage, 'manifest.json'), JSON.stringify(entries));
      names.push('manifest.json');
    }
    await tar.c({ cwd: stage, file, portable: true, mtime: new Date(0) }, names);
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

/** docker load shows docker.io/library/x:tag as x:tag. */
function dockerTag(ref: string): string {
  return ref.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}
