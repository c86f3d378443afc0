import fs from 'node:fs/promises';
import { cribIoMount, cribIoUserns, type MountOp } from '../host/crib-io.js';
import { isErrno } from '../util/fsx.js';
import { isMountPoint } from '../host/mounts.js';
import type { PodUserNamespace } from './userns.js';

/** The size of a pod's /dev/shm, as containerd and CRI-O give it. */
const SHM_BYTES = 64 * 1024 * 1024;

/** What a pod mounts on the host; each is absent when the pod uses the node's namespace instead. */
export interface PodMountPaths {
  /** Its network namespace, pinned by a bind mount so it outlives every process in it (pause may die; CNI DEL still has a target). */
  netns?: string;
  /** The tmpfs every container of the pod mounts as /dev/shm. */
  shm?: string;
  /**
   * The pod's own user namespace, pinned like the netns (so it outlives pause too), with its
   * mappings. The netns is then made inside it: owned by it, so the pod's root can administer its
   * network and the containers may mount sysfs.
   */
  userns?: { pin: string } & PodUserNamespace;
}

/** Makes the pod's mounts, all in one helper process; the netns gets lo up (no loopback CNI plugin needed). */
export async function mountPod(p: PodMountPaths): Promise<void> {
  const ops: MountOp[] = [];
  if (p.netns) await fs.writeFile(p.netns, '', { flag: 'wx', mode: 0o444 });
  if (p.netns && !p.userns) ops.push({ netns: p.netns });
  if (p.shm) {
    await fs.mkdir(p.shm, { recursive: true, mode: 0o755 });
    ops.push({ tmpfs: p.shm, bytes: SHM_BYTES });
  }
  if (!p.userns) return cribIoMount(ops);
  await fs.writeFile(p.userns.pin, '', { flag: 'wx', mode: 0o444 });
  await Promise.all([cribIoUserns({ ...p.userns, netns: p.netns }), cribIoMount(ops)]);
}

/** Undoes mountPod. Safe to call again, or for mounts that were never made. */
export async function unmountPod(p: PodMountPaths): Promise<void> {
  const ops: MountOp[] = [];
  for (const target of [p.netns, p.shm, p.userns?.pin]) if (target && (await isMountPoint(target))) ops.push({ umount: target });
  await cribIoMount(ops);
  for (const pin of [p.netns, p.userns?.pin]) {
    if (!pin) continue;
    await fs.unlink(pin).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
  }
  if (p.shm) await fs.rm(p.shm, { recursive: true, force: true });
}
