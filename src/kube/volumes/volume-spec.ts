// The volumes of a Pod spec and the downward API: the sources crib provides (emptyDir, hostPath,
// configMap, secret, downwardAPI, projected, persistentVolumeClaim, image), parsed and checked as the API
// server checks them; any other source is warned about and its mounts are left out. Pure.
import { absolute, dnsLabel, dnsSubdomain, Fields, ManifestError, quantityOf, type Json } from '../manifest/fields.js';
import { intValue, milliValue, type Quantity } from '../quantity/quantity.js';
import { defaultPullPolicy, type PullPolicy } from '../manifest/pod-spec.js';

export type HostPathType = '' | 'DirectoryOrCreate' | 'Directory' | 'FileOrCreate' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice';

/** One key of a ConfigMap or Secret projected to a file. */
export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export type ResourceName = 'limits.cpu' | 'limits.memory' | 'requests.cpu' | 'requests.memory';

/** A container's CPU or memory request or limit, in units of `divisor`. */
export interface ResourceFieldRef {
  /** The container it is about (env: the container itself when absent). */
  containerName?: string;
  resource: ResourceName;
  divisor: Quantity;
}

/** One file of a downwardAPI volume: a pod field or a container's resource. */
export type DownwardFile = { path: string; mode?: number } & ({ fieldPath: string } | { resourceFieldRef: ResourceFieldRef });

/** The files a ConfigMap or a Secret gives a volume: all keys, or the listed `items`. */
export interface ObjectFiles {
  name: string;
  items: KeyToPath[];
  optional: boolean;
}

export type Projection = { configMap: ObjectFiles } | { secret: ObjectFiles } | { downwardAPI: DownwardFile[] };

export type VolumeSource =
  | { emptyDir: { medium: '' | 'Memory'; sizeLimitBytes?: bigint } }
  | { hostPath: { path: string; type: HostPathType } }
  | { configMap: ObjectFiles & { defaultMode: number } }
  | { secret: ObjectFiles & { defaultMode: number } }
  | { downwardAPI: { items: DownwardFile[]; defaultMode: number } }
  | { projected: { sources: Projection[]; defaultMode: number } }
  | { persistentVolumeClaim: { claimName: string; readOnly: boolean } }
  /** An OCI image mounted read-only (kubelet 1.31+'s ImageVolume): pulled per its policy, mounted by the runtime. */
  | { image: { reference: string; pullPolicy: PullPolicy } }
  /** A source crib cannot provide (warned about); mounts of it are left out. */
  | { unsupported: string };

export type Volume = { name: string } & VolumeSource;

/** The API server's default file mode of configMap, secret, downwardAPI and projected volumes. */
export const DEFAULT_MODE = 0o644;

/** Field paths an env var's fieldRef may name (metadata.labels['k'] and annotations['k'] too). */
export const envFieldPaths = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'status.podIP', 'status.podIPs'];
/** Field paths a downwardAPI file may name (whole label and annotation maps too). */
export const volumeFieldPaths = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'metadata.labels', 'metadata.annotations'];
/** Field paths Kubernetes accepts for env that crib cannot fill (no API server, no service accounts). */
export const unfilledFieldPaths = ['spec.serviceAccountName', 'status.hostIP', 'status.hostIPs'];
export const FIELD_PATH_KEY = /^metadata\.(labels|annotations)\['([^']+)'\]$/;
const RESOURCES: readonly ResourceName[] = ['limits.cpu', 'limits.memory', 'requests.cpu', 'requests.memory'];

/** A ConfigMap or Secret key: what the API server allows (it becomes a file name). */
export const KEY_RE = /^[-._a-zA-Z0-9]+$/;

export function checkKey(field: string, key: string): string {
  if (!key || key.length > 253 || !KEY_RE.test(key) || key === '.' || key === '..') {
    throw new ManifestError(field, `"${key}" is not a valid key: letters, digits, '-', '_' and '.', at most 253, not "." or ".."`);
  }
  return key;
}

/** A projected file's path: relative, no "..", not starting with ".." (kubelet's own files). */
function filePath(field: string, p: string): string {
  if (!p) throw new ManifestError(field, 'required');
  if (p.startsWith('/')) throw new ManifestError(field, `"${p}" must be a relative path`);
  if (p.split('/').includes('..') || p.startsWith('..')) throw new ManifestError(field, `"${p}" must not contain ".." or start with ".."`);
  if (p.includes('\0')) throw new ManifestError(field, 'must not contain NUL');
  if (p.length > 4096) throw new ManifestError(field, 'is longer than 4096 characters');
  return p;
}

