// From workloads to pods, as the controllers make them: names, the labels each controller adds,
// a StatefulSet's own claims and hostname, an Indexed Job's index. And the checks that need the
// whole manifest (ConfigMaps, Secrets and claims a pod refers to), done before anything is created.
// Pure.
import type { Manifest } from '../manifest/documents.js';
import { claimKey, objectKey } from '../manifest/documents.js';
import { ManifestError, type Json } from '../manifest/fields.js';
import type { EnvVar, Pod, PodSpec } from '../manifest/pod-spec.js';
import { generateName, templateHash, type Random } from '../manifest/names.js';
import type { Projection, Volume, VolumeSource } from '../volumes/volume-spec.js';
import type { Workload } from '../manifest/workload.js';

export const LABEL_TEMPLATE_HASH = 'pod-template-hash';
export const LABEL_REVISION_HASH = 'controller-revision-hash';
export const LABEL_STS_POD_NAME = 'statefulset.kubernetes.io/pod-name';
export const LABEL_POD_INDEX = 'apps.kubernetes.io/pod-index';
export const LABEL_TEMPLATE_GENERATION = 'pod-template-generation';
export const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name';
export const LABEL_JOB_UID = 'batch.kubernetes.io/controller-uid';
export const ANN_COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
export const JOB_INDEX_ENV = 'JOB_COMPLETION_INDEX';

/** Where a pod sits among its controller's: a StatefulSet ordinal or an Indexed Job's index. */
export interface PodSlot {
  ordinal?: number;
  /** The Job's uid (its pods' controller-uid label). */
  jobUid?: string;
}

/** The name a StatefulSet's claim template gets for one pod. */
export const setClaimName = (template: string, set: string, ordinal: number): string => `${template}-${set}-${ordinal}`;

/** A copy of the pod spec JSON with `edit` applied (the typed spec is edited alongside). */
function editSource(source: Record<string, Json>, edit: (s: Record<string, Json>) => void): Record<string, Json> {
  const out = structuredClone(source);
  edit(out);
  return out;
}

/** One pod of the workload. */
export function makePod(w: Workload, random: Random, slot: PodSlot = {}): Pod {
  const t = w.template;
  let spec: PodSpec = t.spec;
  let source = t.source;
  const labels = { ...t.labels };
  const annotations = { ...t.annotations };
  let name: string;
  switch (w.kind) {
    case 'Pod':
      name = w.name;
      break;
    case 'Deployment': {
      // Its ReplicaSet is NAME-HASH and makes the pods; the hash is the template's (with its labels).
      const hash = templateHash({ metadata: { labels: t.labels, annotations: t.annotations }, spec: t.source });
      labels[LABEL_TEMPLATE_HASH] = hash;
      name = generateName(`${w.name}-${hash}-`, random);
      break;
    }
    case 'ReplicaSet':
      name = generateName(`${w.name}-`, random);
      break;
    case 'DaemonSet':
      labels[LABEL_REVISION_HASH] = templateHash({ metadata: { labels: t.labels }, spec: t.source });
      labels[LABEL_TEMPLATE_GENERATION] = '1';
      name = generateName(`${w.name}-`, random);
      break;
    case 'StatefulSet': {
      const sts = w.statefulSet;
      const ordinal = slot.ordinal ?? 0;
      name = `${w.name}-${ordinal}`;
      labels[LABEL_REVISION_HASH] = `${w.name}-${templateHash({ metadata: { labels: t.labels }, spec: t.source })}`;
      labels[LABEL_STS_POD_NAME] = name;
      labels[LABEL_POD_INDEX] = String(ordinal);
      const claims = (sts?.claimTemplates ?? []).map((c) => ({ name: c.name, claimName: setClaimName(c.name, w.name, ordinal) }));
      const own = new Set(claims.map((c) => c.name));
      const volumes = claims.map((c): Volume => ({ name: c.name, persistentVolumeClaim: { claimName: c.claimName, readOnly: false } }));
      spec = { ...spec, hostname: name, volumes: [...spec.volumes.filter((v) => !own.has(v.name)), ...volumes] };
      source = editSource(source, (s) => {
        s['hostname'] = name;
        const vols = (Array.isArray(s['volumes']) ? (s['volumes'] as Record<string, Json>[]) : []).filter((v) => !own.has(String(v['name'])));
        s['volumes'] = [...vols, ...claims.map((c) => ({ name: c.name, persistentVolumeClaim: { claimName: c.claimName } }))];
      });
      break;
    }
    case 'Job': {
      labels[LABEL_JOB_NAME] = w.name;
      labels['job-name'] = w.name;
      if (slot.jobUid) {
        labels[LABEL_JOB_UID] = slot.jobUid;
        labels['controller-uid'] = slot.jobUid;
      }
      if (w.job?.indexed) {
        const index = String(slot.ordinal ?? 0);
        annotations[ANN_COMPLETION_INDEX] = index;
        labels[ANN_COMPLETION_INDEX] = index;
        name = generateName(`${w.name}-${index}-`, random);
        // Every container learns its index from the annotation, as the Job controller arranges it.
        const env: EnvVar = { name: JOB_INDEX_ENV, fieldPath: `metadata.annotations['${ANN_COMPLETION_INDEX}']` };
        const withIndex = <C extends { env: EnvVar[] }>(c: C): C => ({ ...c, env: [env, ...c.env.filter((e) => e.name !== JOB_INDEX_ENV)] });
        spec = { ...spec, hostname: `${w.name}-${index}`, containers: spec.containers.map(withIndex), initContainers: spec.initContainers.map(withIndex) };
        source = editSource(source, (s) => {
          s['hostname'] = `${w.name}-${index}`;
          for (const key of ['containers', 'initContainers']) {
            for (const c of (Array.isArray(s[key]) ? s[key] : []) as Record<string, Json>[]) {
              const rest = (Array.isArray(c['env']) ? (c['env'] as Record<string, Json>[]) : []).filter((e) => e['name'] !== JOB_INDEX_ENV);
              c['env'] = [{ name: JOB_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: env.fieldPath } } }, ...rest];
            }
          }
        });
      } else {
        name = generateName(`${w.name}-`, random);
      }
      break;
    }
  }
  const owner = { kind: w.kind, name: w.name, ...(w.job ? { completions: w.job.completions ?? 1 } : {}) };
  return { name, namespace: w.namespace, labels, annotations, spec, source, owner };
}

