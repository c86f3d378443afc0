// The Jobs of a CronJob that an earlier supervisor started and did not see end: their pods are on
// the node (labelled with the CronJob's and the Job's names), but the Job is not among the finished
// ones it saved. The next supervisor carries them on as its own active Jobs, as the controller
// finds its active Jobs again from the API server: Forbid holds back for them, Replace replaces
// them, their pods are probed and restarted, and their end counts for the history limits.
import type { ClientContext } from '../../client/context.js';
import { nsToMs } from '../records/job-pods.js';
import { LABEL_OWNER_NAME } from '../records/keys.js';
import { findWorkloadPods } from '../run/down.js';
import { isCronJobsJob } from './controller.js';
import { byStart, type FinishedJob } from './history.js';
import type { CronJob } from './spec.js';

/** A pod of the CronJob as listed: the Job its label names, and when it was made (ms epoch). */
export interface CronPodSeen {
  job: string | undefined;
  createdMs: number;
}

export interface LeftJob {
  name: string;
  /** Its first pod's creation: the Job's start, for the history's order. */
  startMs: number;
}

/** The Jobs the pods belong to that are not finished, oldest first. Pure. */
export function jobsLeftRunning(cronJob: string, pods: readonly CronPodSeen[], finished: readonly FinishedJob[]): LeftJob[] {
  const done = new Set(finished.map((j) => j.name));
  const starts = new Map<string, number>();
  for (const p of pods) {
    if (p.job === undefined || !isCronJobsJob(cronJob, p.job) || done.has(p.job)) continue;
    starts.set(p.job, Math.min(starts.get(p.job) ?? Infinity, p.createdMs));
  }
  return [...starts].map(([name, startMs]) => ({ name, startMs })).sort(byStart);
}

/** The CronJob's Jobs on the node that are not finished. */
export async function findJobsLeftRunning(ctx: ClientContext, cj: CronJob, finished: readonly FinishedJob[]): Promise<LeftJob[]> {
  const pods = await findWorkloadPods(ctx, [{ kind: 'Job', namespace: cj.namespace, name: cj.name, cronJob: cj.name }]);
  return jobsLeftRunning(
    cj.name,
    pods.map((p) => ({ job: p.pod.labels[LABEL_OWNER_NAME], createdMs: nsToMs(p.pod.created_at) })),
    finished,
  );
}
