// READY of `crib pods` (kubectl's 1/2): a pod's app containers that run and, if they have a
// readiness probe, that its prober (a foreground crib run) last found ready. A container with a
// probe and no prober is not ready, as in Kubernetes.
import { newestByName } from './newest.js';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import type { Container__Output } from '../../cri/generated/runtime/v1/Container.js';
import type { PodSandbox__Output } from '../../cri/generated/runtime/v1/PodSandbox.js';
import { ANN_READINESS_PROBE, LABEL_POD_UID } from './keys.js';
import type { PodStatusFile } from './record.js';
import { runtimeRoot } from './paths.js';
import { CONTAINER_RUNNING } from './keys.js';

export interface Readiness {
  ready: number;
  total: number;
}

/** Counts one pod's ready app containers (the newest attempt of each name). Pure. */
export function countReady(containers: readonly Container__Output[], status: PodStatusFile | undefined, podReady: boolean): Readiness {
  const newest = newestByName(containers);
  let ready = 0;
  for (const c of newest) {
    const name = c.metadata?.name ?? c.id;
    const probed = c.annotations[ANN_READINESS_PROBE] === 'true';
    if (podReady && c.state === CONTAINER_RUNNING && (!probed || status?.ready[name] === true)) ready++;
  }
  return { ready, total: newest.length };
}

/** Every container, for podsReadiness (asked for beside ListPodSandbox: one round trip less). */
export async function listAllContainers(ctx: ClientContext): Promise<Container__Output[]> {
  return (await call(ctx.clients.runtime, 'ListContainers', {})).containers;
}

/** READY of each pod, by sandbox id, from every container (listAllContainers). */
export async function podsReadiness(
  ctx: ClientContext,
  pods: readonly PodSandbox__Output[],
  containers: readonly Container__Output[],
): Promise<Map<string, Readiness>> {
  const byPod = new Map<string, Container__Output[]>();
  for (const c of containers) byPod.set(c.pod_sandbox_id, [...(byPod.get(c.pod_sandbox_id) ?? []), c]);
  const probed = containers.some((c) => c.annotations[ANN_READINESS_PROBE] === 'true');
  const root = probed ? await runtimeRoot(ctx) : '';
  const out = new Map<string, Readiness>();
  for (const p of pods) {
    const mine = byPod.get(p.id) ?? [];
    const uid = p.labels[LABEL_POD_UID] === p.metadata?.uid ? (p.metadata?.uid ?? '') : '';
    const needsStatus = uid && mine.some((c) => c.annotations[ANN_READINESS_PROBE] === 'true');
    out.set(p.id, countReady(mine, needsStatus ? await (await import('./record.js')).readStatus(root, uid) : undefined, p.state === 0));
  }
  return out;
}
