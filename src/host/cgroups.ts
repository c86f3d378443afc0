import fs from 'node:fs/promises';
import path from 'node:path';
import { isErrno } from '../util/fsx.js';
import { readMounts } from './mounts.js';

let hierarchies: Promise<string[]> | undefined;

/** Mount points of every cgroup hierarchy (v1 controllers, named ones, and the cgroup2 mount). */
export function cgroupMounts(): Promise<string[]> {
  hierarchies ??= readMounts().then((ms) => ms.filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2').map((m) => m.mountPoint));
  return hierarchies;
}

/** The hierarchy mount for a v1 controller (e.g. "memory"), or undefined on a pure cgroup2 host. */
export async function cgroupV1Mount(controller: string): Promise<string | undefined> {
  const mounts = await cgroupMounts();
  return mounts.find((m) => path.basename(m).split(',').includes(controller));
}

/** The cgroup2 mount a pure v2 host has at /sys/fs/cgroup. */
export async function cgroupV2Root(): Promise<string> {
  return (await cgroupMounts()).find((m) => m === '/sys/fs/cgroup') ?? '/sys/fs/cgroup';
}

/** Whether the cgroup path exists in any hierarchy. */
export async function cgroupExists(cgroupPath: string): Promise<boolean> {
  for (const m of await cgroupMounts()) {
    try {
      await fs.access(path.join(m, cgroupPath));
      return true;
    } catch {
      /* not in this hierarchy */
    }
  }
  return false;
}

/** Removes an (empty) cgroup from every hierarchy. Missing is fine; a busy one is reported. */
export async function removeCgroup(cgroupPath: string): Promise<void> {
  if (cgroupPath === '/' || cgroupPath === '') return;
  const busy: string[] = [];
  for (const m of await cgroupMounts()) {
    const dir = path.join(m, cgroupPath);
    try {
      await fs.rmdir(dir);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) busy.push(`${dir}: ${(err as Error).message}`);
    }
  }
  if (busy.length) throw new Error(`removing cgroup ${cgroupPath}: ${busy.join('; ')}`);
}

/** Whether no process is in the cgroup (read in the first hierarchy that has it); a missing cgroup holds none. */
export async function cgroupEmpty(cgroupPath: string): Promise<boolean> {
  for (const m of await cgroupMounts()) {
    try {
      return (await fs.readFile(path.join(m, cgroupPath, 'cgroup.procs'), 'utf8')).trim() === '';
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  return true;
}
