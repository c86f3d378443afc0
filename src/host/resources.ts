/**
 * The CPU, memory and cpuset limits a cgroup takes, in crib's terms (the CRI's
 * LinuxContainerResources; zero or absent means "not set"): a container's, and a pod's sum.
 */
export interface ContainerResources {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitBytes?: number;
  memorySwapLimitBytes?: number;
  oomScoreAdj?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
}
