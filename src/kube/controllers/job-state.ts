// The Job controller's decisions (pkg/controller/job): how many pods to have running, which
// completion index each gets, the back-off before a pod replaces a failed one (base doubling per
// failure since the last success, capped), and when the Job is complete or failed (backoffLimit,
// activeDeadlineSeconds). Pure: the caller runs the pods and passes the time in. Under the supervisor
// the state is rebuilt from the Job's pods on the node at each turn (observedJob), and crib jobs
// judges a Job from its pods with the same rule (judgeJob).
import type { JobSpec } from '../manifest/workload.js';

export type JobOutcome =
  { state: 'running' } | { state: 'complete' } | { state: 'failed'; reason: 'BackoffLimitExceeded' | 'DeadlineExceeded'; message: string };

export interface JobBackoff {
  baseMs: number;
  maxMs: number;
}

/** The Job controller's defaults: 10 s doubling up to 6 min (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff). */
export const JOB_BACKOFF: JobBackoff = { baseMs: 10_000, maxMs: 360_000 };

/** What a Job's pods add up to, as its controller counts them. */
export interface JobCounts {
  succeeded: number;
  failed: number;
  /** Container restarts (restartPolicy OnFailure). */
  restarts: number;
  active: number;
  /** Indexed: the distinct indexes that succeeded. */
  doneIndexes: number;
}

/** Complete, failed past backoffLimit or the deadline, or running: the controller's judgement of the counts. */
export function judgeJob(spec: Pick<JobSpec, 'completions' | 'indexed' | 'backoffLimit'>, c: JobCounts, deadlinePassed: boolean): JobOutcome {
  const { completions, indexed, backoffLimit } = spec;
  const done = completions === undefined ? c.succeeded > 0 && c.active === 0 : indexed ? c.doneIndexes >= completions : c.succeeded >= completions;
  if (done) return { state: 'complete' };
  if (c.failed > backoffLimit || (backoffLimit === 0 ? c.restarts > 0 : c.restarts >= backoffLimit)) {
    return { state: 'failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
  }
  if (deadlinePassed) return { state: 'failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
  return { state: 'running' };
}

/** One pod of a Job as the node has it: running (or being started), or ended with its real result. */
export interface ObservedPod {
  phase: 'Running' | 'Succeeded' | 'Failed';
  /** An Indexed Job's completion index. */
  index?: number;
  /** When it ended (ms epoch); 0 while it runs. */
  finishedMs: number;
  restarts: number;
}

/**
 * The Job's state from its pods on the node, as a controller taking it over finds it: the ended
 * pods replayed in the order they ended (so the back-off follows the failures since the last
 * success), the running ones active in their slots. Pure.
 */
export function observedJob(spec: JobSpec, startedAt: number, backoff: JobBackoff, pods: readonly ObservedPod[]): JobState {
  const state = new JobState(spec, startedAt, backoff);
  for (const p of [...pods].filter((x) => x.phase !== 'Running').sort((a, b) => a.finishedMs - b.finishedMs)) {
    const slot = state.adopt(p.index);
    if (p.phase === 'Succeeded') state.succeededPod(slot);
    else state.failedPod(slot, p.finishedMs);
  }
  // After the ended ones: an index that failed before and runs again is active.
  for (const p of pods) {
    state.restarts += p.restarts;
    if (p.phase === 'Running') state.adopt(p.index);
  }
  return state;
}

export class JobState {
  succeeded = 0;
  failed = 0;
  /** Container restarts of pods with restartPolicy OnFailure (they count against backoffLimit too). */
  restarts = 0;
  private readonly active = new Set<number>();
  private readonly doneIndexes = new Set<number>();
  private failuresSinceSuccess = 0;
  /** Slot numbers of non-indexed pods: only to tell them apart. */
  private nextSlot = 0;
  private lastFailure = 0;
  private outcome: JobOutcome = { state: 'running' };

  constructor(
    readonly spec: JobSpec,
    private readonly startedAt: number,
    private readonly backoff: JobBackoff = JOB_BACKOFF,
  ) {}

  /** ms to wait before another pod may be created (0: now). */
  backoffDelay(now: number): number {
    if (this.failuresSinceSuccess === 0) return 0;
    let d = this.backoff.baseMs;
    for (let i = 1; i < this.failuresSinceSuccess && d < this.backoff.maxMs; i++) d *= 2;
    d = Math.min(d, this.backoff.maxMs);
    return Math.max(0, d - (now - this.lastFailure));
  }

  /** Completion slots (indexes) that want a pod now, given parallelism and what is done. */
  private wanted(): number[] {
    const { parallelism, completions, indexed } = this.spec;
    const room = Math.max(0, parallelism - this.active.size);
    const fresh = (n: number) => Array.from({ length: Math.max(0, n) }, () => this.nextSlot++);
    // Without completions any success ends the work: no new pods after one.
    if (completions === undefined) return this.succeeded > 0 ? [] : fresh(room);
    if (indexed) {
      const free: number[] = [];
      for (let i = 0; i < completions && free.length < room; i++) if (!this.doneIndexes.has(i) && !this.active.has(i)) free.push(i);
      return free;
    }
    return fresh(Math.min(room, completions - this.succeeded - this.active.size));
  }

  /** The slots to start pods for now: none while backing off or once the Job is over. */
  toStart(now: number): number[] {
    if (this.status(now).state !== 'running' || this.backoffDelay(now) > 0) return [];
    const slots = this.wanted();
    for (const s of slots) this.active.add(s);
    return slots;
  }

  /** A pod already on the node: active in its index (Indexed) or a slot of its own; its slot. */
  adopt(index?: number): number {
    const slot = this.spec.indexed && index !== undefined ? index : this.nextSlot++;
    this.active.add(slot);
    return slot;
  }

  /** How many pods are active. */
  get activeCount(): number {
    return this.active.size;
  }

  succeededPod(slot: number): void {
    this.active.delete(slot);
    this.succeeded++;
    this.doneIndexes.add(slot);
    this.failuresSinceSuccess = 0;
  }

  failedPod(slot: number, now: number): void {
    this.active.delete(slot);
    this.failed++;
    this.failuresSinceSuccess++;
    this.lastFailure = now;
  }

  /** A container of an active pod restarted (restartPolicy OnFailure: restarts count against backoffLimit too). */
  restarted(): void {
    this.restarts++;
  }

  /** Where the Job stands; once complete or failed it stays so. */
  status(now: number): JobOutcome {
    if (this.outcome.state !== 'running') return this.outcome;
    const { succeeded, failed, restarts } = this;
    const deadline = this.deadline;
    this.outcome = judgeJob(
      this.spec,
      { succeeded, failed, restarts, active: this.active.size, doneIndexes: this.doneIndexes.size },
      deadline !== undefined && now >= deadline,
    );
    return this.outcome;
  }

  /** When the deadline passes (ms epoch), if there is one. */
  get deadline(): number | undefined {
    return this.spec.activeDeadlineSeconds === undefined ? undefined : this.startedAt + this.spec.activeDeadlineSeconds * 1000;
  }
}
