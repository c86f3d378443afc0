import fs from 'node:fs/promises';
import path from 'node:path';
import { cgroupV1Mount, cgroupV2Root } from '../host/cgroups.js';
import { readKernelFile } from '../util/fsx.js';
import { cgroupV1Files, cgroupV2Files, usageFromV1, usageFromV2, type CgroupUsage, type CgroupV1Files, type CgroupV2Files } from './cgroup-stats.js';

export type { CgroupUsage } from './cgroup-stats.js';

/** What ContainerStats and the CRI metrics report of one container. */
export interface ContainerUsage {
  usage: CgroupUsage;
  /** The writable layer: bytes and inodes used, and where it is. */
  writable: { bytes: number; inodes: number };
  mountpoint: string;
}

/** Reads `names` in `dir`, each as text or undefined, keyed by name. */
function readFiles<K extends string>(dir: string, names: readonly K[]): Partial<Record<K, string>> {
  return Object.fromEntries(names.map((n) => [n, readKernelFile(path.join(dir, n))])) as Partial<Record<K, string>>;
}

/**
 * CPU and memory use of a cgroup (cgroupfs path): from the v1 cpuacct and memory controllers when
 * they are mounted (hybrid hosts keep them on v1, with an empty cgroup2 beside), else cgroup v2.
 */
export async function cgroupUsage(cgroupPath: string): Promise<CgroupUsage> {
  const cpuacct = await cgroupV1Mount('cpuacct');
  const memory = await cgroupV1Mount('memory');
  if (cpuacct && memory) {
    const cpu = readFiles(path.join(cpuacct, cgroupPath), cgroupV1Files.cpuacct);
    const mem = readFiles(path.join(memory, cgroupPath), cgroupV1Files.memory);
    return usageFromV1({ ...cpu, ...mem } satisfies CgroupV1Files);
  }
  const files: CgroupV2Files = readFiles(path.join(await cgroupV2Root(), cgroupPath), cgroupV2Files);
  return usageFromV2(files);
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

/** Whether the kernel's OOM killer has killed a process in the cgroup. */
export async function oomKilled(cgroupPath: string): Promise<boolean> {
  return ((await cgroupUsage(cgroupPath)).oomKills ?? 0) > 0;
}
