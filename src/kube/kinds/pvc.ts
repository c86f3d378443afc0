// kind: PersistentVolumeClaim (v1): a directory under crib's root that outlives the pods using it
// (crib down --volumes removes it).
import { claimKey } from '../manifest/documents.js';
import { ManifestError } from '../manifest/fields.js';
import { parseClaim } from '../manifest/objects.js';
import type { KindModule } from './kind.js';

export const pvcKind: KindModule = {
  kind: 'PersistentVolumeClaim',
  read(into, f, at) {
    const c = parseClaim(f);
    const key = claimKey(c.namespace, c.name);
    if (into.claims.has(key)) throw new ManifestError(at.nameField, `PersistentVolumeClaim ${key} is defined twice`);
    into.claims.set(key, c);
  },
};
