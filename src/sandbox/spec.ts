import { bindMount, defaultMaskedPaths, defaultPath, defaultReadonlyPaths, devMount, noCapabilities, procMount } from '../oci/defaults.js';
import type { OciNamespace, OciSpec } from '../oci/spec-types.js';

export interface PauseSpecInput {
  /** The image's entrypoint and cmd joined (for the built-in image: ["/pause"]). */
  args: string[];
  env: string[];
  /** Pinned netns to join; absent for a pod on the node's network. */
  netnsPath?: string;
  /** A new PID namespace with pause as PID 1; false when the pod uses the node's. */
  newPidNamespace: boolean;
  /** A new IPC namespace; false for ipc NODE. */
  newIpcNamespace: boolean;
  /** Set with a new UTS namespace; absent for a pod on the node's network. */
  hostname?: string;
  shmPath: string;
  /** The pod's hostname, resolv.conf and hosts files, bind-mounted read-only into /etc. */
  etcFiles: { hostname: string; resolvConf: string; hosts: string };
  cgroupsPath: string;
  sysctls: Record<string, string>;
  uid: number;
  gid: number;
  oomScoreAdj: number;
  annotations: Record<string, string>;
}

/** The OCI spec of a sandbox's pause container: no capabilities, read-only root, pod namespaces. */
export function pauseSpec(i: PauseSpecInput): OciSpec {
  const namespaces: OciNamespace[] = [{ type: 'mount' }];
  if (i.netnsPath) namespaces.push({ type: 'network', path: i.netnsPath });
  if (i.newPidNamespace) namespaces.push({ type: 'pid' });
  if (i.newIpcNamespace) namespaces.push({ type: 'ipc' });
  if (i.hostname !== undefined) namespaces.push({ type: 'uts' });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: i.uid, gid: i.gid },
      args: i.args,
      env: i.env.length ? i.env : [defaultPath],
      cwd: '/',
      capabilities: noCapabilities,
      noNewPrivileges: true,
      oomScoreAdj: i.oomScoreAdj,
    },
    root: { path: 'rootfs', readonly: true },
    ...(i.hostname !== undefined ? { hostname: i.hostname } : {}),
    mounts: [
      procMount,
      devMount,
      bindMount(i.shmPath, '/dev/shm', false, ['nosuid', 'nodev', 'noexec']),
      bindMount(i.etcFiles.hostname, '/etc/hostname', true),
      bindMount(i.etcFiles.resolvConf, '/etc/resolv.conf', true),
      bindMount(i.etcFiles.hosts, '/etc/hosts', true),
    ],
    annotations: i.annotations,
    linux: {
      namespaces,
      cgroupsPath: i.cgroupsPath,
      ...(Object.keys(i.sysctls).length ? { sysctl: i.sysctls } : {}),
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: defaultMaskedPaths,
      readonlyPaths: defaultReadonlyPaths,
    },
  };
}