export function parseResourceFieldRef(f: Fields, containerRequired: boolean): ResourceFieldRef {
  const resource = f.str('resource', { required: true }) as string;
  if (!(RESOURCES as readonly string[]).includes(resource)) {
    throw new ManifestError(f.field('resource'), `"${resource}" is not supported (${RESOURCES.join(', ')})`);
  }
  const divisor = f.has('divisor') ? quantityOf(f.field('divisor'), f.raw('divisor')) : quantityOf(f.field('divisor'), '1');
  if (divisor.num === 0n) throw new ManifestError(f.field('divisor'), 'must be greater than zero');
  if (resource.endsWith('.cpu') && milliValue(divisor) !== 1n && milliValue(divisor) !== 1000n) {
    throw new ManifestError(f.field('divisor'), `"${divisor.text}" is not a CPU divisor ("1m" or "1")`);
  }
  if (resource.endsWith('.memory') && intValue(divisor) < 1n) throw new ManifestError(f.field('divisor'), `"${divisor.text}" is below one byte`);
  const out: ResourceFieldRef = { resource: resource as ResourceName, divisor };
  const c = f.str('containerName');
  if (c) out.containerName = c;
  else if (containerRequired) throw new ManifestError(f.field('containerName'), 'required in a volume');
  return out;
}

function parseItems(f: Fields, key: string): KeyToPath[] {
  const seen = new Set<string>();
  return f.list(key, (item, p) => {
    const i = f.item(item, p);
    const out: KeyToPath = { key: checkKey(i.field('key'), i.str('key', { required: true }) as string), path: filePath(i.field('path'), i.str('path') ?? '') };
    const mode = i.mode('mode');
    if (mode !== undefined) out.mode = mode;
    if (seen.has(out.path)) throw new ManifestError(i.field('path'), `"${out.path}" is projected twice`);
    seen.add(out.path);
    i.done();
    return out;
  });
}

function parseObjectFiles(f: Fields, nameKey: 'name' | 'secretName'): ObjectFiles {
  const name = f.str(nameKey, { required: true }) as string;
  return { name: dnsSubdomain(f.field(nameKey), name), items: parseItems(f, 'items'), optional: f.bool('optional') ?? false };
}

function parseDownwardFiles(f: Fields): DownwardFile[] {
  return f.list('items', (item, p) => {
    const i = f.item(item, p);
    const path = filePath(i.field('path'), i.str('path', { required: true }) as string);
    const mode = i.mode('mode');
    const fieldPath = i.sub('fieldRef', (fr) => {
      const fp = fr.str('fieldPath', { required: true }) as string;
      const apiVersion = fr.str('apiVersion');
      if (apiVersion && apiVersion !== 'v1') throw new ManifestError(fr.field('apiVersion'), `"${apiVersion}" is not supported (v1)`);
      if (!volumeFieldPaths.includes(fp) && !FIELD_PATH_KEY.test(fp)) {
        throw new ManifestError(fr.field('fieldPath'), `"${fp}" is not a field path a volume may use (${volumeFieldPaths.join(', ')}, or one key of them)`);
      }
      return fp;
    });
    const res = i.sub('resourceFieldRef', (r) => parseResourceFieldRef(r, true));
    i.done();
    if ((fieldPath === undefined) === (res === undefined)) throw new ManifestError(p, 'needs exactly one of fieldRef and resourceFieldRef');
    const base = mode === undefined ? { path } : { path, mode };
    return fieldPath !== undefined ? { ...base, fieldPath } : { ...base, resourceFieldRef: res as ResourceFieldRef };
  });
}

const SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim', 'image'] as const;

