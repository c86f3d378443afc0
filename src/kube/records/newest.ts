// The newest attempt of each container of a pod, as kubelet counts restarts: used by readiness, crib pods
// and the CLI's addressing.
import { ANN_CONTAINER_TYPE } from './keys.js';
import type { Container__Output } from '../../cri/generated/runtime/v1/Container.js';

/** The newest attempt of each app container of a pod (init containers left out), oldest created first. Pure. */
export function newestByName(containers: readonly Container__Output[]): Container__Output[] {
  const newest = new Map<string, Container__Output>();
  for (const c of containers) {
    if (c.annotations[ANN_CONTAINER_TYPE] === 'init') continue;
    const name = c.metadata?.name ?? c.id;
    const prev = newest.get(name);
    if (!prev || (c.metadata?.attempt ?? 0) > (prev.metadata?.attempt ?? 0)) newest.set(name, c);
  }
  return [...newest.values()].sort((a, b) => (BigInt(a.created_at || '0') < BigInt(b.created_at || '0') ? -1 : 1));
}
