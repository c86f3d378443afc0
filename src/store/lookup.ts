import { invalidArgument, notFound } from '../util/errors.js';
import { validateId } from '../sandbox/validate.js';

/** An object by its full id or a unique prefix of it, as crictl users type ids. */
export function findById<T extends { id: string }>(items: ReadonlyMap<string, T>, id: string, field: string, noun: string): T | undefined {
  const exact = items.get(id);
  if (exact) return exact;
  if (!id) return undefined;
  const hits = [...items.values()].filter((x) => x.id.startsWith(id));
  if (hits.length > 1) throw invalidArgument(field, `"${id}" is ambiguous: it prefixes ${hits.length} ${noun}s`);
  return hits[0];
}

/** Like findById, for calls where the object must exist: a malformed id is INVALID_ARGUMENT, an unknown one NOT_FOUND. */
export function getById<T extends { id: string }>(items: ReadonlyMap<string, T>, id: string, field: string, noun: string): T {
  validateId(field, id);
  const found = findById(items, id, field, noun);
  if (!found) throw notFound(`${noun} ${id}`);
  return found;
}
