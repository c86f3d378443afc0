// kind: CronJob (batch/v1). Not run yet: ignored with a warning. Its logic goes in ../cronjob;
// this module reads the documents (read, addItem) and starts its schedule loop beside the
// workloads (start, with loop/every.ts and controllers/job.ts runJob).
import { ignoredModule } from './ignored.js';

export const cronJobKind = ignoredModule('CronJob');
