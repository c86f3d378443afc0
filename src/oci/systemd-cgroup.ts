// kubelet's systemd cgroup driver, as far as it can be proven here: the mapping from the slice a
// pod names (cgroup_parent "kubepods-burstable-pod<uid>.slice") to what crib would write in the OCI
// spec for runc's `--systemd-cgroup` (cgroupsPath "SLICE:PREFIX:NAME", a transient scope unit), and
// the cgroupfs directory systemd then makes. Not used by the daemon: running it needs systemd as
// PID 1 (runc asks it over D-Bus to make the scope), which these nodes do not have. See
// ARCHITECTURE.md, "The systemd cgroup driver".
import { invalidArgument } from '../util/errors.js';

/** The prefix of crib's scope units (containerd writes "cri-containerd", CRI-O "crio"). */
export const SCOPE_PREFIX = 'crib';

/**
 * A slice name as systemd and runc's ExpandSlice take it: "NAME.slice", where NAME is parts joined
 * by "-" (each part non-empty) and holds no "/"; "-.slice" is the root slice.
 */
export function validateSlice(field: string, slice: string): void {
  if (!slice.endsWith('.slice')) throw invalidArgument(field, `"${slice}" is not a systemd slice (NAME.slice)`);
  if (slice.includes('/')) throw invalidArgument(field, `"${slice}" must be a slice name, not a path`);
  if (slice === '-.slice') return;
  const name = slice.slice(0, -'.slice'.length);
  if (name === '' || name.split('-').some((part) => part === '')) {
    throw invalidArgument(field, `"${slice}": each "-"-separated part of a slice name must be non-empty`);
  }
}

/**
 * The cgroupfs path of a slice: each "-" nests one level, as systemd places slices
 * ("kubepods-burstable.slice" is /kubepods.slice/kubepods-burstable.slice).
 */
export function expandSlice(slice: string): string {
  validateSlice('slice', slice);
  if (slice === '-.slice') return '/';
  const parts = slice.slice(0, -'.slice'.length).split('-');
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('-')}.slice`).join('');
}

export interface SystemdCgroup {
  /** The spec's linux.cgroupsPath for runc --systemd-cgroup: "SLICE:PREFIX:NAME". */
  cgroupsPath: string;
  /** The transient unit runc asks systemd for. */
  unit: string;
  /** Where systemd puts it in the cgroup tree. */
  cgroupfsPath: string;
}

/**
 * What crib would write for a sandbox's pause or a container under the pod's slice: kubelet names
 * the pod's slice in cgroup_parent (a pod without one would go under "system.slice", runc's
 * default), the container is a scope named for its id.
 */
export function systemdCgroup(parentSlice: string, id: string, field = 'config.linux.cgroup_parent'): SystemdCgroup {
  const slice = parentSlice || 'system.slice';
  validateSlice(field, slice);
  if (!/^[0-9a-f]{1,64}$/.test(id)) throw invalidArgument('id', `"${id}" is not a container or sandbox id`);
  const unit = `${SCOPE_PREFIX}-${id}.scope`;
  const parent = expandSlice(slice);
  return { cgroupsPath: `${slice}:${SCOPE_PREFIX}:${id}`, unit, cgroupfsPath: `${parent === '/' ? '' : parent}/${unit}` };
}