/** The pods a workload starts with: its replicas (a StatefulSet's in ordinal order; a Job's are made by its controller). */
export function initialPods(w: Workload, random: Random): Pod[] {
  if (w.kind === 'Job') return [];
  const start = w.statefulSet?.ordinalsStart ?? 0;
  return Array.from({ length: w.replicas }, (_, i) => makePod(w, random, { ordinal: start + i }));
}

const what = (w: Workload): string => `${w.kind} ${w.namespace === 'default' ? '' : `${w.namespace}/`}${w.name}`;

/** The claims a pod's volumes use. */
export function claimsOf(spec: PodSpec): string[] {
  return spec.volumes.flatMap((v) => ('persistentVolumeClaim' in v ? [v.persistentVolumeClaim.claimName] : []));
}

/**
 * Checks what a workload's pods refer to: ConfigMaps, Secrets and their keys (unless optional),
 * claims (defined in the manifest or already on the node: `claimExists`), and host ports several
 * replicas would share. Throws a ManifestError naming the reference.
 */
export function checkReferences(w: Workload, m: Manifest, claimExists: (namespace: string, name: string) => boolean): void {
  const spec = w.template.spec;
  const ns = w.namespace;
  const fail = (where: string, why: string): never => {
    throw new ManifestError('', `${what(w)}: ${where}: ${why}`);
  };
  const need = (where: string, kind: 'ConfigMap' | 'Secret', name: string, optional: boolean, keys: string[]) => {
    const o = m.objects.get(objectKey(kind, ns, name));
    if (!o) {
      if (!optional) fail(where, `${kind} "${name}" not found in namespace ${ns} (define it in the manifest, or set optional: true)`);
      return;
    }
    for (const k of keys)
      if (!o.data.has(k) && !optional) fail(where, `key "${k}" not found in ${kind} ${ns}/${name} (it has: ${[...o.data.keys()].join(', ') || 'no keys'})`);
  };
  for (const c of [...spec.initContainers, ...spec.containers]) {
    const at = `container "${c.name}"`;
    for (const e of c.envFrom) need(`${at}: envFrom`, e.from === 'configMap' ? 'ConfigMap' : 'Secret', e.name, e.optional, []);
    for (const e of c.env) {
      if ('configMapKeyRef' in e) need(`${at}: env ${e.name}`, 'ConfigMap', e.configMapKeyRef.name, e.configMapKeyRef.optional, [e.configMapKeyRef.key]);
      if ('secretKeyRef' in e) need(`${at}: env ${e.name}`, 'Secret', e.secretKeyRef.name, e.secretKeyRef.optional, [e.secretKeyRef.key]);
    }
  }
  // A volume, or one source of a projected volume, that takes its files from a ConfigMap or Secret.
  const needFiles = (at: string, v: VolumeSource | Projection) => {
    if ('configMap' in v)
      need(
        at,
        'ConfigMap',
        v.configMap.name,
        v.configMap.optional,
        v.configMap.items.map((i) => i.key),
      );
    if ('secret' in v)
      need(
        at,
        'Secret',
        v.secret.name,
        v.secret.optional,
        v.secret.items.map((i) => i.key),
      );
  };
  for (const v of spec.volumes) {
    const at = `volume "${v.name}"`;
    needFiles(at, v);
    if ('projected' in v) for (const s of v.projected.sources) needFiles(at, s);
    if ('persistentVolumeClaim' in v) {
      const claim = v.persistentVolumeClaim.claimName;
      if (!m.claims.has(claimKey(ns, claim)) && !claimExists(ns, claim)) {
        fail(at, `PersistentVolumeClaim "${claim}" not found in namespace ${ns} (define it in the manifest: kind PersistentVolumeClaim)`);
      }
    }
  }
  const pods = w.kind === 'Job' ? (w.job?.parallelism ?? 1) : w.replicas;
  const hostPort = spec.containers.flatMap((c) => c.ports).find((p) => p.hostPort);
  if (pods > 1 && hostPort && !spec.hostNetwork) {
    fail('hostPort', `${hostPort.hostPort} cannot be bound by ${pods} pods on one node (set replicas to 1 or drop the hostPort)`);
  }
}

