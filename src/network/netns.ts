import fs from 'node:fs/promises';
import { run } from '../util/exec.js';
import { isErrno } from '../util/fsx.js';
import { isMountPoint } from '../util/mounts.js';

/**
 * Creates a new network namespace pinned by a bind mount at `pinPath`, so it outlives every
 * process in it (pause may die; CNI DEL still has a target).
 */
export async function createPinnedNetns(pinPath: string): Promise<void> {
  await fs.writeFile(pinPath, '', { flag: 'wx', mode: 0o444 });
  try {
    await run('unshare', [`--net=${pinPath}`, 'true']);
  } catch (err) {
    await fs.rm(pinPath, { force: true });
    throw err;
  }
}

/** Unmounts and deletes a pinned namespace. Safe to call again, or on a pin that was never made. */
export async function removePinnedNetns(pinPath: string): Promise<void> {
  if (await isMountPoint(pinPath)) {
    await run('umount', [pinPath]);
  }
  try {
    await fs.unlink(pinPath);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}
