// Root filesystems and volumes for a pod with its own user namespace, without copying or chowning
// an image: idmapped mounts (crib-io idmap) show the node's files owned by node uid 0 as uid 0 in
// the pod, as containerd 2's overlay snapshotter does.
//
// - A container's rootfs is an overlay whose lower dirs are idmapped clones of the image's layer
//   directories (an overlay itself cannot be idmapped), with an upper dir owned by the pod's root
//   on the node; its volumes are idmapped clones of their host paths.
// - Pause's rootfs (its single layer hard-linked into the pod directory) is one idmapped clone.
//
// The OCI runtime resolves the rootfs path inside the pod's user namespace, where the pod's root is an
// unprivileged node uid that cannot enter cribd's 0700 directories. So the rootfs is mounted under
// STATE/roots/ID (STATE and STATE/roots are 0711: enter only, nothing listed), a directory of mode
// 0710 owned by group "the pod's root on the node", as containerd and Moby do for remapped roots:
// no other node user can reach a pod's setuid binaries (Docker's CVE-2021-41091). Everything else
// it reads (the bundle, bind-mount sources) it opens as node root.
import fs from 'node:fs/promises';
import path from 'node:path';
import { cribIoIdmap, cribIoMount } from '../host/crib-io.js';
import { CribError } from '../util/errors.js';
import { isErrno } from '../util/fsx.js';
import { readMounts } from '../host/mounts.js';
import { mountOverlay, unmountOverlay } from './overlay.js';

/** The pod's root user and group on the node (what uid 0 and gid 0 of the pod map to). */
export interface HostRoot {
  uid: number;
  gid: number;
}

/** Where one object's (a pod's or a container's) root is reached: STATE/roots/ID/rootfs. */
export function rootsRootfs(rootsDir: string): string {
  return path.join(rootsDir, 'rootfs');
}

/** STATE/roots/ID, 0710 root:(the pod's root gid), and its empty rootfs mount point. */
async function makeRootsDir(rootsDir: string, owner: HostRoot): Promise<string> {
  await fs.mkdir(rootsDir, { mode: 0o700 });
  await fs.chown(rootsDir, 0, owner.gid);
  await fs.chmod(rootsDir, 0o710);
  const rootfs = rootsRootfs(rootsDir);
  await fs.mkdir(rootfs, { mode: 0o755 });
  return rootfs;
}

/** Pause's rootfs: the hard-linked tree at `tree`, idmapped, at STATE/roots/ID/rootfs. */
export async function mountIdmappedTree(userns: string, tree: string, rootsDir: string, owner: HostRoot): Promise<void> {
  const rootfs = await makeRootsDir(rootsDir, owner);
  await cribIoIdmap(userns, [{ source: tree, target: rootfs }]);
}

export interface IdmappedOverlayOptions {
  /** The pinned user namespace. */
  userns: string;
  /** Image layer directories, top-most first. */
  lowerDirs: readonly string[];
  upperDir: string;
  workDir: string;
  /** Where the idmapped clones are attached (under cribd's private root): l0, l1, ... and v0, v1, ... */
  stagingDir: string;
  rootsDir: string;
  owner: HostRoot;
  /** Host paths of the container's bind mounts, each to be seen through an idmapped clone. */
  volumes: readonly string[];
}

/**
 * The container's rootfs at STATE/roots/ID/rootfs; returns, for each of `volumes`, the idmapped
 * clone to bind-mount instead. All clones are made by one crib-io process.
 */
export async function mountIdmappedOverlay(o: IdmappedOverlayOptions): Promise<string[]> {
  await fs.mkdir(o.stagingDir, { mode: 0o700 });
  const layers = o.lowerDirs.map((_, i) => path.join(o.stagingDir, `l${i}`));
  const volumes = o.volumes.map((_, i) => path.join(o.stagingDir, `v${i}`));
  await Promise.all([
    ...layers.map((d) => fs.mkdir(d)),
    // A file is cloned onto a file, anything else onto a directory (a symlink is followed, as the OCI runtime
    // follows one in a bind source: host paths are the caller's choice).
    ...o.volumes.map(async (src, i) => {
      const st = await fs.stat(src);
      if (st.isDirectory()) await fs.mkdir(volumes[i]!);
      else await fs.writeFile(volumes[i]!, '', { flag: 'wx', mode: 0o600 });
    }),
  ]);
  await cribIoIdmap(o.userns, [
    ...o.lowerDirs.map((source, i) => ({ source, target: layers[i]! })),
    ...o.volumes.map((source, i) => ({ source, target: volumes[i]! })),
  ]);
  // The upper dir is the container's own and still empty: owning it is what lets the pod's root
  // write its rootfs (files it makes there are its node uids, as without idmapped mounts).
  await fs.mkdir(o.upperDir, { recursive: true });
  await fs.chown(o.upperDir, o.owner.uid, o.owner.gid);
  const target = await makeRootsDir(o.rootsDir, o.owner);
  await mountOverlay({ lowerDirs: layers, upperDir: o.upperDir, workDir: o.workDir, target });
  return volumes;
}

/**
 * Undoes either mount: the rootfs (an overlay, or pause's clone), then every clone in `stagingDir`,
 * then both directories. Safe to repeat and for what never happened. Nothing is removed while
 * anything is still mounted below either directory: removing through a clone would remove the
 * image's own files. Paths are compared as the mount table has them (symlinks resolved).
 */
export async function releaseIdmapped(rootsDir: string, stagingDir: string): Promise<void> {
  const [roots, staging] = await Promise.all([realOrSelf(rootsDir), realOrSelf(stagingDir)]);
  const rootfs = rootsRootfs(roots);
  if ((await readMounts()).filter((m) => m.mountPoint === rootfs).at(-1)?.fstype === 'overlay') await unmountOverlay(rootfs);
  const below = async () => (await readMounts()).map((m) => m.mountPoint).filter((m) => m.startsWith(`${roots}/`) || m.startsWith(`${staging}/`));
  // Deepest first; a path mounted twice is unmounted twice.
  await cribIoMount((await below()).reverse().map((umount) => ({ umount })));
  const left = await below();
  if (left.length) throw new CribError('FailedPrecondition', `idmapped mounts still there, nothing removed: ${left.join(', ')}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.rm(roots, { recursive: true, force: true });
}

async function realOrSelf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return path.resolve(p);
    throw err;
  }
}
