import { matchesLabelSelector } from '../util/label-selector.js';
import type { SandboxFilter, SandboxView } from './types.js';

/** ListPodSandbox's filter: id (full or prefix), state, and every label of the selector. */
export function matchesFilter(v: SandboxView, f: SandboxFilter | undefined): boolean {
  if (!f) return true;
  if (f.id && !v.sandbox.id.startsWith(f.id)) return false;
  if (f.state && v.state !== f.state) return false;
  return matchesLabelSelector(v.sandbox.config.labels, f.labelSelector);
}
