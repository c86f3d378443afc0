// The table of kinds (src/kube/kinds): every kind crib run reads has its module there, and the
// document reader, the planner and crib down ask it rather than naming kinds themselves.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emptyManifest, parseManifests } from '../../src/kube/manifest/documents.js';
import { addItem, itemsOf } from '../../src/kube/kinds/kind.js';
import { kindModule, runKindNames, workloadKind } from '../../src/kube/kinds/table.js';
import { initialPods, makePod, podOf } from '../../src/kube/plan/plan.js';
import type { Workload } from '../../src/kube/manifest/workload.js';

const template = `    metadata: {labels: {app: x}}
    spec:
      containers: [{name: c, image: busybox}]`;
const apps = (kind: string, extra = '') => `apiVersion: apps/v1
kind: ${kind}
metadata: {name: x}
spec:
  selector: {matchLabels: {app: x}}${extra}
  template:
${template}
`;

const workload = (yaml: string): Workload => {
  const w = parseManifests(yaml).workloads[0];
  assert.ok(w);
  return w;
};

describe('the kinds table', () => {
  it('has a module for every kind crib run reads, Service and CronJob among them', () => {
    for (const k of [
      'Pod',
      'Deployment',
      'ReplicaSet',
      'StatefulSet',
      'DaemonSet',
      'Job',
      'ConfigMap',
      'Secret',
      'PersistentVolumeClaim',
      'Service',
      'CronJob',
    ])
      assert.equal(kindModule(k)?.kind, k, k);
    assert.deepEqual(
      ['Pod', 'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job'].map((k) => kindModule(k)?.workload !== undefined),
      [true, true, true, true, true, true],
    );
    assert.equal(kindModule('Ingress'), undefined);
  });

  it('reads Services (their own items) and keeps what CronJob documents said before they run: ignored, with a warning', () => {
    const m = parseManifests(
      `apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: None}\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\n---\n${apps('Deployment')}`,
    );
    assert.deepEqual(m.ignoredKinds, ['document 2 (kind "CronJob") is not supported by crib run; ignored']);
    assert.deepEqual(
      itemsOf<{ name: string }>(m, 'Service').map((x) => x.name),
      ['s'],
    );
    assert.equal(m.workloads.length, 1);
    assert.throws(() => parseManifests('apiVersion: v1\nmetadata: {name: s}\n'), new RegExp(`kind: required \\(one of ${runKindNames().join(', ')}\\)`));
    assert.ok(runKindNames().includes('Service'), 'a kind crib runs is a typo correction');
    assert.throws(() => parseManifests(apps('Deploymnet')), /unknown kind "Deploymnet" \(did you mean Deployment\?\)/);
  });

  it('keeps the items of a kind that has its own', () => {
    const m = emptyManifest();
    addItem(m, 'Service', { name: 'a' });
    addItem(m, 'Service', { name: 'b' });
    assert.deepEqual(
      itemsOf<{ name: string }>(m, 'Service').map((s) => s.name),
      ['a', 'b'],
    );
    assert.deepEqual(itemsOf(m, 'CronJob'), []);
  });

  it('says how crib down removes each kind of pods', () => {
    assert.equal(workloadKind('StatefulSet').teardown, 'highest-ordinal-first');
    for (const k of ['Pod', 'Deployment', 'ReplicaSet', 'DaemonSet', 'Job']) assert.equal(workloadKind(k).teardown, 'together', k);
  });
});

describe('a pod taken over (podOf)', () => {
  it('is the pod its controller made: a StatefulSet ordinal, an Indexed Job index, a Deployment pod by its name', () => {
    const sts = workload(apps('StatefulSet', '\n  replicas: 3'));
    const made = initialPods(sts, Math.random)[2];
    assert.ok(made);
    assert.deepEqual(podOf(sts, { name: made.name, labels: made.labels }), made);

    const job = workload(`apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec:
  completions: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
`);
    const jp = makePod(job, Math.random, { ordinal: 1, jobUid: 'u-1' });
    assert.deepEqual(podOf(job, { name: jp.name, labels: jp.labels }), jp);

    const dep = workload(apps('Deployment'));
    const dp = initialPods(dep, Math.random)[0];
    assert.ok(dp);
    assert.deepEqual(podOf(dep, { name: dp.name, labels: dp.labels }), dp);
  });
});
