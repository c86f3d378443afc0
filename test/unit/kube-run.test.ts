// crib run's controllers and kubelet decisions, pure: documents of every kind in any order, pods as
// the controllers name and label them, references checked before anything runs, env resolution,
// volume files, QoS, probe scheduling, a Job's spec as read (its decisions: job-state.test.ts), and `crib generate`'s YAML run again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseManifests, type Manifest } from '../../src/kube/manifest/documents.js';
import { containerEnv, type PodFacts } from '../../src/kube/env/env.js';
import { ManifestError, type ContainerSpec, type Pod, type Probe } from '../../src/kube/manifest/pod-spec.js';
import { checkReferences, initialPods, makePod, podRecord } from '../../src/kube/plan/plan.js';
import { ContainerProbes } from '../../src/kube/probes/probe.js';
import { decodeHealthStatus, encodeHealthRequest } from '../../src/kube/probes/probers.js';
import { oomScoreAdj, qosClass } from '../../src/kube/quantity/qos.js';
import { linuxResources } from '../../src/kube/pod/convert.js';
import { volumeFiles } from '../../src/kube/volumes/volume-files.js';
import type { Workload } from '../../src/kube/manifest/workload.js';
import { repoRoot } from '../../src/util/paths.js';
import { jobRows, type JobPod } from '../../src/kube/records/job-status.js';
import { KUBELET_LOG_ROTATION, planRotation, rotateLog, rotationStamp } from '../../src/kube/pod/log-rotation.js';
import { LogPrinter } from '../../src/kube/pod/logs.js';
import { signalExit } from '../../src/kube/run/runner.js';
import os from 'node:os';
import { Writable } from 'node:stream';

const IMAGE = 'localhost/x:1';
const zero = () => 0;
const facts: PodFacts = {
  uid: 'u-1',
  podIP: '10.0.0.2',
  podIPs: ['10.0.0.2'],
  nodeName: 'node1',
  capacity: { cpuMilli: 4000n, memoryBytes: 8n << 30n },
};

const workload = (m: Manifest, name: string): Workload => {
  const w = m.workloads.find((x) => x.name === name);
  assert.ok(w, `workload ${name}`);
  return w;
};
const firstPod = (m: Manifest, name: string): Pod => initialPods(workload(m, name), zero)[0] as Pod;
const container = (p: Pod, i = 0): ContainerSpec => p.spec.containers[i] as ContainerSpec;

const template = (spec: string, labels = '{app: a}') => `  selector: {matchLabels: ${labels}}
  template:
    metadata: {labels: ${labels}}
    spec:
${spec}`;
const oneContainer = `      containers: [{name: c, image: "${IMAGE}"}]\n`;

