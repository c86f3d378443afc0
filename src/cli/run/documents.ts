// A manifest: the YAML documents of one or several files, in any order, each a Pod, a controller
// (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job), a ConfigMap, a Secret, a
// PersistentVolumeClaim, or a List of them. Kinds crib does not run (Service, Ingress, ...) are
// warned about. Pure: the files' text in, typed objects and warnings out.
import { parseAllDocuments } from 'yaml';
import { Fields, isMap, ManifestError, type Json } from './fields.js';
import { parseClaim, parseConfigMap, parseSecret, type Claim, type DataObject } from './objects.js';
import { describe } from './quantity.js';
import { isWorkloadKind, parseWorkload, WORKLOAD_KINDS, type Workload } from './workloads.js';

export interface Manifest {
  /** Pods and controllers, in the order the documents give them. */
  workloads: Workload[];
  /** ConfigMaps and Secrets by `KIND/NAMESPACE/NAME`. */
  objects: Map<string, DataObject>;
  /** PersistentVolumeClaims by `NAMESPACE/NAME`. */
  claims: Map<string, Claim>;
  /** One line each, without the "warning: " prefix: `spec.containers[0].stdin is not supported by crib run; ignored`. */
  warnings: string[];
}

export const objectKey = (kind: DataObject['kind'], namespace: string, name: string): string => `${kind}/${namespace}/${name}`;
export const claimKey = (namespace: string, name: string): string => `${namespace}/${name}`;

const KINDS = [...WORKLOAD_KINDS, 'ConfigMap', 'Secret', 'PersistentVolumeClaim'];

export const emptyManifest = (): Manifest => ({ workloads: [], objects: new Map(), claims: new Map(), warnings: [] });

/** Adds one object (a map with apiVersion and kind) read at `path`; its warnings are prefixed with `where`. */
function addObject(into: Manifest, value: Record<string, Json>, path: string, where: string): void {
  const kind = value['kind'];
  const own: string[] = [];
  const f = new Fields(path, value, own);
  if (kind === undefined || kind === null) throw new ManifestError(path ? `${path}.kind` : 'kind', `required (one of ${KINDS.join(', ')})`);
  if (isWorkloadKind(kind)) {
    const w = parseWorkload(kind, f, own);
    const same = into.workloads.find((x) => x.kind === w.kind && x.namespace === w.namespace && x.name === w.name);
    if (same) throw new ManifestError(path ? `${path}.metadata.name` : 'metadata.name', `${w.kind} ${w.namespace}/${w.name} is defined twice`);
    into.workloads.push(w);
  } else if (kind === 'ConfigMap' || kind === 'Secret') {
    const o = kind === 'ConfigMap' ? parseConfigMap(f) : parseSecret(f);
    const key = objectKey(o.kind, o.namespace, o.name);
    if (into.objects.has(key)) throw new ManifestError(path ? `${path}.metadata.name` : 'metadata.name', `${kind} ${o.namespace}/${o.name} is defined twice`);
    into.objects.set(key, o);
  } else if (kind === 'PersistentVolumeClaim') {
    const c = parseClaim(f);
    const key = claimKey(c.namespace, c.name);
    if (into.claims.has(key)) throw new ManifestError(path ? `${path}.metadata.name` : 'metadata.name', `PersistentVolumeClaim ${key} is defined twice`);
    into.claims.set(key, c);
  } else {
    own.push(`${path || 'the document'} (kind ${JSON.stringify(kind)}) is not supported by crib run; ignored`);
  }
  into.warnings.push(...own.map((w) => `${where}${w}`));
}

/** Parses one file's documents into `into` (a fresh manifest by default). */
export function parseManifests(text: string, into: Manifest = emptyManifest()): Manifest {
  // YAML 1.1, as kubectl reads manifests: `defaultMode: 0644` is octal, `yes` a boolean.
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, version: '1.1' });
  const list = Array.isArray(docs) ? docs : [docs];
  const values: Json[] = [];
  for (const [i, doc] of list.entries()) {
    const err = doc.errors[0];
    if (err) {
      const where = err.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
      throw new ManifestError('', `malformed YAML${list.length > 1 ? ` in document ${i + 1}` : ''}${where}: ${err.message.split('\n')[0]}`);
    }
    values.push(doc.toJS({ maxAliasCount: 100 }) as Json);
  }
  const present = values.map((v, i) => [v, i] as const).filter(([v]) => v !== null && v !== undefined);
  const several = present.length > 1;
  for (const [value, i] of present) {
    const where = several ? `document ${i + 1}: ` : '';
    try {
      if (!isMap(value)) throw new ManifestError('', `expected a Kubernetes object (a map with apiVersion, kind, ...), got ${describe(value)}`);
      const kind = value['kind'];
      if (typeof kind === 'string' && kind.endsWith('List')) {
        const listWarnings: string[] = [];
        const lf = Fields.of(value, '', listWarnings);
        lf.str('apiVersion');
        lf.str('kind');
        lf.accept('metadata');
        const items = lf.list('items', (item, path) => [item, path] as const);
        lf.done();
        into.warnings.push(...listWarnings.map((w) => `${where}${w}`));
        for (const [item, path] of items) {
          if (!isMap(item)) throw new ManifestError(path, `expected a Kubernetes object, got ${describe(item)}`);
          addObject(into, item, path, where);
        }
      } else if (typeof kind === 'string' && !KINDS.includes(kind)) {
        into.warnings.push(`${several ? `document ${i + 1}` : 'the document'} (kind ${JSON.stringify(kind)}) is not supported by crib run; ignored`);
      } else {
        addObject(into, value, '', where);
      }
    } catch (err) {
      if (err instanceof ManifestError && where) throw new ManifestError(`${where}${err.field}`.replace(/: $/, ''), err.reason);
      throw err;
    }
  }
  return into;
}
