// What a container does to the node beyond its own directory and the OCI runtime: the host paths a
// request names (bind sources, the log directory, devices, a seccomp profile), its rootfs and image
// volumes (overlays, idmapped clones), files read inside them, its cgroup, and cribd's own limits
// from /proc. One port, so CreateContainer's steps and their rollback run in unit tests with a
// stand-in; the node's own implementation is `nodeContainerHost`.
import { cgroupEmpty } from '../host/cgroups.js';
import { readInRoot } from '../host/beneath.js';
import { clampOomScoreAdj, daemonLimits } from '../host/process.js';
import { mountIdmappedOverlay, releaseIdmapped } from '../image/idmapped.js';
import { mountOverlay, unmountOverlay } from '../image/overlay.js';
import { resolveInRoot } from '../image/sub-path.js';
import { exists, makeDirs } from '../util/fsx.js';
import { validateCpusetsOnThisNode } from './node-cpusets.js';
import { hostDevices } from './spec/devices.js';
import { readLocalhostProfile } from './spec/seccomp-file.js';
import { oomKilled } from './stats.js';

export interface ContainerHost {
  /** Host paths the request names: a bind mount's missing source, the pod's log directory. */
  exists: typeof exists;
  makeDirs: typeof makeDirs;
  /** A cpuset against the node's online CPUs and memory nodes. */
  validateCpusets: typeof validateCpusetsOnThisNode;
  /** The rootfs and image volumes as overlays, and their unmount. */
  mountOverlay: typeof mountOverlay;
  unmountOverlay: typeof unmountOverlay;
  /** A user-namespaced pod's rootfs and volumes as idmapped clones, and their release. */
  mountIdmappedOverlay: typeof mountIdmappedOverlay;
  releaseIdmapped: typeof releaseIdmapped;
  /** Files the image wrote, read without leaving its root: /etc/passwd, an image volume's sub path. */
  readInRoot: typeof readInRoot;
  resolveInRoot: typeof resolveInRoot;
  /** What the spec takes from the node: device nodes, a Localhost seccomp profile, cribd's own limits. */
  hostDevices: typeof hostDevices;
  readLocalhostProfile: typeof readLocalhostProfile;
  daemonLimits: typeof daemonLimits;
  clampOomScoreAdj: typeof clampOomScoreAdj;
  /** The container's cgroup: whether a process is left, whether the OOM killer struck. */
  cgroupEmpty: typeof cgroupEmpty;
  oomKilled: typeof oomKilled;
}

export const nodeContainerHost: ContainerHost = {
  exists,
  makeDirs,
  validateCpusets: validateCpusetsOnThisNode,
  mountOverlay,
  unmountOverlay,
  mountIdmappedOverlay,
  releaseIdmapped,
  readInRoot,
  resolveInRoot,
  hostDevices,
  readLocalhostProfile,
  daemonLimits,
  clampOomScoreAdj,
  cgroupEmpty,
  oomKilled,
};
