// A CronJob under crib run, as its controller runs it: a turn at each scheduled time (and when one
// of its Jobs ends), each Job run by the Job controller's loop (controllers/job.ts), finished Jobs
// kept with their pods as history and removed beyond the limits, oldest first; Replace stops and
// removes the running ones first. Runs until the run's signal, then removes every Job it made;
// under the supervisor (env.supervised) the signal is the supervisor's end or crib down's: the Jobs
// stay as they are, and what the controller keeps (saved.ts) lets the next supervisor go on, which
// first takes over the Jobs still running (left-running.ts). There a turn that fails (cribd away)
// is tried again: the supervisor's CronJob never stops on it.
import { describeError } from '../../client/errors.js';
import { runJob, type JobResult } from '../controllers/job.js';
import { Aborted, sleep } from '../loop/abort.js';
import type { Random } from '../manifest/names.js';
import type { PodRun, RunEnv } from '../pod/pod-run.js';
import { cronTurn, type CronState, type Turn } from './controller.js';
import { jobsToPrune, type FinishedJob } from './history.js';
import { findJobsLeftRunning } from './left-running.js';
import { loadCron, saveCron } from './saved.js';
import { findWorkloadPods, tearDownWorkloads } from '../run/down.js';
import type { CronJob } from './spec.js';

/** The longest wait between turns: a clock set forward is noticed within it. */
const MAX_WAIT_MS = 60_000;
/** Under the supervisor, a turn that failed is tried again after this. */
const RETRY_MS = 2_000;

/** A Job the CronJob made and has not removed: running, or finished and kept as history. */
interface JobRun {
  stop: AbortController;
  done: Promise<JobResult>;
  /** Its pods that ran to their end, kept as they ended. */
  pods: PodRun[];
}

const when = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

