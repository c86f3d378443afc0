// A CronJob document (batch/v1) with the API server's rules and defaults: its schedule and zone,
// concurrencyPolicy (Allow), startingDeadlineSeconds, suspend, the history limits (3 and 1) and
// the Job template its Jobs are made from. Pure; errors name the field.
import { ManifestError, readType, type Fields } from '../manifest/fields.js';
import { parseMetadata } from '../manifest/pod-spec.js';
import { INT32, type Workload } from '../manifest/workload.js';
import { parseJobSpec } from '../kinds/job.js';
import { CONCURRENCY_POLICIES, type CronPolicy } from './controller.js';
import { DEFAULT_HISTORY_LIMITS, type HistoryLimits } from './history.js';
import { checkTimeZone, parseSchedule, ScheduleError, type Schedule } from './schedule.js';

/** The controller names a Job NAME-<minutes>: 11 characters more, and a Job's name is a DNS label (63). */
export const MAX_CRONJOB_NAME = 52;
/** startingDeadlineSeconds is an int64; beyond this its milliseconds are no longer exact. */
const MAX_DEADLINE_SECONDS = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/** batch/v1 CronJobSpec's fields: a typo among them is an error naming the field meant. */
const CRONJOB_SPEC_FIELDS = [
  'schedule',
  'timeZone',
  'startingDeadlineSeconds',
  'concurrencyPolicy',
  'suspend',
  'jobTemplate',
  'successfulJobsHistoryLimit',
  'failedJobsHistoryLimit',
];

export interface CronJob {
  name: string;
  namespace: string;
  schedule: Schedule;
  policy: CronPolicy;
  history: HistoryLimits;
  /** The Job its turns make, under the CronJob's name (each Job is this with its own name). */
  job: Workload;
}

function scheduleOf(s: Fields): Schedule {
  const text = s.str('schedule', { required: true }) as string;
  const tz = s.str('timeZone');
  const at = (field: string, f: () => void) => {
    try {
      f();
    } catch (err) {
      if (err instanceof ScheduleError) throw new ManifestError(s.field(field), err.message);
      throw err;
    }
  };
  if (tz !== undefined) at('timeZone', () => checkTimeZone(tz));
  let schedule: Schedule | undefined;
  at('schedule', () => (schedule = parseSchedule(text, tz)));
  return schedule as Schedule;
}

export function parseCronJob(f: Fields, warnings: string[]): CronJob {
  readType(f, 'CronJob', ['batch/v1']);
  const meta = parseMetadata(f);
  if (meta.name.length > MAX_CRONJOB_NAME) throw new ManifestError(`${f.field('metadata')}.name`, `must be no more than ${MAX_CRONJOB_NAME} characters`);
  const cj = f.sub('spec', (s): CronJob => {
    s.schema(CRONJOB_SPEC_FIELDS);
    const schedule = scheduleOf(s);
    const deadline = s.int('startingDeadlineSeconds', 0, MAX_DEADLINE_SECONDS);
    const policy: CronPolicy = {
      concurrencyPolicy: s.oneOf('concurrencyPolicy', CONCURRENCY_POLICIES, 'Allow'),
      suspend: s.bool('suspend') ?? false,
      ...(deadline !== undefined ? { startingDeadlineSeconds: deadline } : {}),
    };
    const history: HistoryLimits = {
      successful: s.int('successfulJobsHistoryLimit', 0, INT32) ?? DEFAULT_HISTORY_LIMITS.successful,
      failed: s.int('failedJobsHistoryLimit', 0, INT32) ?? DEFAULT_HISTORY_LIMITS.failed,
    };
    if (!s.has('jobTemplate')) throw new ManifestError(s.field('jobTemplate'), 'required');
    const job = s.sub('jobTemplate', (t): Workload => {
      // The Job's own labels and annotations: crib has no Job object to put them on.
      const jobMeta = parseMetadata(t, { nameOptional: true });
      if (!t.has('spec')) throw new ManifestError(t.field('spec'), 'required');
      const w = t.sub('spec', (js) => {
        // The controller makes each Job's selector from its uid.
        if (js.has('selector')) throw new ManifestError(js.field('selector'), '`selector` will be auto-generated');
        if (js.bool('manualSelector')) throw new ManifestError(js.field('manualSelector'), 'must be false or unset in a jobTemplate');
        return parseJobSpec(js, warnings);
      }) as Pick<Workload, 'template' | 'replicas' | 'job'>;
      return { kind: 'Job', name: meta.name, namespace: meta.namespace, labels: jobMeta.labels, annotations: jobMeta.annotations, ...w, cronJob: meta.name };
    }) as Workload;
    return { name: meta.name, namespace: meta.namespace, schedule, policy, history, job };
  });
  if (!cj) throw new ManifestError(f.field('spec'), 'required');
  f.accept('status');
  f.done();
  return cj;
}
