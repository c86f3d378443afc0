// The objects of a manifest that are not workloads: ConfigMaps and Secrets (their data, which env
// vars and volumes take) and PersistentVolumeClaims (named volumes under cribd's root). Pure.
import type { Fields } from './fields.js';
import { ManifestError, isMap, quantityOf, readType, type Json } from './fields.js';
import { parseMetadata } from './pod-spec.js';
import { intValue } from '../quantity/quantity.js';
import { checkKey } from '../volumes/volume-spec.js';

/** A ConfigMap or a Secret: named bytes. */
export interface DataObject {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  namespace: string;
  data: Map<string, Buffer>;
  /** The object as written (JSON), which `crib generate` gives back. */
  source: Record<string, Json>;
}

export interface Claim {
  name: string;
  namespace: string;
  /** resources.requests.storage, not enforced (a directory has no size). */
  storageBytes?: bigint;
  source: Record<string, Json>;
}

/** At most this much data per object, as the API server (etcd's request limit). */
export const MAX_OBJECT_BYTES = 1 << 20;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function readData(f: Fields, key: string, base64: boolean, into: Map<string, Buffer>): void {
  const v = f.raw(key);
  if (v === undefined) return;
  if (!isMap(v)) throw new ManifestError(f.field(key), 'must be a map of keys to strings');
  for (const [k, val] of Object.entries(v)) {
    const field = `${f.field(key)}.${k}`;
    checkKey(field, k);
    if (typeof val !== 'string')
      throw new ManifestError(field, `must be a string${typeof val === 'number' || typeof val === 'boolean' ? ` (quote it: "${String(val)}")` : ''}`);
    if (base64) {
      const text = val.replace(/\s+/g, '');
      if (!BASE64.test(text) || text.length % 4 !== 0) throw new ManifestError(field, 'is not base64');
      into.set(k, Buffer.from(text, 'base64'));
    } else {
      into.set(k, Buffer.from(val, 'utf8'));
    }
  }
}

function checkSize(f: Fields, data: Map<string, Buffer>): void {
  const size = [...data].reduce((n, [k, v]) => n + k.length + v.length, 0);
  if (size > MAX_OBJECT_BYTES) throw new ManifestError(f.path || 'data', `holds ${size} bytes; at most ${MAX_OBJECT_BYTES} (1 MiB)`);
}

export function parseConfigMap(f: Fields): DataObject {
  readType(f, 'ConfigMap', ['v1']);
  const meta = parseMetadata(f);
  const data = new Map<string, Buffer>();
  readData(f, 'data', false, data);
  const binary = new Map<string, Buffer>();
  readData(f, 'binaryData', true, binary);
  for (const [k, v] of binary) {
    if (data.has(k)) throw new ManifestError(`${f.field('binaryData')}.${k}`, 'is also in data');
    data.set(k, v);
  }
  f.accept('immutable'); // nothing changes a ConfigMap while crib runs it
  checkSize(f, data);
  f.done();
  return { kind: 'ConfigMap', name: meta.name, namespace: meta.namespace, data, source: objectSource(f) };
}

export function parseSecret(f: Fields): DataObject {
  readType(f, 'Secret', ['v1']);
  const meta = parseMetadata(f);
  const data = new Map<string, Buffer>();
  readData(f, 'data', true, data);
  readData(f, 'stringData', false, data); // stringData wins over data, as the API server merges them
  // The type only constrains which keys the API server requires; the data is what counts here.
  f.str('type');
  f.accept('immutable');
  checkSize(f, data);
  f.done();
  return { kind: 'Secret', name: meta.name, namespace: meta.namespace, data, source: objectSource(f) };
}

/** A PersistentVolumeClaim, or a StatefulSet's volumeClaimTemplate (`template`: apiVersion and kind optional). */
export function parseClaim(f: Fields, opts: { template?: boolean } = {}): Claim {
  if (opts.template) f.accept('apiVersion', 'kind');
  else readType(f, 'PersistentVolumeClaim', ['v1']);
  const meta = parseMetadata(f);
  const claim: Claim = { name: meta.name, namespace: meta.namespace, source: objectSource(f) };
  f.sub('spec', (s) => {
    // One node: every access mode holds; the claim is a directory.
    s.list('accessModes', (m, p) => {
      if (m !== 'ReadWriteOnce' && m !== 'ReadOnlyMany' && m !== 'ReadWriteMany' && m !== 'ReadWriteOncePod') {
        throw new ManifestError(p, `${JSON.stringify(m)} is not an access mode`);
      }
      return m;
    });
    const mode = s.oneOf('volumeMode', ['Filesystem', 'Block'] as const, 'Filesystem');
    if (mode === 'Block') throw new ManifestError(s.field('volumeMode'), 'Block volumes are not supported by crib run (a claim is a directory)');
    s.sub('resources', (r) => {
      r.sub('requests', (q) => {
        // Kubernetes requires it; crib reads it but does not enforce it (a claim is a directory
        // under cribd's root), so it is no unsupported field.
        if (q.has('storage')) claim.storageBytes = intValue(quantityOf(q.field('storage'), q.raw('storage')));
      });
    });
  });
  f.accept('status');
  f.done();
  return claim;
}

/** The object as written (for `crib generate`), without what a cluster adds. */
function objectSource(f: Fields): Record<string, Json> {
  const out = f.copy();
  delete out['status'];
  return out;
}
