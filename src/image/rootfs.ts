import fs from 'node:fs/promises';
import path from 'node:path';
import { mountOverlay, unmountOverlay } from './overlay.js';

/**
 * A read-only-image root filesystem for a bundle. A single-layer image (crib's pause) is
 * hard-linked into `dest`: no mount, nothing to leak, and quick. Deeper images are an overlay
 * of their layers with a writable upper dir in `scratchDir` (the OCI runtime creates its mount points there).
 */
export async function prepareRootfs(layerDirs: readonly string[], dest: string, scratchDir: string): Promise<void> {
  await fs.mkdir(dest, { recursive: true });
  const [only, ...more] = layerDirs;
  if (only !== undefined && more.length === 0) {
    await linkTree(only, dest);
    return;
  }
  const upperDir = path.join(scratchDir, 'upper');
  const workDir = path.join(scratchDir, 'work');
  await fs.mkdir(upperDir, { recursive: true });
  await fs.mkdir(workDir, { recursive: true });
  await mountOverlay({ lowerDirs: [...layerDirs].reverse(), upperDir, workDir, target: dest });
}

/** Undoes prepareRootfs (safe when nothing was mounted). */
export async function releaseRootfs(dest: string): Promise<void> {
  await unmountOverlay(dest);
}

/** Hard-links a layer's tree into dest; overlay whiteouts (0:0 char devices) mean nothing in a bottom layer. */
async function linkTree(src: string, dst: string): Promise<void> {
  for (const entry of await fs.readdir(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    const to = path.join(dst, entry.name);
    if (entry.isDirectory()) {
      const st = await fs.stat(from);
      await fs.mkdir(to, { mode: st.mode & 0o7777 });
      await fs.chown(to, st.uid, st.gid);
      await linkTree(from, to);
    } else if (entry.isCharacterDevice() && (await fs.lstat(from)).rdev === 0) {
      continue;
    } else {
      await fs.link(from, to);
    }
  }
}