/** The ConfigMaps and Secrets (by objectKey) and claims a pod spec refers to. */
export function referencesOf(spec: PodSpec, namespace: string): { objects: string[]; claims: string[] } {
  const objects = new Set<string>();
  const add = (kind: 'ConfigMap' | 'Secret', name: string) => objects.add(objectKey(kind, namespace, name));
  for (const c of [...spec.initContainers, ...spec.containers]) {
    for (const e of c.envFrom) add(e.from === 'configMap' ? 'ConfigMap' : 'Secret', e.name);
    for (const e of c.env) {
      if ('configMapKeyRef' in e) add('ConfigMap', e.configMapKeyRef.name);
      if ('secretKeyRef' in e) add('Secret', e.secretKeyRef.name);
    }
  }
  for (const v of spec.volumes) {
    if ('configMap' in v) add('ConfigMap', v.configMap.name);
    if ('secret' in v) add('Secret', v.secret.name);
    if ('projected' in v) {
      for (const s of v.projected.sources) {
        if ('configMap' in s) add('ConfigMap', s.configMap.name);
        if ('secret' in s) add('Secret', s.secret.name);
      }
    }
  }
  return { objects: [...objects], claims: claimsOf(spec).map((c) => claimKey(namespace, c)) };
}

/** The pod as Kubernetes objects (what `crib generate` prints): what it refers to, then the Pod itself. */
export function podRecord(pod: Pod, m: Pick<Manifest, 'objects' | 'claims'>): { pod: Record<string, Json>; objects: Record<string, Json>[] } {
  const refs = referencesOf(pod.spec, pod.namespace);
  const claims = refs.claims.flatMap((k) => {
    const c = m.claims.get(k);
    // A StatefulSet's claim, or one made by an earlier run: written as a claim of its own.
    const [ns = pod.namespace, name = ''] = k.split('/');
    return [c?.source ?? { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: ns }, spec: { accessModes: ['ReadWriteOnce'] } }];
  });
  const objects = refs.objects.flatMap((k) => {
    const o = m.objects.get(k);
    return o ? [o.source] : []; // optional and missing: still missing
  });
  const metadata: Record<string, Json> = { name: pod.name, namespace: pod.namespace };
  if (Object.keys(pod.labels).length) metadata['labels'] = pod.labels;
  if (Object.keys(pod.annotations).length) metadata['annotations'] = pod.annotations;
  return { pod: { apiVersion: 'v1', kind: 'Pod', metadata, spec: pod.source }, objects: [...claims, ...objects] };
}
