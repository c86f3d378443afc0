// A pod's user namespace (CRI NamespaceOption.userns_options): the request rules and the id
// arithmetic, pure. What makes the namespace is src/sandbox/pod-mounts.ts (crib-io userns); what
// maps files into it is src/sandbox/userns-roots.ts (crib-io idmap).
import { invalidArgument } from '../util/errors.js';
import type { IdMapping, UserNamespaceConfig } from './types.js';

/** The ids the kernel maps: u32, with (u32)-1 never an id (so a range ends at 2^32 - 1 at most). */
const ID_LIMIT = 2 ** 32 - 1;

/** A pod's own user namespace with its one uid and one gid mapping. */
export interface PodUserNamespace {
  uids: IdMapping;
  gids: IdMapping;
}

/**
 * Checks userns_options as containerd 2 does: NODE takes no mappings; POD needs exactly one uid and
 * one gid mapping (crib maps files with one range, as containerd's snapshotter does); CONTAINER and
 * TARGET are not user namespace modes. crib also needs container id 0 mapped (the pod's root is
 * who sets the pod up) and a range that fits the kernel's ids. `field` names userns_options.
 */
export function validateUserNamespace(field: string, u: UserNamespaceConfig | undefined): void {
  if (!u) return;
  if (u.mode === 'CONTAINER' || u.mode === 'TARGET') {
    throw invalidArgument(`${field}.mode`, `${u.mode} is not a user namespace mode (POD or NODE)`);
  }
  if (u.mode === 'NODE') {
    if (u.uids.length || u.gids.length)
      throw invalidArgument(field, `mode NODE takes no mappings (got ${u.uids.length} uid and ${u.gids.length} gid mappings)`);
    return;
  }
  for (const [name, list] of [
    ['uids', u.uids],
    ['gids', u.gids],
  ] as const) {
    if (list.length !== 1) throw invalidArgument(`${field}.${name}`, `mode POD needs exactly one mapping, got ${list.length}`);
    const m = list[0]!;
    if (!(m.length >= 1)) throw invalidArgument(`${field}.${name}[0].length`, 'must be at least 1');
    if (m.containerId + m.length > ID_LIMIT || m.hostId + m.length > ID_LIMIT) {
      throw invalidArgument(`${field}.${name}[0]`, `${m.containerId}:${m.hostId}:${m.length} runs past the last id ${ID_LIMIT - 1}`);
    }
    if (m.containerId !== 0)
      throw invalidArgument(`${field}.${name}[0].container_id`, `container id 0 must be mapped (the mapping starts at ${m.containerId})`);
  }
}

/** The pod's own user namespace, or undefined when it uses the node's. Call after validateUserNamespace. */
export function podUserNamespace(u: UserNamespaceConfig | undefined): PodUserNamespace | undefined {
  if (u?.mode !== 'POD') return undefined;
  return { uids: u.uids[0]!, gids: u.gids[0]! };
}

/** The node id of a pod id, or undefined if the mapping does not hold it. */
export function hostId(m: IdMapping, id: number): number | undefined {
  return id >= m.containerId && id - m.containerId < m.length ? m.hostId + (id - m.containerId) : undefined;
}

/** What the pod's root (uid 0, gid 0) is on the node: the owner of what the pod must write. 0:0 without a namespace of its own. */
export function podRoot(u: UserNamespaceConfig | undefined): { uid: number; gid: number } {
  const p = podUserNamespace(u);
  return { uid: (p && hostId(p.uids, 0)) ?? 0, gid: (p && hostId(p.gids, 0)) ?? 0 };
}

/** Same mode and mappings: a container may only ask for its pod's user namespace. */
export function sameUserNamespace(a: UserNamespaceConfig | undefined, b: UserNamespaceConfig | undefined): boolean {
  const key = (u: UserNamespaceConfig | undefined) => (u && u.mode !== 'NODE' ? JSON.stringify([u.mode, u.uids, u.gids]) : 'NODE');
  return key(a) === key(b);
}
