// kind: Job (batch/v1): pods to completion (controllers/job.ts), NAME-RANDOM or, Indexed,
// NAME-INDEX-RANDOM with JOB_COMPLETION_INDEX from the completion-index annotation.
import { ManifestError, readType, type Fields, type Json } from '../manifest/fields.js';
import { generateName } from '../manifest/names.js';
import type { EnvVar } from '../manifest/pod-spec.js';
import { parseMetadata } from '../manifest/pod-spec.js';
import { checkRestartPolicy, INT32, parseTemplate, type JobSpec, type Workload } from '../manifest/workload.js';
import { jobExitCode, runJob } from '../controllers/job.js';
import { ANN_COMPLETION_INDEX, JOB_INDEX_ENV, LABEL_JOB_NAME, LABEL_JOB_UID } from './labels.js';
import type { PodShape } from './kind.js';
import { editSource } from './shape.js';
import { workloadModule } from './workload-module.js';

/** A Job's spec (a Job's, or a CronJob's jobTemplate's): its pod template and the Job controller's numbers. */
export function parseJobSpec(s: Fields, warnings: string[]): Pick<Workload, 'template' | 'replicas' | 'job'> {
  const template = parseTemplate(s, warnings);
  checkRestartPolicy(`${s.field('template')}.spec.restartPolicy`, 'Job', template, ['OnFailure', 'Never']);
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
  return { template, replicas: job.parallelism, job };
}

function parseJob(f: Fields, warnings: string[]): Workload {
  readType(f, 'Job', ['batch/v1']);
  const meta = parseMetadata(f);
  const w = f.sub('spec', (s): Workload => ({ kind: 'Job', ...meta, ...parseJobSpec(s, warnings) }));
  if (!w) throw new ManifestError(f.field('spec'), 'required');
  f.accept('status');
  f.done();
  return w;
}

/** An Indexed Job's pod: its index in a label, an annotation, its hostname and every container's env. */
function withIndex(w: Workload, shape: PodShape, index: string): PodShape {
  const annotations = { ...shape.annotations, [ANN_COMPLETION_INDEX]: index };
  const labels = { ...shape.labels, [ANN_COMPLETION_INDEX]: index };
  // Every container learns its index from the annotation, as the Job controller arranges it.
  const env: EnvVar = { name: JOB_INDEX_ENV, fieldPath: `metadata.annotations['${ANN_COMPLETION_INDEX}']` };
  const addEnv = <C extends { env: EnvVar[] }>(c: C): C => ({ ...c, env: [env, ...c.env.filter((e) => e.name !== JOB_INDEX_ENV)] });
  const spec = {
    ...shape.spec,
    hostname: `${w.name}-${index}`,
    containers: shape.spec.containers.map(addEnv),
    initContainers: shape.spec.initContainers.map(addEnv),
  };
  const source = editSource(shape.source, (s) => {
    s['hostname'] = `${w.name}-${index}`;
    for (const key of ['containers', 'initContainers']) {
      for (const c of (Array.isArray(s[key]) ? s[key] : []) as Record<string, Json>[]) {
        const rest = (Array.isArray(c['env']) ? (c['env'] as Record<string, Json>[]) : []).filter((e) => e['name'] !== JOB_INDEX_ENV);
        c['env'] = [{ name: JOB_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: env.fieldPath } } }, ...rest];
      }
    }
  });
  return { ...shape, annotations, labels, spec, source };
}

export const jobKind = workloadModule('Job', {
  parse: parseJob,
  shape(w, shape, random, slot) {
    const labels: Record<string, string> = { ...shape.labels, [LABEL_JOB_NAME]: w.name, 'job-name': w.name };
    if (slot.jobUid) {
      labels[LABEL_JOB_UID] = slot.jobUid;
      labels['controller-uid'] = slot.jobUid;
    }
    if (!w.job?.indexed) return { ...shape, labels, name: generateName(`${w.name}-`, random) };
    const index = String(slot.ordinal ?? 0);
    return { ...withIndex(w, { ...shape, labels }, index), name: generateName(`${w.name}-${index}-`, random) };
  },
  // Its pods are made as it runs, as its completions and failures call for them.
  initialPods: () => [],
  run: async (env, w, random) => jobExitCode(await runJob(env, w, random)),
  ownController: true,
  teardown: 'together',
});
