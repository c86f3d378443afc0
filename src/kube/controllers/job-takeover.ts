// A Job under the supervisor (crib run -d, the manifest directory), carried on as the foreground
// run carries it (retries after the Job back-off, completions, parallelism, activeDeadlineSeconds)
// but level-triggered, as the Job controller is: each turn counts the Job's pods on the node from
// their real exits (records/job-pods.ts), takes over the ones still running (PodRun.adopt), and
// starts what the counts call for. Its pods are all the state there is (uid, start, the deadline
// and the backoffLimit are on them): a restarted supervisor, or one that saw cribd restart, finds
// the same pods and the same counts, and makes no pod twice. Its end (a signal) leaves every pod.
import { call } from '../../client/client.js';
import { randomUUID } from 'node:crypto';
import { Aborted, sleep, throwIfAborted } from '../loop/abort.js';
import type { Random } from '../manifest/names.js';
import type { JobSpec, Workload } from '../manifest/workload.js';
import { makePod } from '../plan/plan.js';
import { PodRun, type RunEnv } from '../pod/pod-run.js';
import { listJobPods } from '../records/job-pods.js';
import { podFinishedMs, podPhase, podRestarts, type JobPod } from '../records/job-status.js';
import { addRecordedSecrets } from '../records/recorded-secrets.js';
import { observedJob, type ObservedPod } from './job-state.js';
import type { JobResult } from './job.js';
import { jobBackoff, jobSays } from './job-says.js';
import { describeWorkload } from './report.js';

/** A pod this controller runs: one it started, or one it took over. */
interface Followed {
  run: PodRun;
  taken: boolean;
  index?: number;
  done: Promise<void>;
}

/** When the Job started (ms epoch), from its pods: the deadline they carry, else the first one's creation. */
function startedAt(pods: readonly JobPod[], spec: JobSpec): number | undefined {
  const deadline = pods.find((p) => p.deadlineMs !== undefined)?.deadlineMs;
  if (deadline !== undefined && spec.activeDeadlineSeconds !== undefined) return deadline - spec.activeDeadlineSeconds * 1000;
  return pods.length ? Math.min(...pods.map((p) => p.createdMs)) : undefined;
}

