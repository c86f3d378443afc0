// The objects that make pods: a bare Pod, and the controllers' templates (Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job), with the API server's rules for each (selector matching the
// template's labels, the restart policies each allows, defaults). Pure.
import type { Fields } from './fields.js';
import { ManifestError, readType, type Json } from './fields.js';
import { parseMetadata, parsePod, parsePodTemplate, type PodTemplate, type WorkloadKind } from './pod-spec.js';
import { parseClaim, type Claim } from './objects.js';

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

export const APPS_KINDS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'] as const;
const INT32 = 2 ** 31 - 1;

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

function parseSelector(f: Fields): Selector {
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

function checkRestartPolicy(field: string, kind: string, t: PodTemplate, allowed: readonly string[]): void {
  if (!allowed.includes(t.spec.restartPolicy)) {
    throw new ManifestError(field, `${t.spec.restartPolicy} is not allowed for a ${kind} (${allowed.join(' or ')})`);
  }
}

function parseTemplate(f: Fields, warnings: string[], claimVolumes: readonly string[] = []): PodTemplate {
  if (!f.has('template')) throw new ManifestError(f.field('template'), 'required');
  return f.sub('template', (t) => parsePodTemplate(t, warnings, claimVolumes)) as PodTemplate;
}

function parseApps(kind: (typeof APPS_KINDS)[number], f: Fields, warnings: string[]): Workload {
  readType(f, kind, ['apps/v1']);
  const meta = parseMetadata(f);
  const w = f.sub('spec', (s) => {
    const selector = s.sub('selector', parseSelector);
    if (!selector) throw new ManifestError(s.field('selector'), 'required');
    // A template's claim is the Set's: its namespace, and no apiVersion or kind needed.
    const claimTemplates =
      kind === 'StatefulSet'
        ? s.list('volumeClaimTemplates', (item, p) => ({ ...parseClaim(s.item(item, p), { template: true }), namespace: meta.namespace }))
        : [];
    const template = parseTemplate(
      s,
      warnings,
      claimTemplates.map((c) => c.name),
    );
    if (!matches(selector, template.labels)) throw new ManifestError(s.field('template.metadata.labels'), 'do not match spec.selector');
    checkRestartPolicy(s.field('template.spec.restartPolicy'), kind, template, ['Always']);
    const out: Workload = { kind, ...meta, template, replicas: kind === 'DaemonSet' ? 1 : (s.int('replicas', 0, INT32) ?? 1) };
    if (kind === 'StatefulSet') {
      // The governing Service gives pods DNS names in a cluster; one node has no cluster DNS.
      s.accept('serviceName');
      out.statefulSet = {
        ordered: s.oneOf('podManagementPolicy', ['OrderedReady', 'Parallel'] as const, 'OrderedReady') === 'OrderedReady',
        ordinalsStart: s.sub('ordinals', (o) => o.int('start', 0, INT32)) ?? 0,
        claimTemplates,
      };
    }
    return out;
  });
  if (!w) throw new ManifestError(f.field('spec'), 'required');
  f.accept('status');
  f.done();
  return w;
}

function parseJob(f: Fields, warnings: string[]): Workload {
  readType(f, 'Job', ['batch/v1']);
  const meta = parseMetadata(f);
  const w = f.sub('spec', (s) => {
    const template = parseTemplate(s, warnings);
    checkRestartPolicy(s.field('template.spec.restartPolicy'), 'Job', template, ['OnFailure', 'Never']);
    const parallelism = s.int('parallelism', 0, INT32);
    const job: JobSpec = {
      parallelism: parallelism ?? 1,
      backoffLimit: s.int('backoffLimit', 0, INT32) ?? 6,
      indexed: s.oneOf('completionMode', ['NonIndexed', 'Indexed'] as const, 'NonIndexed') === 'Indexed',
    };
    // The API server's defaults: neither set is one pod to one success; parallelism alone is a work queue.
    const completions = s.int('completions', 0, INT32) ?? (parallelism === undefined ? 1 : undefined);
    if (completions !== undefined) job.completions = completions;
    if (job.indexed && completions === undefined) throw new ManifestError(s.field('completions'), 'required with completionMode Indexed');
    const deadline = s.int('activeDeadlineSeconds', 1, INT32);
    if (deadline !== undefined) job.activeDeadlineSeconds = deadline;
    const out: Workload = { kind: 'Job', ...meta, template, replicas: job.parallelism, job };
    return out;
  });
  if (!w) throw new ManifestError(f.field('spec'), 'required');
  f.accept('status');
  f.done();
  return w;
}

/** A bare Pod as a workload of one pod. */
function podWorkload(f: Fields, warnings: string[]): Workload {
  const p = parsePod(f, warnings);
  const template: PodTemplate = { labels: p.labels, annotations: p.annotations, spec: p.spec, source: p.source };
  return { kind: 'Pod', name: p.name, namespace: p.namespace, labels: p.labels, annotations: p.annotations, template, replicas: 1 };
}

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Pod', ...APPS_KINDS, 'Job'];

export function isWorkloadKind(kind: Json): kind is WorkloadKind {
  return typeof kind === 'string' && (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

export function parseWorkload(kind: WorkloadKind, f: Fields, warnings: string[]): Workload {
  switch (kind) {
    case 'Pod':
      return podWorkload(f, warnings);
    case 'Job':
      return parseJob(f, warnings);
    default:
      return parseApps(kind, f, warnings);
  }
}
