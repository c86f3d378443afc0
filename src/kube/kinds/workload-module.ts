// A kind that makes pods as a KindModule: its documents become workloads of the manifest, one of
// a kind, namespace and name.
import { ManifestError } from '../manifest/fields.js';
import type { KindModule, WorkloadBehaviour } from './kind.js';

export function workloadModule(kind: string, workload: WorkloadBehaviour): KindModule {
  return {
    kind,
    workload,
    read(into, f, at) {
      const w = workload.parse(f, at.warnings);
      const same = into.workloads.find((x) => x.kind === w.kind && x.namespace === w.namespace && x.name === w.name);
      if (same) throw new ManifestError(at.nameField, `${w.kind} ${w.namespace}/${w.name} is defined twice`);
      into.workloads.push(w);
    },
  };
}
