import path from 'node:path';
import { CribError, invalidArgument, notFound } from '../util/errors.js';
import type { ArchiveFormat } from './archive.js';
import { formatReference, parseReference } from './reference.js';
import type { ImagePuller, ProgressListener } from './pull.js';
import type { RegistryClient } from './registry/client.js';
import type { Credentials } from './registry/types.js';
import type { ImageStore, ImageUsers } from './store.js';
import type { Image } from './types.js';

const USAGE_CACHE_MS = 5000;

/** The image side of crib: lookups that understand short names, pulls, removal, usage. */
export class ImageService {
  private usageCache: { at: number; value: Promise<{ bytes: number; inodes: number }> } | undefined;

  constructor(
    readonly store: ImageStore,
    private readonly puller: ImagePuller,
    private readonly registry: RegistryClient,
  ) {}

  /** By id, id prefix, or any reference spelling Docker accepts (`busybox` is docker.io/library/busybox:latest). */
  find(ref: string): Image | undefined {
    return this.store.resolve(ref) ?? this.lookupNormalized(ref)?.image;
  }

  /** The image a reference names once normalized, with the normalized spelling. */
  private lookupNormalized(ref: string): { name: string; image: Image } | undefined {
    let name: string;
    try {
      name = formatReference(parseReference(ref));
    } catch {
      return undefined;
    }
    const image = this.store.resolve(name);
    return image ? { name, image } : undefined;
  }

  list(filterRef?: string): Image[] {
    if (!filterRef) return this.store.list();
    const img = this.find(filterRef);
    return img ? [img] : [];
  }

  pull(ref: string, creds?: Credentials, onProgress?: ProgressListener): Promise<Image> {
    return this.puller.pull(ref, creds, onProgress);
  }

  /**
   * Removal is idempotent: an image that is not there is already removed. `users` says which
   * sandbox or container still uses an image, which then stays.
   */
  async remove(ref: string, users: ImageUsers): Promise<void> {
    // Remove by the spelling the store knows, so a tag (short or full) removes just that tag.
    const known = this.store.resolve(ref) ? ref : this.lookupNormalized(ref)?.name;
    if (!known) return;
    await this.store.remove(known, users);
    this.usageCache = undefined;
  }

  /** Imports a docker-archive or oci-archive from a path on the node. */
  async importArchive(file: string, name?: string): Promise<Image[]> {
    if (!path.isAbsolute(file)) throw invalidArgument('path', `"${file}" must be an absolute path on the node`);
    // Archives and pushes load their modules at their first use: cribd rarely does either.
    const { importArchive } = await import('./archive.js');
    const imported = await importArchive(this.store, file, { name });
    this.usageCache = undefined;
    return imported;
  }

  async exportArchive(refs: string[], file: string, format: ArchiveFormat): Promise<void> {
    if (!path.isAbsolute(file)) throw invalidArgument('path', `"${file}" must be an absolute path on the node`);
    if (refs.length === 0) throw invalidArgument('images', 'name at least one image');
    const images = refs.map((r) => {
      const img = this.find(r);
      if (!img) throw notFound(`image ${r}`);
      return img;
    });
    const { exportArchive } = await import('./archive.js');
    await exportArchive(this.store, images, file, format);
  }

  /** Pushes an image to `target` (default: its first tag); returns the manifest digest. */
  async push(ref: string, target: string | undefined, creds?: Credentials): Promise<string> {
    const img = this.find(ref);
    if (!img) throw notFound(`image ${ref}`);
    const dest = target || img.repoTags[0];
    if (!dest) throw new CribError('InvalidArgument', `target: image ${ref} has no tag; say where to push it`);
    const { pushImage } = await import('./push.js');
    return pushImage(this.store, this.registry, img, dest, creds);
  }

  /** Bytes and inodes the store uses (cached briefly: kubelet asks every few seconds). */
  usage(): Promise<{ bytes: number; inodes: number }> {
    if (!this.usageCache || Date.now() - this.usageCache.at > USAGE_CACHE_MS) {
      this.usageCache = { at: Date.now(), value: this.store.usage() };
    }
    return this.usageCache.value;
  }
}
