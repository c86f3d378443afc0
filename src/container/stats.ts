import fs from 'node:fs/promises';
import path from 'node:path';
import { cgroupMounts } from '../oci/cgroups.js';

export interface CgroupUsage {
  /** Cumulative CPU time in nanoseconds. */
  cpuNanos?: number;
  memoryUsage?: number;
  /** Usage less inactive file pages: what kubelet evicts on. */
  workingSet?: number;
  rss?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

function statField(text: string | undefined, key: string): number | undefined {
  const m = text && new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The hierarchy mount for a v1 controller (e.g. "memory"), or undefined on a pure cgroup2 host. */
async function v1Mount(controller: string): Promise<string | undefined> {
  const mounts = await cgroupMounts();
  return mounts.find((m) => path.basename(m).split(',').includes(controller));
}

/** CPU and memory use of a cgroup (cgroupfs path), from cgroup v1 controllers or cgroup v2 files. */
export async function cgroupUsage(cgroupPath: string): Promise<CgroupUsage> {
  const cpuacct = await v1Mount('cpuacct');
  const memory = await v1Mount('memory');
  if (cpuacct && memory) {
    const cpu = await readText(path.join(cpuacct, cgroupPath, 'cpuacct.usage'));
    const usage = await readText(path.join(memory, cgroupPath, 'memory.usage_in_bytes'));
    const stat = await readText(path.join(memory, cgroupPath, 'memory.stat'));
    const memoryUsage = usage ? Number(usage.trim()) : undefined;
    const inactive = statField(stat, 'total_inactive_file') ?? 0;
    return {
      cpuNanos: cpu ? Number(cpu.trim()) : undefined,
      memoryUsage,
      workingSet: memoryUsage === undefined ? undefined : Math.max(0, memoryUsage - inactive),
      rss: statField(stat, 'total_rss'),
      pageFaults: statField(stat, 'total_pgfault'),
      majorPageFaults: statField(stat, 'total_pgmajfault'),
    };
  }
  const root = (await cgroupMounts()).find((m) => m === '/sys/fs/cgroup') ?? '/sys/fs/cgroup';
  const dir = path.join(root, cgroupPath);
  const cpuStat = await readText(path.join(dir, 'cpu.stat'));
  const current = await readText(path.join(dir, 'memory.current'));
  const stat = await readText(path.join(dir, 'memory.stat'));
  const usec = statField(cpuStat, 'usage_usec');
  const memoryUsage = current ? Number(current.trim()) : undefined;
  return {
    cpuNanos: usec === undefined ? undefined : usec * 1000,
    memoryUsage,
    workingSet: memoryUsage === undefined ? undefined : Math.max(0, memoryUsage - (statField(stat, 'inactive_file') ?? 0)),
    rss: statField(stat, 'anon'),
    pageFaults: statField(stat, 'pgfault'),
    majorPageFaults: statField(stat, 'pgmajfault'),
  };
}

/** Bytes and inodes used by a directory tree (a container's writable layer). */
export async function treeUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  let inodes = 0;
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      const st = await fs.lstat(p).catch(() => undefined);
      if (!st) continue;
      inodes++;
      bytes += st.blocks * 512;
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return { bytes, inodes };
}

/** Whether the kernel's OOM killer has killed a process in the cgroup (v1 memory.oom_control, v2 memory.events). */
export async function oomKilled(cgroupPath: string): Promise<boolean> {
  const memory = await v1Mount('memory');
  const text = memory
    ? await readText(path.join(memory, cgroupPath, 'memory.oom_control'))
    : await readText(path.join('/sys/fs/cgroup', cgroupPath, 'memory.events'));
  return (statField(text, 'oom_kill') ?? 0) > 0;
}
