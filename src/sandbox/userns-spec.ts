import type { IdMapping } from './types.js';
import type { OciIdMapping, OciSpec } from '../oci/spec-types.js';

/** What turns a pause or container spec into one that runs in the pod's user namespace. */
export interface SpecUserNamespace {
  /** The pinned user namespace, joined by path. */
  path: string;
  uids: IdMapping;
  gids: IdMapping;
  /** The rootfs where the pod's root can reach it (absolute: STATE/roots/ID/rootfs). */
  rootPath: string;
  /** Bind-mount sources to replace: the host path asked for → its idmapped clone. */
  mountSources?: ReadonlyMap<string, string>;
}

const oci = (m: IdMapping): OciIdMapping[] => [{ containerID: m.containerId, hostID: m.hostId, size: m.length }];

/**
 * The spec joined to the pod's user namespace, as containerd 2 writes it: the namespace by path and
 * its mappings beside it (the OCI runtime needs them to know the pod's root on the node, e.g. for the
 * /dev it makes). Every other new namespace the runtime makes is then owned by the pod's. Pure.
 */
export function withUserNamespace(spec: OciSpec, u: SpecUserNamespace): OciSpec {
  const sources = u.mountSources ?? new Map<string, string>();
  return {
    ...spec,
    root: { ...spec.root, path: u.rootPath },
    mounts: spec.mounts.map((m) => (m.type === 'bind' && sources.has(m.source) ? { ...m, source: sources.get(m.source)! } : m)),
    linux: {
      ...spec.linux,
      namespaces: [{ type: 'user', path: u.path }, ...spec.linux.namespaces.filter((n) => n.type !== 'user')],
      uidMappings: oci(u.uids),
      gidMappings: oci(u.gids),
    },
  };
}
