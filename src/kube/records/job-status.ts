// Where the Jobs crib run started stand, from their pods as the runtime has them (kubectl get
// jobs): a pod succeeded when every app container exited 0, failed when one exited otherwise (or,
// its sandbox stopped, when it has none that succeeded), and is active while its sandbox runs and
// one has not exited. A Job is judged as its controller judges it (judgeJob: completions,
// backoffLimit, the deadline) from what its pods carry; pods of an older crib that carry no
// backoffLimit: Failed once none is active short of its completions. Pure: the caller lists them.
import { judgeJob } from '../controllers/job-state.js';

export type PodPhase = 'Running' | 'Succeeded' | 'Failed';
export type JobCondition = 'Running' | 'Complete' | 'Failed';

/** One pod of a Job, with its app containers (the newest attempt of each). */
export interface JobPod {
  namespace: string;
  /** The Job's name (the pod's owner). */
  job: string;
  /** The CronJob that made the Job, if one did. */
  cronJob?: string;
  pod: string;
  /** The pod's uid and its sandbox. */
  uid: string;
  sandboxId: string;
  /** The successes the Job wants (its completions; 1 without). */
  completions: number;
  /** ms since the epoch. */
  createdMs: number;
  /** Its sandbox runs (false: stopped, as a finished Job's pod is kept); unset counts as running. */
  sandboxReady?: boolean;
  /** The Job's uid (controller-uid label). */
  jobUid?: string;
  /** An Indexed Job's completion index. */
  index?: number;
  /** The Job's backoffLimit and when its deadline passes (ms epoch), as its controller put them on the pod. */
  backoffLimit?: number;
  deadlineMs?: number;
  /** The newest attempt of each app container; `attempt` is its restart count. */
  containers: { name: string; exited: boolean; exitCode: number; finishedMs: number; attempt?: number }[];
}

export interface JobRow {
  namespace: string;
  name: string;
  /** The CronJob that made it, if one did. */
  cronJob?: string;
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

const CONDITION = { complete: 'Complete', failed: 'Failed', running: 'Running' } as const;

export function podPhase(p: Pick<JobPod, 'containers' | 'sandboxReady'>): PodPhase {
  const succeeded = p.containers.length > 0 && p.containers.every((c) => c.exited && c.exitCode === 0);
  // A stopped sandbox runs nothing more: what did not succeed (an init container failed, a container was killed) failed.
  if (p.sandboxReady === false) return succeeded ? 'Succeeded' : 'Failed';
  if (!p.containers.length || p.containers.some((c) => !c.exited)) return 'Running';
  return succeeded ? 'Succeeded' : 'Failed';
}

/** When a pod ended (ms epoch): its last container's end. */
export const podFinishedMs = (p: Pick<JobPod, 'containers'>): number => Math.max(0, ...p.containers.map((c) => c.finishedMs));

/** Its containers' restarts. */
export const podRestarts = (p: Pick<JobPod, 'containers'>): number => p.containers.reduce((n, c) => n + (c.attempt ?? 0), 0);

/** The Jobs of these pods, by namespace and name, judged at `now` (ms epoch). */
export function jobRows(pods: readonly JobPod[], now = Date.now()): JobRow[] {
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
    const backoffLimit = group.find((p) => p.backoffLimit !== undefined)?.backoffLimit;
    const deadline = group.find((p) => p.deadlineMs !== undefined)?.deadlineMs;
    const indexed = group.some((p) => p.index !== undefined);
    const doneIndexes = new Set(phases.filter((x) => x.phase === 'Succeeded').map((x) => x.p.index)).size;
    const restarts = group.reduce((n, p) => n + podRestarts(p), 0);
    const judged =
      backoffLimit === undefined
        ? undefined
        : judgeJob({ completions, indexed, backoffLimit }, { succeeded, failed, restarts, active, doneIndexes }, deadline !== undefined && now >= deadline)
            .state;
    const status: JobCondition = judged !== undefined ? CONDITION[judged] : succeeded >= completions ? 'Complete' : active === 0 ? 'Failed' : 'Running';
    const ends = group.flatMap((p) => p.containers.map((c) => c.finishedMs));
    rows.push({
      namespace: first.namespace,
      name: first.job,
      ...(first.cronJob !== undefined ? { cronJob: first.cronJob } : {}),
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
