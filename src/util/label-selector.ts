// A List call's label selector, matched against each listed object's labels. The selector is the
// caller's (a 16 MiB request holds a million entries): its entries are listed once per call, not
// once per object, so a list costs the selector plus the objects, not their product.

const entriesOf = new WeakMap<Record<string, string>, [string, string][]>();

/** Every label of `selector` is on `labels` with the same value. */
export function matchesLabelSelector(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  let entries = entriesOf.get(selector);
  if (!entries) entriesOf.set(selector, (entries = Object.entries(selector)));
  for (const [k, v] of entries) if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  return true;
}
