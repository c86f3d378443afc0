// A container in a pod with its own user namespace: its request checked against the pod's, its
// rootfs and volumes as idmapped mounts (src/image/idmapped.ts), its spec joined to the pod's
// namespace. Containers of other pods never come here.
import path from 'node:path';
import { rootsRootfs } from '../image/idmapped.js';
import type { OciSpec } from '../oci/spec-types.js';
import { withUserNamespace } from '../sandbox/userns-spec.js';
import type { Sandbox } from '../sandbox/types.js';
import { podRoot, podUserNamespace, sameUserNamespace, validateUserNamespace } from '../sandbox/userns.js';
import { CribError, invalidArgument } from '../util/errors.js';
import type { ContainerHost } from './host.js';
import type { Container, ContainerConfig } from './types.js';

const FIELD = 'config.linux.security_context.namespace_options.userns_options';

/** A container may ask for no user namespace (it gets the pod's) or for exactly the pod's, as containerd 2 checks. */
export function checkContainerUserNamespace(config: ContainerConfig, sb: Sandbox): void {
  // An image volume is an overlay under ROOT, which the pod's root can neither pass nor idmap (overlayfs refuses).
  if (podUserNamespace(sb.config.userns) && config.mounts.some((m) => m.image !== undefined)) {
    throw new CribError('FailedPrecondition', 'config.mounts: image volumes are not supported by crib in a pod with its own user namespace');
  }
  const want = config.security.userns;
  if (!want) return;
  validateUserNamespace(FIELD, want);
  if (!sameUserNamespace(want, sb.config.userns)) throw invalidArgument(FIELD, `the pod's user namespace is ${describe(sb)}; a container cannot have another`);
}

function describe(sb: Sandbox): string {
  const u = podUserNamespace(sb.config.userns);
  return u
    ? `its own (uids ${u.uids.containerId}:${u.uids.hostId}:${u.uids.length}, gids ${u.gids.containerId}:${u.gids.hostId}:${u.gids.length})`
    : "the node's";
}

/** STATE/roots/ID beside the pod's, for a container of a user-namespaced pod; else undefined. */
export function containerRoots(sb: Sandbox, id: string): string | undefined {
  return sb.paths.roots ? path.join(path.dirname(sb.paths.roots), id) : undefined;
}

/** Where a container's idmapped clones are attached (inside its own private directory). */
const staging = (c: Container): string => path.join(c.paths.dir, 'idmap');

/** The rootfs (idmapped lower dirs) and the volumes' clones; returns host path → clone, for the spec. */
export async function mountUsernsRootfs(
  host: Pick<ContainerHost, 'mountIdmappedOverlay'>,
  c: Container,
  sb: Sandbox,
  lowerDirs: readonly string[],
): Promise<Map<string, string>> {
  if (!c.paths.roots || !sb.paths.userns) throw new CribError('Internal', `container ${c.id} is not in a user-namespaced pod`);
  const hostPaths = [...new Set(c.config.mounts.filter((m) => m.image === undefined).map((m) => m.hostPath))];
  const clones = await host.mountIdmappedOverlay({
    userns: sb.paths.userns,
    lowerDirs,
    upperDir: c.paths.upper,
    workDir: c.paths.work,
    stagingDir: staging(c),
    rootsDir: c.paths.roots,
    owner: podRoot(sb.config.userns),
    volumes: hostPaths,
  });
  return new Map(hostPaths.map((h, i) => [h, clones[i]!]));
}

/** The spec in the pod's user namespace, with the rootfs and volumes where `mountUsernsRootfs` put them. */
export function usernsContainerSpec(spec: OciSpec, c: Container, sb: Sandbox, sources: ReadonlyMap<string, string>): OciSpec {
  const u = podUserNamespace(sb.config.userns);
  if (!u || !sb.paths.userns || !c.paths.roots) return spec;
  return withUserNamespace(spec, { path: sb.paths.userns, ...u, rootPath: rootsRootfs(c.paths.roots), mountSources: sources });
}

/** Unmounts a container's rootfs, with its idmapped clones if it has them. Safe to repeat. */
export async function releaseContainerRootfs(host: Pick<ContainerHost, 'releaseIdmapped' | 'unmountOverlay'>, c: Container): Promise<void> {
  if (c.paths.roots) await host.releaseIdmapped(c.paths.roots, staging(c));
  else await host.unmountOverlay(c.paths.rootfs);
}
