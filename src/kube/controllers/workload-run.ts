// The controllers of one node: a Pod or a Deployment, ReplicaSet or DaemonSet runs its pods side
// by side; a StatefulSet (OrderedReady) starts each pod once the one before it is ready; a Job
// runs pods to completion with its parallelism, completions, back-off, backoffLimit and deadline.
import { randomUUID } from 'node:crypto';
import { Aborted, sleep } from '../loop/abort.js';
import { JobState } from './job-state.js';
import type { Pod } from '../manifest/pod-spec.js';
import type { Random } from '../manifest/names.js';
import { initialPods, makePod } from '../plan/plan.js';
import { PodRun, type RunEnv } from '../pod/pod-run.js';
import type { Workload } from '../manifest/workload.js';

const describeWorkload = (w: Workload): string => `${w.kind} ${w.namespace === 'default' ? '' : `${w.namespace}/`}${w.name}`;

/** Says how many of a controller's pods are ready whenever that changes. */
function readinessReporter(env: RunEnv, w: Workload, total: number): (pod: Pod, ready: boolean) => void {
  const ready = new Set<string>();
  return (pod, r) => {
    if (r) ready.add(pod.name);
    else ready.delete(pod.name);
    if (w.kind !== 'Pod') env.say(`${describeWorkload(w)}: ${ready.size}/${total} pods ready`);
  };
}

/** A Pod, Deployment, ReplicaSet or DaemonSet: every pod at once. */
async function runTogether(env: RunEnv, w: Workload, pods: Pod[]): Promise<number> {
  const report = readinessReporter(env, w, pods.length);
  const codes = await Promise.all(pods.map((p) => new PodRun(env, p, { onReady: (r) => report(p, r) }).run()));
  return Math.max(0, ...codes);
}

/** A StatefulSet with OrderedReady: pod N+1 is created once pod N is ready (detached: started). */
async function runOrdered(env: RunEnv, w: Workload, pods: Pod[]): Promise<number> {
  const report = readinessReporter(env, w, pods.length);
  const runs: Promise<number>[] = [];
  for (const p of pods) {
    let go!: () => void;
    const next = new Promise<void>((resolve) => (go = resolve));
    const run = new PodRun(env, p, {
      onStarted: () => env.detach && go(),
      onReady: (r) => {
        report(p, r);
        if (r) go();
      },
    });
    const done = run.run();
    runs.push(done);
    // A pod that ends before it is ready stops the rollout, as the controller would wait for it forever.
    const ended = await Promise.race([next.then(() => false), done.then(() => true)]);
    if (ended || env.signal.aborted) {
      if (!env.signal.aborted) env.say(`${describeWorkload(w)}: pod ${p.name} ended before it was ready; the pods after it are not created`);
      break;
    }
  }
  return Math.max(0, ...(await Promise.all(runs)));
}

/** A Job: pods until its completions succeed, or its backoffLimit or deadline is passed. */
async function runJob(env: RunEnv, w: Workload, random: Random): Promise<number> {
  const spec = w.job;
  if (!spec) return 0;
  const name = describeWorkload(w);
  const state = new JobState(spec, Date.now(), { baseMs: env.backoff.initialMs, maxMs: env.backoff.initialMs * 36 });
  const uid = randomUUID();
  const active = new Map<number, PodRun>();
  const ended = new Set<Promise<void>>();
  let wake: (() => void) | undefined;
  const target = spec.completions === undefined ? 'one success' : `${spec.completions} completion${spec.completions === 1 ? '' : 's'}`;
  env.say(
    `${name}: wants ${target}, ${spec.parallelism} at a time, backoffLimit ${spec.backoffLimit}${spec.activeDeadlineSeconds ? `, deadline ${spec.activeDeadlineSeconds}s` : ''}`,
  );
  /** Detached: the pods' runs, which end once their containers have started (not when they finish). */
  const detached: Promise<number>[] = [];
  const start = (slot: number) => {
    const pod = makePod(w, random, { ...(spec.indexed ? { ordinal: slot } : {}), jobUid: uid });
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
      const counts = `${state.succeeded} succeeded, ${state.failed} failed (backoffLimit ${spec.backoffLimit})`;
      // A failure that ends the Job has no back-off after it: the next turn says the Job failed.
      const delay = state.status(Date.now()).state === 'running' ? state.backoffDelay(Date.now()) : 0;
      env.say(
        `${name}: pod ${pod.name} ${code === 0 ? 'succeeded' : 'failed'}; ${counts}${code !== 0 && delay > 0 ? `; back-off ${Math.ceil(delay / 1000)}s before the next pod` : ''}`,
      );
      wake?.();
    });
    ended.add(p);
  };
  try {
    for (;;) {
      const now = Date.now();
      const st = state.status(now);
      if (st.state === 'complete' && active.size === 0) {
        env.say(`${name}: complete (${state.succeeded} succeeded, ${state.failed} failed)`);
        return 0;
      }
      if (st.state === 'failed') {
        env.say(
          `${name}: failed: ${st.reason}: ${st.message} (${state.succeeded} succeeded, ${state.failed} failed)${active.size ? '; stopping its pods' : ''}`,
        );
        for (const r of active.values()) r.stop();
        await Promise.all([...ended]);
        return 1;
      }
      for (const slot of state.toStart(now)) start(slot);
      if (env.detach) {
        // Started is all that is known: how the pods end is theirs to tell, later (crib jobs).
        const code = Math.max(0, ...(await Promise.all(detached)));
        if (code === 0)
          env.say(
            `${name}: ${detached.length} pod${detached.length === 1 ? '' : 's'} started detached; crib jobs shows how ${detached.length === 1 ? 'it ends' : 'they end'} (pods that fail are not replaced: run it in the foreground for backoffLimit and completions)`,
          );
        return code;
      }
      const wait = Math.min(1000, state.backoffDelay(now) || 1000, state.deadline !== undefined ? Math.max(0, state.deadline - now) : 1000);
      await Promise.race([sleep(Math.max(20, wait), env.signal), new Promise<void>((r) => (wake = r))]);
    }
  } catch (err) {
    if (!(err instanceof Aborted)) throw err;
    await Promise.all([...ended, ...detached]);
    return 0;
  }
}

/** Runs one workload of the manifest to its end (with restartPolicy Always: until a signal). */
export function runWorkload(env: RunEnv, w: Workload, random: Random): Promise<number> {
  if (w.kind === 'Job') return runJob(env, w, random);
  const pods = initialPods(w, random);
  if (w.statefulSet?.ordered) return runOrdered(env, w, pods);
  return runTogether(env, w, pods);
}
