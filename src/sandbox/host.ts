// What a pod sandbox does to the node beyond its own directory and the OCI runtime: its cgroup,
// pause's root, its mounts (netns, shm, user namespace) and its idmapped clones. One port, so the
// service's flows (RunPodSandbox's steps and their rollback) run in unit tests with a stand-in; the
// node's own implementation is `nodeSandboxHost`.
import { cgroupExists, removeCgroup } from '../host/cgroups.js';
import { setCgroupLimits } from '../host/cgroup-limits.js';
import { mountIdmappedOverlay, mountIdmappedTree, releaseIdmapped } from '../image/idmapped.js';
import { prepareRootfs, releaseRootfs } from '../image/rootfs.js';
import { mountPod, unmountPod } from './pod-mounts.js';

export interface SandboxHost {
  cgroupExists: typeof cgroupExists;
  removeCgroup: typeof removeCgroup;
  setCgroupLimits: typeof setCgroupLimits;
  /** Pause's root: hard links of the image's one layer (or an overlay), and its release. */
  prepareRootfs: typeof prepareRootfs;
  releaseRootfs: typeof releaseRootfs;
  /** The pinned netns (lo up), the shm tmpfs and a user namespace, and their unmounts. */
  mountPod: typeof mountPod;
  unmountPod: typeof unmountPod;
  mountIdmappedTree: typeof mountIdmappedTree;
  mountIdmappedOverlay: typeof mountIdmappedOverlay;
  releaseIdmapped: typeof releaseIdmapped;
}

export const nodeSandboxHost: SandboxHost = {
  cgroupExists,
  removeCgroup,
  setCgroupLimits,
  prepareRootfs,
  releaseRootfs,
  mountPod,
  unmountPod,
  mountIdmappedTree,
  mountIdmappedOverlay,
  releaseIdmapped,
};
