// crib run's pure parts: manifest parsing and validation, warnings, kubelet's
// conversions to CRI configs, the back-off, and the CRI log parser. No cribd needed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { parseManifests } from '../../src/kube/manifest/documents.js';
import { ManifestError, type Pod } from '../../src/kube/manifest/pod-spec.js';
import { initialPods } from '../../src/kube/plan/plan.js';
import {
  checkRunAsNonRoot,
  containerConfig,
  linuxResources,
  namespaceOptions,
  parseResolvConf,
  podDns,
  podSandboxConfig,
  preStopFromAnnotation,
} from '../../src/kube/pod/convert.js';
import { Backoff } from '../../src/kube/loop/backoff.js';
import { expand } from '../../src/kube/env/env.js';
import { CriLogParser } from '../../src/kube/pod/logs.js';
import { runCommand, downCommand } from '../../src/cli/run/index.js';
import type { ClientContext } from '../../src/client/context.js';
import type { CriClients } from '../../src/client/client.js';

const pod = (spec: string, meta = 'name: p'): string => `apiVersion: v1\nkind: Pod\nmetadata:\n  ${meta}\nspec:\n${spec}`;
/** The pods of a manifest's workloads, as crib run would start them. */
const parsed = (yaml: string): { pods: Pod[]; warnings: string[] } => {
  const m = parseManifests(yaml);
  return { pods: m.workloads.flatMap((w) => initialPods(w, () => 0)), warnings: m.warnings };
};
const one = (yaml: string): Pod => {
  const r = parsed(yaml);
  assert.equal(r.pods.length, 1);
  return r.pods[0] as Pod;
};
const simple = `  containers:\n    - name: c\n      image: busybox:1.36\n`;

function rejects(yaml: string, field: string, reason: RegExp): void {
  assert.throws(
    () => parseManifests(yaml),
    (e: unknown) => {
      assert.ok(e instanceof ManifestError, `expected a ManifestError, got ${String(e)}`);
      assert.equal(e.field, field, e.message);
      assert.match(e.reason, reason);
      return true;
    },
  );
}

