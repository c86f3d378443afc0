import { call } from '../../src/client/client.js';
import type { Target } from '../runtimes.js';
import { alternate, row } from '../sample.js';
import { percentile, timed } from '../stats.js';
import type { Row, RuntimeName } from '../table.js';
import type { RunningPod } from '../workload.js';

/** 4. ExecSync of `true` (timeout 10 s) in the running containers of scenario 2, round robin, alternating runtimes per call. */
export async function execSyncScenario(targets: readonly Target[], pods: Map<RuntimeName, RunningPod[]>, n: number): Promise<Row[]> {
  const times = await alternate(targets, n, async (t, i) => {
    const list = pods.get(t.name) ?? [];
    const id = list[i % Math.max(1, list.length)]?.containerIds[0];
    if (!id) throw new Error('no running container (pod start failed)');
    const [res, ms] = await timed(() => call(t.clients.runtime, 'ExecSync', { container_id: id, cmd: ['true'], timeout: 10 }));
    if (res.exit_code !== 0) throw new Error(`ExecSync true exited ${res.exit_code}: ${res.stderr.toString()}`);
    return ms;
  });
  return [
    row(`4. ExecSync true p50 (${n} calls)`, 'ms', 'lower', times, (s) => percentile(s, 50)),
    row(`4. ExecSync true p95 (${n} calls)`, 'ms', 'lower', times, (s) => percentile(s, 95)),
  ];
}
