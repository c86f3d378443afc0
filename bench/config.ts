/** The bench's knobs, from the environment (see bench/README.md). */

export interface BenchConfig {
  /** Pods per latency scenario (RunPodSandbox sequential and at concurrency 10, pod start, stop+remove, ExecSync). */
  pods: number;
  /** Runs of `crictl exec` and of each CLI. */
  execs: number;
  /** Size of the port-forward download, and how many downloads per runtime. */
  portForwardMB: number;
  portForwardRounds: number;
  /** The node scenario: pods of 2 containers, and seconds of kubelet-like polling. */
  nodePods: number;
  nodeSeconds: number;
  /** Scenario numbers to run (CRIB_BENCH_ONLY=1,4,8); all when unset. */
  only: ReadonlySet<number> | undefined;
  /** Also run the older image benchmark (pull of ~100 MB from a local registry, crib against skopeo + tar). */
  images: boolean;
}

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: want an integer of at least ${min}`);
  return n;
}

export function benchConfig(): BenchConfig {
  const only = process.env['CRIB_BENCH_ONLY'];
  return {
    pods: intFromEnv('CRIB_BENCH_PODS', 30, 1),
    execs: intFromEnv('CRIB_BENCH_EXECS', 20, 1),
    portForwardMB: intFromEnv('CRIB_BENCH_PF_MB', 100, 1),
    portForwardRounds: intFromEnv('CRIB_BENCH_PF_ROUNDS', 3, 1),
    nodePods: intFromEnv('CRIB_BENCH_NODE_PODS', 110, 1),
    nodeSeconds: intFromEnv('CRIB_BENCH_NODE_SECONDS', 60, 1),
    only: only ? new Set(only.split(',').map((s) => Number(s.trim()))) : undefined,
    images: process.env['CRIB_BENCH_IMAGES'] === '1',
  };
}
