import { call } from '../../src/client/client.js';
import type { BenchConfig } from '../config.js';
import { cpuSeconds, rssKiB } from '../proc.js';
import type { Target } from '../runtimes.js';
import { eachTarget, row } from '../sample.js';
import { msSince, percentile, pool, sleep, timed } from '../stats.js';
import type { Row } from '../table.js';
import { removeAllPods, startPod, stopRemovePod, type RunningPod } from '../workload.js';
import { podMemory } from './memory.js';

/** Pods started (and removed) at once, as kubelet's pod workers do. */
const CONCURRENCY = 5;
/** Pods whose PodSandboxStatus and ContainerStatus are asked each second. */
const STATUS_PODS_PER_TICK = 3;
const STATS_EVERY_TICKS = 10;

const LIST_CALLS = ['ListPodSandbox', 'ListContainers', 'ListContainerStats', 'ListPodSandboxStats'] as const;
type Measured = (typeof LIST_CALLS)[number] | 'PodSandboxStatus' | 'ContainerStatus';

interface NodeResult {
  startSeconds: number;
  removeSeconds: number;
  /** CPU seconds (own and reaped children) of the daemon and its monitors over the window, and of the daemon alone. */
  cpuTotal: number;
  cpuDaemon: number;
  latencies: Map<Measured, number[]>;
  daemonRssMiB: number;
  podPssKiB: number;
}

/** Daemon CPU, and monitors' CPU summed over the PIDs alive now. */
function cpuNow(t: Target): { daemon: number; monitors: Map<number, number> } {
  return { daemon: cpuSeconds(t.daemonPid), monitors: new Map(t.monitorPids().map((pid) => [pid, cpuSeconds(pid)])) };
}

async function runNode(t: Target, cfg: BenchConfig): Promise<NodeResult> {
  const pods: RunningPod[] = [];
  try {
    const [, startMs] = await timed(() =>
      pool(cfg.nodePods, CONCURRENCY, async (i) => {
        pods.push(await startPod(t, `node-${i}`, ['app', 'sidecar']));
      }),
    );
    await sleep(3000); // let start-up work (log readers, monitors' own start) settle

    const latencies = new Map<Measured, number[]>();
    const measure = async <T>(name: Measured, fn: () => Promise<T>): Promise<T> => {
      const [v, ms] = await timed(fn);
      latencies.set(name, [...(latencies.get(name) ?? []), ms]);
      return v;
    };
    const rt = t.clients.runtime;
    // One untimed round first: kubelet asks these every second for as long as the node runs, so
    // the window measures the steady state, not a daemon's first call of each kind (cribd's code
    // is compiled on first use, which alone made the p99 of 60 calls).
    const first = pods[0];
    for (const name of LIST_CALLS) await call(rt, name, {});
    if (first) {
      await call(rt, 'PodSandboxStatus', { pod_sandbox_id: first.podId });
      for (const id of first.containerIds) await call(rt, 'ContainerStatus', { container_id: id });
    }
    const before = cpuNow(t);
    const t0 = process.hrtime.bigint();
    for (let tick = 0; tick < cfg.nodeSeconds; tick++) {
      const wait = tick * 1000 - msSince(t0);
      if (wait > 0) await sleep(wait);
      // PLEG's relist, then the status of a few pods, as kubelet does each second.
      await measure('ListPodSandbox', () => call(rt, 'ListPodSandbox', {}));
      await measure('ListContainers', () => call(rt, 'ListContainers', {}));
      for (let k = 0; k < STATUS_PODS_PER_TICK; k++) {
        const pod = pods[(tick * STATUS_PODS_PER_TICK + k) % pods.length];
        if (!pod) continue;
        await measure('PodSandboxStatus', () => call(rt, 'PodSandboxStatus', { pod_sandbox_id: pod.podId }));
        for (const id of pod.containerIds) await measure('ContainerStatus', () => call(rt, 'ContainerStatus', { container_id: id }));
      }
      // The stats kubelet's summary API and eviction manager read.
      if (tick % STATS_EVERY_TICKS === 0) {
        await measure('ListContainerStats', () => call(rt, 'ListContainerStats', {}));
        await measure('ListPodSandboxStats', () => call(rt, 'ListPodSandboxStats', {}));
      }
    }
    const rest = cfg.nodeSeconds * 1000 - msSince(t0);
    if (rest > 0) await sleep(rest);
    const after = cpuNow(t);
    let monitorCpu = 0;
    for (const [pid, end] of after.monitors) {
      const start = before.monitors.get(pid);
      if (start !== undefined) monitorCpu += end - start;
    }
    const cpuDaemon = after.daemon - before.daemon;

    const daemonRssMiB = rssKiB(t.daemonPid) / 1024;
    let pss = 0;
    for (const p of pods) {
      const m = await podMemory(t, p);
      pss += m.pauseKiB + m.monitorKiB;
    }

    const [, removeMs] = await timed(() => pool(pods.length, CONCURRENCY, (i) => stopRemovePod(t, pods[i]?.podId ?? '')));
    pods.length = 0;
    return {
      startSeconds: startMs / 1000,
      removeSeconds: removeMs / 1000,
      cpuTotal: cpuDaemon + monitorCpu,
      cpuDaemon,
      latencies,
      daemonRssMiB,
      podPssKiB: pss / Math.max(1, cfg.nodePods),
    };
  } finally {
    // After a failure, what was started goes before the next runtime's turn.
    if (pods.length) await removeAllPods(t).catch(() => undefined);
  }
}

