// `crib jobs`: the Jobs crib run started and how their pods ended (kubectl get jobs), read from
// the runtime: a detached run reports no result, this does once there is one.
import { call } from '../../client/client.js';
import type { Command } from '../command.js';
import { UsageError } from '../../client/errors.js';
import { humanDuration, outputFormat, printData, renderTable, type Style } from '../output.js';
import { jobRows, type JobCondition, type JobPod } from '../../kube/records/job-status.js';
import {
  ANN_CONTAINER_TYPE,
  ANN_JOB_COMPLETIONS,
  CONTAINER_EXITED,
  LABEL_CONTAINER_NAME,
  LABEL_OWNER_KIND,
  LABEL_OWNER_NAME,
} from '../../kube/records/keys.js';

const nsToMs = (v: string | undefined): number => {
  try {
    return Number(BigInt(v || '0') / 1_000_000n);
  } catch {
    return 0;
  }
};

const conditionStyle: Record<JobCondition, Style> = { Complete: 'green', Running: 'yellow', Failed: 'red' };

export const jobsCommand: Command = {
  name: 'jobs',
  synopsis: '[-n NAMESPACE] [-o FORMAT]',
  summary:
    "List the Jobs crib run started, with their pods' results: COMPLETIONS succeeded/wanted, a pod succeeded when all its containers exited 0. A Job none of whose pods still runs short of its completions is Failed (a detached run does not replace failed pods).",
  details: ['  -n, --namespace NS    only this namespace', '  -o, --output FORMAT   table (default), json or yaml'].join('\n'),
  flags: { value: ['namespace', 'output'], alias: { n: 'namespace', o: 'output' } },
  async run(args, ctx) {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    const format = outputFormat(args.get('output'));
    const namespace = args.get('namespace');
    const rt = ctx.clients.runtime;
    const sandboxes = (await call(rt, 'ListPodSandbox', { filter: { label_selector: { [LABEL_OWNER_KIND]: 'Job' } } })).items.filter(
      (s) => namespace === undefined || s.metadata?.namespace === namespace,
    );
    const pods: JobPod[] = [];
    for (const s of sandboxes) {
      const all = (await call(rt, 'ListContainers', { filter: { pod_sandbox_id: s.id } })).containers.filter(
        (c) => c.annotations[ANN_CONTAINER_TYPE] !== 'init',
      );
      const newest = new Map<string, (typeof all)[number]>();
      for (const c of all) {
        const name = c.labels[LABEL_CONTAINER_NAME] ?? c.metadata?.name ?? c.id;
        const prev = newest.get(name);
        if (!prev || (c.metadata?.attempt ?? 0) > (prev.metadata?.attempt ?? 0)) newest.set(name, c);
      }
      const containers = await Promise.all(
        [...newest].map(async ([name, c]) => {
          if (c.state !== CONTAINER_EXITED) return { name, exited: false, exitCode: 0, finishedMs: 0 };
          const st = (await call(rt, 'ContainerStatus', { container_id: c.id })).status;
          return { name, exited: true, exitCode: st?.exit_code ?? -1, finishedMs: nsToMs(st?.finished_at) };
        }),
      );
      const completions = Number(s.annotations[ANN_JOB_COMPLETIONS] ?? '1');
      pods.push({
        namespace: s.metadata?.namespace ?? '',
        job: s.labels[LABEL_OWNER_NAME] ?? '',
        pod: s.metadata?.name ?? s.id,
        completions: Number.isInteger(completions) && completions > 0 ? completions : 1,
        createdMs: nsToMs(s.created_at),
        containers,
      });
    }
    const rows = jobRows(pods);
    if (format === 'json' || format === 'yaml') {
      printData(ctx, format, { items: rows });
      return 0;
    }
    const now = Date.now();
    ctx.out.write(
      renderTable(
        ctx,
        ['NAMESPACE', 'NAME', 'STATUS', 'COMPLETIONS', 'ACTIVE', 'SUCCEEDED', 'FAILED', 'DURATION', 'AGE'],
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
        ]),
      ),
    );
    return 0;
  },
};
