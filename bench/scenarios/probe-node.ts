import { call } from '../../src/client/client.js';
import type { BenchConfig } from '../config.js';
import { cpuMark, cpuSince, emptyNode, fillNode } from '../node-load.js';
import type { Target } from '../runtimes.js';
import { eachTarget, row } from '../sample.js';
import { msSince, percentile, sleep, timed } from '../stats.js';
import type { Row } from '../table.js';
import { removeAllPods, type RunningPod } from '../workload.js';

/** kubelet's default periodSeconds and timeoutSeconds of a probe. */
const PROBE_PERIOD_MS = 10_000;
const PROBE_TIMEOUT_SECONDS = 1;
/** A readiness command as cheap as a probe's can be: what is measured is the runtime's part. */
const PROBE_COMMAND = ['true'];
const RELIST_PERIOD_MS = 1000;

interface ProbeNodeResult {
  /** Probe latencies in ms, and how many failed (an error, the timeout, or a non-zero exit). */
  probes: number[];
  failed: number;
  /** The relist's calls, in ms. */
  lists: number[];
  cpuTotal: number;
  cpuDaemon: number;
}

/** A container's state as PLEG compares it between relists. */
type Snapshot = Map<string, string>;

/**
 * PLEG's relist: ListPodSandbox and ListContainers; for each pod in which something changed since
 * the last relist, PodSandboxStatus and the ContainerStatus of its containers (kubelet's pod cache).
 */
async function relist(t: Target, last: Snapshot, lists: number[]): Promise<Snapshot> {
  const rt = t.clients.runtime;
  const [sandboxes, ms1] = await timed(() => call(rt, 'ListPodSandbox', {}));
  const [containers, ms2] = await timed(() => call(rt, 'ListContainers', {}));
  lists.push(ms1, ms2);
  const now: Snapshot = new Map();
  for (const s of sandboxes.items) now.set(s.id, `${s.state}`);
  for (const c of containers.containers) now.set(c.id, `${c.pod_sandbox_id} ${c.state}`);
  const changed = new Set<string>();
  for (const s of sandboxes.items) if (last.get(s.id) !== now.get(s.id)) changed.add(s.id);
  for (const c of containers.containers) if (last.get(c.id) !== now.get(c.id)) changed.add(c.pod_sandbox_id);
  for (const podId of changed) {
    await call(rt, 'PodSandboxStatus', { pod_sandbox_id: podId });
    for (const c of containers.containers) if (c.pod_sandbox_id === podId) await call(rt, 'ContainerStatus', { container_id: c.id });
  }
  return now;
}

async function runProbeNode(t: Target, cfg: BenchConfig): Promise<ProbeNodeResult> {
  const pods: RunningPod[] = [];
  try {
    await fillNode(t, pods, cfg.nodePods, 'probe', ['app']);
    await sleep(3000); // start-up work settles
    const rt = t.clients.runtime;
    // Untimed: the first relist (sees every pod as new) and one probe, so that the window is the steady state.
    let snapshot = await relist(t, new Map(), []);
    const first = pods[0]?.containerIds[0];
    if (first) await call(rt, 'ExecSync', { container_id: first, cmd: PROBE_COMMAND, timeout: PROBE_TIMEOUT_SECONDS });

    const windowMs = cfg.nodeSeconds * 1000;
    const res: ProbeNodeResult = { probes: [], failed: 0, lists: [], cpuTotal: 0, cpuDaemon: 0 };
    const before = cpuMark(t);
    const t0 = process.hrtime.bigint();
    // Each container's probe worker, as kubelet's: its first probe at a spread offset, then one per
    // period (a probe that overruns its period delays the next, never doubles up).
    const worker = async (containerId: string, offsetMs: number): Promise<void> => {
      for (let due = offsetMs; due < windowMs; due += PROBE_PERIOD_MS) {
        const wait = due - msSince(t0);
        if (wait > 0) await sleep(wait);
        const start = process.hrtime.bigint();
        try {
          const r = await call(rt, 'ExecSync', { container_id: containerId, cmd: PROBE_COMMAND, timeout: PROBE_TIMEOUT_SECONDS });
          if (r.exit_code !== 0) res.failed++;
        } catch {
          res.failed++;
        }
        res.probes.push(msSince(start));
      }
    };
    const relistLoop = async (): Promise<void> => {
      for (let due = 0; due < windowMs; due += RELIST_PERIOD_MS) {
        const wait = due - msSince(t0);
        if (wait > 0) await sleep(wait);
        snapshot = await relist(t, snapshot, res.lists);
      }
    };
    const ids = pods.flatMap((p) => p.containerIds);
    await Promise.all([relistLoop(), ...ids.map((id, i) => worker(id, (i * PROBE_PERIOD_MS) / ids.length))]);
    const cpu = cpuSince(t, before);
    res.cpuTotal = cpu.total;
    res.cpuDaemon = cpu.daemon;
    await emptyNode(t, pods);
    return res;
  } finally {
    if (pods.length) await removeAllPods(t).catch(() => undefined);
  }
}

/**
 * 11. A node of exec probes: N pods (default 110) of one container, each with an exec readiness
 * probe every 10 s (ExecSync of `true`, kubelet's default 1 s timeout; first probes spread over the
 * period, as kubelet's workers start at random), while PLEG relists every second (ListPodSandbox,
 * ListContainers, and the status calls of a pod that changed). Reported over a window of S seconds:
 * the CPU of the daemon and its monitors with every process they reaped (runc, crib-io, the probe
 * commands themselves), the probes' p50 and p99, the failed probes, and the relist calls' p99.
 * One runtime at a time.
 */
export async function probeNodeScenario(targets: readonly Target[], cfg: BenchConfig): Promise<Row[]> {
  const res = await eachTarget(targets, async (t) => {
    console.error(`bench: 11. exec-probe node of ${cfg.nodePods} pods on ${t.name}`);
    return runProbeNode(t, cfg);
  });
  const probes = `${cfg.nodePods} pods, a probe each per 10 s`;
  return [
    row(`11. Probe node (${probes}): CPU over ${cfg.nodeSeconds} s`, 's', 'lower', res, (r) => r.cpuTotal),
    row('11.   of which the daemon (and what it reaped)', 's', 'lower', res, (r) => r.cpuDaemon),
    row('11. Probe node: ExecSync probe p50', 'ms', 'lower', res, (r) => percentile(r.probes, 50)),
    row('11. Probe node: ExecSync probe p99', 'ms', 'lower', res, (r) => percentile(r.probes, 99)),
    row('11. Probe node: probes failed or timed out', 'n', 'lower', res, (r) => r.failed),
    row('11. Probe node: relist calls p99', 'ms', 'lower', res, (r) => percentile(r.lists, 99)),
  ];
}
