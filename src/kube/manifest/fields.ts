// Reading a Kubernetes object field by field: every map of a manifest is read through `Fields`,
// which remembers which keys were read; whatever was not read is named in a warning, so nothing is
// dropped silently. Plus the API server's rules for names and paths that every kind shares. Pure.
import { describe, parseQuantity, type Quantity } from '../quantity/quantity.js';

/** A manifest crib cannot run: `field` names the offending field (a YAML path), `reason` why. */
export class ManifestError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(field ? `${field}: ${reason}` : reason);
    this.name = 'ManifestError';
  }
}

export const unsupported = (field: string): string => `${field} is not supported by crib run; ignored`;

// ---- reading maps field by field -------------------------------------------------------------

export type Json = unknown;

export const isMap = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const join = (base: string, key: string): string => {
  const k = /^[A-Za-z_][\w-]*$/.test(key) ? key : `[${key}]`;
  return base ? (k.startsWith('[') ? `${base}${k}` : `${base}.${k}`) : k;
};

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: Damerau-Levenshtein, bounded inputs. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64 || b.length > 64) return 3;
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The one name a typo of `word` most likely meant (within 1 edit for short words, 2 for longer), if any. */
export function nearest(word: string, names: Iterable<string>): string | undefined {
  const limit = word.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestD = limit + 1;
  for (const n of names) {
    const dist = n.toLowerCase() === word.toLowerCase() ? 0.5 : editDistance(word, n);
    if (dist < bestD && n !== word) [best, bestD] = [n, dist];
  }
  return best;
}

/** The fields of one YAML map, read by name; the ones never read become warnings in `done()`. */
export class Fields {
  private readonly read = new Set<string>();
  /** Kubernetes' own field names of this map, when known: a key outside them is unknown (a typo when near one). */
  private known: ReadonlySet<string> | undefined;

  constructor(
    readonly path: string,
    private readonly map: Record<string, Json>,
    private readonly warnings: string[],
  ) {}

  static of(value: Json, path: string, warnings: string[]): Fields {
    if (!isMap(value)) throw new ManifestError(path, `expected a map, got ${describe(value)}`);
    return new Fields(path, value, warnings);
  }

  field(key: string): string {
    return join(this.path, key);
  }

  /** Another map of the same manifest (a list item), warning into the same list. */
  item(value: Json, path: string): Fields {
    return Fields.of(value, path, this.warnings);
  }

  /** The raw value (null counts as absent, as in Kubernetes); marks the key as handled. */
  raw(key: string): Json {
    this.read.add(key);
    const v = this.map[key];
    return v === null ? undefined : v;
  }

  /** A deep copy of the whole map, as written. */
  copy(): Record<string, Json> {
    return structuredClone(this.map);
  }

  has(key: string): boolean {
    return this.map[key] !== undefined && this.map[key] !== null;
  }

