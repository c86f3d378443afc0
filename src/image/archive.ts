import fs from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { CribError, errorMessage } from '../util/errors.js';
import { isErrno } from '../util/fsx.js';
import { parseUntrustedJson } from '../util/json.js';
import { containedBlob, containedFile, fileDigest, hasEntry, readContained, readHead, type ContainedFile } from './archive-files.js';
import { parseImageConfig } from './image-config.js';
import { MAX_CONFIG_BYTES, MAX_IMAGE_LAYERS, MAX_MANIFEST_BYTES } from './limits.js';
import { INDEX_TYPES, MediaType, parseManifestOrIndex, selectPlatform } from './manifest.js';
import { formatReference, parseReference } from './reference.js';
import type { Descriptor, ImageManifest } from './registry/types.js';
import { sha256, type ImageStore } from './store.js';
import type { BlobRef, Image } from './types.js';
import { unpackLayer } from './unpack.js';

export type ArchiveFormat = 'oci-archive' | 'docker-archive';

/** Uncompressed Docker layer (docker save writes plain tars). */
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
const NAME_ANNOTATION = 'io.containerd.image.name';
const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

/** One image found in an archive, before it is verified and stored. */
interface Candidate {
  names: string[];
  manifestBytes: Buffer;
  manifest: ImageManifest;
  /** Where a blob (config or layer) of the manifest sits in the unpacked archive. */
  blobFile: (digest: string) => Promise<ContainedFile>;
}

/** One image of a docker-archive's manifest.json. */
interface DockerArchiveEntry {
  config: string;
  repoTags: string[];
  layers: string[];
}

const invalid = (why: string): CribError => new CribError('InvalidArgument', `archive: ${why}`);

/** Reads a manifest or index the archive holds as a blob, checking it against its descriptor. */
async function readManifestBlob(root: string, desc: Descriptor): Promise<Buffer> {
  const what = `manifest ${desc.digest}`;
  const bytes = await readContained(await containedBlob(root, desc.digest, what), MAX_MANIFEST_BYTES, what);
  if (sha256(bytes) !== desc.digest || bytes.length !== desc.size) throw invalid(`${what} does not match its digest or size`);
  return bytes;
}

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
async function platformManifest(root: string, desc: Descriptor): Promise<Descriptor> {
  if (!INDEX_TYPES.has(desc.mediaType)) return desc;
  const parsed = parseManifestOrIndex(await readManifestBlob(root, desc), desc.mediaType);
  // selectPlatform only picks image manifests, so this goes one level down at most.
  return parsed.kind === 'index' ? platformManifest(root, selectPlatform(parsed.index)) : desc;
}

async function ociCandidates(root: string, defaultName?: string): Promise<Candidate[]> {
  const indexBytes = await readContained(await containedFile(root, 'index.json', 'index'), MAX_MANIFEST_BYTES, 'index.json');
  const index = parseManifestOrIndex(indexBytes);
  if (index.kind !== 'index') throw invalid('index.json is not an image index');
  const byDigest = new Map<string, Candidate>();
  for (const top of index.index.manifests) {
    const desc = await platformManifest(root, top);
    const a = top.annotations ?? {};
    const name = normalizeName(a[NAME_ANNOTATION] ?? a[REF_ANNOTATION], defaultName);
    let c = byDigest.get(desc.digest);
    if (!c) {
      const manifestBytes = await readManifestBlob(root, desc);
      const parsed = parseManifestOrIndex(manifestBytes, desc.mediaType);
      if (parsed.kind !== 'manifest') throw invalid(`manifest ${desc.digest} is an index`);
      c = { names: [], manifestBytes, manifest: parsed.manifest, blobFile: (d) => containedBlob(root, d, `blob ${d}`) };
      byDigest.set(desc.digest, c);
    }
    if (name) c.names.push(name);
  }
  return [...byDigest.values()];
}

/** Reads docker save's manifest.json: a list of {Config, RepoTags, Layers}, every field checked. */
function parseDockerArchiveManifest(bytes: Buffer): DockerArchiveEntry[] {
  const doc = parseUntrustedJson(bytes, 'archive: manifest.json');
  const bad = (field: string, why: string) => invalid(`manifest.json${field}: ${why}`);
  if (!Array.isArray(doc)) throw bad('', 'not a list');
  const strings = (v: unknown, field: string): string[] => {
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(field, 'not a list of strings');
    return v;
  };
  return doc.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad(`[${i}]`, 'not an object');
    const { Config, RepoTags, Layers } = e as Record<string, unknown>;
    if (typeof Config !== 'string') throw bad(`[${i}].Config`, 'not a string');
    const layers = strings(Layers, `[${i}].Layers`);
    if (layers.length > MAX_IMAGE_LAYERS) throw bad(`[${i}].Layers`, `${layers.length} layers, more than the ${MAX_IMAGE_LAYERS} overlayfs can stack`);
    return { config: Config, repoTags: RepoTags == null ? [] : strings(RepoTags, `[${i}].RepoTags`), layers };
  });
}