describe('crib run manifests: parsing', () => {
  it('reads a Pod with defaults filled in as the API server does', () => {
    const p = one(pod(simple));
    assert.equal(p.name, 'p');
    assert.equal(p.namespace, 'default');
    assert.equal(p.spec.restartPolicy, 'Always');
    assert.equal(p.spec.terminationGracePeriodSeconds, 30);
    assert.equal(p.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(p.spec.containers[0]?.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(parseManifests(pod(simple)).warnings, []);
  });

  it("fills in a probe's timing as the API server does (core/v1 Probe: 0, 10, 1, 1, 3)", () => {
    const probe = (key: string) => `      ${key}:\n        exec:\n          command: ["true"]\n`;
    const c = one(pod(simple + probe('livenessProbe') + probe('readinessProbe') + probe('startupProbe'))).spec.containers[0];
    for (const kind of ['liveness', 'readiness', 'startup'] as const) {
      const p = c?.probes[kind];
      assert.ok(p, kind);
      assert.deepEqual(
        [p.initialDelaySeconds, p.periodSeconds, p.timeoutSeconds, p.successThreshold, p.failureThreshold],
        [0, 10, 1, 1, 3],
        `${kind}: initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold`,
      );
    }
  });

  it('defaults imagePullPolicy from the tag: latest or none → Always, a tag or digest → IfNotPresent', () => {
    const policy = (image: string) => one(pod(`  containers:\n    - name: c\n      image: "${image}"\n`)).spec.containers[0]?.imagePullPolicy;
    assert.equal(policy('busybox'), 'Always');
    assert.equal(policy('busybox:latest'), 'Always');
    assert.equal(policy('localhost:5000/x'), 'Always');
    assert.equal(policy('localhost:5000/x:1'), 'IfNotPresent');
    assert.equal(policy(`busybox@sha256:${'a'.repeat(64)}`), 'IfNotPresent');
    assert.equal(one(pod(`  containers:\n    - name: c\n      image: busybox\n      imagePullPolicy: Never\n`)).spec.containers[0]?.imagePullPolicy, 'Never');
  });

  it('takes several documents and Lists, skipping empty documents', () => {
    const two = `${pod(simple, 'name: a')}\n---\n---\n${pod(simple, 'name: b\n  namespace: other')}`;
    assert.deepEqual(
      parsed(two).pods.map((p) => `${p.namespace}/${p.name}`),
      ['default/a', 'other/b'],
    );
    const list = `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: x}\n    spec:\n      containers: [{name: c, image: busybox}]\n  - apiVersion: networking.k8s.io/v1\n    kind: Ingress\n    metadata: {name: s}\n`;
    const r = parsed(list);
    assert.deepEqual(
      r.pods.map((p) => p.name),
      ['x'],
    );
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(parseManifests(list).ignoredKinds, ['items[1] (kind "Ingress") is not supported by crib run; ignored']);
  });

  it('reads the supported fields', () => {
    const read = parsed(
      pod(`  shareProcessNamespace: true
  hostIPC: true
  hostname: web-0
  dnsPolicy: None
  dnsConfig:
    nameservers: [1.1.1.1]
    searches: [example.com]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    supplementalGroups: [4000]
    sysctls: [{name: net.core.somaxconn, value: "1024"}]
    seccompProfile: {type: RuntimeDefault}
  terminationGracePeriodSeconds: 7
  restartPolicy: OnFailure
  volumes:
    - name: scratch
      emptyDir: {}
    - name: mem
      emptyDir: {medium: Memory, sizeLimit: 64Mi}
    - name: host
      hostPath: {path: /srv/data, type: DirectoryOrCreate}
    - name: bare
  initContainers:
    - name: init
      image: busybox:1
      command: [sh, -c, "echo init"]
  containers:
    - name: app
      image: busybox:1
      command: [sh]
      args: ["-c", "echo $(GREETING)"]
      workingDir: /tmp
      env:
        - {name: GREETING, value: hi}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
      ports: [{containerPort: 80, hostPort: 8080, protocol: TCP, name: http}]
      resources:
        limits: {cpu: "1", memory: 1G}
        requests: {cpu: 500m}
      securityContext:
        runAsNonRoot: true
        readOnlyRootFilesystem: true
        allowPrivilegeEscalation: false
        capabilities: {add: [NET_ADMIN], drop: [ALL]}
        seccompProfile: {type: Localhost, localhostProfile: profiles/app.json}
      lifecycle:
        preStop:
          exec: {command: [sh, -c, "sleep 1"]}
      volumeMounts:
        - {name: scratch, mountPath: /scratch}
        - {name: host, mountPath: /data, readOnly: true, subPath: app}
`),
    );
    assert.deepEqual(read.warnings, []);
    const p = read.pods[0] as Pod;
    const s = p.spec;
    assert.equal(s.shareProcessNamespace, true);
    assert.equal(s.hostIPC, true);
    assert.equal(s.hostname, 'web-0');
    assert.deepEqual(s.dnsConfig, { nameservers: ['1.1.1.1'], searches: ['example.com'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] });
    assert.deepEqual(s.securityContext, {
      runAsUser: 1000,
      runAsGroup: 3000,
      supplementalGroups: [4000],
      sysctls: [{ name: 'net.core.somaxconn', value: '1024' }],
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.equal(s.terminationGracePeriodSeconds, 7);
    assert.equal(s.restartPolicy, 'OnFailure');
    assert.deepEqual(s.volumes, [
      { name: 'scratch', emptyDir: { medium: '' } },
      { name: 'mem', emptyDir: { medium: 'Memory', sizeLimitBytes: 64n * 1024n * 1024n } },
      { name: 'host', hostPath: { path: '/srv/data', type: 'DirectoryOrCreate' } },
      { name: 'bare', emptyDir: { medium: '' } },
    ]);
    const c = s.containers[0];
    assert.ok(c);
    assert.deepEqual(c.env, [
      { name: 'GREETING', value: 'hi' },
      { name: 'POD_IP', fieldPath: 'status.podIP' },
    ]);
    assert.deepEqual(c.ports, [{ containerPort: 80, hostPort: 8080, protocol: 'TCP', name: 'http' }]);
    assert.deepEqual(c.resources, { limits: { cpuMilli: 1000n, memoryBytes: 1_000_000_000n }, requests: { cpuMilli: 500n, memoryBytes: 1_000_000_000n } });
    assert.deepEqual(c.securityContext, {
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] },
      seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/app.json' },
    });
    assert.deepEqual(c.preStop, { exec: ['sh', '-c', 'sleep 1'] });
    assert.deepEqual(c.volumeMounts, [
      { name: 'scratch', mountPath: '/scratch', readOnly: false, propagation: 'None' },
      { name: 'host', mountPath: '/data', readOnly: true, propagation: 'None', subPath: 'app' },
    ]);
    assert.equal(s.initContainers[0]?.name, 'init');
    const sleepHook = one(pod(`  containers:\n    - name: c\n      image: busybox\n      lifecycle: {preStop: {sleep: {seconds: 3}}}\n`));
    assert.deepEqual(sleepHook.spec.containers[0]?.preStop, { sleepSeconds: 3 });
  });
});

describe('crib run manifests: unsupported fields are warned about, never dropped silently', () => {
  it('names every unsupported field with its path', () => {
    const r = parsed(`apiVersion: v1
kind: Pod
metadata:
  name: p
  generateName: p-
  uid: 123
spec:
  nodeName: n1
  serviceAccountName: sa
  tolerations: []
  subdomain: sub
  securityContext:
    fsGroup: 2000
  volumes:
    - name: cfg
      configMap: {name: cfg}
    - name: tmp
      emptyDir: {sizeLimit: 1Gi}
    - name: nfs
      nfs: {server: nfs.local, path: /export}
  containers:
    - name: c
      image: busybox
      stdin: true
      env:
        - name: HOST_IP
          valueFrom: {fieldRef: {fieldPath: status.hostIP}}
      resources:
        limits: {cpu: 1, nvidia.com/gpu: 1, ephemeral-storage: 1Gi}
      securityContext:
        procMount: Default
      lifecycle:
        preStop: {tcpSocket: {port: 80}}
      volumeMounts:
        - {name: cfg, mountPath: /cfg}
        - {name: tmp, mountPath: /tmp, subPathExpr: $(X)}
        - {name: nfs, mountPath: /nfs}
status:
  phase: Running
`);
    assert.deepEqual(
      [...r.warnings].sort(),
      [
        'metadata.generateName is not supported by crib run; ignored',
        'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath "status.hostIP" is not supported by crib run; HOST_IP is not set',
        'spec.containers[0].lifecycle.preStop.tcpSocket is not supported by crib run; ignored',
        'spec.containers[0].resources.limits.ephemeral-storage is not supported by crib run; ignored',
        'spec.containers[0].resources.limits[nvidia.com/gpu] is not supported by crib run; ignored',
        'spec.containers[0].securityContext.procMount is not supported by crib run; ignored',
        'spec.containers[0].volumeMounts[1].subPathExpr is not supported by crib run; ignored',
        'spec.containers[0].volumeMounts[2] mounts volume "nfs" (nfs), which crib run cannot provide; ignored',
        'spec.nodeName is not supported by crib run; ignored',
        'spec.securityContext.fsGroup is not supported by crib run; ignored',
        'spec.serviceAccountName is not supported by crib run; ignored',
        'spec.subdomain is not supported by crib run; ignored',
        'spec.tolerations is not supported by crib run; ignored',
        'spec.volumes[1].emptyDir.sizeLimit is not supported by crib run without medium: Memory; ignored',
        'spec.volumes[2].nfs is not supported by crib run; ignored',
      ].sort(),
    );
    const c = r.pods[0]?.spec.containers[0];
    assert.deepEqual(c?.env, [], 'the unsupported env vars are left out');
    assert.equal(c?.stdin, true, 'stdin is kept, as kubelet keeps it');
    assert.deepEqual(
      c?.volumeMounts.map((m) => m.name),
      ['cfg', 'tmp'],
      'the mount of the unsupported volume is left out',
    );
  });

  it('prefixes warnings of several documents with the document', () => {
    const r = parseManifests(`${pod(simple, 'name: a')}\n---\n${pod(`${simple}      terminationMessagePolicy: File\n`, 'name: b')}`);
    assert.deepEqual(r.warnings, ['document 2: spec.containers[0].terminationMessagePolicy is not supported by crib run; ignored']);
  });

  it('--strict refuses them (exit 2) before talking to the runtime', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-manifest-'));
    try {
      const file = path.join(dir, 'probe.yaml');
      fs.writeFileSync(file, pod(`${simple}      terminationMessagePolicy: File\n`));
      const t = fakeContext();
      assert.equal(await runCommand(['--strict', file], t.ctx), 2);
      assert.match(t.err(), /^error: spec\.containers\[0\]\.terminationMessagePolicy is not supported by crib run$/m);
      assert.match(t.err(), /--strict: 1 unsupported field .*nothing was created/);
      assert.equal(t.touched(), false, 'the runtime was never called');

      fs.writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata: {name: p\nspec: [');
      const m = fakeContext();
      assert.equal(await runCommand([file], m.ctx), 2);
      assert.match(m.err(), /probe\.yaml: malformed YAML at line \d+, column \d+/);
      assert.equal(m.touched(), false);

      // A claim's storage (which Kubernetes requires) is no unsupported field; a kind crib does not run is no field.
      const claim =
        'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n';
      const ingress = 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: s}\nspec: {rules: []}\n';
      fs.writeFileSync(file, `${claim}---\n${ingress}---\n${pod(`${simple}      terminationMessagePolicy: File\n`)}`);
      const k = fakeContext();
      assert.equal(await runCommand(['--strict', file], k.ctx), 2);
      assert.doesNotMatch(k.err(), /storage/);
      assert.match(k.err(), /^error: document 2 \(kind "Ingress"\) is not supported by crib run$/m);
      assert.match(k.err(), /--strict: 1 unsupported kind and 1 unsupported field in .*; nothing was created/);
      fs.writeFileSync(file, `${claim}---\n${pod(simple)}`);
      const s = fakeContext();
      assert.equal(await runCommand(['--strict', file], s.ctx), 1, 'past the checks: the runtime is asked (and the fake fails)');
      assert.doesNotMatch(s.err(), /unsupported|storage/);

      const u = fakeContext();
      assert.equal(await runCommand(['--pull', 'sometimes', file], u.ctx), 2);
      assert.equal(await downCommand([], u.ctx), 2);
      assert.equal(u.touched(), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A ClientContext whose runtime clients record that they were touched (and fail). */
function fakeContext(): { ctx: ClientContext; err: () => string; touched: () => boolean } {
  let touched = false;
  const clients = new Proxy({} as CriClients, {
    get() {
      touched = true;
      throw new Error('the runtime must not be called');
    },
  });
  let errText = '';
  const out = new Writable({ write: (_c, _e, cb) => cb() });
  const err = new Writable({
    write: (c: Buffer, _e, cb) => {
      errText += c.toString();
      cb();
    },
  });
  return { ctx: { clients, socket: '/nonexistent', out, err, isTTY: false, color: false }, err: () => errText, touched: () => touched };
}

describe('crib run manifests: invalid Pods are errors naming the field', () => {
  it('rejects malformed YAML with its position', () => {
    rejects('apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x\n', '', /^malformed YAML at line \d+, column \d+/);
    rejects('a: 1\na: 2\n', '', /malformed YAML/);
  });

  it('reports an indentation error where the indentation goes wrong, not where the parser notices', () => {
    const env = Array.from({ length: 20 }, (_, i) => `      - name: E${i}\n        value: v`).join('\n');
    // `containers:` at column 1 closes the spec: the parser only stumbles on `volumes:`, 42 lines on.
    const text = pod(`  restartPolicy: Never\ncontainers:\n  - name: c\n    image: busybox\n    env:\n${env}\n  volumes: []\n`);
    const lines = text.split('\n');
    const bad = lines.indexOf('containers:') + 1;
    rejects(
      text,
      '',
      new RegExp(`^malformed YAML at line ${bad}, column 1 \\("containers:"\\): .*line ${lines.indexOf('  volumes: []') + 1} no longer lines up`),
    );
    // A line out of line with its siblings is itself the place.
    const own = pod('  restartPolicy: Never\n containers: []\n');
    rejects(own, '', new RegExp(`^malformed YAML at line ${own.split('\n').indexOf(' containers: []') + 1}, column \\d+: `));
  });

  it('tells a typo from an unsupported field: an unknown field near a known one is an error naming it', () => {
    rejects(
      pod(`${simple}      readinesProbe: {exec: {command: ["true"]}}\n`),
      'spec.containers[0].readinesProbe',
      /^unknown field \(did you mean readinessProbe\?\)$/,
    );
    rejects(pod(`${simple}  restartPolicyy: Never\n`), 'spec.restartPolicyy', /did you mean restartPolicy\?/);
    rejects(
      pod(`${simple}      livenessProbe: {exec: {command: ["true"]}, periodSecond: 2}\n`),
      'spec.containers[0].livenessProbe.periodSecond',
      /did you mean periodSeconds\?/,
    );
    rejects(`apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d}\n`, 'kind', /^unknown kind "Deploymnet" \(did you mean Deployment\?\)$/);
    // Kubernetes fields crib does not run stay warnings; a name far from every field is unknown, not a typo.
    assert.deepEqual(parsed(pod(`${simple}      terminationMessagePolicy: File\n      frobnicate: 1\n`)).warnings, [
      'spec.containers[0].terminationMessagePolicy is not supported by crib run; ignored',
      'spec.containers[0].frobnicate is an unknown field; ignored',
    ]);
    for (const kind of ['Ingress', 'Namespace', 'ServiceAccount', 'Role', 'Endpoints']) {
      assert.deepEqual(parseManifests(`apiVersion: v1\nkind: ${kind}\nmetadata: {name: x}\n`).ignoredKinds.length, 1, kind);
    }
  });

  it('rejects invalid Pods', () => {
    rejects(pod('  containers: []'), 'spec.containers', /at least one container/);
    rejects(pod('  containers:\n    - name: c\n'), 'spec.containers[0].image', /required/);
    rejects(pod('  containers:\n    - image: busybox\n'), 'spec.containers[0].name', /required/);
    rejects(pod('  containers:\n    - {name: c, image: "Busy Box"}\n'), 'spec.containers[0].image', /invalid image reference/);
    rejects(
      pod('  containers:\n    - {name: c, image: busybox}\n    - {name: c, image: busybox}\n'),
      'spec.containers[1].name',
      /already the name of spec\.containers\[0\]/,
    );
    rejects(
      pod('  initContainers:\n    - {name: c, image: busybox}\n  containers:\n    - {name: c, image: busybox}\n'),
      'spec.containers[0].name',
      /already the name of spec\.initContainers\[0\]/,
    );
    rejects(pod('  containers:\n    - {name: Web, image: busybox}\n'), 'spec.containers[0].name', /DNS label/);
    rejects(pod(`${simple}      resources: {limits: {memory: 64MB}}\n`), 'spec.containers[0].resources.limits.memory', /"64MB" is not a quantity/);
    rejects(pod(`${simple}      resources: {limits: {cpu: "-1"}}\n`), 'spec.containers[0].resources.limits.cpu', /negative/);
    rejects(
      pod(`${simple}      resources: {limits: {cpu: 500m}, requests: {cpu: "1"}}\n`),
      'spec.containers[0].resources.requests.cpu',
      /less than or equal to the cpu limit/,
    );
    rejects(pod(`${simple}      args: [sleep, 10]\n`), 'spec.containers[0].args[1]', /must be a string \(quote it: "10"\)/);
    rejects(pod(`${simple}      env: [{name: X, value: 1}]\n`), 'spec.containers[0].env[0].value', /quote it/);
    rejects(pod(`${simple}      volumeMounts: [{name: nope, mountPath: /x}]\n`), 'spec.containers[0].volumeMounts[0].name', /no volume named "nope"/);
    rejects(
      pod(`${simple}      volumeMounts: [{name: v, mountPath: x}]\n  volumes: [{name: v, emptyDir: {}}]\n`),
      'spec.containers[0].volumeMounts[0].mountPath',
      /absolute/,
    );
    rejects(
      pod(`${simple}      volumeMounts: [{name: v, mountPath: /x, subPath: ../up}]\n  volumes: [{name: v, emptyDir: {}}]\n`),
      'spec.containers[0].volumeMounts[0].subPath',
      /\.\./,
    );
    rejects(pod(`${simple}  volumes: [{name: v, emptyDir: {}, hostPath: {path: /x}}]\n`), 'spec.volumes[0]', /exactly one volume source/);
    rejects(pod(`${simple}  restartPolicy: Sometimes\n`), 'spec.restartPolicy', /not one of "Always", "OnFailure", "Never"/);
    rejects(pod(`${simple}  dnsPolicy: None\n`), 'spec.dnsConfig', /at least one nameserver/);
    rejects(pod(`${simple}  hostPID: true\n  shareProcessNamespace: true\n`), 'spec.shareProcessNamespace', /hostPID/);
    rejects(pod(`${simple}  hostNetwork: "yes"\n`), 'spec.hostNetwork', /true or false/);
    rejects(pod(`${simple}      ports: [{containerPort: 70000}]\n`), 'spec.containers[0].ports[0].containerPort', /out of range/);
    rejects(
      pod(`${simple}      securityContext: {privileged: true, allowPrivilegeEscalation: false}\n`),
      'spec.containers[0].securityContext.allowPrivilegeEscalation',
      /privileged/,
    );
    rejects(pod(`${simple}      securityContext: {runAsUser: 0, runAsNonRoot: true}\n`), 'spec.containers[0].securityContext.runAsUser', /runAsNonRoot/);
    rejects(
      pod(`${simple}      env: [{name: X, valueFrom: {fieldRef: {fieldPath: spec.bogus}}}]\n`),
      'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath',
      /not a supported field path/,
    );
    rejects(
      pod('  initContainers: [{name: i, image: busybox, lifecycle: {preStop: {sleep: {seconds: 1}}}}]\n  containers: [{name: c, image: busybox}]\n'),
      'spec.initContainers[0].lifecycle',
      /init containers/,
    );
    rejects('apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c, image: busybox}]}\n', 'metadata', /required/);
    rejects('apiVersion: apps/v1\nkind: Pod\nmetadata: {name: p}\n', 'apiVersion', /not v1/);
    rejects('apiVersion: v1\nmetadata: {name: p}\n', 'kind', /required/);
    rejects('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n', 'spec', /required/);
    rejects(`${pod(simple)}\n---\n${pod('  containers: []')}`, 'document 2: spec.containers', /at least one container/);
  });
});

describe('conversion to CRI configs', () => {
  const full = one(
    pod(
      `  hostname: h1
  securityContext:
    runAsUser: 1000
    supplementalGroups: [5]
    sysctls: [{name: net.ipv4.ip_forward, value: "1"}]
  volumes:
    - {name: data, emptyDir: {}}
  containers:
    - name: app
      image: busybox:1
      command: [sh, -c]
      args: ["echo $(POD_NAME) $(MISSING) $$(POD_NAME)"]
      env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
        - {name: GREETING, value: "hello $(POD_NAME) from $(NS)"}
      ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 53, protocol: UDP}]
      securityContext:
        runAsUser: 2000
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {add: [NET_ADMIN], drop: [NET_RAW]}
        seccompProfile: {type: Localhost, localhostProfile: my.json}
      lifecycle: {preStop: {exec: {command: [sh, -c, "echo bye"]}}}
      volumeMounts: [{name: data, mountPath: /data, subPath: sub}]
    - name: side
      image: busybox:1
  terminationGracePeriodSeconds: 12
`,
      'name: web\n  namespace: prod\n  labels: {tier: front}\n  annotations: {note: x}',
    ),
  );

  it("gives a container's resources to the CRI as kubelet does (requests default to the limits)", () => {
    const r = one(pod(`${simple}      resources: {limits: {cpu: 250m, memory: 64Mi}}\n`)).spec.containers[0]?.resources;
    assert.ok(r);
    assert.deepEqual(
      linuxResources(r),
      { cpu_shares: '256', cpu_quota: '25000', cpu_period: '100000', oom_score_adj: '0', memory_limit_in_bytes: String(64 * 1024 * 1024) },
      'the request defaults to the limit',
    );
    assert.deepEqual(linuxResources({ limits: {}, requests: {} }), { cpu_shares: '2', cpu_quota: '0', cpu_period: '100000', oom_score_adj: '0' });
  });

  it('builds the PodSandboxConfig kubelet sends', () => {
    const sb = podSandboxConfig(full, { uid: 'u-1', seccompRoot: '/var/lib/crib/seccomp' });
    assert.deepEqual(sb.metadata, { name: 'web', namespace: 'prod', uid: 'u-1', attempt: 0 });
    assert.equal(sb.log_directory, '/var/log/pods/prod_web_u-1');
    assert.equal(sb.hostname, 'h1');
    assert.deepEqual(sb.labels, {
      tier: 'front',
      'io.kubernetes.pod.name': 'web',
      'io.kubernetes.pod.namespace': 'prod',
      'io.kubernetes.pod.uid': 'u-1',
      'io.crib.run.owner-kind': 'Pod',
      'io.crib.run.owner-name': 'web',
    });
    assert.deepEqual(sb.annotations, { note: 'x', 'io.crib.run.qosClass': 'BestEffort' });
    assert.deepEqual(sb.port_mappings, [{ container_port: 80, host_port: 8080, protocol: 0 }]);
    assert.deepEqual(sb.linux?.sysctls, { 'net.ipv4.ip_forward': '1' });
    const sc = sb.linux?.security_context;
    assert.deepEqual(sc?.namespace_options, { network: 0, pid: 1, ipc: 0 });
    assert.deepEqual(sc?.run_as_user, { value: '1000' });
    assert.deepEqual(sc?.supplemental_groups, ['5']);
    assert.deepEqual(sc?.seccomp, { profile_type: 1 }, 'Unconfined without a profile, as kubelet does by default');
    assert.equal(sb.dns_config, undefined, "ClusterFirst without cluster DNS: the host's resolv.conf");
    assert.equal(podSandboxConfig(one(pod(simple, 'name: x')), { uid: 'u', seccompRoot: '/s' }).hostname, 'x', 'the pod name by default');
  });

  it('maps hostNetwork, hostPID, hostIPC and shareProcessNamespace to namespace modes', () => {
    const ns = (extra: string) => namespaceOptions(one(pod(`${simple}${extra}`)));
    assert.deepEqual(ns(''), { network: 0, pid: 1, ipc: 0 });
    assert.deepEqual(ns('  shareProcessNamespace: true\n'), { network: 0, pid: 0, ipc: 0 });
    assert.deepEqual(ns('  hostPID: true\n'), { network: 0, pid: 2, ipc: 0 });
    assert.deepEqual(ns('  hostNetwork: true\n  hostIPC: true\n'), { network: 2, pid: 1, ipc: 2 });
    const hn = podSandboxConfig(one(pod(`${simple}  hostNetwork: true\n`)), { uid: 'u', seccompRoot: '/s' });
    assert.equal(hn.hostname, undefined, 'a host-network pod keeps the node hostname');
  });

  it('computes DNS: None is dnsConfig alone, other policies append it to the host resolv.conf', () => {
    const host = parseResolvConf('# generated\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example\noptions ndots:1 rotate\n');
    assert.deepEqual(host, { nameservers: ['10.0.0.2', '10.0.0.3'], searches: ['corp.example'], options: [{ name: 'ndots', value: '1' }, { name: 'rotate' }] });
    const none = one(pod(`${simple}  dnsPolicy: None\n  dnsConfig: {nameservers: [1.1.1.1], options: [{name: ndots, value: "3"}]}\n`));
    assert.deepEqual(podDns(none, host), { servers: ['1.1.1.1'], searches: [], options: ['ndots:3'] });
    const merged = one(pod(`${simple}  dnsConfig: {nameservers: [10.0.0.3, 1.1.1.1, 8.8.8.8], searches: [x.example], options: [{name: ndots, value: "5"}]}\n`));
    assert.deepEqual(podDns(merged, host), {
      servers: ['10.0.0.2', '10.0.0.3', '1.1.1.1'],
      searches: ['corp.example', 'x.example'],
      options: ['ndots:5', 'rotate'],
    });
  });

  it('builds the ContainerConfig: fieldRef env, $(VAR) expansion, mounts, security, annotations', () => {
    const app = full.spec.containers[0];
    assert.ok(app);
    const c = containerConfig(full, app, {
      uid: 'u-1',
      podIP: '10.1.2.3',
      podIPs: ['10.1.2.3'],
      nodeName: 'node1',
      attempt: 2,
      imageRef: 'sha256:abc',
      volumePaths: { data: '/root/pods/u-1/volumes/data' },
      subPathSources: ['/root/pods/u-1/volume-subpaths/data/app/0'],
      seccompRoot: '/var/lib/crib/seccomp',
      init: false,
      objects: new Map(),
      capacity: { cpuMilli: 2000n, memoryBytes: 4n << 30n },
    });
    assert.deepEqual(c.metadata, { name: 'app', attempt: 2 });
    assert.deepEqual(c.image, { image: 'sha256:abc', user_specified_image: 'busybox:1' });
    assert.equal(c.log_path, 'app/2.log');
    assert.deepEqual(c.envs, [
      { key: 'POD_NAME', value: 'web' },
      { key: 'NS', value: 'prod' },
      { key: 'IP', value: '10.1.2.3' },
      { key: 'TIER', value: 'front' },
      { key: 'GREETING', value: 'hello web from prod' },
    ]);
    assert.deepEqual(c.command, ['sh', '-c']);
    assert.deepEqual(c.args, ['echo web $(MISSING) $(POD_NAME)']);
    assert.deepEqual(
      c.mounts,
      [{ container_path: '/data', host_path: '/root/pods/u-1/volume-subpaths/data/app/0', readonly: false, propagation: 0 }],
      'a subPath is mounted from where it was bound, never from the volume path joined with it (a container may have made that a symlink)',
    );
    assert.deepEqual(c.labels, {
      'io.kubernetes.container.name': 'app',
      'io.kubernetes.pod.name': 'web',
      'io.kubernetes.pod.namespace': 'prod',
      'io.kubernetes.pod.uid': 'u-1',
    });
    const ann = c.annotations ?? {};
    assert.equal(ann['io.kubernetes.pod.terminationGracePeriod'], '12');
    assert.equal(ann['io.kubernetes.container.name'], 'app');
    assert.equal(ann['io.kubernetes.container.restartCount'], '2');
    assert.deepEqual(preStopFromAnnotation(ann['io.kubernetes.container.preStopHandler']), { exec: ['sh', '-c', 'echo bye'] });
    const sc = c.linux?.security_context;
    assert.deepEqual(sc?.run_as_user, { value: '2000' }, "the container's runAsUser wins over the pod's");
    assert.equal(sc?.no_new_privs, true);
    assert.equal(sc?.readonly_rootfs, true);
    assert.deepEqual(sc?.capabilities, { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['NET_RAW'] });
    assert.deepEqual(sc?.seccomp, { profile_type: 2, localhost_ref: '/var/lib/crib/seccomp/my.json' });
    assert.deepEqual(sc?.namespace_options, { network: 0, pid: 1, ipc: 0 });
    assert.deepEqual(sc?.supplemental_groups, ['5']);
    assert.deepEqual(c.linux?.resources, { cpu_shares: '2', cpu_quota: '0', cpu_period: '100000', oom_score_adj: '1000' }, 'BestEffort: 1000');

    const side = containerConfig(full, full.spec.containers[1] as Pod['spec']['containers'][0], {
      uid: 'u-1',
      podIP: '',
      podIPs: [],
      nodeName: 'n',
      attempt: 0,
      imageRef: 'i',
      volumePaths: {},
      seccompRoot: '/s',
      init: false,
      objects: new Map(),
      capacity: { cpuMilli: 2000n, memoryBytes: 4n << 30n },
    });
    assert.deepEqual(side.linux?.security_context?.run_as_user, { value: '1000' }, "the pod's runAsUser otherwise");
    assert.equal(side.linux?.security_context?.no_new_privs, false);
    assert.equal(side.annotations?.['io.kubernetes.container.preStopHandler'], undefined);
  });

  it('expands $(VAR) as Kubernetes does', () => {
    const vars: Record<string, string> = { A: 'x', B: 'y' };
    const look = (n: string) => vars[n];
    assert.equal(expand('$(A)-$(B)', look), 'x-y');
    assert.equal(expand('$$(A) $(C) $A $( $(A', look), '$(A) $(C) $A $( $(A');
    assert.equal(expand('$$$(A)$', look), '$x$');
  });

  it("checks runAsNonRoot against the image's user as kubelet does", () => {
    const nr = one(pod(`${simple}      securityContext: {runAsNonRoot: true}\n`));
    const c = nr.spec.containers[0] as Pod['spec']['containers'][0];
    assert.match(checkRunAsNonRoot(nr, c, {}) ?? '', /will run as root/);
    assert.match(checkRunAsNonRoot(nr, c, { uid: '0' }) ?? '', /will run as root/);
    assert.equal(checkRunAsNonRoot(nr, c, { uid: '1000' }), undefined);
    assert.match(checkRunAsNonRoot(nr, c, { username: 'app' }) ?? '', /non-numeric user \(app\)/);
    const withUid = one(pod(`${simple}      securityContext: {runAsNonRoot: true, runAsUser: 1000}\n`));
    assert.equal(checkRunAsNonRoot(withUid, withUid.spec.containers[0] as Pod['spec']['containers'][0], {}), undefined);
    const plain = one(pod(simple));
    assert.equal(checkRunAsNonRoot(plain, plain.spec.containers[0] as Pod['spec']['containers'][0], {}), undefined, 'without runAsNonRoot nothing is checked');
    const podLevel = one(pod(`${simple}  securityContext: {runAsNonRoot: true}\n`));
    assert.match(
      checkRunAsNonRoot(podLevel, podLevel.spec.containers[0] as Pod['spec']['containers'][0], { uid: '0' }) ?? '',
      /root/,
      "the pod's runAsNonRoot applies too",
    );
  });
});

describe("kubelet's restart back-off", () => {
  it('restarts at once, then waits 10 s doubling up to 5 min, and starts over after a long run', () => {
    const b = new Backoff();
    let t = 1_000_000;
    assert.equal(b.delay(t, t), 0, 'first crash: restart at once');
    b.next(t, t);
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      t += 1000; // crashed a second after its restart
      const d = b.delay(t, t);
      waits.push(d);
      t += d;
      b.next(t - d, t);
    }
    assert.deepEqual(waits, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    t += 11 * 60_000; // ran for 11 minutes
    assert.equal(b.delay(t, t), 0);
    b.next(t, t);
    assert.equal(b.currentMs, 10_000);
  });
});

describe('CRI log parsing', () => {
  it('joins partial lines and keeps an unfinished line for the next read', () => {
    const p = new CriLogParser();
    assert.deepEqual(p.push(Buffer.from('2024-01-01T00:00:00Z stdout F one\n2024-01-01T00:00:00Z stderr P tw')), [{ stream: 'stdout', text: 'one' }]);
    assert.deepEqual(p.push(Buffer.from('o\n2024-01-01T00:00:00Z stderr F  and more\n2024-01-01T00:00:00Z stdout F \n')), [
      { stream: 'stderr', text: 'two and more' },
      { stream: 'stdout', text: '' },
    ]);
    assert.deepEqual(p.push(Buffer.from('2024-01-01T00:00:00Z stdout P left\n')), []);
    assert.deepEqual(p.flush(), [{ stream: 'stdout', text: 'left' }]);
  });
});
