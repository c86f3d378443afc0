// From workloads to pods, as their kinds' controllers make them (../kinds: names, labels, a
// StatefulSet's claims, an Indexed Job's index). And the checks that need the whole manifest
// (ConfigMaps, Secrets and claims a pod refers to), done before anything is created. Pure.
import type { Manifest } from '../manifest/documents.js';
import { claimKey, objectKey } from '../manifest/documents.js';
import { ManifestError, type Json } from '../manifest/fields.js';
import type { Pod, PodSpec } from '../manifest/pod-spec.js';
import type { Random } from '../manifest/names.js';
import type { PodSlot } from '../kinds/kind.js';
import { workloadKind } from '../kinds/table.js';
import { ANN_COMPLETION_INDEX, LABEL_JOB_UID, LABEL_POD_INDEX } from '../kinds/labels.js';
import { describeWorkload } from '../controllers/report.js';
import type { Projection, VolumeSource } from '../volumes/volume-spec.js';
import type { Workload } from '../manifest/workload.js';

/** One pod of the workload, as its kind's controller names and labels it. */
export function makePod(w: Workload, random: Random, slot: PodSlot = {}): Pod {
  const t = w.template;
  const shape = workloadKind(w.kind).shape(
    w,
    { name: w.name, labels: { ...t.labels }, annotations: { ...t.annotations }, spec: t.spec, source: t.source },
    random,
    slot,
  );
  const owner = {
    kind: w.kind,
    name: w.name,
    ...(w.job ? { completions: w.job.completions ?? 1, backoffLimit: w.job.backoffLimit } : {}),
    ...(w.job?.activeDeadlineSeconds !== undefined && slot.jobStartMs !== undefined
      ? { deadlineMs: slot.jobStartMs + w.job.activeDeadlineSeconds * 1000 }
      : {}),
    ...(w.cronJob !== undefined ? { cronJob: w.cronJob } : {}),
  };
  const { name, labels, annotations, spec, source } = shape;
  return { name, namespace: w.namespace, labels, annotations, spec, source, owner };
}

/** A pod of the workload already on the node, as it was made: its name from its sandbox, its slot from its labels. */
export function podOf(w: Workload, sandbox: { name: string; labels: Record<string, string> }): Pod {
  const index = sandbox.labels[LABEL_POD_INDEX] ?? sandbox.labels[ANN_COMPLETION_INDEX];
  const jobUid = sandbox.labels[LABEL_JOB_UID];
  const slot: PodSlot = { ...(index !== undefined && /^\d+$/.test(index) ? { ordinal: Number(index) } : {}), ...(jobUid ? { jobUid } : {}) };
  return { ...makePod(w, () => 0, slot), name: sandbox.name };
}

/** The pods a workload starts with (a StatefulSet's in ordinal order; a Job's are made by its controller). */
export function initialPods(w: Workload, random: Random): Pod[] {
  return workloadKind(w.kind).initialPods(w, random);
}

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
    throw new ManifestError('', `${describeWorkload(w)}: ${where}: ${why}`);
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
  const pods = w.replicas;
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
