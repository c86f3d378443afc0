// What `crib run` keeps beside a pod's volumes (ROOT/pods/UID, removed with the pod): the pod as it
// was run with the objects it uses (pod.json, for `crib generate`) and its containers' readiness as
// its prober sees it (status.json, for `crib pods`). The runtime has no place for either: CRI
// configs are fixed at creation, and readiness is the prober's (kubelet's) knowledge. The Secrets
// the pod uses are never written to the disk, as their volumes are not: pod.json holds each one's
// name alone, and the Secrets themselves are in secrets/objects.json on a tmpfs of their own.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../util/exec.js';
import type { Json } from '../manifest/fields.js';
import { podDir } from './paths.js';

/** A pod as `crib generate` gives it back: Kubernetes objects, ready to be run again. */
export interface PodRecord {
  pod: Record<string, Json>;
  /** The ConfigMaps, Secrets and PersistentVolumeClaims the pod refers to, as written. */
  objects: Record<string, Json>[];
}

export interface PodStatusFile {
  /** Per app container: whether its readiness probe (or, without one, its start) says it is ready. */
  ready: Record<string, boolean>;
}

const RECORD = 'pod.json';
const STATUS = 'status.json';
/** A pod's uid names its directory: only uids that cannot leave ROOT/pods are used. */
const safeUid = (uid: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(uid) && uid.length <= 128;

/** Writes a file whole or not at all (a reader never sees half of it). */
async function writeAtomic(file: string, data: string, mode: number, makeDir = true): Promise<void> {
  if (makeDir) await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, data, { mode });
  await fsp.rename(tmp, file);
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined; // not a crib run pod, gone, or unreadable (not root)
  }
}

const SECRETS_DIR = 'secrets';
const SECRETS = 'objects.json';
const isSecret = (o: Record<string, Json>): boolean => o['kind'] === 'Secret';
/** What pod.json keeps of a Secret: what it is, not what it holds. */
const secretStub = (o: Record<string, Json>): Record<string, Json> => ({ apiVersion: o['apiVersion'] ?? 'v1', kind: 'Secret', metadata: o['metadata'] ?? {} });

/** A tmpfs at `dir` (unless one is there already), big enough for `bytes` and only root's. */
async function memoryDir(dir: string, bytes: number): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const [self, parent] = await Promise.all([fsp.stat(dir), fsp.stat(path.dirname(dir))]);
  if (self.dev !== parent.dev) return;
  // Room for the file and its replacement while it is rewritten whole.
  await run('mount', ['-t', 'tmpfs', '-o', `mode=0700,size=${2 * bytes + (64 << 10)}`, 'tmpfs', dir]);
}

/** pod.json (only root reads it) with each Secret's name alone; the Secrets on a tmpfs (removePodVolumes unmounts it). */
export async function writeRecord(root: string, uid: string, r: PodRecord): Promise<void> {
  const dir = podDir(root, uid);
  const secrets = r.objects.filter(isSecret);
  if (secrets.length) {
    const data = JSON.stringify(secrets);
    await memoryDir(path.join(dir, SECRETS_DIR), Buffer.byteLength(data));
    await writeAtomic(path.join(dir, SECRETS_DIR, SECRETS), data, 0o600);
  }
  const onDisk: PodRecord = { pod: r.pod, objects: r.objects.map((o) => (isSecret(o) ? secretStub(o) : o)) };
  await writeAtomic(path.join(dir, RECORD), JSON.stringify(onDisk), 0o600);
}

/** The record with its Secrets whole again; a Secret whose tmpfs is gone keeps its name alone. */
export async function readRecord(root: string, uid: string): Promise<PodRecord | undefined> {
  if (!safeUid(uid)) return undefined;
  const dir = podDir(root, uid);
  const v = (await readJson(path.join(dir, RECORD))) as Partial<PodRecord> | undefined;
  if (!v || typeof v.pod !== 'object' || v.pod === null || !Array.isArray(v.objects)) return undefined;
  const kept = await readJson(path.join(dir, SECRETS_DIR, SECRETS));
  const secrets = Array.isArray(kept) ? (kept as Record<string, Json>[]) : [];
  let next = 0;
  const objects = v.objects.map((o) => (isSecret(o) && next < secrets.length ? secrets[next++]! : o));
  return { pod: v.pod, objects };
}

/** Writes status.json into the pod's directory, if it still has one (a pod torn down meanwhile is not made again). */
export const writeStatus = (root: string, uid: string, s: PodStatusFile): Promise<void> =>
  writeAtomic(path.join(podDir(root, uid), STATUS), JSON.stringify(s), 0o644, false);

export async function readStatus(root: string, uid: string): Promise<PodStatusFile | undefined> {
  if (!safeUid(uid)) return undefined;
  const v = (await readJson(path.join(podDir(root, uid), STATUS))) as Partial<PodStatusFile> | undefined;
  if (!v || typeof v.ready !== 'object' || v.ready === null) return undefined;
  const ready: Record<string, boolean> = {};
  for (const [k, b] of Object.entries(v.ready)) if (typeof b === 'boolean') ready[k] = b;
  return { ready };
}

const TERMINATING = 'terminating';

/**
 * Marks the pod as being torn down (kubelet's deletionTimestamp), before its preStop hooks: whoever
 * runs it (a foreground crib run, the supervisor) restarts nothing of it from then on.
 */
export async function markTerminating(root: string, uid: string): Promise<void> {
  if (!safeUid(uid)) return;
  // A pod without its directory has nobody running it to tell.
  await fsp.writeFile(path.join(podDir(root, uid), TERMINATING), '').catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

export async function isTerminating(root: string, uid: string): Promise<boolean> {
  if (!safeUid(uid)) return false;
  return fsp.access(path.join(podDir(root, uid), TERMINATING)).then(
    () => true,
    () => false,
  );
}
