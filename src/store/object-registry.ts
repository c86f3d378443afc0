import { CribError, invalidArgument, notFound } from '../util/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { log } from '../util/log.js';
import { validateId } from '../util/validate.js';
import { RecordStore } from './records.js';

/** What the registry needs of a record: its id, and whether its creation was still under way. */
export interface Registrable {
  id: string;
  phase: string;
}

export interface RegistryOptions<T> {
  /** Where the records live (one JSON file per id). */
  dir: string;
  /** The CRI field that carries this kind's ids (`pod_sandbox_id`, `container_id`), for errors. */
  field: string;
  /** What to call one in messages (`sandbox`, `container`). */
  noun: string;
  /** The name a record holds: two live records never share one. */
  nameKey: (record: T) => string;
}

/**
 * The records of one kind of object, sandboxes or containers: durable (one fsynced file each), found
 * by full id or unique prefix, with names reserved while an object exists or is being created, and
 * a lock per id that serializes the calls touching one object.
 */
export class Registry<T extends Registrable> {
  private readonly items = new Map<string, T>();
  private readonly names = new Map<string, string>();
  private readonly locks = new KeyedLock();
  private readonly records: RecordStore<T>;

  constructor(private readonly o: RegistryOptions<T>) {
    this.records = new RecordStore<T>(o.dir);
  }

  /**
   * Loads every record. One still `creating` was interrupted by a crash: `rollback` undoes it and
   * its record goes; a rollback that fails is logged and retried at the next start.
   */
  async open(rollback: (record: T) => Promise<void>): Promise<void> {
    await this.records.open();
    for (const r of await this.records.loadAll()) {
      if (r.phase === 'creating') {
        log.warn(`rolling back a ${this.o.noun} whose creation was interrupted`, { id: r.id });
        await rollback(r).then(
          () => this.records.remove(r.id),
          (err: unknown) => log.error('rollback failed', { id: r.id, error: err }),
        );
        continue;
      }
      this.items.set(r.id, r);
      this.names.set(this.o.nameKey(r), r.id);
    }
  }

  /** Takes `key` for `id`; if another object holds it, ALREADY_EXISTS says which (`what` describes the name). */
  reserve(key: string, id: string, what: string): void {
    const holder = this.names.get(key);
    if (holder) throw new CribError('AlreadyExists', `${what} already exists as ${holder}`);
    this.names.set(key, id);
  }

  /** A created object joins the live set (its name was reserved by `reserve`). */
  add(record: T): void {
    this.items.set(record.id, record);
  }

  /** Writes the record durably. */
  save(record: T): Promise<void> {
    return this.records.put(record.id, record);
  }

  /** The object is gone: its record, its name and its place in the live set. */
  async delete(record: T): Promise<void> {
    await this.records.remove(record.id);
    this.items.delete(record.id);
    this.names.delete(this.o.nameKey(record));
  }

  /**
   * Undoes a creation that failed before the object joined the live set: `teardown` (idempotent,
   * tolerating steps that never happened), then its record and its name go. A failing teardown is
   * logged and the record kept, so the next start rolls it back again; the caller rethrows its error.
   */
  async rollback(record: T, teardown: (record: T) => Promise<void>): Promise<void> {
    await teardown(record)
      .then(() => this.records.remove(record.id))
      .catch((err: unknown) => log.error(`rolling back a failed ${this.o.noun} creation`, { id: record.id, error: err }));
    this.names.delete(this.o.nameKey(record));
  }

  has(id: string): boolean {
    return this.items.has(id);
  }

  values(): T[] {
    return [...this.items.values()];
  }

  /** By full id or a unique prefix of it, as crictl users type ids; undefined if there is none. */
  find(id: string): T | undefined {
    const exact = this.items.get(id);
    if (exact) return exact;
    if (!id) return undefined;
    const hits = this.values().filter((x) => x.id.startsWith(id));
    if (hits.length > 1) throw invalidArgument(this.o.field, `"${id}" is ambiguous: it prefixes ${hits.length} ${this.o.noun}s`);
    return hits[0];
  }

  /** For calls where the object must exist: a malformed id is INVALID_ARGUMENT, an unknown one NOT_FOUND. */
  get(id: string): T {
    validateId(this.o.field, id);
    const found = this.find(id);
    if (!found) throw notFound(`${this.o.noun} ${id}`);
    return found;
  }

  /** Runs `fn` with the object's lock held. */
  locked<R>(id: string, fn: () => Promise<R>): Promise<R> {
    return this.locks.run(id, fn);
  }
}
