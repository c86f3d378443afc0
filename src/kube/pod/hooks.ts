// What a run tells the parts that follow its pods (a Service's endpoints and names): a pod got its
// address, became ready or unready, went away; and what they may add to every container before it
// is created (a crib-managed /etc/hosts). Every hook of RunEnv.hooks hears every pod of the run.
import type { Mount } from '../../cri/generated/runtime/v1/Mount.js';
import type { Pod } from '../manifest/pod-spec.js';

export interface PodInfo {
  pod: Pod;
  uid: string;
  sandboxId: string;
  /** The pod's IP, '' without one (hostNetwork). */
  ip: string;
  ips: string[];
}

export interface PodHooks {
  /** The sandbox runs and has its address; no container is created yet. */
  addressed?(p: PodInfo): void;
  /** Every app container is ready (true), or one no longer is (false). */
  readiness?(p: PodInfo, ready: boolean): void;
  /** The pod was torn down (or never got its sandbox). */
  gone?(p: PodInfo): void;
  /** Mounts added to each container of the pod, asked once before its first container is created. */
  mounts?(p: PodInfo): Promise<Mount[]>;
  /** Once what it was told so far is done (a detached run exits after: a Service's names written whole). */
  settled?(): Promise<void>;
}
