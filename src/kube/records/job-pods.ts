// A Job's pods as the runtime has them (crib jobs, and the Job controller under the supervisor, which
// counts them): each sandbox with the Job's facts its controller put on it, and the newest attempt
// of each app container with its real exit code.
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { ANN_COMPLETION_INDEX, LABEL_JOB_UID } from '../kinds/labels.js';
import type { JobPod } from './job-status.js';
import {
  ANN_CONTAINER_TYPE,
  ANN_JOB_BACKOFF_LIMIT,
  ANN_JOB_COMPLETIONS,
  ANN_JOB_DEADLINE,
  CONTAINER_EXITED,
  LABEL_CONTAINER_NAME,
  LABEL_OWNER_CRONJOB,
  LABEL_OWNER_KIND,
  LABEL_OWNER_NAME,
} from './keys.js';

/** A CRI timestamp (nanoseconds, as a decimal string) in ms since the epoch; 0 if it is not one. */
export const nsToMs = (v: string | undefined): number => {
  try {
    return Number(BigInt(v || '0') / 1_000_000n);
  } catch {
    return 0;
  }
};

/** A non-negative integer an annotation or label holds, if it holds one. */
function count(v: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined || !/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= max ? n : undefined;
}

/**
 * The pods of Jobs on the node: one Job's (`job`), or every Job's, in a namespace or all. `settled`:
 * pods read before whose sandbox was stopped, by sandbox id (a stopped pod changes no more): used
 * as they are, and the newly stopped ones added, so that a caller listing every turn reads each
 * finished pod's containers once.
 */
export async function listJobPods(ctx: ClientContext, o: { namespace?: string; job?: string } = {}, settled?: Map<string, JobPod>): Promise<JobPod[]> {
  const rt = ctx.clients.runtime;
  const selector: Record<string, string> = { [LABEL_OWNER_KIND]: 'Job', ...(o.job !== undefined ? { [LABEL_OWNER_NAME]: o.job } : {}) };
  const sandboxes = (await call(rt, 'ListPodSandbox', { filter: { label_selector: selector } }, 30)).items.filter(
    (s) => o.namespace === undefined || s.metadata?.namespace === o.namespace,
  );
  const pods: JobPod[] = [];
  for (const s of sandboxes) {
    const known = s.state !== 0 ? settled?.get(s.id) : undefined;
    if (known) {
      pods.push(known);
      continue;
    }
    const all = (await call(rt, 'ListContainers', { filter: { pod_sandbox_id: s.id } }, 30)).containers.filter(
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
        const attempt = c.metadata?.attempt ?? 0;
        if (c.state !== CONTAINER_EXITED) return { name, exited: false, exitCode: 0, finishedMs: 0, attempt };
        const st = (await call(rt, 'ContainerStatus', { container_id: c.id }, 30)).status;
        return { name, exited: true, exitCode: st?.exit_code ?? -1, finishedMs: nsToMs(st?.finished_at), attempt };
      }),
    );
    const completions = count(s.annotations[ANN_JOB_COMPLETIONS]);
    const backoffLimit = count(s.annotations[ANN_JOB_BACKOFF_LIMIT]);
    const deadlineMs = count(s.annotations[ANN_JOB_DEADLINE]);
    const index = count(s.labels[ANN_COMPLETION_INDEX]);
    const jobUid = s.labels[LABEL_JOB_UID];
    const pod: JobPod = {
      namespace: s.metadata?.namespace ?? '',
      job: s.labels[LABEL_OWNER_NAME] ?? '',
      ...(s.labels[LABEL_OWNER_CRONJOB] !== undefined ? { cronJob: s.labels[LABEL_OWNER_CRONJOB] } : {}),
      pod: s.metadata?.name ?? s.id,
      uid: s.metadata?.uid ?? '',
      sandboxId: s.id,
      completions: completions !== undefined && completions > 0 ? completions : 1,
      createdMs: nsToMs(s.created_at),
      sandboxReady: s.state === 0,
      ...(jobUid ? { jobUid } : {}),
      ...(index !== undefined ? { index } : {}),
      ...(backoffLimit !== undefined ? { backoffLimit } : {}),
      ...(deadlineMs !== undefined ? { deadlineMs } : {}),
      containers,
    };
    pods.push(pod);
    // Its containers all read as ended: a sandbox caught while it stops is read again.
    if (s.state !== 0 && containers.every((c) => c.exited)) settled?.set(s.id, pod);
  }
  return pods;
}
