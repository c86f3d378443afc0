/** What kubelet's evented PLEG hears: the CRI's ContainerEventType, for containers and sandboxes alike. */
export type LifecycleEventType = 'CREATED' | 'STARTED' | 'STOPPED' | 'DELETED';
