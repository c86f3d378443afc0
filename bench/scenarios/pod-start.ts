import type { BenchConfig } from '../config.js';
import type { Target } from '../runtimes.js';
import { alternate, row } from '../sample.js';
import { msSince, percentile } from '../stats.js';
import type { Row, RuntimeName } from '../table.js';
import { runPod, startContainer, type RunningPod } from '../workload.js';

/**
 * 2. Pod start, image present: RunPodSandbox, CreateContainer, StartContainer (one busybox
 * container running `sh` waiting on a `sleep`), timed as one, N pods alternating runtimes per pod.
 * The pods stay up for the scenarios that need running containers (ExecSync, crictl exec, memory,
 * CLI, and last stop + remove).
 */
export async function podStartScenario(targets: readonly Target[], cfg: BenchConfig): Promise<{ rows: Row[]; pods: Map<RuntimeName, RunningPod[]> }> {
  const pods = new Map<RuntimeName, RunningPod[]>(targets.map((t) => [t.name, []]));
  const started = await alternate(targets, cfg.pods, async (t, i) => {
    const t0 = process.hrtime.bigint();
    const { podId, config } = await runPod(t, `start-${i}`);
    const sandboxMs = msSince(t0);
    const containerId = await startContainer(t, podId, config, 'app');
    const total = msSince(t0);
    pods.get(t.name)?.push({ podId, containerIds: [containerId] });
    return { total, container: total - sandboxMs };
  });
  return {
    pods,
    rows: [
      row('2. Pod start p50 (RunPodSandbox+Create+Start)', 'ms', 'lower', started, (s) =>
        percentile(
          s.map((x) => x.total),
          50,
        ),
      ),
      row('2. Pod start p95 (RunPodSandbox+Create+Start)', 'ms', 'lower', started, (s) =>
        percentile(
          s.map((x) => x.total),
          95,
        ),
      ),
      row('2. CreateContainer+StartContainer p50', 'ms', 'lower', started, (s) =>
        percentile(
          s.map((x) => x.container),
          50,
        ),
      ),
    ],
  };
}
