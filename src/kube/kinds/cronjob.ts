// kind: CronJob (batch/v1): Jobs on a schedule (../cronjob: the schedule, the controller's turns,
// the history limits, the run beside the workloads).
import { ManifestError } from '../manifest/fields.js';
import { runCronJob } from '../cronjob/run.js';
import { parseCronJob, type CronJob } from '../cronjob/spec.js';
import { addItem, itemsOf, type KindModule } from './kind.js';

export const cronJobKind: KindModule = {
  kind: 'CronJob',
  read(into, f, at) {
    const cj = parseCronJob(f, at.warnings);
    if (itemsOf<CronJob>(into, 'CronJob').some((x) => x.namespace === cj.namespace && x.name === cj.name)) {
      throw new ManifestError(at.nameField, `CronJob ${cj.namespace}/${cj.name} is defined twice`);
    }
    addItem(into, 'CronJob', cj);
  },
  planned: (m) => itemsOf<CronJob>(m, 'CronJob').map((cj) => cj.job),
  async start(env, m, random) {
    const codes = await Promise.all(itemsOf<CronJob>(m, 'CronJob').map((cj) => runCronJob(env, cj, random)));
    return Math.max(0, ...codes);
  },
};
