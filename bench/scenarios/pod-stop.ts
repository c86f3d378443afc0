import type { Target } from '../runtimes.js';
import { alternate, row } from '../sample.js';
import { percentile, timed } from '../stats.js';
import type { Row, RuntimeName } from '../table.js';
import { stopRemovePod, type RunningPod } from '../workload.js';

/**
 * 3. StopPodSandbox + RemovePodSandbox of the pods scenario 2 started (one running container each,
 * which ends at once on SIGTERM), timed as one, alternating runtimes per pod.
 */
export async function podStopScenario(targets: readonly Target[], pods: Map<RuntimeName, RunningPod[]>): Promise<Row[]> {
  const n = Math.max(0, ...targets.map((t) => pods.get(t.name)?.length ?? 0));
  const times = await alternate(targets, n, async (t, i) => {
    const pod = pods.get(t.name)?.[i];
    if (!pod) throw new Error('no pod to stop (pod start failed)');
    return (await timed(() => stopRemovePod(t, pod.podId)))[1];
  });
  return [
    row('3. Stop+RemovePodSandbox p50, 1 container', 'ms', 'lower', times, (s) => percentile(s, 50)),
    row('3. Stop+RemovePodSandbox p95, 1 container', 'ms', 'lower', times, (s) => percentile(s, 95)),
  ];
}
