import type { LifecycleEventType } from '../events/lifecycle.js';
import type { LifecycleEvent } from '../pod/events.js';
import { toContainerStatus } from './container-convert.js';
import type { ContainerEventResponse } from './generated/runtime/v1/ContainerEventResponse.js';
import { toPodSandboxStatus } from './sandbox-convert.js';

const eventType: Record<LifecycleEventType, 0 | 1 | 2 | 3> = { CREATED: 0, STARTED: 1, STOPPED: 2, DELETED: 3 };

/** A lifecycle event as GetContainerEvents sends it (the sandbox's id stands for the pod's own events). */
export function toContainerEvent(e: LifecycleEvent): ContainerEventResponse {
  return {
    container_id: e.id,
    container_event_type: eventType[e.type],
    created_at: e.at,
    ...(e.sandbox ? { pod_sandbox_status: toPodSandboxStatus(e.sandbox) } : {}),
    containers_statuses: e.containers.map(toContainerStatus),
  };
}
