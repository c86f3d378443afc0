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
  /** CRIB_BENCH_QUICK=1: smaller defaults for a look in a few minutes (each knob set explicitly still wins). */
  quick: boolean;
}

/** Defaults of a full run (the node: 110 pods, 60 s) and of a quick one. */
const DEFAULTS = {
  full: { pods: 20, execs: 15, portForwardMB: 100, portForwardRounds: 3, nodePods: 110, nodeSeconds: 60 },
  quick: { pods: 8, execs: 8, portForwardMB: 20, portForwardRounds: 2, nodePods: 30, nodeSeconds: 20 },
} as const;

function intFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: want an integer of at least ${min}`);
  return n;
}

export function benchConfig(): BenchConfig {
  const only = process.env['CRIB_BENCH_ONLY'];
  const quick = process.env['CRIB_BENCH_QUICK'] === '1';
  const d = quick ? DEFAULTS.quick : DEFAULTS.full;
  return {
    pods: intFromEnv('CRIB_BENCH_PODS', d.pods, 1),
    execs: intFromEnv('CRIB_BENCH_EXECS', d.execs, 1),
    portForwardMB: intFromEnv('CRIB_BENCH_PF_MB', d.portForwardMB, 1),
    portForwardRounds: intFromEnv('CRIB_BENCH_PF_ROUNDS', d.portForwardRounds, 1),
    nodePods: intFromEnv('CRIB_BENCH_NODE_PODS', d.nodePods, 1),
    nodeSeconds: intFromEnv('CRIB_BENCH_NODE_SECONDS', d.nodeSeconds, 1),
    only: only ? new Set(only.split(',').map((s) => Number(s.trim()))) : undefined,
    images: process.env['CRIB_BENCH_IMAGES'] === '1',
    quick,
  };
}
