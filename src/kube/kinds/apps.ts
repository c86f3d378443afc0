// What the apps/v1 controllers (Deployment, ReplicaSet, StatefulSet, DaemonSet) share: the
// document's shape (selector matching the template's labels, restartPolicy Always, replicas), and
// the pods they start with (their replicas, a StatefulSet's in ordinal order).
import { ManifestError, readType, type Fields } from '../manifest/fields.js';
import type { Random } from '../manifest/names.js';
import type { Claim } from '../manifest/objects.js';
import type { Pod } from '../manifest/pod-spec.js';
import { parseMetadata } from '../manifest/pod-spec.js';
import { checkRestartPolicy, INT32, matches, parseSelector, parseTemplate, type Workload } from '../manifest/workload.js';
import { makePod } from '../plan/plan.js';

export type AppsKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet';

/** What a kind adds to the shared spec: volume names its own claims provide, and its own fields (read from `s`). */
export interface AppsExtras {
  /** Claims the kind makes for each pod (a StatefulSet's volumeClaimTemplates): their names are volumes of the template. */
  claims?(s: Fields, namespace: string): Claim[];
  /** Reads the kind's own spec fields into the workload. */
  extend?(s: Fields, w: Workload, claims: Claim[]): void;
  /** A DaemonSet has no replicas (one pod on one node). */
  noReplicas?: boolean;
}

export function parseApps(kind: AppsKind, f: Fields, warnings: string[], extras: AppsExtras = {}): Workload {
  readType(f, kind, ['apps/v1']);
  const meta = parseMetadata(f);
  const w = f.sub('spec', (s) => {
    const selector = s.sub('selector', parseSelector);
    if (!selector) throw new ManifestError(s.field('selector'), 'required');
    const claims = extras.claims?.(s, meta.namespace) ?? [];
    const template = parseTemplate(
      s,
      warnings,
      claims.map((c) => c.name),
    );
    if (!matches(selector, template.labels)) throw new ManifestError(s.field('template.metadata.labels'), 'do not match spec.selector');
    checkRestartPolicy(s.field('template.spec.restartPolicy'), kind, template, ['Always']);
    const out: Workload = { kind, ...meta, template, replicas: extras.noReplicas ? 1 : (s.int('replicas', 0, INT32) ?? 1) };
    extras.extend?.(s, out, claims);
    return out;
  });
  if (!w) throw new ManifestError(f.field('spec'), 'required');
  f.accept('status');
  f.done();
  return w;
}

/** The pods a controller starts with: its replicas, a StatefulSet's in ordinal order from its start. */
export function replicaPods(w: Workload, random: Random): Pod[] {
  const start = w.statefulSet?.ordinalsStart ?? 0;
  return Array.from({ length: w.replicas }, (_, i) => makePod(w, random, { ordinal: start + i }));
}
