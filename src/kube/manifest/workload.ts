// What the kinds that make pods share: the workload a document becomes (a bare Pod, or a
// controller's template and counts), label selectors, and the template rules the API server
// applies to every controller. Each kind's own parsing is in ../kinds. Pure.
import type { Fields } from './fields.js';
import { ManifestError } from './fields.js';
import { parsePodTemplate, type PodTemplate, type WorkloadKind } from './pod-spec.js';
import type { Claim } from './objects.js';

export interface Requirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

export interface Selector {
  matchLabels: Record<string, string>;
  matchExpressions: Requirement[];
}

export interface JobSpec {
  parallelism: number;
  /** Unset: the Job is done when any pod succeeds and none is left running. */
  completions?: number;
  backoffLimit: number;
  activeDeadlineSeconds?: number;
  indexed: boolean;
}

export interface StatefulSetSpec {
  /** OrderedReady: each pod waits for the one before it to be ready. */
  ordered: boolean;
  ordinalsStart: number;
  /** volumeClaimTemplates: each pod gets its own claim `TEMPLATE-SET-ORDINAL`. */
  claimTemplates: Claim[];
  /** The governing Service: its pods' subdomain, their names under it when it is headless (../services). */
  serviceName?: string;
}

/** A Pod or a controller of the manifest: what `crib run` starts and `crib down` stops. */
export interface Workload {
  kind: WorkloadKind;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  template: PodTemplate;
  /** Pods at once (a DaemonSet on one node: 1; a Job: its parallelism). */
  replicas: number;
  job?: JobSpec;
  statefulSet?: StatefulSetSpec;
}

/** The largest int32, the API's bound on counts (replicas, completions, ...). */
export const INT32 = 2 ** 31 - 1;

/** Whether labels satisfy a selector (metav1.LabelSelector semantics). */
export function matches(selector: Selector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels)) if (labels[k] !== v) return false;
  for (const r of selector.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const v = labels[r.key] ?? '';
    const ok =
      r.operator === 'In' ? has && r.values.includes(v) : r.operator === 'NotIn' ? !has || !r.values.includes(v) : r.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

export function parseSelector(f: Fields): Selector {
  const s: Selector = {
    matchLabels: f.strMap('matchLabels'),
    matchExpressions: f.list('matchExpressions', (item, p) => {
      const e = f.item(item, p);
      const key = e.str('key', { required: true }) as string;
      const operator = e.oneOf('operator', ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const, 'In');
      if (!e.has('operator')) throw new ManifestError(e.field('operator'), 'required');
      const values = e.strList('values');
      if ((operator === 'In' || operator === 'NotIn') && values.length === 0) throw new ManifestError(e.field('values'), `required with ${operator}`);
      if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length) throw new ManifestError(e.field('values'), `must be empty with ${operator}`);
      e.done();
      return { key, operator, values };
    }),
  };
  if (Object.keys(s.matchLabels).length === 0 && s.matchExpressions.length === 0) throw new ManifestError(f.path, 'must not be empty');
  return s;
}

export function checkRestartPolicy(field: string, kind: string, t: PodTemplate, allowed: readonly string[]): void {
  if (!allowed.includes(t.spec.restartPolicy)) {
    throw new ManifestError(field, `${t.spec.restartPolicy} is not allowed for a ${kind} (${allowed.join(' or ')})`);
  }
}

export function parseTemplate(f: Fields, warnings: string[], claimVolumes: readonly string[] = []): PodTemplate {
  if (!f.has('template')) throw new ManifestError(f.field('template'), 'required');
  return f.sub('template', (t) => parsePodTemplate(t, warnings, claimVolumes)) as PodTemplate;
}
