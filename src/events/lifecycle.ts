import type { Container, ContainerView } from '../container/types.js';
import type { Sandbox, SandboxView } from '../sandbox/types.js';

/** What kubelet's evented PLEG hears: the CRI's ContainerEventType, for containers and sandboxes alike. */
export type LifecycleEventType = 'CREATED' | 'STARTED' | 'STOPPED' | 'DELETED';

/**
 * What a service says happened, as it happens. For a deletion it carries the record, which the
 * registry no longer has.
 */
export type LifecycleNotice =
  { type: LifecycleEventType; kind: 'sandbox'; sandbox: Sandbox } | { type: LifecycleEventType; kind: 'container'; container: Container };

/** An event as subscribers get it: what happened, and the pod as it was then. */
export interface LifecycleEvent {
  type: LifecycleEventType;
  /** The container's id, or the sandbox's for the pod's own events. */
  id: string;
  /** Nanoseconds since the epoch, as a decimal string. */
  at: string;
  /** Absent only when the pod could not be looked at. */
  sandbox?: SandboxView;
  containers: ContainerView[];
}
