import { matchesLabelSelector } from '../util/label-selector.js';
import type { ContainerFilter, ContainerView } from './types.js';

/** ListContainers' filter: id prefix, state, pod sandbox id (prefix) and every selector label. */
export function matchesContainerFilter(v: ContainerView, f: ContainerFilter | undefined): boolean {
  if (!f) return true;
  const c = v.container;
  if (f.id && !c.id.startsWith(f.id)) return false;
  if (f.state && v.state !== f.state) return false;
  if (f.sandboxId && !c.sandboxId.startsWith(f.sandboxId)) return false;
  return matchesLabelSelector(c.config.labels, f.labelSelector);
}
