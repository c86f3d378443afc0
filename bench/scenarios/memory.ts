import { call } from '../../src/client/client.js';
import { pssKiB, readStat, rssKiB, rssAnonKiB } from '../proc.js';
import type { Target } from '../runtimes.js';
import { eachTarget, row } from '../sample.js';
import type { Row, RuntimeName } from '../table.js';
import { verbosePid, type RunningPod } from '../workload.js';

const MONITORS = new Set(['conmon', 'containerd-shim']);

export interface PodMemory {
  pauseKiB: number;
  monitorKiB: number;
}

/**
 * What the runtime adds to one running pod, in PSS (/proc/PID/smaps_rollup: shared pages divided
 * among the processes that map them): pause, and the monitors that are the parents of pause and of
 * the app container's process (crib: a conmon each; containerd: the pod's one shim).
 */
export async function podMemory(t: Target, pod: RunningPod): Promise<PodMemory> {
  const sandbox = await call(t.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: pod.podId, verbose: true });
  const pausePid = verbosePid(sandbox.info);
  const monitors = new Set<number>();
  for (const id of [...pod.containerIds]) {
    const status = await call(t.clients.runtime, 'ContainerStatus', { container_id: id, verbose: true });
    monitors.add(readStat(verbosePid(status.info))?.ppid ?? 0);
  }
  monitors.add(readStat(pausePid)?.ppid ?? 0);
  let monitorKiB = 0;
  for (const pid of monitors) {
    const comm = readStat(pid)?.comm ?? 'gone';
    if (!MONITORS.has(comm)) throw new Error(`the parent of a pod process is ${comm}[${pid}], not a monitor`);
    monitorKiB += pssKiB(pid);
  }
  return { pauseKiB: pssKiB(pausePid), monitorKiB };
}

/** 6. Runtime memory per running 1-container pod, averaged over the pods of scenario 2. */
export async function podMemoryScenario(targets: readonly Target[], pods: Map<RuntimeName, RunningPod[]>): Promise<Row[]> {
  const measured = await eachTarget(targets, async (t) => {
    const list = pods.get(t.name) ?? [];
    if (list.length === 0) throw new Error('no running pods (pod start failed)');
    const out: PodMemory[] = [];
    for (const p of list) out.push(await podMemory(t, p));
    return out;
  });
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return [
    row('6. PSS per 1-container pod: pause + monitors', 'KiB', 'lower', measured, (m) => mean(m.map((x) => x.pauseKiB + x.monitorKiB))),
    row('6.   of which monitors (conmon | shim)', 'KiB', 'lower', measured, (m) => mean(m.map((x) => x.monitorKiB))),
    row('6.   of which pause', 'KiB', 'lower', measured, (m) => mean(m.map((x) => x.pauseKiB))),
  ];
}

/**
 * 7. The daemon's resident set, idle: after start, the image imports and one warm-up pod, with no
 * pod left. Then its anonymous part alone (heap, stacks): the rest are pages of the program's file,
 * shared with every process that runs it (cribd: 40-45 MiB of node's 95 MiB binary; containerd:
 * about 30 MiB of its own), which the node's page cache holds once.
 */
export async function idleRssScenario(targets: readonly Target[]): Promise<Row[]> {
  const rss = await eachTarget(targets, async (t) => ({ all: rssKiB(t.daemonPid) / 1024, anon: rssAnonKiB(t.daemonPid) / 1024 }));
  return [row('7. Daemon RSS, idle', 'MiB', 'lower', rss, (v) => v.all), row('7.   of which anonymous (RssAnon)', 'MiB', 'lower', rss, (v) => v.anon)];
}
