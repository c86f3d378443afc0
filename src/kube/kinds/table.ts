// The kinds crib run reads, by name: adding a kind is a module in this folder and a line here.
import type { KindModule, WorkloadBehaviour } from './kind.js';
import type { Manifest } from '../manifest/documents.js';
import type { PodHooks } from '../pod/hooks.js';
import { configMapKind } from './configmap.js';
import { cronJobKind } from './cronjob.js';
import { daemonSetKind } from './daemonset.js';
import { deploymentKind } from './deployment.js';
import { jobKind } from './job.js';
import { podKind } from './pod.js';
import { pvcKind } from './pvc.js';
import { replicaSetKind } from './replicaset.js';
import { secretKind } from './secret.js';
import { serviceKind } from './service.js';
import { statefulSetKind } from './statefulset.js';

let table: Map<string, KindModule> | undefined;

/** Built at the first use: the kind modules import the planner, which asks this table (an import cycle). */
function kinds(): Map<string, KindModule> {
  table ??= new Map(
    [podKind, deploymentKind, replicaSetKind, statefulSetKind, daemonSetKind, jobKind, configMapKind, secretKind, pvcKind, serviceKind, cronJobKind].map(
      (k) => [k.kind, k],
    ),
  );
  return table;
}

export const kindModule = (kind: string): KindModule | undefined => kinds().get(kind);

/** The names of the kinds crib runs, in the table's order (what an error lists, a typo is matched against). */
export const runKindNames = (): string[] => [...kinds().values()].filter((k) => !k.ignored).map((k) => k.kind);

/** The kinds that act beside the workloads (those with a start). */
export const startedKinds = (): KindModule[] => [...kinds().values()].filter((k) => k.start !== undefined);

/** What the kinds that follow a run's pods want to hear of them (pod/hooks.ts). */
export const kindHooks = (m: Manifest): PodHooks[] => [...kinds().values()].flatMap((k) => (k.hooks ? [k.hooks(m)] : []));

/** A workload's kind behaviour; the manifest only holds workloads of kinds that have one. */
export function workloadKind(kind: string): WorkloadBehaviour {
  const w = kinds().get(kind)?.workload;
  if (!w) throw new Error(`kind ${kind} makes no pods`);
  return w;
}
