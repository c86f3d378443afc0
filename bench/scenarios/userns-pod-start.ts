import { call } from '../../src/client/client.js';
import type { Target } from '../runtimes.js';
import { row, type Outcome } from '../sample.js';
import { msSince, percentile } from '../stats.js';
import type { Row } from '../table.js';
import { podConfig, startContainer, stopRemovePod } from '../workload.js';

/** kubelet's per-pod length; the bench's pods take blocks far above the node's users. */
const LENGTH = 65536;
const FIRST_BLOCK = 64;

/**
 * 10. Pod start with the pod's own user namespace (CRI userns_options POD, kubelet's mapping of
 * 65536 ids): scenario 2's calls, crib only, beside the same pod without one on the same cribd,
 * alternating per pod. containerd 1.6 here has no user namespaces for pods (1.7's need a
 * remapping snapshotter, 2.0 idmapped mounts), so the second column is crib without a user
 * namespace. What the namespace adds: crib-io userns (the namespace and the netns inside it),
 * crib-io idmap for pause's root and for each container's layers.
 */
export async function usernsPodStartScenario(crib: Target, n: number): Promise<Row[]> {
  const times = { userns: [] as { total: number; sandbox: number }[], plain: [] as { total: number; sandbox: number }[] };
  const errors: { userns?: unknown; plain?: unknown } = {};
  const pods: string[] = [];
  const one = async (i: number, userns: boolean) => {
    const config = podConfig(crib, `userns-${userns ? 'own' : 'node'}-${i}`);
    if (userns) {
      const ids = [{ container_id: 0, host_id: (FIRST_BLOCK + i) * LENGTH, length: LENGTH }];
      const ns = { userns_options: { mode: 'POD' as const, uids: ids, gids: ids } };
      config.linux = { ...config.linux, security_context: { namespace_options: ns } };
    }
    const t0 = process.hrtime.bigint();
    const podId = (await call(crib.clients.runtime, 'RunPodSandbox', { config })).pod_sandbox_id;
    pods.push(podId);
    const sandbox = msSince(t0);
    await startContainer(crib, podId, config, 'app');
    return { total: msSince(t0), sandbox };
  };
  try {
    for (let i = 0; i < n; i++) {
      for (const kind of ['userns', 'plain'] as const) {
        if (errors[kind] !== undefined) continue;
        await one(i, kind === 'userns').then(
          (s) => times[kind].push(s),
          (err: unknown) => (errors[kind] = err),
        );
      }
    }
  } finally {
    for (const id of pods) await stopRemovePod(crib, id).catch(() => undefined);
  }
  const outcome = <T>(xs: T, err: unknown): Outcome<T> => (err === undefined ? { ok: true, value: xs } : { ok: false, error: err });
  const both = { crib: outcome(times.userns, errors.userns), containerd: outcome(times.plain, errors.plain) };
  const against = 'crib, no user namespace';
  return [
    row(
      '10. Pod start p50, own user namespace',
      'ms',
      'lower',
      both,
      (s) =>
        percentile(
          s.map((x) => x.total),
          50,
        ),
      against,
    ),
    row(
      '10. Pod start p95, own user namespace',
      'ms',
      'lower',
      both,
      (s) =>
        percentile(
          s.map((x) => x.total),
          95,
        ),
      against,
    ),
    row(
      '10. RunPodSandbox p50, own user namespace',
      'ms',
      'lower',
      both,
      (s) =>
        percentile(
          s.map((x) => x.sandbox),
          50,
        ),
      against,
    ),
  ];
}