/**
 * 8. A node at kubelet's default capacity: N pods (default 110) of 2 containers each, started 5 at
 * a time; then one untimed round of the calls below (the steady state is measured, not each
 * daemon's first call), then a window of S seconds (default 60) of kubelet's polling: each second ListPodSandbox,
 * ListContainers, and PodSandboxStatus + ContainerStatus of 3 pods (rotating); every 10 s
 * ListContainerStats and ListPodSandboxStats. Reported: the CPU the daemon and its monitors used in
 * the window (utime+stime, plus the children they reaped), the p99 of each call, the daemon's RSS
 * and the runtime's PSS per pod with the node full, and the wall times to fill and empty the node.
 * One runtime at a time, so each window runs with the other runtime idle and empty.
 */
export async function nodeScenario(targets: readonly Target[], cfg: BenchConfig): Promise<Row[]> {
  const res = await eachTarget(targets, async (t) => {
    console.error(`bench: 8. node of ${cfg.nodePods} pods on ${t.name}`);
    return runNode(t, cfg);
  });
  const label = `${cfg.nodePods} pods x 2`;
  const p99 = (name: Measured) => (r: NodeResult) => {
    const xs = r.latencies.get(name);
    if (!xs?.length) throw new Error(`no ${name} samples`);
    return percentile(xs, 99);
  };
  return [
    row(`8. Node (${label}): start all, ${CONCURRENCY} at a time`, 's', 'lower', res, (r) => r.startSeconds),
    row(`8. Node: daemon+monitors CPU over ${cfg.nodeSeconds} s`, 's', 'lower', res, (r) => r.cpuTotal),
    row('8.   of which the daemon', 's', 'lower', res, (r) => r.cpuDaemon),
    row('8.   of which the monitors (conmons | shims)', 's', 'lower', res, (r) => r.cpuTotal - r.cpuDaemon),
    ...LIST_CALLS.map((c) => row(`8. Node: ${c} p99`, 'ms', 'lower', res, p99(c))),
    row('8. Node: PodSandboxStatus p99', 'ms', 'lower', res, p99('PodSandboxStatus')),
    row('8. Node: ContainerStatus p99', 'ms', 'lower', res, p99('ContainerStatus')),
    row('8. Node: daemon RSS, full', 'MiB', 'lower', res, (r) => r.daemonRssMiB),
    row('8. Node: PSS per 2-container pod: pause + monitors', 'KiB', 'lower', res, (r) => r.podPssKiB),
    row(`8. Node: stop+remove all, ${CONCURRENCY} at a time`, 's', 'lower', res, (r) => r.removeSeconds),
  ];
}
