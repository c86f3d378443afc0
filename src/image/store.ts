import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { CribError } from '../util/errors.js';
import { exists, isErrno, readJson, writeFileAtomic } from '../util/fsx.js';
import type { Image } from './types.js';

export const sha256 = (data: Buffer | string): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const hex = (digest: string): string => {
  const hexPart = /^sha256:([a-f0-9]{64})$/.exec(digest)?.[1];
  if (!hexPart) throw new Error(`not a sha256 digest: ${digest}`);
  return hexPart;
};

/** Tells which container (if any) still uses an image; RemoveImage refuses while one does. */
export type ImageUsers = (imageId: string) => string | undefined;

export interface RemoveResult {
  /** The image is gone (false: only a tag was removed). */
  removed: boolean;
  image: Image;
}

/**
 * Content-addressed image store: blobs/sha256/HEX, layers/HEX (unpacked by diffID), tmp/ for
 * downloads in flight, and an index of images. Blobs enter only verified and by rename; the index
 * is the only mutable file, rewritten atomically and last, so a crash never lists a half image.
 */
export class ImageStore {
  private images = new Map<string, Image>();
  private readonly indexFile: string;
  /** Content of pulls in flight (hex digests): not yet in the index, so GC must not take it. */
  private readonly held = new Map<string, number>();

  constructor(readonly dir: string) {
    this.indexFile = path.join(dir, 'images.json');
  }

  /** Loads the index and clears what an interrupted pull left: temp files and unreferenced content. */
  async open(): Promise<void> {
    await fs.rm(path.join(this.dir, 'tmp'), { recursive: true, force: true });
    for (const d of ['blobs/sha256', 'layers', 'tmp']) await fs.mkdir(path.join(this.dir, d), { recursive: true });
    if (await exists(this.indexFile)) {
      const list = await readJson<Image[]>(this.indexFile);
      this.images = new Map(list.map((i) => [i.id, i]));
    }
    await this.collectGarbage();
  }

  blobPath(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', hex(digest));
  }

  layerPath(diffId: string): string {
    return path.join(this.dir, 'layers', hex(diffId));
  }

  /** A fresh path for a download in flight, on the store's filesystem. */
  tmpPath(label: string): string {
    return path.join(this.dir, 'tmp', `${label.replace(/[^\w.-]/g, '_')}-${randomBytes(6).toString('hex')}`);
  }

  hasBlob(digest: string): Promise<boolean> {
    return exists(this.blobPath(digest));
  }

  /** Stores a blob after checking it against its digest. */
  async putBlob(data: Buffer, expected?: string): Promise<string> {
    const digest = sha256(data);
    if (expected && expected !== digest) throw new CribError('Internal', `blob digest mismatch: expected ${expected}, got ${digest}`);
    const file = this.blobPath(digest);
    if (!(await exists(file))) await writeFileAtomic(file, data);
    return digest;
  }

  /** Moves an already verified file (a download, or one of an archive's that nothing else links) into the blob store. */
  async commitBlobFile(tmpFile: string, digest: string): Promise<void> {
    await fs.rename(tmpFile, this.blobPath(digest));
  }

  /** Copies an already verified file into the blob store, leaving the source (which may be shared) alone. */
  async copyBlobFile(file: string, digest: string): Promise<void> {
    const tmp = this.tmpPath(`copy-${hex(digest).slice(0, 12)}`);
    try {
      await fs.copyFile(file, tmp);
      await fs.rename(tmp, this.blobPath(digest));
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  readBlob(digest: string): Promise<Buffer> {
    return fs.readFile(this.blobPath(digest));
  }

  /** Unpacks a layer once: into a temp dir by `unpack`, then renamed into place. */
  async ensureLayer(diffId: string, unpack: (dir: string) => Promise<void>): Promise<string> {
    const dest = this.layerPath(diffId);
    if (await exists(dest)) return dest;
    const tmp = this.tmpPath(`layer-${hex(diffId).slice(0, 12)}`);
    await fs.mkdir(tmp);
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

  private async saveIndex(): Promise<void> {
    await writeFileAtomic(this.indexFile, JSON.stringify([...this.images.values()], null, 1));
  }

  /** Adds or merges an image; a tag it takes is removed from any image that had it. */
  async put(image: Image): Promise<Image> {
    for (const other of this.images.values()) {
      if (other.id !== image.id) other.repoTags = other.repoTags.filter((t) => !image.repoTags.includes(t));
    }
    const prev = this.images.get(image.id);
    const merged: Image = prev
      ? {
          ...image,
          repoTags: [...new Set([...prev.repoTags, ...image.repoTags])],
          repoDigests: [...new Set([...prev.repoDigests, ...image.repoDigests])],
          pinned: prev.pinned || image.pinned,
        }
      : image;
    this.images.set(image.id, merged);
    await this.saveIndex();
    return merged;
  }

  /**
   * RemoveImage: by tag, removes that tag and keeps an image that has others; by id or digest,
   * removes the image. Content no other image uses is deleted; an image a container uses stays.
   */
  async remove(ref: string, users: ImageUsers): Promise<RemoveResult | undefined> {
    const image = this.resolve(ref);
    if (!image) return undefined;
    const byTag = image.repoTags.includes(ref);
    if (byTag && image.repoTags.length > 1) {
      image.repoTags = image.repoTags.filter((t) => t !== ref);
      await this.saveIndex();
      return { removed: false, image };
    }
    const user = users(image.id);
    if (user) throw new CribError('FailedPrecondition', `image ${ref} is in use by container ${user}`);
    this.images.delete(image.id);
    await this.saveIndex();
    await this.collectGarbage();
    return { removed: true, image };
  }

  /** Keeps digests (blobs or diffIDs) from garbage collection until the returned release is called. */
  hold(digests: readonly string[]): () => void {
    const keys = digests.map(hex);
    for (const k of keys) this.held.set(k, (this.held.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of keys) {
        const n = (this.held.get(k) ?? 1) - 1;
        if (n > 0) this.held.set(k, n);
        else this.held.delete(k);
      }
    };
  }

  /** Deletes blobs and unpacked layers that no image in the index refers to (or a pull holds). */
  async collectGarbage(): Promise<void> {
    const blobs = new Set<string>(this.held.keys());
    const layers = new Set<string>(this.held.keys());
    for (const img of this.images.values()) {
      for (const d of [img.id, img.manifestDigest, ...img.layers.map((l) => l.digest)]) blobs.add(hex(d));
      for (const d of img.diffIds) layers.add(hex(d));
    }
    const sweep = async (dir: string, keep: Set<string>) => {
      for (const name of await fs.readdir(dir)) {
        if (!keep.has(name)) await fs.rm(path.join(dir, name), { recursive: true, force: true });
      }
    };
    await sweep(path.join(this.dir, 'blobs', 'sha256'), blobs);
    await sweep(path.join(this.dir, 'layers'), layers);
  }

  /** Bytes and inodes under the store, for ImageFsInfo. */
  async usage(): Promise<{ bytes: number; inodes: number }> {
    let bytes = 0;
    let inodes = 0;
    const seen = new Set<number>();
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return;
        throw err;
      }
      for (const e of entries) {
        const p = path.join(dir, e.name);
        const st = await fs.lstat(p);
        if (seen.has(st.ino)) continue; // hard links count once
        seen.add(st.ino);
        inodes++;
        bytes += st.blocks * 512;
        if (e.isDirectory()) await walk(p);
      }
    };
    await walk(this.dir);
    return { bytes, inodes };
  }
}
