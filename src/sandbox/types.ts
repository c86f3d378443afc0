import type { LifecycleEventType } from '../events/lifecycle.js';
import type { IdMapping } from '../host/id-mapping.js';
import type { NetworkAttachment, NetworkConfigList, PortMapping } from '../network/types.js';

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

export interface PodMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface DnsConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

export type { IdMapping };

/** The CRI's UserNamespace: NODE (the node's, no mappings) or POD (the pod's own, one uid and one gid mapping). */
export interface UserNamespaceConfig {
  mode: NamespaceMode;
  uids: IdMapping[];
  gids: IdMapping[];
}

/** What a caller asks for when it creates a sandbox (the CRI PodSandboxConfig, in crib's terms). */
export interface SandboxConfig {
  metadata: PodMetadata;
  hostname: string;
  logDirectory: string;
  dnsConfig?: DnsConfig;
  portMappings: PortMapping[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  cgroupParent: string;
  sysctls: Record<string, string>;
  namespaces: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId: string };
  runAsUser?: number;
  runAsGroup?: number;
  runtimeHandler: string;
  /** Absent: the node's user namespace (as NODE). */
  userns?: UserNamespaceConfig;
}

/** Lifecycle as recorded: `creating` records are rolled back at start; `stopped` is terminal until removal. */
export type SandboxPhase = 'creating' | 'ready' | 'stopped';

/** Everything crib knows about a sandbox, persisted as one record. */
export interface Sandbox {
  id: string;
  config: SandboxConfig;
  phase: SandboxPhase;
  /** Nanoseconds since the epoch, as a decimal string (CRI int64). */
  createdAt: string;
  runtime: string;
  image: { ref: string; id: string };
  paths: {
    /** Persistent pod directory: hostname, resolv.conf, hosts, the pause bundle. */
    podDir: string;
    bundle: string;
    shm: string;
    /** Pinned netns; absent for node-network pods. */
    netns?: string;
    /** Pinned user namespace; only for a pod with its own (userns mode POD). */
    userns?: string;
    /** Where the pod's user namespace reaches its pause root (STATE/roots/ID): see src/sandbox/userns-roots.ts. */
    roots?: string;
  };
  cgroup: { parent: string; path: string; ownsParent: boolean };
  /** The network chosen before CNI ADD (so a half-done ADD can be undone) and, once done, its result. */
  networkConfig?: NetworkConfigList;
  network?: NetworkAttachment;
  pause?: { pid: number; startTime: string };
}

export type SandboxState = 'READY' | 'NOTREADY';

export interface SandboxView {
  sandbox: Sandbox;
  state: SandboxState;
  pauseAlive: boolean;
}

export interface SandboxFilter {
  id?: string;
  state?: SandboxState;
  labelSelector?: Record<string, string>;
}

/** What the sandbox service says happened to a sandbox, as it happens (with the record: a deleted one is no longer in the registry). */
export interface SandboxNotice {
  type: LifecycleEventType;
  kind: 'sandbox';
  sandbox: Sandbox;
}