export function parseVolume(item: Json, path: string, warnings: string[]): Volume {
  const f = Fields.of(item, path, warnings);
  const name = dnsLabel(f.field('name'), f.str('name', { required: true }) as string);
  const raw = item as Record<string, Json>;
  const given = Object.keys(raw).filter((k) => k !== 'name' && (raw[k] !== null || k === 'emptyDir'));
  if (given.length > 1) throw new ManifestError(path, `must have exactly one volume source, has ${given.join(', ')}`);
  const source = given[0];
  const mode = (s: Fields) => s.mode('defaultMode') ?? DEFAULT_MODE;
  let out: Volume | undefined;
  switch (source) {
    case undefined:
      return { name, emptyDir: { medium: '' } }; // no source at all: the API server defaults it to emptyDir
    case 'emptyDir': {
      // `emptyDir: {}` reads as an empty map; a bare `emptyDir:` (null) also means an emptyDir.
      const e = f.sub('emptyDir', (d) => {
        const medium = d.oneOf('medium', ['', 'Memory'] as const, '');
        const v: { medium: '' | 'Memory'; sizeLimitBytes?: bigint } = { medium };
        if (d.has('sizeLimit')) {
          const q = quantityOf(d.field('sizeLimit'), d.raw('sizeLimit'));
          if (medium === 'Memory') v.sizeLimitBytes = intValue(q);
          else d.warn(`${d.field('sizeLimit')} is not supported by crib run without medium: Memory; ignored`);
        }
        return v;
      });
      out = { name, emptyDir: e ?? { medium: '' } };
      break;
    }
    case 'hostPath':
      out = {
        name,
        hostPath: f.sub('hostPath', (h) => ({
          path: absolute(h.field('path'), h.str('path', { required: true }) as string),
          type: h.oneOf('type', ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const, ''),
        })) as { path: string; type: HostPathType },
      };
      break;
    case 'configMap':
      out = { name, configMap: f.sub('configMap', (c) => ({ ...parseObjectFiles(c, 'name'), defaultMode: mode(c) })) as ObjectFiles & { defaultMode: number } };
      break;
    case 'secret':
      out = { name, secret: f.sub('secret', (c) => ({ ...parseObjectFiles(c, 'secretName'), defaultMode: mode(c) })) as ObjectFiles & { defaultMode: number } };
      break;
    case 'downwardAPI':
      out = {
        name,
        downwardAPI: f.sub('downwardAPI', (d) => ({ items: parseDownwardFiles(d), defaultMode: mode(d) })) as { items: DownwardFile[]; defaultMode: number },
      };
      break;
    case 'projected':
      out = {
        name,
        projected: f.sub('projected', (p) => ({
          defaultMode: mode(p),
          sources: p
            .list('sources', (s, sp) => {
              const sf = p.item(s, sp);
              const kinds = ['configMap', 'secret', 'downwardAPI'].filter((k) => sf.has(k));
              const proj: Projection[] = [];
              const cm = sf.sub('configMap', (c) => parseObjectFiles(c, 'name'));
              if (cm) proj.push({ configMap: cm });
              const sec = sf.sub('secret', (c) => parseObjectFiles(c, 'name'));
              if (sec) proj.push({ secret: sec });
              const dw = sf.sub('downwardAPI', parseDownwardFiles);
              if (dw) proj.push({ downwardAPI: dw });
              if (kinds.length > 1) throw new ManifestError(sp, `must have exactly one source, has ${kinds.join(', ')}`);
              sf.done(); // serviceAccountToken, clusterTrustBundle, ...: warned about
              return proj;
            })
            .flat(),
        })) as { sources: Projection[]; defaultMode: number },
      };
      break;
    case 'persistentVolumeClaim':
      out = {
        name,
        persistentVolumeClaim: f.sub('persistentVolumeClaim', (c) => ({
          claimName: dnsSubdomain(c.field('claimName'), c.str('claimName', { required: true }) as string),
          readOnly: c.bool('readOnly') ?? false,
        })) as { claimName: string; readOnly: boolean },
      };
      break;
    case 'image':
      out = {
        name,
        image: f.sub('image', (im) => {
          const reference = im.str('reference', { required: true }) as string;
          return { reference, pullPolicy: im.oneOf('pullPolicy', ['Always', 'IfNotPresent', 'Never'] as const, defaultPullPolicy(reference)) };
        }) as { reference: string; pullPolicy: PullPolicy },
      };
      break;
  }
  f.done(); // warns about an unsupported source (nfs, csi, ephemeral, ...)
  if (out) return out;
  return { name, unsupported: source };
}

/** Which source a volume has, for messages. */
export function sourceOf(v: Volume): string {
  return SOURCES.find((s) => s in v) ?? ('unsupported' in v ? v.unsupported : 'unknown');
}
