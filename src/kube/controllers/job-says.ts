// What a Job's controllers say and the back-off they keep between failed pods: the foreground run's
// (job.ts) and the supervisor's (job-takeover.ts) alike.
import type { JobSpec } from '../manifest/workload.js';
import type { RunEnv } from '../pod/pod-run.js';
import type { JobBackoff, JobOutcome, JobState } from './job-state.js';

/** The Job controller's back-off between failed pods, from the run's (--backoff): 10 s doubling to 6 min by default. */
export const jobBackoff = (env: Pick<RunEnv, 'backoff'>): JobBackoff => ({ baseMs: env.backoff.initialMs, maxMs: env.backoff.initialMs * 36 });

/** What a Job's controllers say, foreground or under the supervisor alike. */
export const jobSays = {
  wants(spec: JobSpec): string {
    const target = spec.completions === undefined ? 'one success' : `${spec.completions} completion${spec.completions === 1 ? '' : 's'}`;
    return `wants ${target}, ${spec.parallelism} at a time, backoffLimit ${spec.backoffLimit}${spec.activeDeadlineSeconds ? `, deadline ${spec.activeDeadlineSeconds}s` : ''}`;
  },
  tally: (state: JobState): string => `${state.succeeded} succeeded, ${state.failed} failed (backoffLimit ${state.spec.backoffLimit})`,
  /** A pod ended; a failure that ends the Job has no back-off after it: the next turn says the Job failed. */
  podEnded(pod: string, ok: boolean, state: JobState, now: number): string {
    const delay = state.status(now).state === 'running' ? state.backoffDelay(now) : 0;
    return `pod ${pod} ${ok ? 'succeeded' : 'failed'}; ${jobSays.tally(state)}${!ok && delay > 0 ? `; back-off ${Math.ceil(delay / 1000)}s before the next pod` : ''}`;
  },
  complete: (state: JobState): string => `complete (${state.succeeded} succeeded, ${state.failed} failed)`,
  failed: (st: Extract<JobOutcome, { state: 'failed' }>, state: JobState, active: number): string =>
    `failed: ${st.reason}: ${st.message} (${state.succeeded} succeeded, ${state.failed} failed)${active ? '; stopping its pods' : ''}`,
};
