// Image configs (OCI image config / Docker image JSON): the part crib uses, checked. Configs come
// from registries and archives, so every field is checked for its type before it reaches a
// container spec, and only the fields crib reads are kept (the store's index stays small).
// Pure: no I/O.
import { CribError } from '../util/errors.js';
import { parseUntrustedJson } from '../util/json.js';
import { validateDigest } from './reference.js';
import type { ImageRuntimeConfig } from './types.js';

export interface ParsedImageConfig {
  /** The runtime fields crib uses; absent ones (or null, as Docker writes them) are left out. */
  config: ImageRuntimeConfig;
  /** rootfs.diff_ids: the digests of the uncompressed layers, bottom first. */
  diffIds: string[];
}

const STRING_LISTS = ['Entrypoint', 'Cmd', 'Env'] as const;
const STRINGS = ['WorkingDir', 'User', 'StopSignal'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses an image config; a malformed one is an InvalidArgument naming `what` and the field. */
export function parseImageConfig(bytes: Buffer, what: string): ParsedImageConfig {
  const doc = parseUntrustedJson(bytes, what);
  const bad = (field: string, why: string) => new CribError('InvalidArgument', `${what}: ${field}: ${why}`);
  if (!isObject(doc)) throw bad('the document', 'not a JSON object');

  const config: ImageRuntimeConfig = {};
  const c = doc.config ?? null;
  if (c !== null) {
    if (!isObject(c)) throw bad('config', 'not an object');
    for (const k of STRING_LISTS) {
      const v = c[k] ?? null;
      if (v === null) continue;
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(`config.${k}`, 'not a list of strings');
      // Arguments and environment are C strings to execve: the OCI runtime refuses NUL, after the container's files exist.
      if (v.some((s) => s.includes('\0'))) throw bad(`config.${k}`, 'holds a NUL character');
      config[k] = v;
    }
    for (const k of STRINGS) {
      const v = c[k] ?? null;
      if (v === null) continue;
      if (typeof v !== 'string') throw bad(`config.${k}`, 'not a string');
      if (v.includes('\0')) throw bad(`config.${k}`, 'holds a NUL character');
      config[k] = v;
    }
  }

  const rootfs = doc.rootfs ?? null;
  if (rootfs !== null && !isObject(rootfs)) throw bad('rootfs', 'not an object');
  const ids = rootfs?.diff_ids ?? [];
  if (!Array.isArray(ids)) throw bad('rootfs.diff_ids', 'not a list');
  const diffIds = ids.map((d: unknown, i) => {
    const why = typeof d === 'string' ? validateDigest(d) : 'not a string';
    if (why) throw bad(`rootfs.diff_ids[${i}]`, why);
    return d as string;
  });
  return { config, diffIds };
}
