// What `crib run -d` (and a file of the manifest directory) hands the supervisor: the manifest's
// files as they were read, and the run's options, in ROOT/kube/runs/ID.json. The id is the
// manifest's workloads (kind, namespace, name): the same objects are one run, whatever file or
// order gives them, and `crib down -f` finds the record from the same files.
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from '../manifest/documents.js';
import type { PullPolicy } from '../manifest/pod-spec.js';
import type { Workload } from '../manifest/workload.js';
import { MAX_MANIFEST_BYTES } from '../manifest/input.js';

export interface ManifestFile {
  /** Its path as given (or "stdin"). */
  name: string;
  text: string;
}

export interface RunRecord {
  id: string;
  files: ManifestFile[];
  pull?: PullPolicy;
  backoffMs: number;
  /** The file of the manifest directory it comes from (the supervisor's own runs). */
  source?: string;
  /** sha256 of the source file's text, to see it change. */
  sourceHash?: string;
}

export const kubeDir = (root: string): string => path.join(root, 'kube');
const runsDir = (root: string): string => path.join(kubeDir(root), 'runs');
const ID = /^[0-9a-f]{16}$/;

/** The run's id: its workloads and CronJobs (`planned`: their Jobs' templates), in any order. Pure. */
export function runId(m: Pick<Manifest, 'workloads'>, planned: readonly Pick<Workload, 'kind' | 'namespace' | 'name' | 'cronJob'>[] = []): string {
  const keys = [
    ...m.workloads.map((w) => `${w.kind}/${w.namespace}/${w.name}`),
    ...planned.map((w) => (w.cronJob !== undefined ? `CronJob/${w.namespace}/${w.cronJob}` : `${w.kind}/${w.namespace}/${w.name}`)),
  ].sort();
  return createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 16);
}

/**
 * A manifest's text without its Secrets (documents and List items), as JSON documents: a record is
 * on the disk, where no Secret is ever written; a pod's Secrets are in its own record's tmpfs. Pure.
 */
export function withoutSecrets(text: string): string {
  const docs = parseAllDocuments(text, { version: '1.1' });
  const isSecret = (v: unknown) => typeof v === 'object' && v !== null && (v as Record<string, unknown>)['kind'] === 'Secret';
  const kept: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const v: unknown = doc.toJS({ maxAliasCount: 100 });
    if (v === null || v === undefined || isSecret(v)) continue;
    const items = (v as Record<string, unknown>)['items'];
    kept.push(Array.isArray(items) ? { ...(v as Record<string, unknown>), items: items.filter((i) => !isSecret(i)) } : v);
  }
  return kept.map((v) => JSON.stringify(v)).join('\n---\n');
}

/** Records a run, its files without their Secrets. */
export async function writeRun(root: string, r: RunRecord): Promise<void> {
  await fsp.mkdir(runsDir(root), { recursive: true, mode: 0o700 });
  const file = path.join(runsDir(root), `${r.id}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  const files = r.files.map((f) => ({ name: f.name, text: withoutSecrets(f.text) }));
  await fsp.writeFile(tmp, JSON.stringify({ ...r, files }), { mode: 0o600 });
  await fsp.rename(tmp, file);
}

/** Where the supervisor's kinds keep a run's state across its restarts (a CronJob's starts); goes with the record. */
export const runStateDir = (root: string, id: string): string => path.join(runsDir(root), id);

/** Whether a record was there to remove (its state dir goes with it). */
export async function removeRun(root: string, id: string): Promise<boolean> {
  if (!ID.test(id)) return false;
  await fsp.rm(runStateDir(root, id), { recursive: true, force: true });
  return fsp.rm(path.join(runsDir(root), `${id}.json`)).then(
    () => true,
    () => false,
  );
}

/** Whether a parsed record has a record's shape (a file of the directory may be anything). Pure. */
export function isRunRecord(v: unknown): v is RunRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r['id'] === 'string' &&
    ID.test(r['id']) &&
    typeof r['backoffMs'] === 'number' &&
    Array.isArray(r['files']) &&
    r['files'].every(
      (f: unknown) => typeof f === 'object' && f !== null && typeof (f as ManifestFile).name === 'string' && typeof (f as ManifestFile).text === 'string',
    )
  );
}

/** Every record (unreadable or malformed ones are skipped: the next write replaces them). */
export async function readRuns(root: string): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for (const name of await fsp.readdir(runsDir(root)).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{16}\.json$/.test(name)) continue;
    const file = path.join(runsDir(root), name);
    try {
      const st = await fsp.stat(file);
      // Each file was at most MAX_MANIFEST_BYTES when it was read; a record of several is bounded alike.
      if (st.size > 16 * MAX_MANIFEST_BYTES) continue;
      const v: unknown = JSON.parse(await fsp.readFile(file, 'utf8'));
      if (isRunRecord(v) && `${v.id}.json` === name) out.push(v);
    } catch {
      /* removed meanwhile, or half-written by hand */
    }
  }
  return out;
}
