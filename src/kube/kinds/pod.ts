// kind: Pod (v1): a workload of one pod, named as the document names it.
import { parsePod, type PodTemplate } from '../manifest/pod-spec.js';
import { makePod } from '../plan/plan.js';
import { runTogether } from '../controllers/together.js';
import { workloadModule } from './workload-module.js';

export const podKind = workloadModule('Pod', {
  parse(f, warnings) {
    const p = parsePod(f, warnings);
    const template: PodTemplate = { labels: p.labels, annotations: p.annotations, spec: p.spec, source: p.source };
    return { kind: 'Pod', name: p.name, namespace: p.namespace, labels: p.labels, annotations: p.annotations, template, replicas: 1 };
  },
  shape: (w, shape) => ({ ...shape, name: w.name }),
  initialPods: (w, random) => [makePod(w, random)],
  run: runTogether,
  teardown: 'together',
});
