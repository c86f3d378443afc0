// Where the Jobs crib run started stand, from their pods as the runtime has them (kubectl get
// jobs): a pod succeeded when every app container exited 0, failed when one exited otherwise, and
// is active while one has not exited. A Job is Complete once its completions succeeded, Failed
// once none of its pods is active short of that (nothing replaces a detached Job's pods), else
// Running. Pure: the caller lists the pods and their containers' exits.

export type PodPhase = 'Running' | 'Succeeded' | 'Failed';
export type JobCondition = 'Running' | 'Complete' | 'Failed';

/** One pod of a Job, with its app containers (the newest attempt of each). */
export interface JobPod {
  namespace: string;
  /** The Job's name (the pod's owner). */
  job: string;
  pod: string;
  /** The successes the Job wants (its completions; 1 without). */
  completions: number;
  /** ms since the epoch. */
  createdMs: number;
  containers: { name: string; exited: boolean; exitCode: number; finishedMs: number }[];
}

export interface JobRow {
  namespace: string;
  name: string;
  status: JobCondition;
  completions: number;
  active: number;
  succeeded: number;
  failed: number;
  /** ms since the epoch: the first pod's creation. */
  startMs: number;
  /** ms since the epoch: when the last container ended, once the Job is over. */
  endMs?: number;
  pods: { name: string; phase: PodPhase; exitCodes: Record<string, number> }[];
}

export function podPhase(p: Pick<JobPod, 'containers'>): PodPhase {
  if (!p.containers.length || p.containers.some((c) => !c.exited)) return 'Running';
  return p.containers.every((c) => c.exitCode === 0) ? 'Succeeded' : 'Failed';
}

/** The Jobs of these pods, by namespace and name. */
export function jobRows(pods: readonly JobPod[]): JobRow[] {
  const byJob = new Map<string, JobPod[]>();
  for (const p of pods) {
    const key = `${p.namespace}/${p.job}`;
    byJob.set(key, [...(byJob.get(key) ?? []), p]);
  }
  const rows: JobRow[] = [];
  for (const group of byJob.values()) {
    const first = group[0] as JobPod;
    const phases = group.map((p) => ({ p, phase: podPhase(p) }));
    const count = (phase: PodPhase) => phases.filter((x) => x.phase === phase).length;
    const completions = Math.max(...group.map((p) => p.completions));
    const [active, succeeded, failed] = [count('Running'), count('Succeeded'), count('Failed')];
    const status: JobCondition = succeeded >= completions ? 'Complete' : active === 0 ? 'Failed' : 'Running';
    const ends = group.flatMap((p) => p.containers.map((c) => c.finishedMs));
    rows.push({
      namespace: first.namespace,
      name: first.job,
      status,
      completions,
      active,
      succeeded,
      failed,
      startMs: Math.min(...group.map((p) => p.createdMs)),
      ...(status !== 'Running' && ends.length ? { endMs: Math.max(...ends) } : {}),
      pods: phases.map(({ p, phase }) => ({
        name: p.pod,
        phase,
        exitCodes: Object.fromEntries(p.containers.filter((c) => c.exited).map((c) => [c.name, c.exitCode])),
      })),
    });
  }
  return rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}
