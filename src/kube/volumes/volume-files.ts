// The files of configMap, secret, downwardAPI and projected volumes, as kubelet's volume plugins
// project them: every key (or the listed items) as a file with its mode. Pure: writing them is
// volumes.ts's job.
import { objectKey } from '../manifest/documents.js';
import { fieldValue, resourceValue, type PodFacts } from '../env/env.js';
import type { Pod } from '../manifest/pod-spec.js';
import type { DataObject } from '../manifest/objects.js';
import type { DownwardFile, ObjectFiles, Volume } from './volume-spec.js';

export interface VolumeFile {
  /** Relative to the volume's directory (checked when the manifest was read). */
  path: string;
  data: Buffer;
  mode: number;
}

function objectFiles(o: DataObject | undefined, src: ObjectFiles, defaultMode: number): VolumeFile[] {
  if (!o) return []; // optional and missing: an empty volume (a missing required one was refused earlier)
  if (src.items.length === 0) {
    return [...o.data.keys()].sort().map((k) => ({ path: k, data: o.data.get(k) as Buffer, mode: defaultMode }));
  }
  return src.items.flatMap((i) => {
    const data = o.data.get(i.key);
    return data === undefined ? [] : [{ path: i.path, data, mode: i.mode ?? defaultMode }];
  });
}

function downwardFiles(pod: Pod, items: DownwardFile[], defaultMode: number, facts: PodFacts): VolumeFile[] {
  return items.map((d) => ({
    path: d.path,
    data: Buffer.from(
      'fieldPath' in d ? fieldValue(pod, d.fieldPath, facts) : resourceValue(pod, d.resourceFieldRef.containerName ?? '', d.resourceFieldRef, facts.capacity),
    ),
    mode: d.mode ?? defaultMode,
  }));
}

/**
 * The files of a volume made of files (configMap, secret, downwardAPI, projected; later projected
 * sources win a path), or undefined for other volumes.
 */
export function volumeFiles(v: Volume, pod: Pod, objects: ReadonlyMap<string, DataObject>, facts: PodFacts): VolumeFile[] | undefined {
  const get = (kind: DataObject['kind'], name: string) => objects.get(objectKey(kind, pod.namespace, name));
  if ('configMap' in v) return objectFiles(get('ConfigMap', v.configMap.name), v.configMap, v.configMap.defaultMode);
  if ('secret' in v) return objectFiles(get('Secret', v.secret.name), v.secret, v.secret.defaultMode);
  if ('downwardAPI' in v) return downwardFiles(pod, v.downwardAPI.items, v.downwardAPI.defaultMode, facts);
  if ('projected' in v) {
    const byPath = new Map<string, VolumeFile>();
    for (const s of v.projected.sources) {
      const mode = v.projected.defaultMode;
      const files =
        'configMap' in s
          ? objectFiles(get('ConfigMap', s.configMap.name), s.configMap, mode)
          : 'secret' in s
            ? objectFiles(get('Secret', s.secret.name), s.secret, mode)
            : downwardFiles(pod, s.downwardAPI, mode, facts);
      for (const f of files) byPath.set(f.path, f);
    }
    return [...byPath.values()];
  }
  return undefined;
}

/** Whether a volume's files are kept off the disk (kubelet mounts a tmpfs for secrets and projected volumes). */
export const inMemory = (v: Volume): boolean => 'secret' in v || 'projected' in v;
