// A pod cgroup's CPU and memory limits, written by cribd itself (no runtime owns a pod cgroup):
// UpdatePodSandboxResources, when kubelet's in-place resize changes what the pod may use. The
// mapping to files is pure; the write goes to v1 controllers where they are mounted (hybrid
// hosts), else to cgroup v2.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ContainerResources } from './resources.js';
import { cgroupV1Mount, cgroupV2Root } from './cgroups.js';

/** CFS's default period (µs), which a quota without one is counted in. */
const DEFAULT_PERIOD = 100_000;

/** The pod's limits: kubelet's sum of its containers' resources plus the pod's overhead (zero: not set). */
export function podLimits(resources: ContainerResources, overhead: ContainerResources): ContainerResources {
  const add = (a: number | undefined, b: number | undefined) => (a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0));
  const period = resources.cpuPeriod ?? overhead.cpuPeriod ?? DEFAULT_PERIOD;
  // A quota is a share of its period: the overhead's is counted in the resources' period.
  const quota = (r: ContainerResources) =>
    r.cpuQuota === undefined || r.cpuQuota < 0 ? r.cpuQuota : Math.ceil((r.cpuQuota * period) / (r.cpuPeriod ?? DEFAULT_PERIOD));
  const q = [quota(resources), quota(overhead)];
  return {
    cpuShares: add(resources.cpuShares, overhead.cpuShares),
    cpuPeriod: q.some((x) => x !== undefined) ? period : undefined,
    // No limit in either part (-1) is no limit for the pod.
    cpuQuota: q.includes(-1) ? -1 : add(q[0], q[1]),
    memoryLimitBytes: add(resources.memoryLimitBytes, overhead.memoryLimitBytes),
  };
}

export interface CgroupWrite {
  /** The v1 controller whose hierarchy holds the file; undefined on cgroup v2. */
  controller?: 'cpu' | 'memory';
  file: string;
  value: string;
}

/** The OCI runtimes' conversion of cpu.shares (2..262144) to cgroup v2's cpu.weight (1..10000). */
export const sharesToWeight = (shares: number): number => 1 + Math.floor(((shares - 2) * 9999) / 262142);

/** The files that set `r` on a cgroup, for cgroup v1 or v2; period before quota (v1 checks a quota against it). */
export function cgroupLimitWrites(r: ContainerResources, version: 1 | 2): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  if (version === 1) {
    if (r.cpuShares !== undefined) out.push({ controller: 'cpu', file: 'cpu.shares', value: String(r.cpuShares) });
    if (r.cpuPeriod !== undefined) out.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(r.cpuPeriod) });
    if (r.cpuQuota !== undefined) out.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(r.cpuQuota) });
    if (r.memoryLimitBytes !== undefined) out.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(r.memoryLimitBytes) });
    return out;
  }
  if (r.cpuShares !== undefined) out.push({ file: 'cpu.weight', value: String(sharesToWeight(r.cpuShares)) });
  if (r.cpuQuota !== undefined || r.cpuPeriod !== undefined) {
    const quota = r.cpuQuota === undefined || r.cpuQuota < 0 ? 'max' : String(r.cpuQuota);
    out.push({ file: 'cpu.max', value: `${quota} ${r.cpuPeriod ?? DEFAULT_PERIOD}` });
  }
  if (r.memoryLimitBytes !== undefined) out.push({ file: 'memory.max', value: String(r.memoryLimitBytes) });
  return out;
}

/** Sets `r` on the cgroup (cgroupfs path), which must exist. */
export async function setCgroupLimits(cgroupPath: string, r: ContainerResources): Promise<void> {
  const v1 = { cpu: await cgroupV1Mount('cpu'), memory: await cgroupV1Mount('memory') };
  const version = v1.cpu && v1.memory ? 1 : 2;
  const v2 = version === 2 ? await cgroupV2Root() : '';
  for (const w of cgroupLimitWrites(r, version)) {
    const root = w.controller ? (v1[w.controller] as string) : v2;
    await fs.writeFile(path.join(root, cgroupPath, w.file), w.value);
  }
}
