// What one Kubernetes kind is to crib run: how its documents are read into a manifest, and for the
// kinds that make pods, how a pod of it is named and labelled, how it runs them and in which order
// `crib down` removes them. Each kind is one module of this folder, registered in table.ts.
import type { Json } from '../manifest/fields.js';
import type { Fields } from '../manifest/fields.js';
import type { Manifest } from '../manifest/documents.js';
import type { Random } from '../manifest/names.js';
import type { Pod, PodSpec } from '../manifest/pod-spec.js';
import type { Workload } from '../manifest/workload.js';
import type { PodHooks } from '../pod/hooks.js';
import type { RunEnv } from '../pod/pod-run.js';

/** Where a pod sits among its controller's: a StatefulSet ordinal or an Indexed Job's index. */
export interface PodSlot {
  ordinal?: number;
  /** The Job's uid (its pods' controller-uid label). */
  jobUid?: string;
  /** When the Job started (ms epoch): its activeDeadlineSeconds counts from then. */
  jobStartMs?: number;
}

/** A pod of a template before its controller names it: what the controller may edit. */
export interface PodShape {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: PodSpec;
  /** The pod spec as JSON (what `crib generate` prints), edited alongside `spec`. */
  source: Record<string, Json>;
}

/** A kind whose documents make pods (Pod, the apps/v1 controllers, Job). */
export interface WorkloadBehaviour {
  /** The document as a workload, with the API server's rules and defaults; throws ManifestError naming the field. */
  parse(f: Fields, warnings: string[]): Workload;
  /** One pod as this controller names and labels it (`shape` is the template's, a copy the kind may edit). */
  shape(w: Workload, shape: PodShape, random: Random, slot: PodSlot): PodShape;
  /** The pods it starts with; a kind that makes them as it runs (a Job) starts with none. */
  initialPods(w: Workload, random: Random): Pod[];
  /** Runs the workload's pods to their end (restartPolicy Always: until env.signal); an exit code. */
  run(env: RunEnv, w: Workload, random: Random): Promise<number>;
  /**
   * Its run() is also its controller under the supervisor (env.supervised): it takes its pods over
   * from the node itself and carries the workload on (a Job), instead of the supervisor taking
   * them over one by one.
   */
  ownController?: boolean;
  /** How `crib down` removes its pods: all at once, or one at a time from the highest ordinal (as a StatefulSet scales down). */
  teardown: 'together' | 'highest-ordinal-first';
}

/** Where a document is, for what reading it says. */
export interface ReadContext {
  /** Unsupported fields and the like, one line each ("spec.x is not supported by crib run; ignored"). */
  warnings: string[];
  /** The field a duplicate's error names (`metadata.name`, `items[2].metadata.name`). */
  nameField: string;
  /** The document in words: "the document", "document 3", "document 1: items[0]". */
  document: string;
}

/** One kind of document crib run reads. */
export interface KindModule {
  readonly kind: string;
  /** Reads one document of this kind into the manifest; throws ManifestError naming the field. */
  read(into: Manifest, f: Fields, at: ReadContext): void;
  /** Present for kinds that make pods. */
  readonly workload?: WorkloadBehaviour;
  /**
   * Present for kinds that act beside the workloads (CronJob, Service): started once per run (and
   * by the supervisor) with every document of the manifest, runs until env.signal; an exit code.
   */
  start?(env: RunEnv, m: Manifest, random: Random): Promise<number>;
  /**
   * After every document is read, before anything runs: checks across documents (warnings into
   * `m.warnings`) and what the kind changes in the workloads (a Service's node ports). Returns
   * lines the run says as it starts.
   */
  complete?(m: Manifest): string[];
  /** Told of every pod of each run (pod/hooks.ts): a Service's names follow its pods. */
  hooks?(m: Manifest, run: { root: string; say: (line: string) => void }): PodHooks | undefined;
  /**
   * The workloads such a kind runs later (a CronJob's Job template, with `cronJob` set): the run
   * checks them before anything starts (references, images, runAsNonRoot, host paths), and
   * `crib down` and --replace find their pods.
   */
  planned?(m: Manifest): Workload[];
}

/** The documents of a kind that keeps its own (Service, CronJob), as its read() stored them. */
export function itemsOf<T extends object>(m: Manifest, kind: string): T[] {
  return (m.others.get(kind) ?? []) as T[];
}

/** Keeps a document of a kind that has its own items (see itemsOf). */
export function addItem(m: Manifest, kind: string, item: object): void {
  const list = m.others.get(kind) ?? [];
  list.push(item);
  m.others.set(kind, list);
}
