import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Materializes a read-only root filesystem from unpacked layers by hard-linking their files into
 * `dest` (bottom layer first, whiteouts applied). No mount is involved, so nothing can leak; meant
 * for small images such as pause.
 */
export async function linkLayers(layerDirs: readonly string[], dest: string): Promise<void> {
  await fs.mkdir(dest, { recursive: true });
  for (const layer of layerDirs) await linkTree(layer, dest);
}

async function linkTree(src: string, dst: string): Promise<void> {
  const entries = await fs.readdir(src, { withFileTypes: true });
  if (entries.some((e) => e.name === '.wh..wh..opq')) {
    for (const old of await fs.readdir(dst)) await fs.rm(path.join(dst, old), { recursive: true, force: true });
  }
  for (const entry of entries) {
    const from = path.join(src, entry.name);
    if (entry.name === '.wh..wh..opq') continue;
    if (entry.name.startsWith('.wh.')) {
      await fs.rm(path.join(dst, entry.name.slice(4)), { recursive: true, force: true });
      continue;
    }
    const to = path.join(dst, entry.name);
    if (entry.isDirectory()) {
      const st = await fs.stat(from);
      await fs.mkdir(to, { recursive: true, mode: st.mode & 0o7777 });
      await linkTree(from, to);
    } else {
      await fs.rm(to, { recursive: true, force: true });
      await fs.link(from, to);
    }
  }
}
