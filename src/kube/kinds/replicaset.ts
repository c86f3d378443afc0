// kind: ReplicaSet (apps/v1): NAME-RANDOM pods.
import { generateName } from '../manifest/names.js';
import { runTogether } from '../controllers/together.js';
import { parseApps, replicaPods } from './apps.js';
import { workloadModule } from './workload-module.js';

export const replicaSetKind = workloadModule('ReplicaSet', {
  parse: (f, warnings) => parseApps('ReplicaSet', f, warnings),
  shape: (w, shape, random) => ({ ...shape, name: generateName(`${w.name}-`, random) }),
  initialPods: replicaPods,
  run: runTogether,
  teardown: 'together',
});
