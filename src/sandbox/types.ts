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
