// A Job: pods until its completions succeed, or its backoffLimit or deadline is passed, with its
// parallelism and kubelet's back-off between failed pods. runJob is also how a CronJob starts one.
// Under the supervisor (env.supervised) the Job is carried on from its pods on the node
// (job-takeover.ts); the foreground run counts its own pods' ends; a detached run only starts them.
import { randomUUID } from 'node:crypto';
import { Aborted, sleep } from '../loop/abort.js';
import type { Random } from '../manifest/names.js';
import type { Workload } from '../manifest/workload.js';
import { makePod } from '../plan/plan.js';
import { PodRun, type RunEnv } from '../pod/pod-run.js';
import { JobState } from './job-state.js';
import { jobBackoff, jobSays } from './job-says.js';
import { describeWorkload } from './report.js';
import { takeOverJob } from './job-takeover.js';

/** How a Job's run ended: its condition as `kubectl get jobs` shows it, or started (detached) or stopped (a signal). */
export interface JobResult {
  outcome: 'Complete' | 'Failed' | 'Started' | 'Stopped';
  succeeded: number;
  failed: number;
  /** Failed: why (BackoffLimitExceeded, DeadlineExceeded). */
  reason?: string;
}

/** The exit code a Job's result gives `crib run`. */
export const jobExitCode = (r: JobResult): number => (r.outcome === 'Failed' ? 1 : 0);

/** Runs a Job to its end (detached: until its pods have started); `w` must have its job spec. */
export async function runJob(env: RunEnv, w: Workload, random: Random): Promise<JobResult> {
  const spec = w.job;
  if (!spec) throw new Error(`${describeWorkload(w)} has no job spec`);
  if (env.supervised) return takeOverJob(env, w, spec, random);
  const name = describeWorkload(w);
  const startedAt = Date.now();
  const state = new JobState(spec, startedAt, jobBackoff(env));
  const uid = randomUUID();
  const active = new Map<number, PodRun>();
  const ended = new Set<Promise<void>>();
  let wake: (() => void) | undefined;
  const counts = () => ({ succeeded: state.succeeded, failed: state.failed });
  env.say(`${name}: ${jobSays.wants(spec)}`);
  /** Detached: the pods' runs, which end once their containers have started (not when they finish). */
  const detached: Promise<number>[] = [];
  const start = (slot: number) => {
    const pod = makePod(w, random, { ...(spec.indexed ? { ordinal: slot } : {}), jobUid: uid, jobStartMs: startedAt });
    const run = new PodRun(env, pod, { onRestart: () => state.restarted() });
    active.set(slot, run);
    if (env.detach) {
      detached.push(run.run());
      return;
    }
    const p = run.run().then((code) => {
      active.delete(slot);
      ended.delete(p);
      if (env.signal.aborted || state.status(Date.now()).state !== 'running') return wake?.();
      if (code === 0) state.succeededPod(slot);
      else state.failedPod(slot, Date.now());
      env.say(`${name}: ${jobSays.podEnded(pod.name, code === 0, state, Date.now())}`);
      wake?.();
    });
    ended.add(p);
  };
  try {
    for (;;) {
      const now = Date.now();
      const st = state.status(now);
      if (st.state === 'complete' && active.size === 0) {
        env.say(`${name}: ${jobSays.complete(state)}`);
        return { outcome: 'Complete', ...counts() };
      }
      if (st.state === 'failed') {
        env.say(`${name}: ${jobSays.failed(st, state, active.size)}`);
        for (const r of active.values()) r.stop();
        await Promise.all([...ended]);
        return { outcome: 'Failed', ...counts(), reason: st.reason };
      }
      for (const slot of state.toStart(now)) start(slot);
      if (env.detach) {
        // Started is all that is known: how the pods end is theirs to tell, later (crib jobs).
        const code = Math.max(0, ...(await Promise.all(detached)));
        if (code === 0)
          env.say(
            `${name}: ${detached.length} pod${detached.length === 1 ? '' : 's'} started detached; crib jobs shows how ${detached.length === 1 ? 'it ends' : 'they end'} (crib supervise carries the Job on: backoffLimit, completions)`,
          );
        return code === 0 ? { outcome: 'Started', ...counts() } : { outcome: 'Failed', ...counts(), reason: 'PodStartFailed' };
      }
      const wait = Math.min(1000, state.backoffDelay(now) || 1000, state.deadline !== undefined ? Math.max(0, state.deadline - now) : 1000);
      await Promise.race([sleep(Math.max(20, wait), env.signal), new Promise<void>((r) => (wake = r))]);
    }
  } catch (err) {
    if (!(err instanceof Aborted)) throw err;
    await Promise.all([...ended, ...detached]);
    return { outcome: 'Stopped', ...counts() };
  }
}