export async function takeOverJob(env: RunEnv, w: Workload, spec: JobSpec, random: Random): Promise<JobResult> {
  const name = describeWorkload(w);
  const followed = new Map<string, Followed>();
  /** Pods whose takeover ended in an error (cribd away): not taken over again before then (ms epoch). */
  const retryAt = new Map<string, number>();
  /** Pods of ours that ended since the last turn, and those that left nothing on the node (their start failed and was undone). */
  const endedOurs = new Map<string, ObservedPod>();
  const lost: ObservedPod[] = [];
  /** Its stopped pods as read once (they change no more): a turn reads only the running ones' containers. */
  const settled = new Map<string, JobPod>();
  /** Pods already said to have ended. */
  const said = new Set<string>();
  let uid: string | undefined;
  let start: number | undefined;
  let first = true;
  let wake: () => void = () => undefined;
  const counts = (s: { succeeded: number; failed: number }) => ({ succeeded: s.succeeded, failed: s.failed });

  const follow = (podName: string, run: PodRun, taken: boolean, running: Promise<number>, index?: number) => {
    const done = running.then(() => {
      followed.delete(podName);
      if (!taken) endedOurs.set(podName, { phase: 'Failed', finishedMs: Date.now(), restarts: 0, ...(index !== undefined ? { index } : {}) });
      if (!run.completed && taken) retryAt.set(podName, Date.now() + env.backoff.initialMs);
      wake();
    });
    followed.set(podName, { run, taken, done, ...(index !== undefined ? { index } : {}) });
  };

  try {
    for (;;) {
      const woken = new Promise<void>((r) => (wake = r));
      throwIfAborted(env.signal);
      const pods = await listJobPods(env.ctx, { namespace: w.namespace, job: w.name }, settled);
      const now = Date.now();
      uid ??= pods.find((p) => p.jobUid)?.jobUid ?? randomUUID();
      start ??= startedAt(pods, spec) ?? now;
      const listed = new Set(pods.map((p) => p.pod));
      for (const [podName, p] of endedOurs) if (!listed.has(podName)) lost.push(p);
      endedOurs.clear();
      const observed: ObservedPod[] = [
        ...pods.map((p): ObservedPod => ({
          // Followed, or its sandbox runs (to be taken over): active, whatever its containers say now (a restart may be due).
          phase: followed.has(p.pod) || p.sandboxReady ? 'Running' : podPhase(p),
          finishedMs: podFinishedMs(p),
          restarts: podRestarts(p),
          ...(p.index !== undefined ? { index: p.index } : {}),
        })),
        // Started, its sandbox not listed yet.
        ...[...followed]
          .filter(([n]) => !listed.has(n))
          .map(([, f]): ObservedPod => ({ phase: 'Running', finishedMs: 0, restarts: 0, ...(f.index !== undefined ? { index: f.index } : {}) })),
        ...lost,
      ];
      const state = observedJob(spec, start, jobBackoff(env), observed);
      const ended = pods.filter((p) => !followed.has(p.pod) && !p.sandboxReady);
      if (first) {
        const found = pods.length
          ? `; taken over with ${pods.length} pod${pods.length === 1 ? '' : 's'}: ${state.activeCount} active, ${jobSays.tally(state)}`
          : '';
        env.say(`${name}: ${jobSays.wants(spec)}${found}`);
        for (const p of ended) said.add(p.pod);
        first = false;
      }
      for (const p of ended) {
        if (said.has(p.pod)) continue;
        said.add(p.pod);
        env.say(`${name}: ${jobSays.podEnded(p.pod, podPhase(p) === 'Succeeded', state, now)}`);
      }
      const st = state.status(now);
      if (st.state === 'complete' && state.activeCount === 0) {
        env.say(`${name}: ${jobSays.complete(state)}`);
        return { outcome: 'Complete', ...counts(state) };
      }
      if (st.state === 'failed') {
        env.say(`${name}: ${jobSays.failed(st, state, state.activeCount)}`);
        // As the Job controller deletes a failed Job's active pods (and the foreground run removes them).
        const ours = [...followed.values()];
        for (const f of ours) f.run.stop();
        await Promise.all(ours.map((f) => f.done));
        await Promise.all(ours.filter((f) => f.taken).map((f) => f.run.remove()));
        return { outcome: 'Failed', ...counts(state), reason: st.reason };
      }
      // Every running pod of the Job is followed: those an earlier process started are taken over.
      for (const p of pods) {
        if (!p.sandboxReady || followed.has(p.pod) || (retryAt.get(p.pod) ?? 0) > now) continue;
        await addRecordedSecrets(env.root, env.manifest, p.uid);
        const pod = { ...makePod(w, () => 0, { ...(p.index !== undefined ? { ordinal: p.index } : {}), jobUid: uid, jobStartMs: start }), name: p.pod };
        const run = new PodRun(env, pod, {}, p.uid);
        const containers = (await call(env.ctx.clients.runtime, 'ListContainers', { filter: { pod_sandbox_id: p.sandboxId } }, 30)).containers;
        follow(p.pod, run, true, run.adopt(p.sandboxId, containers), p.index);
      }
      for (const slot of state.toStart(now)) {
        const index = spec.indexed ? slot : undefined;
        const pod = makePod(w, random, { ...(index !== undefined ? { ordinal: index } : {}), jobUid: uid, jobStartMs: start });
        const run = new PodRun(env, pod);
        follow(pod.name, run, false, run.run(), index);
      }
      const wait = Math.min(1000, state.backoffDelay(now) || 1000, state.deadline !== undefined ? Math.max(0, state.deadline - now) : 1000);
      await Promise.race([sleep(Math.max(20, wait), env.signal), woken]);
    }
  } catch (err) {
    // The supervisor's end, or cribd away (it takes the Job over again later): every pod stays as it is.
    await Promise.all([...followed.values()].map((f) => f.done));
    if (!(err instanceof Aborted)) throw err;
    return { outcome: 'Stopped', succeeded: 0, failed: 0 };
  }
}
