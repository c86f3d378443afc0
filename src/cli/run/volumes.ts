// The pod's volumes on the node, as kubelet provides them: emptyDir directories under the runtime's
// root (`ROOT/pods/UID/volumes/NAME`, a tmpfs for medium: Memory), hostPath checked or created per
// its type, subPath directories made on demand; all removed again at teardown (hostPaths stay).
import type fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../util/exec.js';
import type { Pod } from './manifest.js';

/** A failure on the node that is the manifest's fault or the node's state (exit 1). */
export class RunError extends Error {
  override readonly name = 'RunError';
}

export const podDir = (root: string, uid: string): string => path.join(root, 'pods', uid);
export const volumeDir = (root: string, uid: string, name: string): string => path.join(podDir(root, uid), 'volumes', name);

async function statOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fsp.stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Checks every hostPath volume against its type without changing anything, so a pod that cannot
 * start fails before anything is created. (The *OrCreate types only need their parent to make sense.)
 */
export async function checkHostPaths(pod: Pod): Promise<void> {
  for (const [i, v] of pod.spec.volumes.entries()) {
    if (!('hostPath' in v)) continue;
    const field = `pod ${pod.name}: spec.volumes[${i}].hostPath`;
    const { path: p, type } = v.hostPath;
    const st = await statOrUndefined(p);
    const need = (ok: boolean, what: string) => {
      if (!ok) throw new RunError(`${field}: ${p} ${st ? `is not ${what}` : 'does not exist'} (type ${type})`);
    };
    switch (type) {
      case 'Directory':
        need(!!st?.isDirectory(), 'a directory');
        break;
      case 'File':
        need(!!st?.isFile(), 'a file');
        break;
      case 'Socket':
        need(!!st?.isSocket(), 'a socket');
        break;
      case 'CharDevice':
        need(!!st?.isCharacterDevice(), 'a character device');
        break;
      case 'BlockDevice':
        need(!!st?.isBlockDevice(), 'a block device');
        break;
      case 'DirectoryOrCreate':
        if (st && !st.isDirectory()) throw new RunError(`${field}: ${p} exists and is not a directory (type DirectoryOrCreate)`);
        break;
      case 'FileOrCreate':
        if (st && st.isDirectory()) throw new RunError(`${field}: ${p} is a directory (type FileOrCreate)`);
        if (!st && !(await statOrUndefined(path.dirname(p)))?.isDirectory()) {
          throw new RunError(`${field}: the directory of ${p} does not exist (FileOrCreate does not create it)`);
        }
        break;
      case '':
        break;
    }
  }
}

/**
 * Makes the pod's volumes and returns each one's host path. emptyDirs are mode 0777 like kubelet's,
 * so containers running as any user can write them.
 */
export async function prepareVolumes(pod: Pod, root: string, uid: string): Promise<Record<string, string>> {
  const paths: Record<string, string> = {};
  for (const v of pod.spec.volumes) {
    if ('emptyDir' in v) {
      const dir = volumeDir(root, uid, v.name);
      await fsp.mkdir(dir, { recursive: true });
      await fsp.chmod(dir, 0o777);
      if (v.emptyDir.medium === 'Memory') {
        const size = v.emptyDir.sizeLimitBytes !== undefined ? `,size=${v.emptyDir.sizeLimitBytes}` : '';
        await run('mount', ['-t', 'tmpfs', '-o', `mode=0777${size}`, 'tmpfs', dir]);
      }
      paths[v.name] = dir;
    } else if ('hostPath' in v) {
      const { path: p, type } = v.hostPath;
      const st = await statOrUndefined(p);
      // "" (no checks): a missing path becomes a directory, as containerd and Docker do it.
      if (!st && (type === 'DirectoryOrCreate' || type === '')) await fsp.mkdir(p, { recursive: true, mode: 0o755 });
      if (!st && type === 'FileOrCreate') await fsp.writeFile(p, '', { mode: 0o644, flag: 'a' });
      paths[v.name] = p;
    }
  }
  // subPaths that do not exist yet are made as directories (kubelet does the same).
  for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
    for (const m of c.volumeMounts) {
      const base = paths[m.name];
      if (!m.subPath || base === undefined) continue;
      const target = path.join(base, m.subPath);
      if (!(await statOrUndefined(target))) await fsp.mkdir(target, { recursive: true, mode: 0o777 });
    }
  }
  return paths;
}

/** Mount points at or under `dir` (from /proc/self/mountinfo, octal escapes decoded), deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((l) => decode(l.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

/** Removes the pod's emptyDirs (unmounting tmpfs ones) and its directory under the root. Idempotent. */
export async function removePodVolumes(root: string, uid: string): Promise<void> {
  if (!uid || uid.includes('/') || uid === '.' || uid === '..') return;
  const dir = podDir(root, uid);
  for (const m of await mountsUnder(dir)) await run('umount', [m]).catch(() => run('umount', ['-l', m]));
  await fsp.rm(dir, { recursive: true, force: true });
}
