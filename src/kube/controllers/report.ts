// What the controllers say about their workloads: a workload's name as messages give it, and how
// many of its pods are ready whenever that changes.
import type { Pod } from '../manifest/pod-spec.js';
import type { Workload } from '../manifest/workload.js';
import type { RunEnv } from '../pod/pod-run.js';

export const describeWorkload = (w: Pick<Workload, 'kind' | 'name' | 'namespace'>): string =>
  `${w.kind} ${w.namespace === 'default' ? '' : `${w.namespace}/`}${w.name}`;

/** Says how many of a controller's pods are ready whenever that changes. */
export function readinessReporter(env: RunEnv, w: Workload, total: number): (pod: Pod, ready: boolean) => void {
  const ready = new Set<string>();
  return (pod, r) => {
    if (r) ready.add(pod.name);
    else ready.delete(pod.name);
    if (w.kind !== 'Pod') env.say(`${describeWorkload(w)}: ${ready.size}/${total} pods ready`);
  };
}
