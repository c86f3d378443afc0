// The CronJob controller's history limits (cleanupFinishedJobs): of a CronJob's finished Jobs, the
// successful beyond successfulJobsHistoryLimit and the failed beyond failedJobsHistoryLimit go,
// oldest first (by start time, then name, as the controller sorts them). Pure.

export interface FinishedJob {
  name: string;
  succeeded: boolean;
  /** ms since the epoch; undefined sorts last, as a Job without a start time does. */
  startMs?: number;
}

export interface HistoryLimits {
  successful: number;
  failed: number;
}

/** The API server's defaults for batch/v1. */
export const DEFAULT_HISTORY_LIMITS: HistoryLimits = { successful: 3, failed: 1 };

/**
 * The controller's order of Jobs (byJobStartTime): by start time, a Job without one last, then by
 * name (code units, as Go compares the ASCII names). Two without a start give Infinity - Infinity,
 * NaN, which is falsy: by name too.
 */
export function byStart(a: { name: string; startMs?: number }, b: { name: string; startMs?: number }): number {
  return (a.startMs ?? Infinity) - (b.startMs ?? Infinity) || Number(a.name > b.name) - Number(a.name < b.name);
}

/** The names of the finished Jobs to remove, oldest first. */
export function jobsToPrune(finished: readonly FinishedJob[], limits: HistoryLimits): string[] {
  const beyond = (jobs: FinishedJob[], limit: number) => [...jobs].sort(byStart).slice(0, Math.max(0, jobs.length - limit));
  const out = [
    ...beyond(
      finished.filter((j) => j.succeeded),
      limits.successful,
    ),
    ...beyond(
      finished.filter((j) => !j.succeeded),
      limits.failed,
    ),
  ];
  return out.sort(byStart).map((j) => j.name);
}
