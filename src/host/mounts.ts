import fs from 'node:fs/promises';
import { isErrno } from '../util/fsx.js';

export interface MountEntry {
  id: string;
  mountPoint: string;
  fstype: string;
}

/** mountinfo writes space, tab, newline and backslash in paths as \ooo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount table of cribd's mount namespace, in mount order (from /proc/self/mountinfo). */
export async function readMounts(): Promise<MountEntry[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    out.push({ id: f[0] ?? '', mountPoint: unescapeMountPath(f[4] ?? ''), fstype: sep > 0 ? (f[sep + 1] ?? '') : '' });
  }
  return out;
}

/** The top-most mount at the absolute, resolved path `mountPoint` (later mounts are on top). */
export async function mountAt(mountPoint: string): Promise<MountEntry | undefined> {
  return (await readMounts()).filter((m) => m.mountPoint === mountPoint).at(-1);
}

/** Whether `target` is a mount point (any filesystem); a missing path is not. */
export async function isMountPoint(target: string): Promise<boolean> {
  try {
    return (await mountAt(await fs.realpath(target))) !== undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
