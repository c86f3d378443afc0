import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { exists, readJson, writeFileAtomic } from '../util/fsx.js';
import type { Image } from './types.js';

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const hex = (digest: string): string => {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${digest}`);
  return m[1] as string;
};

/**
 * Content-addressed image store: blobs/sha256/HEX, layers/HEX (unpacked by diffID) and an index of
 * images. The index is the only mutable file, rewritten atomically.
 */
export class ImageStore {
  private images = new Map<string, Image>();
  private readonly indexFile: string;

  constructor(readonly dir: string) {
    this.indexFile = path.join(dir, 'images.json');
  }

  async open(): Promise<void> {
    await fs.mkdir(path.join(this.dir, 'blobs', 'sha256'), { recursive: true });
    await fs.mkdir(path.join(this.dir, 'layers'), { recursive: true });
    if (await exists(this.indexFile)) {
      const list = await readJson<Image[]>(this.indexFile);
      this.images = new Map(list.map((i) => [i.id, i]));
    }
  }

  blobPath(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', hex(digest));
  }

  layerPath(diffId: string): string {
    return path.join(this.dir, 'layers', hex(diffId));
  }

  /** Stores a blob after checking it against its digest. */
  async putBlob(data: Buffer, expected?: string): Promise<string> {
    const digest = sha256(data);
    if (expected && expected !== digest) throw new Error(`blob digest mismatch: expected ${expected}, got ${digest}`);
    const file = this.blobPath(digest);
    if (!(await exists(file))) await writeFileAtomic(file, data);
    return digest;
  }

  readBlob(digest: string): Promise<Buffer> {
    return fs.readFile(this.blobPath(digest));
  }

  hasLayer(diffId: string): Promise<boolean> {
    return exists(this.layerPath(diffId));
  }

  /** Unpacks a layer once: into a temp dir by `unpack`, then renamed into place. */
  async ensureLayer(diffId: string, unpack: (dir: string) => Promise<void>): Promise<string> {
    const dest = this.layerPath(diffId);
    if (await exists(dest)) return dest;
    const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
    await fs.mkdir(tmp, { recursive: true });
    try {
      await unpack(tmp);
      await fs.rename(tmp, dest);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      if (await exists(dest)) return dest;
      throw err;
    }
    return dest;
  }

  list(): Image[] {
    return [...this.images.values()];
  }

  /** Finds an image by id, id prefix of 12+ hex chars, tag or digest reference. */
  resolve(ref: string): Image | undefined {
    const direct = this.images.get(ref) ?? this.images.get(`sha256:${ref}`);
    if (direct) return direct;
    for (const img of this.images.values()) {
      if (img.repoTags.includes(ref) || img.repoDigests.includes(ref)) return img;
    }
    const bare = ref.replace(/^sha256:/, '');
    if (/^[a-f0-9]{12,64}$/.test(bare)) {
      const hits = [...this.images.values()].filter((i) => i.id.startsWith(`sha256:${bare}`));
      if (hits.length === 1) return hits[0];
    }
    return undefined;
  }

  /** Adds or replaces an image; a tag it takes is removed from any image that had it. */
  async put(image: Image): Promise<void> {
    for (const other of this.images.values()) {
      if (other.id !== image.id) other.repoTags = other.repoTags.filter((t) => !image.repoTags.includes(t));
    }
    const prev = this.images.get(image.id);
    if (prev) {
      image = {
        ...image,
        repoTags: [...new Set([...prev.repoTags, ...image.repoTags])],
        repoDigests: [...new Set([...prev.repoDigests, ...image.repoDigests])],
        pinned: prev.pinned || image.pinned,
      };
    }
    this.images.set(image.id, image);
    await writeFileAtomic(this.indexFile, JSON.stringify([...this.images.values()], null, 1));
  }
}