/** docker save: manifest.json lists config and layer files; a registry manifest is made for them. */
async function dockerCandidates(root: string): Promise<Candidate[]> {
  const manifestJson = await readContained(await containedFile(root, 'manifest.json', 'manifest'), MAX_MANIFEST_BYTES, 'manifest.json');
  const entries = parseDockerArchiveManifest(manifestJson);
  // Each file is hashed once, however many entries name it.
  const digests = new Map<string, string>();
  const describe = async (rel: string, what: string, mediaType: (head: Buffer) => string) => {
    const file = await containedFile(root, rel, what);
    let digest = digests.get(file.path);
    if (digest === undefined) digests.set(file.path, (digest = await fileDigest(file)));
    return { file, desc: { mediaType: mediaType(await readHead(file, 2)), digest, size: file.size } };
  };
  const out: Candidate[] = [];
  for (const e of entries) {
    const files = new Map<string, ContainedFile>();
    const config = await describe(e.config, 'config', () => MediaType.DockerConfig);
    files.set(config.desc.digest, config.file);
    const layers: Descriptor[] = [];
    for (const l of e.layers) {
      const layer = await describe(l, 'layer', (h) => (h[0] === 0x1f && h[1] === 0x8b ? MediaType.DockerLayerGzip : DOCKER_LAYER));
      files.set(layer.desc.digest, layer.file);
      layers.push(layer.desc);
    }
    const manifest: ImageManifest = { mediaType: MediaType.DockerManifest, config: config.desc, layers };
    out.push({
      names: e.repoTags.map((t) => formatReference(parseReference(t))),
      manifestBytes: Buffer.from(JSON.stringify({ schemaVersion: 2, ...manifest })),
      manifest,
      blobFile: async (d) => {
        const f = files.get(d);
        if (!f) throw invalid(`lacks blob ${d}`);
        return f;
      },
    });
  }
  return out;
}

/**
 * Imports a docker-archive (`docker save`) or oci-archive tar into the store, with its tags.
 * Every path and digest the archive names is checked and kept inside the extraction directory;
 * every blob is checked against its digest; nothing is listed unless all of an image is stored.
 * A malformed or hostile archive is an InvalidArgument.
 */
export async function importArchive(store: ImageStore, file: string, opts: { name?: string } = {}): Promise<Image[]> {
  const st = await fs.stat(file).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) throw new CribError('NotFound', `archive ${file} not found`);
    throw err;
  });
  if (!st.isFile()) throw new CribError('InvalidArgument', `archive ${file} is not a regular file`);
  const dir = store.tmpPath('import');
  await fs.mkdir(dir);
  try {
    await extract(file, dir);
    const root = await fs.realpath(dir);
    const oci = await hasEntry(root, 'index.json');
    const docker = await hasEntry(root, 'manifest.json');
    if (!oci && !docker) throw new CribError('InvalidArgument', `${file} is neither an OCI archive (index.json) nor a docker archive (manifest.json)`);
    const candidates = oci && !docker ? await ociCandidates(root, opts.name) : await dockerCandidates(root);
    const images: Image[] = [];
    for (const c of candidates) images.push(await storeCandidate(store, c));
    return images;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Unpacks the archive into our own directory. node-tar keeps entries inside it (no "..", no
 * absolute paths, no writing through symlinks), but a symlink entry may still point anywhere:
 * what the archive's JSON names is resolved by containedFile, never trusted as extracted.
 */
async function extract(file: string, dir: string): Promise<void> {
  try {
    await tar.x({ file, cwd: dir, strict: true });
  } catch (err) {
    // node-tar's own complaints (TAR_*) are the archive's fault; a file system error is not.
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('TAR_'))
      throw new CribError('InvalidArgument', `archive ${file} cannot be unpacked: ${errorMessage(err).slice(0, 300)}`, { cause: err });
    throw err;
  }
}

/** Moves (a file only the extraction has) or copies (one that may be shared) a verified blob into the store. */
async function commitArchiveBlob(store: ImageStore, f: ContainedFile, digest: string): Promise<void> {
  if (f.nlink === 1) await store.commitBlobFile(f.path, digest);
  else await store.copyBlobFile(f.path, digest);
}

async function storeCandidate(store: ImageStore, c: Candidate): Promise<Image> {
  const { manifest } = c;
  const release = store.hold([manifest.config.digest, ...manifest.layers.map((l) => l.digest)]);
  try {
    const cfg = manifest.config;
    if (cfg.size > MAX_CONFIG_BYTES) throw invalid(`image config ${cfg.digest} is ${cfg.size} bytes, more than the ${MAX_CONFIG_BYTES} crib takes`);
    const configBytes = await readContained(await c.blobFile(cfg.digest), MAX_CONFIG_BYTES, `image config ${cfg.digest}`);
    if (sha256(configBytes) !== cfg.digest || configBytes.length !== cfg.size) throw invalid(`image config ${cfg.digest} does not match its digest or size`);
    const { config, diffIds } = parseImageConfig(configBytes, `archive: image config ${cfg.digest}`);
    if (diffIds.length !== manifest.layers.length)
      throw invalid(`image config ${cfg.digest} lists ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
    for (const l of manifest.layers) {
      if (await store.hasBlob(l.digest)) continue;
      const f = await c.blobFile(l.digest);
      const actual = await fileDigest(f);
      if (actual !== l.digest || f.size !== l.size) throw invalid(`blob ${l.digest} is corrupt (content is ${actual}, ${f.size} bytes)`);
      await commitArchiveBlob(store, f, l.digest);
    }
    const configDigest = await store.putBlob(configBytes, cfg.digest);
    const releaseLayers = store.hold(diffIds);
    try {
      const manifestDigest = await store.putBlob(c.manifestBytes);
      for (const [i, l] of manifest.layers.entries()) {
        const diffId = diffIds[i] ?? ''; // as many as layers: checked above
        await store.ensureLayer(diffId, (dir) => unpackLayer(store.blobPath(l.digest), dir, { compression: 'auto', diffId }).then(() => undefined));
      }
      const layers: BlobRef[] = manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
      return await store.put({
        id: configDigest,
        repoTags: c.names,
        repoDigests: [],
        manifestDigest,
        manifestMediaType: manifest.mediaType,
        layers,
        diffIds,
        size: cfg.size + layers.reduce((n, l) => n + l.size, 0),
        config,
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
