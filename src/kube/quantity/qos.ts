// A pod's QoS class from its containers' requests and limits, and the oom_score_adj kubelet gives
// each container for it (pkg/apis/core/v1/helper/qos, pkg/kubelet/qos/policy.go). Pure.
import type { ContainerSpec, PodSpec } from '../manifest/pod-spec.js';

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

export const GUARANTEED_OOM_SCORE_ADJ = -997;
export const BEST_EFFORT_OOM_SCORE_ADJ = 1000;

/**
 * Guaranteed: every container (init ones too) has CPU and memory limits and requests equal to
 * them; BestEffort: no container has any request or limit; Burstable: the rest.
 */
export function qosClass(spec: PodSpec): QosClass {
  const all = [...spec.initContainers, ...spec.containers];
  const positive = (v: bigint | undefined) => v !== undefined && v > 0n;
  const any = all.some(
    (c) =>
      positive(c.resources.requests.cpuMilli) ||
      positive(c.resources.requests.memoryBytes) ||
      positive(c.resources.limits.cpuMilli) ||
      positive(c.resources.limits.memoryBytes),
  );
  if (!any) return 'BestEffort';
  const guaranteed = all.every((c) => {
    const { limits, requests } = c.resources;
    return positive(limits.cpuMilli) && positive(limits.memoryBytes) && requests.cpuMilli === limits.cpuMilli && requests.memoryBytes === limits.memoryBytes;
  });
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/**
 * kubelet's GetContainerOOMScoreAdjust: Guaranteed -997, BestEffort 1000, Burstable
 * 1000 - 1000 * memory request / node memory, kept within 3..999 (above Guaranteed, below BestEffort).
 */
export function oomScoreAdj(qos: QosClass, c: ContainerSpec, memoryCapacity: bigint): number {
  if (qos === 'Guaranteed') return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === 'BestEffort') return BEST_EFFORT_OOM_SCORE_ADJ;
  const request = c.resources.requests.memoryBytes ?? 0n;
  const adj = memoryCapacity > 0n ? 1000n - (1000n * request) / memoryCapacity : 1000n;
  if (adj < 1000n + BigInt(GUARANTEED_OOM_SCORE_ADJ)) return 1000 + GUARANTEED_OOM_SCORE_ADJ;
  if (adj === BigInt(BEST_EFFORT_OOM_SCORE_ADJ)) return BEST_EFFORT_OOM_SCORE_ADJ - 1;
  return Number(adj);
}
