/** The parts of the OCI runtime spec (config.json) that crib writes. */
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: OciLinux;
}

export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  rlimits?: OciRlimit[];
}

/** A process resource limit (`setrlimit`), e.g. RLIMIT_NOFILE. */
export interface OciRlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  inheritable: string[];
  permitted: string[];
  ambient: string[];
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export type OciNamespaceType = 'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'cgroup' | 'user';

export interface OciNamespace {
  type: OciNamespaceType;
  path?: string;
}

/** A user namespace's id mapping (`linux.uidMappings`, `linux.gidMappings`). */
export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciLinux {
  namespaces: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  cgroupsPath: string;
  sysctl?: Record<string, string>;
  resources: OciResources;
  /** Device nodes the runtime creates in the container's /dev. */
  devices?: OciDevice[];
  seccomp?: OciSeccomp;
  /** Propagation of the container's root mount: `rshared`, `rslave`, `rprivate`. */
  rootfsPropagation?: string;
  maskedPaths: string[];
  readonlyPaths: string[];
}

export interface OciResources {
  /** Device cgroup rules, applied in order (the last match wins). */
  devices: OciDeviceCgroup[];
  cpu?: OciCpu;
  memory?: OciMemory;
}

/** One device cgroup rule; absent type/major/minor mean "all". */
export interface OciDeviceCgroup {
  allow: boolean;
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** Letters of "rwm". */
  access: string;
}

export interface OciCpu {
  shares?: number;
  quota?: number;
  period?: number;
  cpus?: string;
  mems?: string;
}

export interface OciMemory {
  limit?: number;
  /** Memory plus swap; -1 is unlimited. */
  swap?: number;
}

export interface OciDevice {
  /** Path inside the container. */
  path: string;
  type: 'c' | 'b' | 'u' | 'p';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export type OciSeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type OciSeccompOperator = 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

/** `linux.seccomp`: a syscall filter in the OCI runtime spec's form. */
export interface OciSeccomp {
  defaultAction: OciSeccompAction;
  /** errno for an SCMP_ACT_ERRNO default action (EPERM when absent). */
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: OciSyscall[];
}

export interface OciSyscall {
  names: string[];
  action: OciSeccompAction;
  errnoRet?: number;
  /** All must match for the rule to apply. */
  args?: OciSeccompArg[];
}

export interface OciSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: OciSeccompOperator;
}
