import { crictl } from '../crictl.js';
import type { Target } from '../runtimes.js';
import { alternate, row } from '../sample.js';
import { percentile, timed } from '../stats.js';
import type { Row, RuntimeName } from '../table.js';
import type { RunningPod } from '../workload.js';

/**
 * 5a. Exec start to exit as a user sees it: the wall time of `crictl exec CONTAINER true` (the real
 * crictl: its start, the Exec call, the SPDY connection to the runtime's streaming server, the
 * command, its exit status), in the containers of scenario 2, alternating runtimes per run.
 */
export async function crictlExecScenario(targets: readonly Target[], pods: Map<RuntimeName, RunningPod[]>, n: number): Promise<Row[]> {
  const times = await alternate(targets, n, async (t, i) => {
    const list = pods.get(t.name) ?? [];
    const id = list[i % Math.max(1, list.length)]?.containerIds[0];
    if (!id) throw new Error('no running container (pod start failed)');
    return (await timed(() => crictl(t.socket, ['exec', id, 'true'])))[1];
  });
  return [
    row(`5. crictl exec CTR true p50 (${n} runs)`, 'ms', 'lower', times, (s) => percentile(s, 50)),
    row(`5. crictl exec CTR true p95 (${n} runs)`, 'ms', 'lower', times, (s) => percentile(s, 95)),
  ];
}
