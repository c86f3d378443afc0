// kind: DaemonSet (apps/v1): one pod on the one node, with its revision labels.
import { generateName, templateHash } from '../manifest/names.js';
import { runTogether } from '../controllers/together.js';
import { parseApps, replicaPods } from './apps.js';
import { LABEL_REVISION_HASH, LABEL_TEMPLATE_GENERATION } from './labels.js';
import { workloadModule } from './workload-module.js';

export const daemonSetKind = workloadModule('DaemonSet', {
  parse: (f, warnings) => parseApps('DaemonSet', f, warnings, { noReplicas: true }),
  shape(w, shape, random) {
    const t = w.template;
    const labels = {
      ...shape.labels,
      [LABEL_REVISION_HASH]: templateHash({ metadata: { labels: t.labels }, spec: t.source }),
      [LABEL_TEMPLATE_GENERATION]: '1',
    };
    return { ...shape, labels, name: generateName(`${w.name}-`, random) };
  },
  initialPods: replicaPods,
  run: runTogether,
  teardown: 'together',
});