const CONFIG = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {A: "1", B: two, "1st": x}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
data: {token: dG9rZW4=, password: b2xk}
stringData: {password: new}
`;

describe('crib run: documents of every kind, in any order', () => {
  it('reads workloads, ConfigMaps, Secrets and claims from several documents and Lists, whatever their order', () => {
    const m = parseManifests(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
${template(oneContainer)}
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {accessModes: [ReadWriteOnce]}}
  - {apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: ing}}
---
${CONFIG}`);
    assert.deepEqual(
      m.workloads.map((w) => [w.kind, w.name, w.replicas]),
      [['Deployment', 'web', 3]],
    );
    assert.deepEqual([...m.objects.keys()], ['ConfigMap/default/cfg', 'Secret/default/sec']);
    assert.deepEqual([...m.claims.keys()], ['default/data']);
    assert.equal(m.objects.get('Secret/default/sec')?.data.get('password')?.toString(), 'new', 'stringData wins over data');
    assert.equal(m.objects.get('Secret/default/sec')?.data.get('token')?.toString(), 'token');
    assert.deepEqual(m.ignoredKinds, ['document 2: items[1] (kind "Ingress") is not supported by crib run; ignored']);
    assert.deepEqual(m.warnings, [], "a claim's storage request is read (and not enforced): no unsupported field");
  });

  it("reads the README's example (examples/web-app.yaml) without a warning, its references all there", () => {
    const m = parseManifests(fs.readFileSync(path.join(repoRoot, 'examples', 'web-app.yaml'), 'utf8'));
    assert.deepEqual(m.warnings, []);
    assert.deepEqual(
      m.workloads.map((w) => `${w.kind}/${w.name}`),
      ['Deployment/web'],
    );
    for (const w of m.workloads) checkReferences(w, m, () => false);
  });

  it('refuses what the API server refuses, naming the field', () => {
    const refuses = (yaml: string, field: RegExp, reason: RegExp) =>
      assert.throws(
        () => parseManifests(yaml),
        (e: unknown) => e instanceof ManifestError && field.test(e.field) && reason.test(e.reason),
      );
    refuses(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {num: 1}\n`, /^data\.num$/, /must be a string \(quote it: "1"\)/);
    refuses(`apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "not base64!"}\n`, /^data\.k$/, /is not base64/);
    refuses(`${CONFIG}---\n${CONFIG}`, /metadata\.name$/, /ConfigMap default\/cfg is defined twice/);
    refuses(
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n${template(oneContainer, '{app: b}').replace('matchLabels: {app: b}', 'matchLabels: {app: x}')}`,
      /selector|template/,
      /match|select/,
    );
    refuses(
      `apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Always\n${oneContainer}`,
      /restartPolicy/,
      /OnFailure|Never/,
    );
    refuses(`apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec: {volumeMode: Block}\n`, /volumeMode/, /Block volumes are not supported/);
  });
});

