// The CronJob controller's decision for one turn (pkg/controller/cronjob, syncCronJob): which
// scheduled time is due, whether it is too late (startingDeadlineSeconds), already done, or held
// back by the concurrency policy, and the Job to create, named as the controller names it.
// Pure: the caller keeps the state, passes the time in and carries out what the turn says.
import type { Schedule } from './schedule.js';

export const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

export interface CronPolicy {
  concurrencyPolicy: ConcurrencyPolicy;
  /** A start later than this after its scheduled time is not made. */
  startingDeadlineSeconds?: number;
  suspend: boolean;
}

/** What the controller keeps of a CronJob between turns (its status). */
export interface CronState {
  /** When the CronJob was created (ms since the epoch): its first start is the first scheduled time after. */
  createdMs: number;
  /** The scheduled time of the last Job made. */
  lastScheduleMs?: number;
  /** Its Jobs that have not finished, by name. */
  active: string[];
}

/**
 * Missed starts counted before the controller gives up counting and warns (TooManyMissedTimes): "more
 * than 80 for one hourly CronJob over a weekend, but less than lots" in the controller's words.
 */
export const MAX_MISSED_STARTS = 100;

export type Turn =
  /** Nothing is due (or what is due was done); wake at `nextMs`. */
  | { kind: 'idle'; nextMs?: number }
  | { kind: 'suspended' }
  /** The start at `scheduledMs` is past startingDeadlineSeconds: not made (MissSchedule). */
  | { kind: 'missed'; scheduledMs: number; nextMs?: number }
  /** Forbid and a Job still runs: the start at `scheduledMs` is not made now (JobAlreadyActive). */
  | { kind: 'forbidden'; scheduledMs: number; active: string[]; nextMs?: number }
  /** Make Job `jobName` for `scheduledMs`, after deleting `replace` (Replace). */
  | { kind: 'start'; scheduledMs: number; jobName: string; replace: string[]; missed: number; tooManyMissed: boolean; nextMs?: number };

/** The controller's name for the Job of one scheduled time: NAME-<minutes since the epoch>. */
export const cronJobName = (cronJob: string, scheduledMs: number): string => `${cronJob}-${Math.floor(scheduledMs / 60_000)}`;

/** Whether `name` is one the controller gives a Job of `cronJob` (NAME-<minutes>): nothing else is ever taken for one. */
export const isCronJobsJob = (cronJob: string, name: string): boolean => name.startsWith(`${cronJob}-`) && /^\d{1,15}$/.test(name.slice(cronJob.length + 1));

export interface RecentStart {
  /** The latest scheduled time in the window, if one has come. */
  time?: number;
  /** Scheduled times in the window, counted up to MAX_MISSED_STARTS + 1. */
  count: number;
  tooMany: boolean;
}

/**
 * The latest scheduled time after the last start (or the creation) and at or before `now`, and how
 * many there were: with startingDeadlineSeconds the window starts no earlier than that long ago.
 * At most MAX_MISSED_STARTS + 2 steps of the schedule, however far behind the clock jumped.
 */
export function mostRecentStart(schedule: Schedule, state: CronState, policy: Pick<CronPolicy, 'startingDeadlineSeconds'>, now: number): RecentStart {
  let earliest = state.lastScheduleMs ?? state.createdMs;
  if (policy.startingDeadlineSeconds !== undefined) earliest = Math.max(earliest, now - policy.startingDeadlineSeconds * 1000);
  let t = schedule.next(earliest);
  if (t === undefined || t > now) return { count: 0, tooMany: false };
  for (let count = 1; ; count++) {
    const n = schedule.next(t);
    if (n === undefined || n > now) return { time: t, count, tooMany: false };
    // n is a scheduled time at or before now, so there is a latest one.
    if (count === MAX_MISSED_STARTS) return { time: schedule.latest(now) ?? n, count: count + 1, tooMany: true };
    t = n;
  }
}

/** One turn of the controller for one CronJob. */
export function cronTurn(name: string, schedule: Schedule, policy: CronPolicy, state: CronState, now: number): Turn {
  if (policy.suspend) return { kind: 'suspended' };
  const next = schedule.next(now);
  const nextMs = next !== undefined ? { nextMs: next } : {};
  const recent = mostRecentStart(schedule, state, policy, now);
  const deadline = policy.startingDeadlineSeconds;
  if (recent.time === undefined) {
    // The window was cut by the deadline: say which start was lost, as the controller's MissSchedule.
    if (deadline !== undefined) {
      const latest = schedule.latest(now);
      // Lost if after the last start and too late as the controller reckons it (scheduled time +
      // deadline before now); at exactly the deadline the window has left it out, but it is not late.
      if (latest !== undefined && latest > (state.lastScheduleMs ?? state.createdMs) && latest + deadline * 1000 < now) {
        return { kind: 'missed', scheduledMs: latest, ...nextMs };
      }
    }
    return { kind: 'idle', ...nextMs };
  }
  // The window starts after the last start: a scheduled time is started once, and never too late.
  const scheduledMs = recent.time;
  const jobName = cronJobName(name, scheduledMs);
  if (policy.concurrencyPolicy === 'Forbid' && state.active.length > 0) return { kind: 'forbidden', scheduledMs, active: [...state.active], ...nextMs };
  const replace = policy.concurrencyPolicy === 'Replace' ? [...state.active] : [];
  return { kind: 'start', scheduledMs, jobName, replace, missed: recent.count, tooManyMissed: recent.tooMany, ...nextMs };
}
