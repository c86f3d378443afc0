// Pure: a cgroup's CPU and memory use from the text of its cgroup v1 or v2 files. The reading is in
// stats.ts; ContainerStats, PodSandboxStats and the CRI metrics all come from what this returns.

export interface CgroupUsage {
  /** Cumulative CPU time in nanoseconds, and its user and system parts. */
  cpuNanos?: number;
  cpuUserNanos?: number;
  cpuSystemNanos?: number;
  memoryUsage?: number;
  /** Usage less inactive file pages: what kubelet evicts on. */
  workingSet?: number;
  /** Anonymous memory (v1 total_rss, v2 anon). */
  rss?: number;
  /** Page cache, tmpfs included (v1 total_cache, v2 file). */
  cache?: number;
  pageFaults?: number;
  majorPageFaults?: number;
  /** Processes the kernel's OOM killer has killed in the cgroup. */
  oomKills?: number;
}

/** A `key value` line of a cgroup stat file (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function statField(text: string | undefined, key: string): number | undefined {
  const m = text && new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** A file holding one number (cpuacct.usage, memory.usage_in_bytes, memory.current). */
function single(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

const workingSet = (usage: number | undefined, inactiveFile: number | undefined) =>
  usage === undefined ? undefined : Math.max(0, usage - (inactiveFile ?? 0));

/** The v1 files (cpuacct and memory controllers) that usageFromV1 reads; undefined when unreadable. */
export interface CgroupV1Files {
  'cpuacct.usage'?: string;
  'cpuacct.usage_user'?: string;
  'cpuacct.usage_sys'?: string;
  'memory.usage_in_bytes'?: string;
  'memory.stat'?: string;
  'memory.oom_control'?: string;
}

export const cgroupV1Files = {
  cpuacct: ['cpuacct.usage', 'cpuacct.usage_user', 'cpuacct.usage_sys'],
  memory: ['memory.usage_in_bytes', 'memory.stat', 'memory.oom_control'],
} as const;

/** cgroup v1: the hierarchical (total_*) memory.stat fields, as cAdvisor and containerd read them. */
export function usageFromV1(f: CgroupV1Files): CgroupUsage {
  const stat = f['memory.stat'];
  const memoryUsage = single(f['memory.usage_in_bytes']);
  return {
    cpuNanos: single(f['cpuacct.usage']),
    cpuUserNanos: single(f['cpuacct.usage_user']),
    cpuSystemNanos: single(f['cpuacct.usage_sys']),
    memoryUsage,
    workingSet: workingSet(memoryUsage, statField(stat, 'total_inactive_file')),
    rss: statField(stat, 'total_rss'),
    cache: statField(stat, 'total_cache'),
    pageFaults: statField(stat, 'total_pgfault'),
    majorPageFaults: statField(stat, 'total_pgmajfault'),
    oomKills: statField(f['memory.oom_control'], 'oom_kill'),
  };
}

/** The v2 files that usageFromV2 reads. */
export interface CgroupV2Files {
  'cpu.stat'?: string;
  'memory.current'?: string;
  'memory.stat'?: string;
  'memory.events'?: string;
}

export const cgroupV2Files = ['cpu.stat', 'memory.current', 'memory.stat', 'memory.events'] as const;

/** cgroup v2: cpu.stat is in microseconds. */
export function usageFromV2(f: CgroupV2Files): CgroupUsage {
  const cpu = f['cpu.stat'];
  const stat = f['memory.stat'];
  const micros = (key: string) => {
    const us = statField(cpu, key);
    return us === undefined ? undefined : us * 1000;
  };
  const memoryUsage = single(f['memory.current']);
  return {
    cpuNanos: micros('usage_usec'),
    cpuUserNanos: micros('user_usec'),
    cpuSystemNanos: micros('system_usec'),
    memoryUsage,
    workingSet: workingSet(memoryUsage, statField(stat, 'inactive_file')),
    rss: statField(stat, 'anon'),
    cache: statField(stat, 'file'),
    pageFaults: statField(stat, 'pgfault'),
    majorPageFaults: statField(stat, 'pgmajfault'),
    oomKills: statField(f['memory.events'], 'oom_kill'),
  };
}