describe('crib run: pods as the controllers make them', () => {
  const m = parseManifests(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
${template(oneContainer)}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
${template(`      containers: [{name: c, image: "${IMAGE}", volumeMounts: [{name: data, mountPath: /data}]}]\n`, '{app: db}')}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
${template(oneContainer, '{app: agent}')}
---
apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  completions: 3
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
${oneContainer}`);

  it("names a Deployment's pods NAME-HASH-RANDOM with the pod-template-hash label; the hash follows the template", () => {
    const pods = initialPods(workload(m, 'web'), Math.random);
    assert.equal(pods.length, 2);
    const hash = pods[0]?.labels['pod-template-hash'] ?? '';
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    for (const p of pods) assert.match(p.name, new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    assert.notEqual(pods[0]?.name, pods[1]?.name);
    assert.equal(pods[0]?.labels['app'], 'a');
    assert.deepEqual(pods[0]?.owner, { kind: 'Deployment', name: 'web' });
    const changed = parseManifests(`apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n${template(oneContainer.replace('c,', 'c2,'))}`);
    assert.notEqual(firstPod(changed, 'web').labels['pod-template-hash'], hash);
  });

  it("gives a StatefulSet's pods ordinals, hostnames and their own claims", () => {
    const pods = initialPods(workload(m, 'db'), zero);
    assert.deepEqual(
      pods.map((p) => [p.name, p.spec.hostname, p.labels['statefulset.kubernetes.io/pod-name'], p.labels['apps.kubernetes.io/pod-index']]),
      [
        ['db-0', 'db-0', 'db-0', '0'],
        ['db-1', 'db-1', 'db-1', '1'],
        ['db-2', 'db-2', 'db-2', '2'],
      ],
    );
    assert.deepEqual(pods[1]?.spec.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-db-1', readOnly: false } }]);
    assert.equal(workload(m, 'db').statefulSet?.ordered, true, 'OrderedReady by default');
  });

  it('runs one pod of a DaemonSet on this node; a Job makes its pods as it goes, indexed ones with their index', () => {
    assert.equal(initialPods(workload(m, 'agent'), zero).length, 1);
    // Its pod as the DaemonSet controller makes it: NAME-RANDOM, the template's labels, the
    // revision hash (which follows the template) and generation 1, owned by the DaemonSet.
    const agent = firstPod(m, 'agent');
    assert.match(agent.name, /^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(agent.labels['app'], 'agent');
    assert.match(agent.labels['controller-revision-hash'] ?? '', /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    assert.equal(agent.labels['pod-template-generation'], '1');
    assert.deepEqual(agent.owner, { kind: 'DaemonSet', name: 'agent' });
    assert.equal(agent.spec.restartPolicy, 'Always');
    const changed = parseManifests(
      `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n${template(oneContainer.replace('c,', 'c2,'), '{app: agent}')}`,
    );
    assert.notEqual(firstPod(changed, 'agent').labels['controller-revision-hash'], agent.labels['controller-revision-hash']);
    const job = workload(m, 'batch');
    assert.deepEqual(initialPods(job, zero), []);
    const p = makePod(job, zero, { ordinal: 2, jobUid: 'uid-9' });
    assert.match(p.name, /^batch-2-[a-z0-9]{5}$/);
    assert.equal(p.labels['batch.kubernetes.io/job-name'], 'batch');
    assert.equal(p.labels['batch.kubernetes.io/controller-uid'], 'uid-9');
    assert.equal(p.annotations['batch.kubernetes.io/job-completion-index'], '2');
    const env = containerEnv(p, container(p), { ...facts, objects: new Map() }).env;
    assert.deepEqual(env, [{ key: 'JOB_COMPLETION_INDEX', value: '2' }]);
  });

  it('checks ConfigMaps, Secrets, keys and claims before anything runs, unless optional', () => {
    const refs = (spec: string, extra = CONFIG) => {
      const mm = parseManifests(`${extra}---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n${spec}`);
      checkReferences(workload(mm, 'p'), mm, () => false);
    };
    const env = (ref: string) => `  containers: [{name: c, image: "${IMAGE}", env: [{name: X, valueFrom: ${ref}}]}]\n`;
    assert.throws(() => refs(env('{configMapKeyRef: {name: nope, key: A}}')), /container "c": env X: ConfigMap "nope" not found in namespace default/);
    assert.throws(() => refs(env('{secretKeyRef: {name: sec, key: nokey}}')), /key "nokey" not found in Secret default\/sec \(it has: token, password\)/);
    refs(env('{configMapKeyRef: {name: nope, key: A, optional: true}}'));
    refs(env('{configMapKeyRef: {name: cfg, key: A}}'));
    assert.throws(
      () => refs(`  containers: [{name: c, image: "${IMAGE}"}]\n  volumes: [{name: v, persistentVolumeClaim: {claimName: gone}}]\n`),
      /volume "v": PersistentVolumeClaim "gone" not found/,
    );
    assert.throws(
      () => refs(`  containers: [{name: c, image: "${IMAGE}"}]\n  volumes: [{name: v, secret: {secretName: sec, items: [{key: x, path: x}]}}]\n`),
      /volume "v": key "x" not found in Secret/,
    );
  });
});

describe('crib run: environment and volume files', () => {
  const m = parseManifests(`${CONFIG}---
apiVersion: v1
kind: Pod
metadata: {name: p, labels: {b: "2", a: "1"}}
spec:
  containers:
    - name: c
      image: "${IMAGE}"
      resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {memory: 128Mi}}
      envFrom:
        - configMapRef: {name: cfg}
        - secretRef: {name: sec}
          prefix: S_
        - configMapRef: {name: missing, optional: true}
      env:
        - {name: A, value: "override $(B) $$(B)"}
        - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: LABEL, valueFrom: {fieldRef: {fieldPath: "metadata.labels['a']"}}}
        - {name: CPU, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
        - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
        - {name: CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
        - {name: KEY, valueFrom: {configMapKeyRef: {name: cfg, key: B}}}
        - {name: GONE, valueFrom: {secretKeyRef: {name: nope, key: k, optional: true}}}
  volumes:
    - name: s
      secret: {secretName: sec, defaultMode: 0400, items: [{key: token, path: t/token, mode: 0440}]}
    - name: pr
      projected:
        sources:
          - configMap: {name: cfg, items: [{key: A, path: same}]}
          - secret: {name: sec, items: [{key: password, path: same}]}
          - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
`);
  const p = firstPod(m, 'p');

  it('resolves env as kubelet does: envFrom first (invalid names skipped), then env in order, with $(VAR) and every kind of source', () => {
    const r = containerEnv(p, container(p), { ...facts, objects: m.objects });
    assert.deepEqual(r.skipped, ['1st']);
    assert.deepEqual(Object.fromEntries(r.env.map((e) => [e.key, e.value])), {
      A: 'override two $(B)',
      B: 'two',
      S_token: 'token',
      S_password: 'new',
      POD: 'p',
      IP: '10.0.0.2',
      LABEL: '1',
      CPU: '250',
      MEM: '128',
      CPU_LIMIT: '4',
      KEY: 'two',
    });
  });

  it('projects secret items with their modes, later projected sources winning a path, and the downward API', () => {
    const [s, pr] = p.spec.volumes;
    assert.ok(s && pr);
    assert.deepEqual(
      volumeFiles(s, p, m.objects, facts)?.map((f) => [f.path, f.data.toString(), f.mode.toString(8)]),
      [['t/token', 'token', '440']],
    );
    assert.deepEqual(
      volumeFiles(pr, p, m.objects, facts)?.map((f) => [f.path, f.data.toString(), f.mode.toString(8)]),
      [
        ['same', 'new', '644'],
        ['labels', 'a="1"\nb="2"', '644'],
      ],
    );
  });
});

describe('crib run: QoS', () => {
  const qos = (resources: string) => {
    const m = parseManifests(`apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: "${IMAGE}", resources: ${resources}}]\n`);
    const p = firstPod(m, 'p');
    return { cls: qosClass(p.spec), adj: oomScoreAdj(qosClass(p.spec), container(p), 1000n << 20n), res: linuxResources(container(p).resources) };
  };

  it("classes pods and gives kubelet's oom_score_adj and CPU shares", () => {
    const g = qos('{limits: {cpu: "1", memory: 100Mi}}');
    assert.equal(g.cls, 'Guaranteed', 'requests default to limits');
    assert.equal(g.adj, -997);
    assert.equal(g.res.cpu_shares, '1024');
    const b = qos('{requests: {cpu: 250m, memory: 100Mi}}');
    assert.equal(b.cls, 'Burstable');
    assert.equal(b.adj, 900, '1000 - 1000 * 100Mi / 1000Mi');
    assert.equal(b.res.cpu_shares, '256');
    assert.equal(qos('{requests: {memory: 999Mi}}').adj, 3, 'never below 3');
    const e = qos('{}');
    assert.equal(e.cls, 'BestEffort');
    assert.equal(e.adj, 1000);
    assert.equal(e.res.cpu_shares, '2', 'the minimum shares');
  });
});

describe('crib run: probes with kubelet semantics', () => {
  const probe = (o: Partial<Probe> = {}): Probe => ({
    handler: { exec: ['true'] },
    initialDelaySeconds: 0,
    periodSeconds: 10,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
    ...o,
  });

  it('readiness starts failed and follows its thresholds; probes wait their initial delay and period', () => {
    const p = new ContainerProbes({ readiness: probe({ initialDelaySeconds: 5, successThreshold: 2, failureThreshold: 2 }) }, 0);
    assert.equal(p.ready, false);
    assert.deepEqual(p.due(4999), []);
    assert.equal(p.due(5000).length, 1);
    assert.deepEqual(p.record('readiness', 'success', 5000), [], 'one success is not two');
    assert.equal(p.nextDue(), 15_000);
    assert.deepEqual(p.record('readiness', 'success', 15_000), [{ type: 'ready', ready: true }]);
    assert.deepEqual(p.record('readiness', 'failure', 25_000), []);
    assert.deepEqual(p.record('readiness', 'failure', 35_000), [{ type: 'ready', ready: false }]);
  });

  it('a container without a readiness probe is ready at once; liveness failing its threshold kills it, and probing stops', () => {
    const p = new ContainerProbes({ liveness: probe({ failureThreshold: 2 }) }, 0);
    assert.equal(p.ready, true);
    assert.deepEqual(p.record('liveness', 'failure', 0), []);
    assert.deepEqual(p.record('liveness', 'success', 10_000), [], 'a success resets the count');
    assert.deepEqual(p.record('liveness', 'failure', 20_000), []);
    assert.deepEqual(p.record('liveness', 'failure', 30_000), [
      { type: 'ready', ready: false },
      { type: 'failed', probe: 'liveness' },
    ]);
    assert.deepEqual(p.due(1e9), [], 'held until the next attempt');
    assert.equal(p.nextDue(), undefined);
  });

  it('a startup probe holds liveness and readiness back until it succeeds, then readiness runs at once', () => {
    const p = new ContainerProbes({ startup: probe({ periodSeconds: 1 }), liveness: probe(), readiness: probe() }, 0);
    assert.deepEqual(
      p.due(0).map((w) => w.kind),
      ['startup'],
    );
    assert.deepEqual(p.record('startup', 'success', 1000), [{ type: 'started' }]);
    assert.deepEqual(
      p.due(1000).map((w) => w.kind),
      ['readiness'],
      'readiness at once; liveness at its own tick',
    );
    const failing = new ContainerProbes({ startup: probe({ failureThreshold: 1 }) }, 0);
    assert.deepEqual(failing.record('startup', 'failure', 0), [{ type: 'failed', probe: 'startup' }]);
  });
});

describe('crib run: the gRPC health probe on the wire', () => {
  it('encodes HealthCheckRequest and reads HealthCheckResponse.status, skipping other fields', () => {
    assert.deepEqual(encodeHealthRequest(''), Buffer.alloc(0));
    assert.deepEqual(encodeHealthRequest('db'), Buffer.from([0x0a, 2, 0x64, 0x62]));
    assert.equal(encodeHealthRequest('x'.repeat(200)).subarray(0, 3).toString('hex'), '0ac801', 'a varint length');
    assert.equal(decodeHealthStatus(Buffer.from([0x08, 1])), 1);
    assert.equal(decodeHealthStatus(Buffer.alloc(0)), 0, 'absent: UNKNOWN');
    assert.equal(decodeHealthStatus(Buffer.from([0x12, 1, 0x41, 0x08, 2])), 2, 'an unknown field first');
    assert.throws(() => decodeHealthStatus(Buffer.from([0x08, 0x80])), /truncated varint/);
  });
});

describe('crib run: the Job controller', () => {
  it('a Job with neither completions nor parallelism wants one completion (the API server default)', () => {
    const m = parseManifests(
      `apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n${oneContainer}`,
    );
    assert.deepEqual(workload(m, 'j').job, { parallelism: 1, completions: 1, backoffLimit: 6, indexed: false });
    const queue = parseManifests(
      `apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  parallelism: 2\n  template:\n    spec:\n      restartPolicy: Never\n${oneContainer}`,
    );
    assert.equal(workload(queue, 'j').job?.completions, undefined, 'parallelism alone: a work queue');
  });
});

describe('crib generate', () => {
  it('gives a pod back as YAML (its claims, ConfigMaps and Secrets, then the Pod) that crib run reads into the same pod', () => {
    const m = parseManifests(`${CONFIG}---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
${template(`      containers:
        - name: c
          image: "${IMAGE}"
          env: [{name: K, valueFrom: {secretKeyRef: {name: sec, key: token}}}]
          volumeMounts: [{name: d, mountPath: /d}, {name: c, mountPath: /c}]
          readinessProbe: {httpGet: {path: /, port: 80}}
      volumes:
        - {name: d, persistentVolumeClaim: {claimName: data}}
        - {name: c, configMap: {name: cfg, defaultMode: 0600}}
`)}`);
    const pod = firstPod(m, 'web');
    const record = podRecord(pod, m);
    const docs = [...record.objects, record.pod];
    assert.deepEqual(
      docs.map((d) => `${String(d['kind'])}/${String((d['metadata'] as Record<string, unknown>)['name'])}`),
      ['PersistentVolumeClaim/data', 'Secret/sec', 'ConfigMap/cfg', `Pod/${pod.name}`],
    );
    const yaml = docs.map((d) => stringify(d, { lineWidth: 0, version: '1.1' })).join('---\n');
    const again = parseManifests(yaml);
    assert.deepEqual(again.warnings, []);
    const back = firstPod(again, pod.name);
    assert.deepEqual(back.spec, pod.spec);
    assert.deepEqual(back.labels, pod.labels);
    assert.deepEqual(again.objects, m.objects);
    const twice = podRecord(back, again);
    assert.deepEqual([...twice.objects, twice.pod], docs, 'generate of the re-run pod is the same');
  });
});

describe("crib jobs: where a Job stands, from its pods' exits", () => {
  const jobPod = (pod: string, exits: (number | undefined)[], completions = 1, job = 'batch'): JobPod => ({
    namespace: 'default',
    job,
    pod,
    uid: `uid-${pod}`,
    sandboxId: `sb-${pod}`,
    completions,
    createdMs: 1000,
    containers: exits.map((e, i) => ({ name: `c${i}`, exited: e !== undefined, exitCode: e ?? 0, finishedMs: e === undefined ? 0 : 5000 })),
  });

  it('is Running while a container runs, even one whose sibling failed; Failed when none runs short of its completions', () => {
    assert.equal(jobRows([jobPod('a', [undefined])])[0]?.status, 'Running');
    assert.deepEqual(
      jobRows([jobPod('a', [3, undefined])]).map((r) => [r.status, r.active, r.failed]),
      [['Running', 1, 0]],
    );
    const failed = jobRows([jobPod('a', [3])])[0];
    assert.deepEqual([failed?.status, failed?.succeeded, failed?.failed, failed?.pods[0]?.exitCodes], ['Failed', 0, 1, { c0: 3 }]);
  });

  it('is Complete once its completions succeeded (every container exited 0)', () => {
    assert.equal(jobRows([jobPod('a', [0, 0])])[0]?.status, 'Complete');
    assert.equal(jobRows([jobPod('a', [0, 1])])[0]?.status, 'Failed');
    const three = jobRows([jobPod('a', [0], 3), jobPod('b', [0], 3), jobPod('c', [undefined], 3)]);
    assert.deepEqual(
      three.map((r) => [r.status, `${r.succeeded}/${r.completions}`, r.endMs]),
      [['Running', '2/3', undefined]],
    );
    assert.deepEqual(
      jobRows([jobPod('x', [0], 1, 'b'), jobPod('y', [2], 1, 'a')]).map((r) => [r.name, r.status]),
      [
        ['a', 'Failed'],
        ['b', 'Complete'],
      ],
    );
  });
});

describe('crib run: exit statuses', () => {
  it('a run a signal ended exits 128 + its number, as a shell reports it', () => {
    assert.equal(signalExit('SIGINT'), 130);
    assert.equal(signalExit('SIGTERM'), 143);
  });
});

describe("crib run: kubelet's container log rotation", () => {
  it('keeps maxFiles - 2 rotated files before rotating again, compresses all but the newest, drops leftovers', () => {
    const rotated = ['c.log.20260101-000001.gz', 'c.log.20260101-000002.gz', 'c.log.20260101-000003', 'c.log.20260101-000004'];
    assert.deepEqual(planRotation(rotated, 5), {
      unused: [],
      excess: ['c.log.20260101-000001.gz'],
      compress: ['c.log.20260101-000003', 'c.log.20260101-000004'],
    });
    // a half-done compression: the .tmp and the original of a finished .gz go
    assert.deepEqual(planRotation(['c.log.20260101-000001', 'c.log.20260101-000001.gz', 'c.log.20260101-000002.gz.tmp'], 5), {
      unused: ['c.log.20260101-000001', 'c.log.20260101-000002.gz.tmp'],
      excess: [],
      compress: [],
    });
    assert.equal(KUBELET_LOG_ROTATION.maxBytes, 10 * 1024 * 1024);
    assert.equal(KUBELET_LOG_ROTATION.maxFiles, 5);
  });

  it("names a rotated log with Go's 20060102-150405 of the local time", () => {
    assert.equal(rotationStamp(new Date(2026, 0, 2, 3, 4, 5)), '20260102-030405');
  });

  it('rotates a large log with the printer: every line is printed once, in order, across the rotation', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-rotate-'));
    try {
      const file = path.join(dir, 'c_0.log');
      const line = (i: number) => `2026-01-01T00:00:00.000000000Z stdout F line ${i}\n`;
      fs.writeFileSync(file, Array.from({ length: 10 }, (_, i) => line(i)).join(''));
      let printed = '';
      const out = new Writable({
        write: (c: Buffer, _e, cb) => {
          printed += c.toString();
          cb();
        },
      });
      const printer = new LogPrinter({ out, color: false });
      await printer.follow('c', file);
      await printer.poll();
      // written after the last poll, before the rename: only the old file has them
      fs.appendFileSync(file, line(10) + line(11));
      const policy = { ...KUBELET_LOG_ROTATION, maxBytes: 100 };
      const moved = await printer.rotate('c', () => rotateLog(file, async () => fs.writeFileSync(file, line(12)), policy, new Date(2026, 0, 2, 3, 4, 5)));
      assert.equal(moved, `${file}.20260102-030405`);
      await printer.stop();
      assert.deepEqual(
        printed.trim().split('\n'),
        Array.from({ length: 13 }, (_, i) => `[c] line ${i}`),
      );
      // again: the earlier one is compressed; a failed reopen puts the log back
      fs.appendFileSync(file, line(13).repeat(10));
      await rotateLog(file, async () => fs.writeFileSync(file, ''), policy, new Date(2026, 0, 2, 3, 4, 6));
      assert.deepEqual(fs.readdirSync(dir).sort(), ['c_0.log', 'c_0.log.20260102-030405.gz', 'c_0.log.20260102-030406']);
      fs.appendFileSync(file, line(14).repeat(10));
      await assert.rejects(
        rotateLog(file, () => Promise.reject(new Error('no reopen')), policy),
        /no reopen/,
      );
      assert.ok(fs.readFileSync(file, 'utf8').includes('line 14'), 'the log is back under its name');
      assert.equal(await rotateLog(file, async () => undefined, { ...policy, maxBytes: 1 << 20 }), undefined, 'a small log stays');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('crib logs -f --tail N: the printer starts at the last N lines of what is there', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-tail-'));
    try {
      const file = path.join(dir, 'c_0.log');
      fs.writeFileSync(file, Array.from({ length: 5 }, (_, i) => `2026-01-01T00:00:00Z stdout F old ${i}\n`).join(''));
      let printed = '';
      const out = new Writable({
        write: (c: Buffer, _e, cb) => {
          printed += c.toString();
          cb();
        },
      });
      const printer = new LogPrinter({ out, color: false });
      await printer.follow('c', file, 2);
      await printer.poll();
      fs.appendFileSync(file, '2026-01-01T00:00:01Z stdout F new\n');
      await printer.stop();
      assert.deepEqual(printed.trim().split('\n'), ['[c] old 3', '[c] old 4', '[c] new']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reader that went away (destroyed output) does not hold the printer up', async () => {
    const out = new Writable({ highWaterMark: 1, write: (_c, _e, cb) => setTimeout(cb, 10) });
    out.destroy();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-gone-'));
    try {
      const file = path.join(dir, 'c_0.log');
      fs.writeFileSync(file, '2026-01-01T00:00:00Z stdout F x\n');
      const printer = new LogPrinter({ out, color: false });
      await printer.follow('c', file);
      await printer.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