  str(key: string, opts: { required?: boolean; nonEmpty?: boolean } = {}): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === '') {
      if (opts.required) throw new ManifestError(this.field(key), 'required');
      if (v === '' && opts.nonEmpty) throw new ManifestError(this.field(key), 'must not be empty');
      return v === '' ? '' : undefined;
    }
    if (typeof v !== 'string')
      throw new ManifestError(
        this.field(key),
        `must be a string${typeof v === 'number' || typeof v === 'boolean' ? ` (quote it: "${String(v)}")` : `, got ${describe(v)}`}`,
      );
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw new ManifestError(this.field(key), `must be true or false, got ${describe(v)}`);
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new ManifestError(this.field(key), `must be an integer, got ${describe(v)}`);
    if (v < min || v > max) throw new ManifestError(this.field(key), `${v} is out of range (${min}..${max})`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback: T): T {
    const v = this.str(key);
    if (v === undefined || v === '') return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      throw new ManifestError(
        this.field(key),
        `"${v}" is not one of ${allowed
          .filter(Boolean)
          .map((a) => `"${a}"`)
          .join(', ')}`,
      );
    }
    return v as T;
  }

  /** A list; each item is handed to `each` with its path. */
  list<T>(key: string, each: (item: Json, path: string, index: number) => T): T[] {
    const v = this.raw(key);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new ManifestError(this.field(key), `must be a list, got ${describe(v)}`);
    return v.map((item, i) => each(item, `${this.field(key)}[${i}]`, i));
  }

  strList(key: string): string[] {
    return this.list(key, (item, path) => {
      if (typeof item !== 'string') {
        throw new ManifestError(
          path,
          `must be a string${typeof item === 'number' || typeof item === 'boolean' ? ` (quote it: "${String(item)}")` : `, got ${describe(item)}`}`,
        );
      }
      return item;
    });
  }

  strMap(key: string): Record<string, string> {
    const v = this.raw(key);
    if (v === undefined) return {};
    if (!isMap(v)) throw new ManifestError(this.field(key), `must be a map of strings, got ${describe(v)}`);
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'string') {
        throw new ManifestError(
          join(this.field(key), k),
          `must be a string${typeof val === 'number' || typeof val === 'boolean' ? ` (quote it: "${String(val)}")` : `, got ${describe(val)}`}`,
        );
      }
      out[k] = val;
    }
    return out;
  }

  /** A nested map read the same way (its own unread keys are warned about by `each`'s `done()`). */
  sub<T>(key: string, each: (f: Fields) => T): T | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    const f = Fields.of(v, this.field(key), this.warnings);
    const out = each(f);
    f.done();
    return out;
  }

  /** A number or a name (a port: `8080` or `http`). */
  intOrString(key: string): number | string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v === 'string' && v !== '') return /^\d+$/.test(v) ? Number(v) : v;
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    throw new ManifestError(this.field(key), `must be a number or a name, got ${describe(v)}`);
  }

  /** A file mode (0..0777; YAML 0644 is octal, JSON numbers are decimal as in Kubernetes). */
  mode(key: string): number | undefined {
    return this.int(key, 0, 0o777);
  }

  /** Marks keys as read that change nothing on one node (so they are not warned about). */
  accept(...keys: string[]): void {
    for (const k of keys) this.raw(k);
  }

  /** A warning of its own (a field that is read but only partly honoured). */
  warn(message: string): void {
    this.warnings.push(message);
  }

  /**
   * Kubernetes' field names of this kind of map (crib reads some). A key that is none of them is no
   * missing feature but an unknown field: an error naming the field it is close to (a typo), else
   * a warning (a field newer than this list).
   */
  schema(keys: readonly string[]): this {
    this.known = new Set(keys);
    return this;
  }

  /** Every key not read: one warning each; an unknown one near a known one is an error. */
  done(): void {
    for (const [k, v] of Object.entries(this.map)) {
      if (this.read.has(k) || v === null || v === undefined) continue;
      if (this.known && !this.known.has(k)) {
        const near = nearest(k, [...this.known, ...this.read]);
        if (near) throw new ManifestError(this.field(k), `unknown field (did you mean ${near}?)`);
        this.warnings.push(`${this.field(k)} is an unknown field; ignored`);
      } else this.warnings.push(unsupported(this.field(k)));
    }
  }
}

// ---- names ------------------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function dnsLabel(field: string, v: string): string {
  if (v.length > 63 || !DNS_LABEL.test(v)) {
    throw new ManifestError(
      field,
      `"${v}" must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`,
    );
  }
  return v;
}

export function dnsSubdomain(field: string, v: string): string {
  if (v.length > 253 || !DNS_SUBDOMAIN.test(v)) {
    throw new ManifestError(
      field,
      `"${v}" must be a DNS subdomain: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters`,
    );
  }
  return v;
}

export const absolute = (field: string, p: string): string => {
  if (!p.startsWith('/')) throw new ManifestError(field, `"${p}" must be an absolute path`);
  if (p.includes('\0')) throw new ManifestError(field, 'must not contain NUL');
  return p;
};

export function relativeSubPath(field: string, p: string): string {
  if (p.startsWith('/')) throw new ManifestError(field, `"${p}" must be a relative path`);
  if (p.split('/').includes('..')) throw new ManifestError(field, `"${p}" must not contain ".."`);
  if (p.includes('\0')) throw new ManifestError(field, 'must not contain NUL');
  return p;
}

export function quantityOf(field: string, v: Json): Quantity {
  const q = parseQuantity(v);
  if (typeof q === 'string') throw new ManifestError(field, q);
  return q;
}

/** Reads apiVersion and kind, checking the version is one the kind has. */
export function readType(f: Fields, kind: string, versions: readonly string[]): void {
  const v = f.str('apiVersion', { required: true });
  if (!v || !versions.includes(v))
    throw new ManifestError(f.field('apiVersion'), `"${v}" is not ${versions.join(' or ')} (a ${kind} is apiVersion: ${versions[0]})`);
  f.str('kind');
}
