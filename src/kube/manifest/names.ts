// The names controllers give their pods, as Kubernetes makes them: a Deployment's
// `NAME-HASH-XXXXX` (the pod template's hash, then 5 random characters), a ReplicaSet's, a
// DaemonSet's and a Job's `NAME-XXXXX`, a StatefulSet's `NAME-ORDINAL`. Pure (the randomness is
// passed in).
import type { Json } from './fields.js';

/** k8s.io/apimachinery's rand alphabet: no vowels (no words) and no look-alikes (0, 1, 3). */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';
/** names.SimpleNameGenerator: generateName is cut to this before the 5 random characters. */
const MAX_GENERATED_BASE = 63 - 5;

/** A source of numbers in [0, 1), like Math.random. */
export type Random = () => number;

/** utilrand.String: `n` characters of the alphabet. */
export function randomSuffix(n: number, random: Random): string {
  let out = '';
  for (let i = 0; i < n; i++) out += ALPHANUMS.charAt(Math.floor(random() * ALPHANUMS.length) % ALPHANUMS.length);
  return out;
}

/** rand.SafeEncodeString: each character mapped into the alphabet (so a hash spells no words). */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += ALPHANUMS.charAt(s.charCodeAt(i) % ALPHANUMS.length);
  return out;
}

/** 32-bit FNV-1a of a string's UTF-8 bytes (the hash Kubernetes uses for pod templates). */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** JSON with every map's keys sorted, so equal templates hash equally whatever their key order. */
export function canonicalJson(v: Json): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const m = v as Record<string, Json>;
    return `{${Object.keys(m)
      .sort()
      .filter((k) => m[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(m[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** controller.ComputeHash's shape: the template's FNV-1a, in decimal, safe-encoded (e.g. "7d4b9c8f6"). */
export function templateHash(template: Json): string {
  return safeEncode(String(fnv32a(canonicalJson(template))));
}

/** generateName: BASE (cut to 58) followed by 5 random characters. */
export function generateName(base: string, random: Random): string {
  return `${base.length > MAX_GENERATED_BASE ? base.slice(0, MAX_GENERATED_BASE) : base}${randomSuffix(5, random)}`;
}
