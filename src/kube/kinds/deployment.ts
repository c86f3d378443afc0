// kind: Deployment (apps/v1): its ReplicaSet NAME-HASH makes the pods, the hash the template's.
import { generateName, templateHash } from '../manifest/names.js';
import { runTogether } from '../controllers/together.js';
import { parseApps, replicaPods } from './apps.js';
import { LABEL_TEMPLATE_HASH } from './labels.js';
import { workloadModule } from './workload-module.js';

export const deploymentKind = workloadModule('Deployment', {
  parse: (f, warnings) => parseApps('Deployment', f, warnings),
  shape(w, shape, random) {
    const t = w.template;
    const hash = templateHash({ metadata: { labels: t.labels, annotations: t.annotations }, spec: t.source });
    return { ...shape, labels: { ...shape.labels, [LABEL_TEMPLATE_HASH]: hash }, name: generateName(`${w.name}-${hash}-`, random) };
  },
  initialPods: replicaPods,
  run: runTogether,
  teardown: 'together',
});
