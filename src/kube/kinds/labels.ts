// The labels and annotations the controllers put on their pods, as Kubernetes names them.
export const LABEL_TEMPLATE_HASH = 'pod-template-hash';
export const LABEL_REVISION_HASH = 'controller-revision-hash';
export const LABEL_STS_POD_NAME = 'statefulset.kubernetes.io/pod-name';
export const LABEL_POD_INDEX = 'apps.kubernetes.io/pod-index';
export const LABEL_TEMPLATE_GENERATION = 'pod-template-generation';
export const LABEL_JOB_NAME = 'batch.kubernetes.io/job-name';
export const LABEL_JOB_UID = 'batch.kubernetes.io/controller-uid';
export const ANN_COMPLETION_INDEX = 'batch.kubernetes.io/job-completion-index';
export const JOB_INDEX_ENV = 'JOB_COMPLETION_INDEX';
