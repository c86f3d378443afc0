import type { BenchConfig } from '../config.js';
import type { Target } from '../runtimes.js';
import { alternate, row } from '../sample.js';
import { msSince, percentile, timed } from '../stats.js';
import type { Row } from '../table.js';
import { removeAllPods, runPod, stopRemovePod } from '../workload.js';

const CONCURRENCY = 10;

/**
 * 1. RunPodSandbox alone (no containers): N one after another, alternating runtimes per pod; then N
 * at concurrency 10 in rounds of 10, alternating runtimes per round (each call timed on its own).
 * The sequential pods are then stopped and removed (StopPodSandbox + RemovePodSandbox of a pod
 * without containers), alternating per pod, which gives a row of its own.
 */
export async function runPodSandboxScenario(targets: readonly Target[], cfg: BenchConfig): Promise<Row[]> {
  const ids = new Map<string, string[]>(targets.map((t) => [t.name, []]));
  const sequential = await alternate(targets, cfg.pods, async (t, i) => {
    const [pod, ms] = await timed(() => runPod(t, `seq-${i}`));
    ids.get(t.name)?.push(pod.podId);
    return ms;
  });
  const emptyStopRemove = await alternate(targets, cfg.pods, async (t, i) => {
    const id = ids.get(t.name)?.[i];
    if (id === undefined) throw new Error('no pod left from the sequential runs');
    return (await timed(() => stopRemovePod(t, id)))[1];
  });

  const rounds = Math.ceil(cfg.pods / CONCURRENCY);
  const concurrent = await alternate(targets, rounds, (t, r) => {
    const inRound = Math.min(CONCURRENCY, cfg.pods - r * CONCURRENCY);
    return Promise.all(
      Array.from({ length: inRound }, async (_, k) => {
        const t0 = process.hrtime.bigint();
        await runPod(t, `conc-${r * CONCURRENCY + k}`);
        return msSince(t0);
      }),
    );
  });
  for (const t of targets) await removeAllPods(t).catch(() => undefined);

  return [
    row(`1. RunPodSandbox p50, ${cfg.pods} sequential`, 'ms', 'lower', sequential, (s) => percentile(s, 50)),
    row(`1. RunPodSandbox p95, ${cfg.pods} sequential`, 'ms', 'lower', sequential, (s) => percentile(s, 95)),
    row(`1. RunPodSandbox p50, ${cfg.pods} at concurrency ${CONCURRENCY}`, 'ms', 'lower', concurrent, (r) => percentile(r.flat(), 50)),
    row(`1. RunPodSandbox p95, ${cfg.pods} at concurrency ${CONCURRENCY}`, 'ms', 'lower', concurrent, (r) => percentile(r.flat(), 95)),
    row('1. Stop+RemovePodSandbox p50, no containers', 'ms', 'lower', emptyStopRemove, (s) => percentile(s, 50)),
  ];
}
