import { formatReference, parseReference } from './reference.js';
import type { ImagePuller, ProgressListener } from './pull.js';
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
    private readonly users: ImageUsers,
  ) {}

  /** By id, id prefix, or any reference spelling Docker accepts (`busybox` is docker.io/library/busybox:latest). */
  find(ref: string): Image | undefined {
    const direct = this.store.resolve(ref);
    if (direct) return direct;
    let normalized: string;
    try {
      normalized = formatReference(parseReference(ref));
    } catch {
      return undefined;
    }
    return this.store.resolve(normalized);
  }

  list(filterRef?: string): Image[] {
    if (!filterRef) return this.store.list();
    const img = this.find(filterRef);
    return img ? [img] : [];
  }

  pull(ref: string, creds?: Credentials, onProgress?: ProgressListener): Promise<Image> {
    return this.puller.pull(ref, creds, onProgress);
  }

  /** Removal is idempotent: an image that is not there is already removed. */
  async remove(ref: string): Promise<void> {
    const img = this.find(ref);
    if (!img) return;
    // Remove by the spelling the store knows, so a short tag name removes just that tag.
    const known = img.repoTags.includes(ref) || img.repoDigests.includes(ref) ? ref : (this.normalizedTag(ref, img) ?? img.id);
    await this.store.remove(known, this.users);
    this.usageCache = undefined;
  }

  private normalizedTag(ref: string, img: Image): string | undefined {
    try {
      const n = formatReference(parseReference(ref));
      return img.repoTags.includes(n) || img.repoDigests.includes(n) ? n : undefined;
    } catch {
      return undefined;
    }
  }

  /** Bytes and inodes the store uses (cached briefly: kubelet asks every few seconds). */
  usage(): Promise<{ bytes: number; inodes: number }> {
    if (!this.usageCache || Date.now() - this.usageCache.at > USAGE_CACHE_MS) {
      this.usageCache = { at: Date.now(), value: this.store.usage() };
    }
    return this.usageCache.value;
  }
}
