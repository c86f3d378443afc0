import type { LifecycleEventType } from '../events/lifecycle.js';
import type { ContainerResources } from '../host/resources.js';
import type { NamespaceMode, UserNamespaceConfig } from '../sandbox/types.js';

export type MountPropagation = 'private' | 'host-to-container' | 'bidirectional';

export interface ContainerMount {
  containerPath: string;
  /** Empty for an image volume. */
  hostPath: string;
  readonly: boolean;
  propagation: MountPropagation;
  /** Read-only all the way down (mounts below host_path too): the runtime's `rro`. Absent: false (and on older records). */
  recursiveReadOnly?: boolean;
  /** An image volume: this image from the store, mounted read-only (kubelet pulled it). */
  image?: string;
  /** Of an image volume: the path inside the image that is mounted instead of its root. */
  imageSubPath?: string;
}

export interface ContainerDevice {
  containerPath: string;
  hostPath: string;
  /** "rwm" subset. */
  permissions: string;
}

export type { ContainerResources };

export type SeccompProfile = { type: 'RuntimeDefault' } | { type: 'Unconfined' } | { type: 'Localhost'; path: string };

export interface ContainerSecurity {
  privileged: boolean;
  capabilities: { add: string[]; drop: string[] };
  namespaces: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId: string };
  /** Absent: the pod's. Given, it must be the pod's (kubelet sends the pod's options again). */
  userns?: UserNamespaceConfig;
  runAsUser?: number;
  runAsGroup?: number;
  runAsUsername?: string;
  supplementalGroups: number[];
  /** Merge (also when absent, as on older records): the groups the image's /etc/group gives the user are added; Strict: only those asked for. */
  supplementalGroupsPolicy?: 'Merge' | 'Strict';
  readonlyRootfs: boolean;
  noNewPrivs: boolean;
  /** Empty means the defaults (none when privileged). */
  maskedPaths: string[];
  readonlyPaths: string[];
  seccomp: SeccompProfile;
  /** Requested AppArmor profile name; crib has no AppArmor support and notes it. */
  apparmorProfile?: string;
}

/** What a caller asks for when it creates a container (the CRI ContainerConfig, in crib's terms). */
export interface ContainerConfig {
  metadata: { name: string; attempt: number };
  image: string;
  command: string[];
  args: string[];
  workingDir: string;
  envs: { key: string; value: string }[];
  mounts: ContainerMount[];
  devices: ContainerDevice[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Relative to the sandbox's log_directory. */
  logPath: string;
  stdin: boolean;
  stdinOnce: boolean;
  tty: boolean;
  resources: ContainerResources;
  security: ContainerSecurity;
}

/** Lifecycle as recorded; EXITED is derived from the monitor's exit file, not stored ahead of time. */
export type ContainerPhase = 'creating' | 'created' | 'running' | 'exited';

export type ContainerState = 'CREATED' | 'RUNNING' | 'EXITED' | 'UNKNOWN';

/** Everything crib knows about a container, persisted as one record. */
export interface Container {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  phase: ContainerPhase;
  /** Nanoseconds since the epoch, as decimal strings (CRI int64). */
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  reason?: string;
  message?: string;
  image: { ref: string; id: string; repoDigest: string };
  runtime: string;
  /** `roots`: STATE/roots/ID, holding the rootfs, for a container in a pod with its own user namespace (src/container/userns.ts). */
  paths: { dir: string; bundle: string; rootfs: string; upper: string; work: string; log: string; roots?: string };
  cgroupsPath: string;
  /** The container's init process on the host, once started. */
  pid?: number;
  startTime?: string;
  /** The identity its process runs with (ContainerStatus.user); absent on records older than it. */
  user?: { uid: number; gid: number; supplementalGroups: number[] };
  /**
   * Image volumes: the read-only overlay of the image of config.mounts[mount], mounted under the container's
   * directory before the runtime binds it (or `source`, its image_sub_path inside it) in; unmounted
   * when the container is released.
   */
  imageMounts?: { mount: number; path: string; imageId: string; source?: string }[];
  /** The signal StopContainer sends first (image StopSignal, else SIGTERM). */
  stopSignal: string;
  /**
   * StopPodSandbox released what the exited container held of the node (the runtime's state and
   * cgroup, the rootfs mount): RemoveContainer does not do it again.
   */
  released?: boolean;
}

export interface ContainerView {
  container: Container;
  state: ContainerState;
}

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  sandboxId?: string;
  labelSelector?: Record<string, string>;
}

/** What the container service says happened to a container, as it happens (with the record: a deleted one is no longer in the registry). */
export interface ContainerNotice {
  type: LifecycleEventType;
  kind: 'container';
  container: Container;
}
