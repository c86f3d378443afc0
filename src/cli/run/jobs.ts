// `crib jobs`: the Jobs crib run started and how their pods ended (kubectl get jobs), read from
// the runtime: a detached run reports no result, this does once there is one.
import type { Command } from '../command.js';
import { UsageError } from '../../client/errors.js';
import { humanDuration, outputFormat, printData, renderTable, type Style } from '../output.js';
import { jobRows, type JobCondition } from '../../kube/records/job-status.js';
import { listJobPods } from '../../kube/records/job-pods.js';

const conditionStyle: Record<JobCondition, Style> = { Complete: 'green', Running: 'yellow', Failed: 'red' };

export const jobsCommand: Command = {
  name: 'jobs',
  synopsis: '[-n NAMESPACE] [-o FORMAT]',
  summary:
    "List the Jobs crib run started (a CronJob's too, with its name), with their pods' results: COMPLETIONS succeeded/wanted, a pod succeeded when all its containers exited 0. STATUS is the Job controller's judgement: Complete once its completions succeeded, Failed past its backoffLimit or activeDeadlineSeconds, else Running (also while a failed pod waits for its replacement: crib supervise carries a detached Job on).",
  details: ['  -n, --namespace NS    only this namespace', '  -o, --output FORMAT   table (default), json or yaml'].join('\n'),
  flags: { value: ['namespace', 'output'], alias: { n: 'namespace', o: 'output' } },
  async run(args, ctx) {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    const format = outputFormat(args.get('output'), ['table', 'json', 'yaml']);
    const namespace = args.get('namespace');
    const pods = await listJobPods(ctx, namespace === undefined ? {} : { namespace });
    const rows = jobRows(pods);
    if (format === 'json' || format === 'yaml') {
      printData(ctx, format, { items: rows });
      return 0;
    }
    const now = Date.now();
    ctx.out.write(
      renderTable(
        ctx,
        ['NAMESPACE', 'NAME', 'STATUS', 'COMPLETIONS', 'ACTIVE', 'SUCCEEDED', 'FAILED', 'DURATION', 'AGE', 'CRONJOB'],
        rows.map((r) => [
          r.namespace,
          r.name,
          { text: r.status, style: conditionStyle[r.status] },
          `${r.succeeded}/${r.completions}`,
          String(r.active),
          String(r.succeeded),
          String(r.failed),
          humanDuration((r.endMs ?? now) - r.startMs),
          humanDuration(now - r.startMs),
          r.cronJob ?? '<none>',
        ]),
      ),
    );
    return 0;
  },
};
