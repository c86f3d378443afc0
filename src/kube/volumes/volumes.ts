// The pod's volumes on the node, as kubelet provides them: emptyDir directories under the runtime's
// root (`ROOT/pods/UID/volumes/NAME`, a tmpfs for medium: Memory), the files of configMap, secret,
// downwardAPI and projected volumes (secrets and projected ones on a tmpfs, never on disk), hostPath
// checked or created per its type, persistentVolumeClaims as named directories
// (`ROOT/volumes/NAMESPACE/CLAIM`) that outlive the pod, and each subPath, made on demand and bound
// where the container's mount takes it from. All but hostPaths and claims are removed again at
// teardown. A container can write its volumes, so every path inside one goes through beneath().
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { beneath, BeneathError } from '../../host/beneath.js';
import { run } from '../../util/exec.js';
import { makeDirs } from '../../util/fsx.js';
import type { PodFacts } from '../env/env.js';
import type { ContainerSpec, Pod, PodSpec } from '../manifest/pod-spec.js';
import type { DataObject } from '../manifest/objects.js';
import { claimDir, podDir, subPathDir, volumeDir } from '../records/paths.js';
import { releaseUsernsBlocks } from '../pod/userns.js';
import { inMemory, volumeFiles, type VolumeFile } from './volume-files.js';

/** A failure on the node that is the manifest's fault or the node's state (exit 1). */
export class RunError extends Error {
  override readonly name = 'RunError';
}

/** Whether a claim's directory exists already (made by an earlier crib run). */
export function claimExists(root: string, namespace: string, name: string): boolean {
  try {
    return fs.statSync(claimDir(root, namespace, name)).isDirectory();
  } catch {
    return false;
  }
}

/** Makes a claim's directory (0777, as local provisioners do, so any user may write it); keeps what is there. */
export async function ensureClaim(root: string, namespace: string, name: string): Promise<string> {
  const dir = claimDir(root, namespace, name);
  if (!(await statOrUndefined(dir))) {
    await fsp.mkdir(dir, { recursive: true });
    await fsp.chmod(dir, 0o777);
  }
  return dir;
}

/** Removes a claim's directory and its data (crib down --volumes). */
export async function removeClaim(root: string, namespace: string, name: string): Promise<boolean> {
  const dir = claimDir(root, namespace, name);
  if (!(await statOrUndefined(dir))) return false;
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.rmdir(path.dirname(dir)).catch(() => undefined); // the namespace's directory, once empty
  return true;
}

/** Writes a volume's files into its directory, in one crib-io, none of them through a symlink. */
async function writeFiles(dir: string, files: VolumeFile[]): Promise<void> {
  await beneath(
    dir,
    files.map((f) => ({ write: f.path, data: f.data, mode: f.mode })),
  );
}

export interface VolumeInputs {
  root: string;
  uid: string;
  objects: ReadonlyMap<string, DataObject>;
  facts: PodFacts;
}

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
export async function checkHostPaths(spec: PodSpec, what: string): Promise<void> {
  for (const [i, v] of spec.volumes.entries()) {
    if (!('hostPath' in v)) continue;
    const field = `${what}: spec.volumes[${i}].hostPath`;
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
/**
 * Where each of the pod's volumes is on the node (the image volumes are the runtime's): what
 * prepareVolumes makes, and what a pod taken over after its start (the supervisor's) mounts again.
 */
export function volumePaths(pod: Pod, root: string, uid: string): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const v of pod.spec.volumes) {
    if ('persistentVolumeClaim' in v) paths[v.name] = claimDir(root, pod.namespace, v.persistentVolumeClaim.claimName);
    else if ('hostPath' in v) paths[v.name] = v.hostPath.path;
    else if ('emptyDir' in v || 'configMap' in v || 'secret' in v || 'downwardAPI' in v || 'projected' in v) paths[v.name] = volumeDir(root, uid, v.name);
  }
  return paths;
}

export async function prepareVolumes(pod: Pod, inputs: VolumeInputs): Promise<Record<string, string>> {
  const { root, uid } = inputs;
  const paths: Record<string, string> = {};
  const where = volumePaths(pod, root, uid);
  for (const v of pod.spec.volumes) {
    const files = volumeFiles(v, pod, inputs.objects, inputs.facts);
    if (files) {
      const dir = where[v.name] as string;
      await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
      if (inMemory(v)) await run('mount', ['-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', dir]);
      await writeFiles(dir, files);
      paths[v.name] = dir;
    } else if ('persistentVolumeClaim' in v) {
      paths[v.name] = await ensureClaim(root, pod.namespace, v.persistentVolumeClaim.claimName);
    } else if ('emptyDir' in v) {
      const dir = where[v.name] as string;
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
      if (!st && (type === 'DirectoryOrCreate' || type === '')) await makeDirs(p, 0o755);
      if (!st && type === 'FileOrCreate') await fsp.writeFile(p, '', { mode: 0o644, flag: 'a' });
      paths[v.name] = p;
    }
  }
  return paths;
}

/**
 * Binds each subPath of a container's volume mounts where its mount takes it from, as kubelet does
 * before each start: `ROOT/pods/UID/volume-subpaths/VOLUME/CONTAINER/INDEX`, in the pod's directory
 * (no container can write there), bound from the subPath as opened beneath the volume's directory.
 * The container may have put a symlink where its subPath was, even to the node's /etc (kubelet's
 * CVE-2017-1002101): that is refused, never followed. A missing subPath is made a directory with
 * the volume's mode, as kubelet makes it. Returns each mount's source by its index (undefined
 * without a subPath); the binds go with the pod's directory (removePodVolumes).
 */
export async function bindSubPaths(root: string, uid: string, c: ContainerSpec, volumePaths: Record<string, string>): Promise<(string | undefined)[]> {
  const sources: (string | undefined)[] = [];
  const byVolume = new Map<string, { bind: string; target: string }[]>();
  for (const [i, m] of c.volumeMounts.entries()) {
    const base = volumePaths[m.name];
    if (!m.subPath || base === undefined) continue;
    const target = path.join(subPathDir(root, uid, m.name, c.name), String(i));
    sources[i] = target;
    byVolume.set(base, [...(byVolume.get(base) ?? []), { bind: m.subPath, target }]);
  }
  for (const [base, ops] of byVolume) {
    for (const dir of new Set(ops.map((o) => path.dirname(o.target)))) await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    await beneath(base, ops).catch((err: unknown) => {
      throw err instanceof BeneathError ? new RunError(`container "${c.name}": subPath refused: ${err.message}`) : err;
    });
  }
  return sources;
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
  // A subPath's bind of a claim or a hostPath still mounted here: removing the directory would
  // delete that data through it.
  const left = await mountsUnder(dir);
  if (left.length) throw new RunError(`cannot remove ${dir}: still mounted: ${left.join(', ')}`);
  await fsp.rm(dir, { recursive: true, force: true });
  await releaseUsernsBlocks(root, uid);
}
