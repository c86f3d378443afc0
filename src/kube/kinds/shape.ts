// Edits a controller makes to a pod spec's JSON beside the typed spec (what `crib generate` prints).
import type { Json } from '../manifest/fields.js';

/** A copy of the pod spec JSON with `edit` applied. */
export function editSource(source: Record<string, Json>, edit: (s: Record<string, Json>) => void): Record<string, Json> {
  const out = structuredClone(source);
  edit(out);
  return out;
}
