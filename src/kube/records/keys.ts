// The keys crib run writes on pods and containers and reads back (crib pods' READY, crib down,
// generate, teardown), and the CRI's container states it compares with. Kept apart from convert.ts
// so that commands which only read them (crib pods) load nothing else of crib run.
// kubelet's label and annotation keys (pkg/kubelet/types/labels.go, kuberuntime/labels.go).
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const ANN_GRACE = 'io.kubernetes.pod.terminationGracePeriod';
export const ANN_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANN_HASH = 'io.kubernetes.container.hash';
export const ANN_PRESTOP = 'io.kubernetes.container.preStopHandler';
export const ANN_PORTS = 'io.kubernetes.container.ports';
export const ANN_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
/** crib run's own: which list of the Pod a container comes from ("init" or "app"). */
export const ANN_CONTAINER_TYPE = 'io.crib.run.containerType';
/** crib run's own: the container has a readiness probe (so it is ready only when its prober says so). */
export const ANN_READINESS_PROBE = 'io.crib.run.readinessProbe';
/** crib run's own sandbox labels: the object of the manifest a pod comes from (crib down finds pods by them). */
export const LABEL_OWNER_KIND = 'io.crib.run.owner-kind';
export const LABEL_OWNER_NAME = 'io.crib.run.owner-name';
/** crib run's own sandbox label of a CronJob's Jobs' pods: the CronJob (crib jobs shows it, crib down finds them by it). */
export const LABEL_OWNER_CRONJOB = 'io.crib.run.owner-cronjob';
/** crib run's own sandbox annotation of a Job's pods: the successes the Job wants (its completions, 1 without). */
export const ANN_JOB_COMPLETIONS = 'io.crib.run.job-completions';
/** crib run's own sandbox annotations of a Job's pods: its backoffLimit, and when its activeDeadlineSeconds passes (ms epoch). */
export const ANN_JOB_BACKOFF_LIMIT = 'io.crib.run.job-backoff-limit';
export const ANN_JOB_DEADLINE = 'io.crib.run.job-deadline';
/** crib run's own sandbox annotation: the pod's QoS class. */
export const ANN_QOS_CLASS = 'io.crib.run.qosClass';

/** ContainerState numbers of the CRI. */
export const CONTAINER_CREATED = 0;
export const CONTAINER_RUNNING = 1;
export const CONTAINER_EXITED = 2;
