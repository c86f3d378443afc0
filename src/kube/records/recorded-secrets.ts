// The Secrets a pod uses, back from its own record (on its tmpfs) into a run's manifest: a run record
// keeps none, and what the supervisor starts or restarts for the pod's workload needs them.
import { parseManifests, type Manifest } from '../manifest/documents.js';
import { readRecord } from './record.js';

export async function addRecordedSecrets(root: string, m: Pick<Manifest, 'objects'>, uid: string): Promise<void> {
  for (const o of (await readRecord(root, uid))?.objects ?? []) {
    if (o['kind'] !== 'Secret' || (o['data'] === undefined && o['stringData'] === undefined)) continue;
    for (const [key, v] of parseManifests(JSON.stringify(o)).objects) if (!m.objects.has(key)) m.objects.set(key, v);
  }
}
