// kind: ConfigMap (v1): data for env and volumes, by KIND/NAMESPACE/NAME.
import { objectKey } from '../manifest/documents.js';
import { ManifestError } from '../manifest/fields.js';
import { parseConfigMap, parseSecret, type DataObject } from '../manifest/objects.js';
import type { KindModule } from './kind.js';

/** ConfigMap and Secret: one of a kind, namespace and name. */
export function dataObjectModule(kind: DataObject['kind']): KindModule {
  return {
    kind,
    read(into, f, at) {
      const o = kind === 'ConfigMap' ? parseConfigMap(f) : parseSecret(f);
      const key = objectKey(o.kind, o.namespace, o.name);
      if (into.objects.has(key)) throw new ManifestError(at.nameField, `${kind} ${o.namespace}/${o.name} is defined twice`);
      into.objects.set(key, o);
    },
  };
}

export const configMapKind = dataObjectModule('ConfigMap');
