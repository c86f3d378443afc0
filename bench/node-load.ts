import { cpuSeconds } from './proc.js';
import type { Target } from './runtimes.js';
import { pool, timed } from './stats.js';
import { startPod, stopRemovePod, type RunningPod } from './workload.js';

/** What the node scenarios share: filling a node as kubelet's pod workers do, the CPU its runtime uses over a window, emptying it. */

/** Pods started (and removed) at once, as kubelet's pod workers do. */
export const NODE_CONCURRENCY = 5;

/**
 * Starts `n` pods of the named containers, NODE_CONCURRENCY at a time, each pushed to `pods` as it
 * comes up (so a caller's cleanup finds them after a failure); resolves with the wall seconds.
 */
export async function fillNode(t: Target, pods: RunningPod[], n: number, prefix: string, containers: readonly string[]): Promise<number> {
  const [, ms] = await timed(() =>
    pool(n, NODE_CONCURRENCY, async (i) => {
      pods.push(await startPod(t, `${prefix}-${i}`, containers));
    }),
  );
  return ms / 1000;
}

/** Stops and removes the pods, NODE_CONCURRENCY at a time; resolves with the wall seconds. */
export async function emptyNode(t: Target, pods: RunningPod[]): Promise<number> {
  const [, ms] = await timed(() => pool(pods.length, NODE_CONCURRENCY, (i) => stopRemovePod(t, pods[i]?.podId ?? '')));
  pods.length = 0;
  return ms / 1000;
}

/** CPU seconds so far (own and reaped children) of the daemon, and of each monitor alive now. */
export interface CpuMark {
  daemon: number;
  monitors: Map<number, number>;
}

export function cpuMark(t: Target): CpuMark {
  return { daemon: cpuSeconds(t.daemonPid), monitors: new Map(t.monitorPids().map((pid) => [pid, cpuSeconds(pid)])) };
}

/**
 * The CPU the runtime used since `before`: the daemon's, and its monitors' (those alive at both
 * marks), each with the children it reaped. Every process a call spawns (runc, CNI plugins, an
 * exec'd command and its subreaper) is a child of one of them, so its CPU is in their sum once it
 * has been reaped.
 */
export function cpuSince(t: Target, before: CpuMark): { total: number; daemon: number } {
  const after = cpuMark(t);
  let monitors = 0;
  for (const [pid, end] of after.monitors) {
    const start = before.monitors.get(pid);
    if (start !== undefined) monitors += end - start;
  }
  const daemon = after.daemon - before.daemon;
  return { total: daemon + monitors, daemon };
}
