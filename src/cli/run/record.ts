// What `crib run` keeps beside a pod's volumes (ROOT/pods/UID, removed with the pod): the pod as it
// was run with the objects it uses (pod.json, for `crib generate`) and its containers' readiness as
// its prober sees it (status.json, for `crib pods`). The runtime has no place for either: CRI
// configs are fixed at creation, and readiness is the prober's (kubelet's) knowledge.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Json } from './fields.js';
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
async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
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

/** Its Secrets are in it: only root reads it. */
export const writeRecord = (root: string, uid: string, r: PodRecord): Promise<void> =>
  writeAtomic(path.join(podDir(root, uid), RECORD), JSON.stringify(r), 0o600);

export async function readRecord(root: string, uid: string): Promise<PodRecord | undefined> {
  if (!safeUid(uid)) return undefined;
  const v = (await readJson(path.join(podDir(root, uid), RECORD))) as Partial<PodRecord> | undefined;
  if (!v || typeof v.pod !== 'object' || v.pod === null || !Array.isArray(v.objects)) return undefined;
  return { pod: v.pod, objects: v.objects };
}

export const writeStatus = (root: string, uid: string, s: PodStatusFile): Promise<void> =>
  writeAtomic(path.join(podDir(root, uid), STATUS), JSON.stringify(s), 0o644);

export async function readStatus(root: string, uid: string): Promise<PodStatusFile | undefined> {
  if (!safeUid(uid)) return undefined;
  const v = (await readJson(path.join(podDir(root, uid), STATUS))) as Partial<PodStatusFile> | undefined;
  if (!v || typeof v.ready !== 'object' || v.ready === null) return undefined;
  const ready: Record<string, boolean> = {};
  for (const [k, b] of Object.entries(v.ready)) if (typeof b === 'boolean') ready[k] = b;
  return { ready };
}