export async function runCronJob(env: RunEnv, cj: CronJob, random: Random): Promise<number> {
  const who = `CronJob ${cj.namespace === 'default' ? '' : `${cj.namespace}/`}${cj.name}`;
  const say = (line: string) => env.say(`${who}: ${line}`);
  const stateDir = env.supervised?.stateDir;
  const saved = stateDir ? await loadCron(stateDir, cj.namespace, cj.name) : undefined;
  const state: CronState = {
    createdMs: saved?.createdMs ?? Date.now(),
    active: [],
    ...(saved?.lastScheduleMs !== undefined ? { lastScheduleMs: saved.lastScheduleMs } : {}),
  };
  const jobs = new Map<string, JobRun>();
  const finished: FinishedJob[] = saved?.finished ?? [];
  /** Saves are chained: each writes the state as it is then, in order. */
  let saving = Promise.resolve();
  const save = () => {
    if (!stateDir) return;
    saving = saving
      .then(() =>
        saveCron(stateDir, cj.namespace, cj.name, {
          createdMs: state.createdMs,
          ...(state.lastScheduleMs !== undefined ? { lastScheduleMs: state.lastScheduleMs } : {}),
          finished,
        }),
      )
      .catch((err: unknown) => say(`saving its state: ${describeError(err)}`));
  };
  /** What a turn would say again on the next turns (a start held back), said once: the last time said, by what. */
  const said = new Map<Turn['kind'], number>();
  const once = (kind: Turn['kind'], scheduledMs: number, line: string) => {
    if (said.get(kind) === scheduledMs) return;
    said.set(kind, scheduledMs);
    say(line);
  };
  let wake: () => void = () => undefined;
  /** Under the supervisor, the Jobs an earlier one left running are taken over before the first turn. */
  let tookOver = !env.supervised;

  /** Stops a Job if it runs and removes its pods, as deleting a Job does. */
  const removeJob = async (name: string) => {
    const j = jobs.get(name);
    if (j) {
      j.stop.abort(new Aborted());
      await j.done;
      jobs.delete(name);
      if (!env.supervised) {
        await Promise.all(j.pods.map((p) => p.remove()));
        return;
      }
    }
    // Under the supervisor a stopped Job leaves its pods, as one an earlier supervisor kept does: found by their owner labels.
    const pods = await findWorkloadPods(env.ctx, [{ kind: 'Job', namespace: cj.namespace, name }]);
    await tearDownWorkloads(env.ctx, env.root, pods, say);
  };

  /** Runs Job `name` (one started now, or one an earlier supervisor started at `startMs`) until it ends or is stopped. */
  const follow = (name: string, startMs: number) => {
    const stop = new AbortController();
    const pods: PodRun[] = [];
    // Its pods stay when they end (the history) until a limit, a Replace or the run's end removes them.
    const jobEnv: RunEnv = { ...env, signal: AbortSignal.any([env.signal, stop.signal]), keep: (p) => pods.push(p) };
    const done = runJob(jobEnv, { ...cj.job, name }, random).catch((err: unknown): JobResult => {
      say(`Job ${name}: ${describeError(err)}`);
      return { outcome: 'Failed', succeeded: 0, failed: 0, reason: 'Error' };
    });
    jobs.set(name, { stop, done, pods });
    state.active.push(name);
    void done.then((r) => {
      state.active = state.active.filter((n) => n !== name);
      if (r.outcome === 'Complete' || r.outcome === 'Failed') {
        finished.push({ name, succeeded: r.outcome === 'Complete', startMs });
        save();
      }
      wake();
    });
  };

  const start = (t: Extract<Turn, { kind: 'start' }>) => {
    follow(t.jobName, Date.now());
    state.lastScheduleMs = t.scheduledMs;
    save();
  };

  /** One turn of the controller; when the next is due. */
  const turn = async (): Promise<number | undefined> => {
    if (!tookOver) {
      for (const left of await findJobsLeftRunning(env.ctx, cj, finished)) {
        say(`taking over Job ${left.name}, which an earlier supervisor started and did not see end`);
        follow(left.name, left.startMs);
      }
      tookOver = true;
    }
    for (const name of jobsToPrune(finished, cj.history)) {
      say(`removing Job ${name} (beyond successfulJobsHistoryLimit ${cj.history.successful}, failedJobsHistoryLimit ${cj.history.failed})`);
      // Removed first: a removal that fails leaves it in the history, to be removed by a later turn.
      await removeJob(name);
      finished.splice(
        finished.findIndex((j) => j.name === name),
        1,
      );
      save();
    }
    const t = cronTurn(cj.name, cj.schedule, cj.policy, state, Date.now());
    switch (t.kind) {
      case 'suspended':
        once('suspended', 0, 'suspended: no Job is started');
        return undefined;
      case 'missed':
        once(
          'missed',
          t.scheduledMs,
          `missed the start of ${when(t.scheduledMs)}: more than startingDeadlineSeconds (${cj.policy.startingDeadlineSeconds}) ago`,
        );
        break;
      case 'forbidden':
        once('forbidden', t.scheduledMs, `not starting the Job of ${when(t.scheduledMs)}: ${t.active.join(', ')} still runs (concurrencyPolicy Forbid)`);
        break;
      case 'start':
        for (const name of t.replace) {
          say(`replacing Job ${name} (concurrencyPolicy Replace)`);
          await removeJob(name);
        }
        if (t.tooManyMissed) say('warning: more than 100 starts missed (TooManyMissedTimes): set or decrease startingDeadlineSeconds or check clock skew');
        else if (t.missed > 1) say(`${t.missed - 1} earlier start${t.missed > 2 ? 's' : ''} missed; only the latest is made`);
        say(`starting Job ${t.jobName} (scheduled ${when(t.scheduledMs)})`);
        start(t);
        break;
      case 'idle':
        break;
    }
    return t.nextMs;
  };

  const first = cj.schedule.next(state.createdMs);
  say(
    `schedule "${cj.schedule.text}"${cj.schedule.timeZone ? ` in ${cj.schedule.timeZone}` : ''}, concurrencyPolicy ${cj.policy.concurrencyPolicy}; ${first === undefined ? 'the schedule never comes: no Job will start' : `first Job at ${when(first)}`}`,
  );
  try {
    for (;;) {
      // Made before the turn, so that a Job ending during it wakes the next one.
      const woken = new Promise<void>((resolve) => (wake = resolve));
      let next: number | undefined;
      try {
        next = await turn();
      } catch (err) {
        if (err instanceof Aborted || env.signal.aborted || !env.supervised) throw err;
        say(`${describeError(err)}; trying again in ${RETRY_MS / 1000} s`);
        next = Date.now() + RETRY_MS;
      }
      // A little after the scheduled time, as the controller requeues, so that the turn finds it due.
      const wait = next === undefined ? MAX_WAIT_MS : Math.min(MAX_WAIT_MS, Math.max(0, next - Date.now() + 100));
      await Promise.race([sleep(wait, env.signal), woken]);
      if (env.signal.aborted) throw new Aborted();
    }
  } catch (err) {
    if (!(err instanceof Aborted)) throw err;
    if (env.supervised) {
      // The supervisor ends or crib down tears the run down: every pod stays as it is (crib down's to remove).
      await Promise.all([...jobs.values()].map((j) => j.done));
      await saving;
      return 0;
    }
    // The run ends: its Jobs go with it, the running ones through their own teardown.
    await Promise.all([...jobs.keys()].map((name) => removeJob(name)));
    return 0;
  }
}
