import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { cgroupMounts } from '../src/host/cgroups.js';
import { alive } from './proc.js';
import { sleep } from './stats.js';

/**
 * What a teardown does when a runtime could not remove its pods (it crashed, or was interrupted):
 * the processes in the cgroups below the runtime's own cgroup root are the bench's (it gave that
 * root to the runtime), so they are killed by PID, and the cgroups removed.
 */

/** PIDs in a cgroup directory and every cgroup below it. */
function procsBelow(dir: string): number[] {
  const pids: number[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
    pids.push(...fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
  } catch {
    return pids;
  }
  for (const e of entries) if (e.isDirectory()) pids.push(...procsBelow(path.join(dir, e.name)));
  return pids;
}

function hasSubdir(dir: string): boolean {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
  } catch {
    return false;
  }
}

/** SIGKILL to each PID, then up to 5 s for them to be gone (or zombies). */
export async function killPids(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
}

/** Removes a cgroup directory and the cgroups below it, deepest first (cgroupfs only allows rmdir). */
async function removeTree(dir: string): Promise<void> {
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeTree(path.join(dir, e.name));
  await fsp.rmdir(dir).catch(() => undefined);
}

/**
 * Kills the processes left below `cgroupRoot` (in any hierarchy) and removes its cgroups. Returns
 * what it found: the PIDs killed and the pod cgroups that still held a container's cgroup, empty
 * after a clean teardown. An empty pod cgroup is not reported: removing it is kubelet's job, and
 * containerd leaves it (crib removes it).
 */
export async function reapCgroupRoot(cgroupRoot: string): Promise<string[]> {
  const found: string[] = [];
  const mounts = await cgroupMounts();
  const pids = [...new Set(mounts.flatMap((m) => procsBelow(path.join(m, cgroupRoot))))];
  if (pids.length) found.push(`processes in ${cgroupRoot}: ${pids.join(', ')}`);
  await killPids(pids);
  const left = new Set<string>();
  for (const m of mounts) {
    const dir = path.join(m, cgroupRoot);
    const subdirs = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of subdirs) if (e.isDirectory() && hasSubdir(path.join(dir, e.name))) left.add(e.name);
    await removeTree(dir);
  }
  if (left.size) found.push(`cgroups under ${cgroupRoot}: ${[...left].join(', ')}`);
  return found;
}
