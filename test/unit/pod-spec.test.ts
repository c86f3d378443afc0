// A pod spec's rules (manifest/pod-spec.ts) against what the API server defaults and refuses
// (k8s.io/api/core/v1 types, pkg/apis/core/validation): probes and their handlers, lifecycle
// hooks, ports, env and envFrom, security contexts, resources, DNS, host aliases, and the checks
// across a pod. Objects are given as JSON (no YAML), to pod-spec.ts alone, so the run-parsing
// mutation suite runs this file cheaply for each of its mutants (test/mutation.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fields } from '../../src/kube/manifest/fields.js';
import { ManifestError, parseMetadata, parsePod, parsePodTemplate, type ContainerSpec, type Pod, type Probe } from '../../src/kube/manifest/pod-spec.js';

type Obj = Record<string, unknown>;
const IMAGE = 'busybox:1.36';
const container = (extra: Obj = {}, name = 'c'): Obj => ({ name, image: IMAGE, ...extra });

/** A Pod of these spec fields (one container `c` unless `containers` is given); its warnings. */
function read(spec: Obj, meta: Obj = { name: 'p' }): { pod: Pod; warnings: string[] } {
  const warnings: string[] = [];
  const doc = { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec: { containers: [container()], ...spec } };
  return { pod: parsePod(Fields.of(doc, '', warnings), warnings), warnings };
}
const spec = (s: Obj) => read(s).pod.spec;
/** The one container of a pod whose container `c` has these fields. */
const one = (extra: Obj): ContainerSpec => {
  const c = spec({ containers: [container(extra)] }).containers[0];
  assert.ok(c);
  return c;
};
const C0 = 'spec.containers[0]';

function refuses(s: Obj, field: string, reason: RegExp): void {
  assert.throws(
    () => read(s),
    (e: unknown) => {
      assert.ok(e instanceof ManifestError, `expected a ManifestError, got ${String(e)}`);
      assert.equal(e.field, field, e.message);
      assert.match(e.reason, reason);
      return true;
    },
    `${field} ${String(reason)}`,
  );
}
/** The container `c` with these fields is refused at `field` (under spec.containers[0]). */
const refusesContainer = (extra: Obj, field: string, reason: RegExp): void => refuses({ containers: [container(extra)] }, `${C0}.${field}`, reason);

const exec = { exec: { command: ['true'] } };
const probeOf = (kind: 'livenessProbe' | 'readinessProbe' | 'startupProbe', p: Obj, extra: Obj = {}): Probe => {
  const c = one({ [kind]: { ...exec, ...p }, ...extra });
  const got = c.probes[kind.replace('Probe', '') as 'liveness' | 'readiness' | 'startup'];
  assert.ok(got);
  return got;
};

describe('pod spec: probes (core/v1 Probe)', () => {
  it('fills in the API server defaults: initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1, successThreshold 1, failureThreshold 3', () => {
    for (const kind of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
      const p = probeOf(kind, {});
      assert.deepEqual(
        p,
        { handler: { exec: ['true'] }, initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
        kind,
      );
    }
  });

  it('reads the timing as given', () => {
    const p = probeOf('readinessProbe', { initialDelaySeconds: 4, periodSeconds: 2, timeoutSeconds: 3, successThreshold: 2, failureThreshold: 7 });
    assert.deepEqual([p.initialDelaySeconds, p.periodSeconds, p.timeoutSeconds, p.successThreshold, p.failureThreshold], [4, 2, 3, 2, 7]);
    assert.equal(p.terminationGracePeriodSeconds, undefined);
  });

  it('takes the minimums of validation (initialDelaySeconds 0, the others 1) and refuses below them', () => {
    const p = probeOf('livenessProbe', { initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 });
    assert.deepEqual([p.initialDelaySeconds, p.periodSeconds, p.timeoutSeconds, p.successThreshold, p.failureThreshold], [0, 1, 1, 1, 1]);
    const bounds: [string, number][] = [
      ['initialDelaySeconds', -1],
      ['periodSeconds', 0],
      ['timeoutSeconds', 0],
      ['successThreshold', 0],
      ['failureThreshold', 0],
    ];
    for (const [field, v] of bounds) {
      refusesContainer(
        { readinessProbe: { ...exec, [field]: v } },
        `readinessProbe.${field}`,
        new RegExp(`^${v} is out of range \\(${v + 1}\\.\\.2147483647\\)$`),
      );
    }
    refusesContainer({ readinessProbe: { ...exec, periodSeconds: 2 ** 31 } }, 'readinessProbe.periodSeconds', /out of range/);
  });

  it('successThreshold must be 1 for liveness and startup probes, not for readiness', () => {
    for (const kind of ['livenessProbe', 'startupProbe'] as const) {
      refusesContainer(
        { [kind]: { ...exec, successThreshold: 2 } },
        `${kind}.successThreshold`,
        new RegExp(`^must be 1 for a ${kind.replace('Probe', '')} probe$`),
      );
    }
    assert.equal(probeOf('readinessProbe', { successThreshold: 2 }).successThreshold, 2);
  });

  it('a probe-level terminationGracePeriodSeconds: positive, for liveness and startup only', () => {
    assert.equal(probeOf('livenessProbe', { terminationGracePeriodSeconds: 5 }).terminationGracePeriodSeconds, 5);
    assert.equal(probeOf('startupProbe', { terminationGracePeriodSeconds: 1 }).terminationGracePeriodSeconds, 1);
    refusesContainer({ livenessProbe: { ...exec, terminationGracePeriodSeconds: 0 } }, 'livenessProbe.terminationGracePeriodSeconds', /out of range \(1\.\./);
    refusesContainer(
      { readinessProbe: { ...exec, terminationGracePeriodSeconds: 5 } },
      'readinessProbe.terminationGracePeriodSeconds',
      /^may not be set for a readiness probe$/,
    );
  });

  it('has exactly one handler of exec, httpGet, tcpSocket and grpc', () => {
    refusesContainer({ livenessProbe: { periodSeconds: 1 } }, 'livenessProbe', /^must have a handler \(exec, httpGet, tcpSocket, grpc\)$/);
    refusesContainer({ livenessProbe: { ...exec, tcpSocket: { port: 1 } } }, 'livenessProbe', /^must have exactly one handler, has exec, tcpSocket$/);
    refusesContainer({ readinessProbe: { sleep: { seconds: 1 } } }, 'readinessProbe', /^a probe has exec, httpGet, tcpSocket or grpc$/);
  });

  it('keeps the three probes apart', () => {
    const c = one({
      livenessProbe: { ...exec, periodSeconds: 1 },
      readinessProbe: { ...exec, periodSeconds: 2 },
      startupProbe: { ...exec, periodSeconds: 3 },
    });
    assert.deepEqual([c.probes.liveness?.periodSeconds, c.probes.readiness?.periodSeconds, c.probes.startup?.periodSeconds], [1, 2, 3]);
    assert.deepEqual(one({}).probes, {});
  });
});

describe('pod spec: probe and hook handlers', () => {
  const handler = (h: Obj, ports: Obj[] = []) => probeOf('readinessProbe', {}, { readinessProbe: h, ports }).handler;

  it('exec: a command is required', () => {
    assert.deepEqual(handler({ exec: { command: ['sh', '-c', 'x'] } }), { exec: ['sh', '-c', 'x'] });
    refusesContainer({ readinessProbe: { exec: { command: [] } } }, 'readinessProbe.exec.command', /^required$/);
    refusesContainer({ readinessProbe: { exec: {} } }, 'readinessProbe.exec.command', /^required$/);
  });

  it('httpGet: path "/" by default and made absolute, scheme HTTP, the port by number or by the name of a container port', () => {
    assert.deepEqual(handler({ httpGet: { port: 8080 } }), { httpGet: { path: '/', port: 8080, scheme: 'HTTP', headers: [] } });
    assert.deepEqual(handler({ httpGet: { port: '8080', path: 'healthz' } }), { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP', headers: [] } });
    assert.deepEqual(
      handler({ httpGet: { port: 'web', path: '/h', scheme: 'HTTPS', host: '10.0.0.1' } }, [
        { containerPort: 9090, name: 'web' },
        { containerPort: 80, name: 'other' },
      ]),
      {
        httpGet: { path: '/h', port: 9090, scheme: 'HTTPS', headers: [], host: '10.0.0.1' },
      },
    );
    assert.deepEqual(handler({ httpGet: { port: 80, httpHeaders: [{ name: 'X-Custom', value: 'a b' }, { name: 'Accept' }] } }), {
      httpGet: {
        path: '/',
        port: 80,
        scheme: 'HTTP',
        headers: [
          { name: 'X-Custom', value: 'a b' },
          { name: 'Accept', value: '' },
        ],
      },
    });
  });

  it('httpGet: refuses a bad port, scheme, path, header or host', () => {
    const at = (h: Obj, field: string, reason: RegExp, ports: Obj[] = []) =>
      refusesContainer({ readinessProbe: { httpGet: h }, ports }, `readinessProbe.httpGet.${field}`, reason);
    at({}, 'port', /^required$/);
    at({ port: 0 }, 'port', /^0 is not a port \(1\.\.65535\)$/);
    at({ port: 65536 }, 'port', /^65536 is not a port \(1\.\.65535\)$/);
    at({ port: 'web' }, 'port', /^no port named "web" in the container's ports$/, [{ containerPort: 80, name: 'http' }]);
    at({ port: 80, scheme: 'FTP' }, 'scheme', /"FTP" is not one of "HTTP", "HTTPS"/);
    at({ port: 80, path: '/a b' }, 'path', /^"\/a b" must not contain spaces$/);
    at({ port: 80, path: '/a\tb' }, 'path', /must not contain spaces/);
    at({ port: 80, httpHeaders: [{ name: 'Bad Name', value: 'x' }] }, 'httpHeaders[0].name', /^"Bad Name" is not an HTTP header name$/);
    at({ port: 80, httpHeaders: [{ name: 'X:', value: 'x' }] }, 'httpHeaders[0].name', /not an HTTP header name/);
    at({ port: 80, httpHeaders: [{ value: 'x' }] }, 'httpHeaders[0].name', /^required$/);
    for (const v of ['a\r\nInjected: 1', 'a\nb', 'a\0b'])
      at({ port: 80, httpHeaders: [{ name: 'X', value: v }] }, 'httpHeaders[0].value', /^must not contain line breaks$/);
    at({ port: 80, host: 'a b' }, 'host', /^"a b" is not a host name or IP address$/);
    at({ port: 80, host: 'a/b' }, 'host', /not a host name/);
    at({ port: 80, host: 'a'.repeat(254) }, 'host', /not a host name/);
  });

  it('httpGet: a header name is any HTTP token; a host of 253 characters is a name', () => {
    const h = handler({ httpGet: { port: 80, host: 'a'.repeat(253), httpHeaders: [{ name: "!#$%&'*+-.^_`|~09AZaz", value: '' }] } });
    assert.ok('httpGet' in h);
    assert.equal(h.httpGet.headers[0]?.name, "!#$%&'*+-.^_`|~09AZaz");
    assert.equal(h.httpGet.host, 'a'.repeat(253));
    const empty = handler({ httpGet: { port: 80, host: '' } });
    assert.ok('httpGet' in empty && !('host' in empty.httpGet), 'an empty host is the pod IP');
  });

  it('tcpSocket: a port by number or name, an optional host', () => {
    assert.deepEqual(handler({ tcpSocket: { port: 5432 } }), { tcpSocket: { port: 5432 } });
    assert.deepEqual(handler({ tcpSocket: { port: 1 } }), { tcpSocket: { port: 1 } });
    assert.deepEqual(handler({ tcpSocket: { port: 65535 } }), { tcpSocket: { port: 65535 } });
    assert.deepEqual(handler({ tcpSocket: { port: 'db', host: 'localhost' } }, [{ containerPort: 5433, name: 'db' }]), {
      tcpSocket: { port: 5433, host: 'localhost' },
    });
    refusesContainer({ readinessProbe: { tcpSocket: { port: 0 } } }, 'readinessProbe.tcpSocket.port', /not a port/);
    refusesContainer({ readinessProbe: { tcpSocket: { port: 1, host: 'a b' } } }, 'readinessProbe.tcpSocket.host', /not a host name/);
  });

  it('grpc: a port number (no name) 1..65535, the service "" by default', () => {
    assert.deepEqual(handler({ grpc: { port: 9000 } }), { grpc: { port: 9000, service: '' } });
    assert.deepEqual(handler({ grpc: { port: 1, service: 'liveness' } }), { grpc: { port: 1, service: 'liveness' } });
    assert.deepEqual(handler({ grpc: { port: 65535 } }), { grpc: { port: 65535, service: '' } });
    refusesContainer({ readinessProbe: { grpc: {} } }, 'readinessProbe.grpc.port', /^required$/);
    refusesContainer({ readinessProbe: { grpc: { port: 0 } } }, 'readinessProbe.grpc.port', /out of range \(1\.\.65535\)/);
    refusesContainer({ readinessProbe: { grpc: { port: 'web' } } }, 'readinessProbe.grpc.port', /must be an integer/);
  });
});

describe('pod spec: lifecycle hooks (core/v1 LifecycleHandler)', () => {
  it('takes exec, httpGet and sleep for preStop and postStart', () => {
    const c = one({ lifecycle: { preStop: { sleep: { seconds: 0 } }, postStart: { httpGet: { port: 80, path: '/started' } } } });
    assert.deepEqual(c.preStop, { sleepSeconds: 0 });
    assert.deepEqual(c.postStart, { httpGet: { path: '/started', port: 80, scheme: 'HTTP', headers: [] } });
    assert.deepEqual(one({ lifecycle: { postStart: exec } }).postStart, { exec: ['true'] });
    const none = one({ lifecycle: {} });
    assert.ok(!('preStop' in none) && !('postStart' in none));
  });

  it('sleep: seconds is required and not negative', () => {
    refusesContainer({ lifecycle: { preStop: { sleep: {} } } }, 'lifecycle.preStop.sleep.seconds', /^required$/);
    refusesContainer({ lifecycle: { preStop: { sleep: { seconds: -1 } } } }, 'lifecycle.preStop.sleep.seconds', /out of range \(0\.\.2147483647\)/);
  });

  it('warns about tcpSocket and grpc in a hook (kept by the API only for compatibility) and runs no hook', () => {
    for (const [h, v] of [
      ['tcpSocket', { port: 80 }],
      ['grpc', { port: 80 }],
    ] as const) {
      const { pod, warnings } = read({ containers: [container({ lifecycle: { preStop: { [h]: v } } })] });
      assert.equal(pod.spec.containers[0]?.preStop, undefined, h);
      assert.deepEqual(warnings, [`${C0}.lifecycle.preStop.${h} is not supported by crib run; ignored`]);
    }
  });

  it('init containers may have neither hooks nor probes', () => {
    for (const key of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
      const v = key === 'lifecycle' ? { preStop: exec } : exec;
      refuses({ initContainers: [container({ [key]: v }, 'i')] }, `spec.initContainers[0].${key}`, /^may not be set for init containers$/);
    }
    const init = spec({ initContainers: [container({}, 'i')] }).initContainers[0];
    assert.equal(init?.name, 'i');
  });
});

describe('pod spec: container ports (core/v1 ContainerPort)', () => {
  it('containerPort 1..65535 is required; protocol TCP by default, UDP or SCTP; hostPort 0 is none', () => {
    assert.deepEqual(
      one({ ports: [{ containerPort: 1 }, { containerPort: 65535, protocol: 'UDP', hostPort: 0 }, { containerPort: 9, protocol: 'SCTP', hostPort: 65535 }] })
        .ports,
      [
        { containerPort: 1, protocol: 'TCP' },
        { containerPort: 65535, protocol: 'UDP' },
        { containerPort: 9, protocol: 'SCTP', hostPort: 65535 },
      ],
    );
    refusesContainer({ ports: [{}] }, 'ports[0].containerPort', /^required$/);
    refusesContainer({ ports: [{ containerPort: 0 }] }, 'ports[0].containerPort', /out of range \(1\.\.65535\)/);
    refusesContainer({ ports: [{ containerPort: 80, hostPort: 65536 }] }, 'ports[0].hostPort', /out of range \(0\.\.65535\)/);
    refusesContainer({ ports: [{ containerPort: 80, protocol: 'ICMP' }] }, 'ports[0].protocol', /"ICMP" is not one of "TCP", "UDP", "SCTP"/);
  });

  it('a port name is an IANA service name: at most 15 of a-z, 0-9 and "-", a letter, no "-" at an end or twice in a row', () => {
    for (const name of ['http', 'a', 'web-1', 'x'.repeat(15), '1a', 'a-b-c']) assert.equal(one({ ports: [{ containerPort: 80, name }] }).ports[0]?.name, name);
    for (const name of ['x'.repeat(16), 'HTTP', '80', '-a', 'a-', 'a--b', 'a_b', 'a.b']) {
      refusesContainer(
        { ports: [{ containerPort: 80, name }] },
        'ports[0].name',
        /must be at most 15 lowercase letters, digits and single '-' between them, with at least one letter/,
      );
    }
  });

  it('hostIP is an IP address', () => {
    assert.equal(one({ ports: [{ containerPort: 80, hostPort: 8080, hostIP: '127.0.0.1' }] }).ports[0]?.hostIP, '127.0.0.1');
    assert.equal(one({ ports: [{ containerPort: 80, hostPort: 8080, hostIP: '::1' }] }).ports[0]?.hostIP, '::1');
    refusesContainer({ ports: [{ containerPort: 80, hostIP: 'localhost' }] }, 'ports[0].hostIP', /^"localhost" is not an IP address$/);
  });

  it('a hostPort is used once per host IP and protocol across the pod', () => {
    const two = (a: Obj, b: Obj) => ({
      containers: [container({ ports: [{ containerPort: 80, ...a }] }), container({ ports: [{ containerPort: 81, ...b }] }, 'd')],
    });
    refuses(
      two({ hostPort: 8080 }, { hostPort: 8080 }),
      'spec.containers[1].ports[0].hostPort',
      /^8080\/TCP is already used by spec\.containers\[0\]\.ports\[0\]$/,
    );
    refuses(two({ hostPort: 8080, hostIP: '127.0.0.1' }, { hostPort: 8080, hostIP: '127.0.0.1' }), 'spec.containers[1].ports[0].hostPort', /already used/);
    assert.equal(spec(two({ hostPort: 8080 }, { hostPort: 8080, protocol: 'UDP' })).containers.length, 2, 'TCP and UDP apart');
    assert.equal(spec(two({ hostPort: 8080, hostIP: '127.0.0.1' }, { hostPort: 8080, hostIP: '127.0.0.2' })).containers.length, 2, 'two host IPs');
    assert.equal(spec(two({}, {})).containers.length, 2, 'no host port');
    assert.equal(spec(two({ containerPort: 80 }, { containerPort: 80 })).containers.length, 2, 'container ports may repeat across containers');
  });

  it('with hostNetwork a hostPort must equal its containerPort', () => {
    refuses(
      { hostNetwork: true, containers: [container({ ports: [{ containerPort: 80, hostPort: 8080 }] })] },
      `${C0}.ports[0].hostPort`,
      /^must equal containerPort with hostNetwork$/,
    );
    assert.equal(spec({ hostNetwork: true, containers: [container({ ports: [{ containerPort: 80, hostPort: 80 }] })] }).containers[0]?.ports[0]?.hostPort, 80);
    assert.equal(spec({ hostNetwork: true, containers: [container({ ports: [{ containerPort: 80 }] })] }).containers[0]?.ports[0]?.hostPort, undefined);
  });
});

describe('pod spec: env and envFrom (core/v1 EnvVar, EnvFromSource)', () => {
  it('reads a value (empty by default) and every valueFrom source', () => {
    const c = one({
      env: [
        { name: 'A', value: 'x' },
        { name: 'B' },
        { name: 'C', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'D', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']", apiVersion: 'v1' } } },
        { name: 'E', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
        { name: 'F', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } },
        { name: 'G', value: '', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      ],
    });
    assert.deepEqual(c.env, [
      { name: 'A', value: 'x' },
      { name: 'B', value: '' },
      { name: 'C', fieldPath: 'metadata.name' },
      { name: 'D', fieldPath: "metadata.labels['app']" },
      { name: 'E', configMapKeyRef: { name: 'cm', key: 'k', optional: false } },
      { name: 'F', secretKeyRef: { name: 's', key: 'k', optional: true } },
      { name: 'G', fieldPath: 'status.podIP' },
    ]);
    const r = one({ resources: { limits: { cpu: '1' } }, env: [{ name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } }] })
      .env[0];
    assert.ok(r && 'resourceFieldRef' in r);
    assert.equal(r.resourceFieldRef.resource, 'limits.cpu');
  });

  it('refuses what the API server refuses in env', () => {
    const at = (e: Obj, field: string, reason: RegExp) => refusesContainer({ env: [e] }, `env[0]${field}`, reason);
    at({ value: 'x' }, '.name', /^required$/);
    at({ name: 'A=B', value: 'x' }, '.name', /^"A=B" must not contain "="$/);
    at({ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, '.valueFrom', /^may not be set when value is not empty$/);
    at({ name: 'A', valueFrom: {} }, '.valueFrom', /^must have a source \(fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef\)$/);
    at(
      { name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' }, configMapKeyRef: { name: 'c', key: 'k' } } },
      '.valueFrom',
      /^must have exactly one source, has fieldRef, configMapKeyRef$/,
    );
    at(
      { name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v2' } } },
      '.valueFrom.fieldRef.apiVersion',
      /^"v2" is not supported \(v1\)$/,
    );
    at({ name: 'A', valueFrom: { fieldRef: {} } }, '.valueFrom.fieldRef.fieldPath', /^required$/);
    at(
      { name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } },
      '.valueFrom.fieldRef.fieldPath',
      /^"spec\.bogus" is not a supported field path \(metadata\.name, /,
    );
    at({ name: 'A', valueFrom: { configMapKeyRef: { name: 'Bad_Name', key: 'k' } } }, '.valueFrom.configMapKeyRef.name', /DNS subdomain/);
    at({ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }, '.valueFrom.secretKeyRef.key', /^required$/);
    at({ name: 'A', valueFrom: { secretKeyRef: { key: 'k' } } }, '.valueFrom.secretKeyRef.name', /^required$/);
  });

  it('warns about a source crib does not read (fileKeyRef) and leaves the variable out', () => {
    const { pod, warnings } = read({ containers: [container({ env: [{ name: 'F', valueFrom: { fileKeyRef: { volumeName: 'v', path: 'p', key: 'k' } } }] })] });
    assert.deepEqual(pod.spec.containers[0]?.env, []);
    assert.deepEqual(warnings, [`${C0}.env[0].valueFrom.fileKeyRef is not supported by crib run; ignored`]);
  });

  it('warns about a field path the API accepts but crib cannot fill, and leaves the variable out', () => {
    const { pod, warnings } = read({
      containers: [
        container({
          env: [
            { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
            { name: 'X', value: '1' },
          ],
        }),
      ],
    });
    assert.deepEqual(pod.spec.containers[0]?.env, [{ name: 'X', value: '1' }]);
    assert.deepEqual(warnings, [`${C0}.env[0].valueFrom.fieldRef.fieldPath "spec.serviceAccountName" is not supported by crib run; SA is not set`]);
  });

  it('envFrom: one of configMapRef and secretRef, a prefix without "="', () => {
    assert.deepEqual(one({ envFrom: [{ configMapRef: { name: 'cm' } }, { prefix: 'S_', secretRef: { name: 's', optional: true } }] }).envFrom, [
      { prefix: '', from: 'configMap', name: 'cm', optional: false },
      { prefix: 'S_', from: 'secret', name: 's', optional: true },
    ]);
    refusesContainer({ envFrom: [{ prefix: 'A=', configMapRef: { name: 'cm' } }] }, 'envFrom[0].prefix', /^"A=" must not contain "="$/);
    refusesContainer({ envFrom: [{ prefix: 'A' }] }, 'envFrom[0]', /^needs exactly one of configMapRef and secretRef$/);
    refusesContainer({ envFrom: [{ configMapRef: { name: 'a' }, secretRef: { name: 'b' } }] }, 'envFrom[0]', /exactly one/);
    refusesContainer({ envFrom: [{ secretRef: { name: 'UPPER' } }] }, 'envFrom[0].secretRef.name', /DNS subdomain/);
  });

  it('a resourceFieldRef names a container of the pod (its own when it names none)', () => {
    const ref = (containerName?: string) => ({
      name: 'M',
      valueFrom: { resourceFieldRef: { resource: 'limits.memory', ...(containerName ? { containerName } : {}) } },
    });
    assert.equal(spec({ containers: [container({ env: [ref('c')] })] }).containers[0]?.env.length, 1);
    assert.equal(spec({ containers: [container({ env: [ref()] })] }).containers[0]?.env.length, 1);
    assert.equal(spec({ initContainers: [container({}, 'i')], containers: [container({ env: [ref('i')] })] }).containers[0]?.env.length, 1);
    refuses(
      { containers: [container({ env: [{ name: 'X', value: '1' }, ref('nope')] })] },
      `${C0}.env[1].valueFrom.resourceFieldRef.containerName`,
      /^no container named "nope" in the pod$/,
    );
    refuses(
      { initContainers: [container({ env: [ref('nope')] }, 'i')] },
      'spec.initContainers[0].env[0].valueFrom.resourceFieldRef.containerName',
      /no container named/,
    );
  });
});

describe('pod spec: security contexts (core/v1 SecurityContext, PodSecurityContext)', () => {
  it('reads only what is set', () => {
    assert.deepEqual(one({}).securityContext, { capabilities: { add: [], drop: [] } });
    assert.deepEqual(one({ securityContext: {} }).securityContext, { capabilities: { add: [], drop: [] } });
    assert.deepEqual(
      one({
        securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, readOnlyRootFilesystem: false, privileged: false, allowPrivilegeEscalation: true },
      }).securityContext,
      {
        runAsUser: 0,
        runAsGroup: 0,
        runAsNonRoot: false,
        readOnlyRootFilesystem: false,
        privileged: false,
        allowPrivilegeEscalation: true,
        capabilities: { add: [], drop: [] },
      },
    );
    assert.deepEqual(one({ securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } }).securityContext, {
      privileged: true,
      capabilities: { add: ['SYS_ADMIN'], drop: [] },
    });
    const { pod, warnings } = read({ containers: [container({ securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } } })] });
    assert.deepEqual(pod.spec.containers[0]?.securityContext.capabilities, { add: ['NET_ADMIN'], drop: ['ALL'] });
    assert.deepEqual(warnings, []);
    assert.deepEqual(spec({}).securityContext, { supplementalGroups: [], sysctls: [] });
    assert.deepEqual(spec({ securityContext: { runAsUser: 5, runAsGroup: 6, runAsNonRoot: true } }).securityContext, {
      runAsUser: 5,
      runAsGroup: 6,
      runAsNonRoot: true,
      supplementalGroups: [],
      sysctls: [],
    });
  });

  it('user and group ids are 0..2147483647, in the pod and the container', () => {
    for (const [where, path] of [
      ['pod', 'spec.securityContext'],
      ['container', `${C0}.securityContext`],
    ] as const) {
      for (const key of ['runAsUser', 'runAsGroup']) {
        const sc = (v: number): Obj => (where === 'pod' ? { securityContext: { [key]: v } } : { containers: [container({ securityContext: { [key]: v } })] });
        const got = (v: number) => {
          const s = spec(sc(v));
          return (where === 'pod' ? s.securityContext : s.containers[0]?.securityContext) as Record<string, unknown> | undefined;
        };
        assert.equal(got(2147483647)?.[key], 2147483647, `${where} ${key}`);
        refuses(sc(-1), `${path}.${key}`, /out of range \(0\.\.2147483647\)/);
        refuses(sc(2147483648), `${path}.${key}`, /out of range/);
      }
    }
  });

  it('runAsNonRoot with runAsUser 0 is refused, in the pod and the container', () => {
    refuses({ securityContext: { runAsNonRoot: true, runAsUser: 0 } }, 'spec.securityContext.runAsUser', /^is 0 \(root\) but runAsNonRoot is true$/);
    refusesContainer({ securityContext: { runAsNonRoot: true, runAsUser: 0 } }, 'securityContext.runAsUser', /^is 0 \(root\) but runAsNonRoot is true$/);
    assert.equal(spec({ securityContext: { runAsNonRoot: true, runAsUser: 1 } }).securityContext.runAsUser, 1);
    assert.equal(spec({ securityContext: { runAsNonRoot: false, runAsUser: 0 } }).securityContext.runAsUser, 0);
    assert.equal(one({ securityContext: { runAsNonRoot: true } }).securityContext.runAsNonRoot, true, 'the image user is checked later');
  });

  it('allowPrivilegeEscalation: false cannot go with privileged or CAP_SYS_ADMIN', () => {
    refusesContainer(
      { securityContext: { privileged: true, allowPrivilegeEscalation: false } },
      'securityContext.allowPrivilegeEscalation',
      /^cannot be false with privileged: true$/,
    );
    for (const cap of ['SYS_ADMIN', 'CAP_SYS_ADMIN']) {
      refusesContainer(
        { securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', cap] } } },
        'securityContext.allowPrivilegeEscalation',
        /^cannot be false with the capability SYS_ADMIN added$/,
      );
    }
    assert.equal(
      one({ securityContext: { allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN'], drop: ['SYS_ADMIN'] } } }).securityContext
        .allowPrivilegeEscalation,
      false,
    );
    assert.equal(one({ securityContext: { allowPrivilegeEscalation: false, privileged: false } }).securityContext.privileged, false);
    assert.equal(one({ securityContext: { allowPrivilegeEscalation: true, privileged: true } }).securityContext.privileged, true);
    assert.equal(one({ securityContext: { privileged: true, capabilities: { add: ['CAP_SYS_ADMIN'] } } }).securityContext.privileged, true);
    // Only a leading CAP_ is the prefix: SYS_CAP_ADMIN is no SYS_ADMIN.
    for (const cap of ['XSYS_ADMIN', 'SYS_CAP_ADMIN']) {
      assert.equal(
        one({ securityContext: { allowPrivilegeEscalation: false, capabilities: { add: [cap] } } }).securityContext.allowPrivilegeEscalation,
        false,
        cap,
      );
    }
  });

  it('seccompProfile: RuntimeDefault, Unconfined, or Localhost with a relative localhostProfile', () => {
    const seccomp = (p: Obj) => one({ securityContext: { seccompProfile: p } }).securityContext.seccompProfile;
    assert.deepEqual(seccomp({ type: 'RuntimeDefault' }), { type: 'RuntimeDefault' });
    assert.deepEqual(seccomp({ type: 'Unconfined' }), { type: 'Unconfined' });
    assert.deepEqual(seccomp({ type: 'Localhost', localhostProfile: 'p/a.json' }), { type: 'Localhost', localhostProfile: 'p/a.json' });
    assert.deepEqual(spec({ securityContext: { seccompProfile: { type: 'Unconfined' } } }).securityContext.seccompProfile, { type: 'Unconfined' });
    const at = (p: Obj, field: string, reason: RegExp) =>
      refusesContainer({ securityContext: { seccompProfile: p } }, `securityContext.seccompProfile.${field}`, reason);
    at({}, 'type', /^required$/);
    at({ type: 'Default' }, 'type', /^"Default" is not one of "RuntimeDefault", "Unconfined", "Localhost"$/);
    at({ type: 'Localhost' }, 'localhostProfile', /^required with type Localhost$/);
    at({ type: 'Localhost', localhostProfile: '/etc/p.json' }, 'localhostProfile', /must be a relative path/);
    at({ type: 'Localhost', localhostProfile: '../p.json' }, 'localhostProfile', /must not contain "\.\."/);
    at({ type: 'RuntimeDefault', localhostProfile: 'p.json' }, 'localhostProfile', /^only with type Localhost$/);
    at({ type: 'Unconfined', localhostProfile: 'p.json' }, 'localhostProfile', /^only with type Localhost$/);
    refuses({ securityContext: { seccompProfile: { type: 'x' } } }, 'spec.securityContext.seccompProfile.type', /is not one of/);
  });

  it('supplementalGroups are group ids; sysctls are names with values', () => {
    const s = spec({
      securityContext: {
        supplementalGroups: [0, 2147483647],
        sysctls: [
          { name: 'kernel.shm_rmid_forced', value: '1' },
          { name: 'net/ipv4/ip_local_port_range', value: '1024 65000' },
        ],
      },
    });
    assert.deepEqual(s.securityContext.supplementalGroups, [0, 2147483647]);
    assert.deepEqual(s.securityContext.sysctls, [
      { name: 'kernel.shm_rmid_forced', value: '1' },
      { name: 'net/ipv4/ip_local_port_range', value: '1024 65000' },
    ]);
    for (const g of [-1, 2147483648, 1.5, '5'] as unknown[]) {
      refuses(
        { securityContext: { supplementalGroups: [g] } },
        'spec.securityContext.supplementalGroups[0]',
        new RegExp(`^must be a group id, got ${JSON.stringify(g)}$`.replace(/[.]/g, '\\.')),
      );
    }
    // IsValidSysctlName: segments of [a-z0-9], '-' and '_' inside, split by '.' or '/'; at most 253 characters.
    const long = `${'a'.repeat(125)}.${'b'.repeat(127)}`;
    for (const name of ['a', 'a.b', 'a/b.c', 'k_1.x-y', long])
      assert.equal(spec({ securityContext: { sysctls: [{ name, value: '1' }] } }).securityContext.sysctls[0]?.name, name);
    for (const name of ['Net.core', 'net..core', '.net', 'net.', 'net core', 'net.-a', 'a-', '_a', 'a._b', `${long}c`]) {
      refuses({ securityContext: { sysctls: [{ name, value: '1' }] } }, 'spec.securityContext.sysctls[0].name', /is not a sysctl name$/);
    }
    refuses({ securityContext: { sysctls: [{ name: 'net.core.somaxconn' }] } }, 'spec.securityContext.sysctls[0].value', /^required$/);
    refuses({ securityContext: { sysctls: [{ value: '1' }] } }, 'spec.securityContext.sysctls[0].name', /^required$/);
  });
});

describe('pod spec: resources (core/v1 ResourceRequirements)', () => {
  const res = (r: Obj) => one({ resources: r }).resources;

  it('gives CPU in thousandths and memory in bytes, each rounded up; a missing request is its limit', () => {
    assert.deepEqual(res({}), { limits: {}, requests: {} });
    assert.deepEqual(one({}).resources, { limits: {}, requests: {} });
    assert.deepEqual(res({ limits: { cpu: '0.1m', memory: '100m' } }), {
      limits: { cpuMilli: 1n, memoryBytes: 1n },
      requests: { cpuMilli: 1n, memoryBytes: 1n },
    });
    assert.deepEqual(res({ limits: { memory: '1Gi' } }), { limits: { memoryBytes: 1n << 30n }, requests: { memoryBytes: 1n << 30n } });
    assert.deepEqual(res({ limits: { cpu: 2 } }), { limits: { cpuMilli: 2000n }, requests: { cpuMilli: 2000n } });
    assert.deepEqual(res({ requests: { cpu: '250m', memory: '64Mi' } }), { limits: {}, requests: { cpuMilli: 250n, memoryBytes: 64n << 20n } });
    assert.deepEqual(res({ limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } }), {
      limits: { cpuMilli: 1000n, memoryBytes: 1n << 30n },
      requests: { cpuMilli: 1000n, memoryBytes: 1n << 30n },
    });
  });

  it('a request may not exceed its limit (compared exactly, across suffixes)', () => {
    refusesContainer(
      { resources: { limits: { cpu: '500m' }, requests: { cpu: '501m' } } },
      'resources.requests.cpu',
      /^"501m" must be less than or equal to the cpu limit "500m"$/,
    );
    refusesContainer(
      { resources: { limits: { memory: '1G' }, requests: { memory: '1Gi' } } },
      'resources.requests.memory',
      /^"1Gi" must be less than or equal to the memory limit "1G"$/,
    );
    assert.equal(res({ limits: { memory: '1Gi' }, requests: { memory: '1G' } }).requests.memoryBytes, 1_000_000_000n);
    assert.equal(res({ limits: { cpu: '1' }, requests: { cpu: '1000m' } }).requests.cpuMilli, 1000n, 'equal is fine');
  });

  it('names a bad quantity and warns about other resources', () => {
    refusesContainer({ resources: { requests: { cpu: 'lots' } } }, 'resources.requests.cpu', /"lots" is not a quantity/);
    refusesContainer({ resources: { limits: { memory: '-1' } } }, 'resources.limits.memory', /negative/);
    const { warnings } = read({ containers: [container({ resources: { limits: { 'ephemeral-storage': '1Gi' } } })] });
    assert.deepEqual(warnings, [`${C0}.resources.limits.ephemeral-storage is not supported by crib run; ignored`]);
  });
});

describe('pod spec: containers', () => {
  it('has a DNS-label name and a valid image; command, args, workingDir and mounts as given', () => {
    const c = one({ command: ['sh'], args: ['-c', 'x'], workingDir: '/w', volumeMounts: [] });
    assert.deepEqual([c.name, c.image, c.command, c.args, c.workingDir], ['c', IMAGE, ['sh'], ['-c', 'x'], '/w']);
    assert.equal(one({}).workingDir, undefined);
    assert.equal(one({ workingDir: '' }).workingDir, undefined);
    refusesContainer({ workingDir: 'rel' }, 'workingDir', /must be an absolute path/);
    refusesContainer({ image: 'Not An Image' }, 'image', /invalid image reference/);
    refuses({ containers: [{ name: 'a_b', image: IMAGE }] }, `${C0}.name`, /DNS label/);
    refuses({ containers: [] }, 'spec.containers', /^required: a Pod needs at least one container$/);
    refuses({ containers: undefined }, 'spec.containers', /at least one container/);
  });

  it('stdin, stdinOnce and tty are kept only when true', () => {
    const c = one({ stdin: true, stdinOnce: true, tty: true });
    assert.deepEqual([c.stdin, c.stdinOnce, c.tty], [true, true, true]);
    const off = one({ stdin: false, stdinOnce: false, tty: false });
    assert.ok(!('stdin' in off) && !('stdinOnce' in off) && !('tty' in off));
  });

  it('imagePullPolicy: Always for latest or no tag, IfNotPresent for a tag or a digest, else as given', () => {
    const policy = (image: string, extra: Obj = {}) => one({ image, ...extra }).imagePullPolicy;
    assert.equal(policy('busybox'), 'Always');
    assert.equal(policy('busybox:latest'), 'Always');
    assert.equal(policy('localhost:5000/x'), 'Always', 'a registry port is no tag');
    assert.equal(policy('localhost:5000/x:1'), 'IfNotPresent');
    assert.equal(policy('busybox:1'), 'IfNotPresent');
    assert.equal(policy(`busybox@sha256:${'a'.repeat(64)}`), 'IfNotPresent');
    assert.equal(policy(`busybox:latest@sha256:${'a'.repeat(64)}`), 'IfNotPresent', 'a digest wins over latest');
    assert.equal(policy('busybox', { imagePullPolicy: 'Never' }), 'Never');
    assert.equal(policy('busybox:1', { imagePullPolicy: 'Always' }), 'Always');
    refusesContainer({ imagePullPolicy: 'Sometimes' }, 'imagePullPolicy', /"Sometimes" is not one of "Always", "IfNotPresent", "Never"/);
  });

  it('volume mounts: an absolute mountPath once per container, readOnly false and propagation None by default, a relative subPath', () => {
    const vols = {
      volumes: [
        { name: 'v', emptyDir: {} },
        { name: 'w', emptyDir: {} },
      ],
    };
    const mounts = (m: Obj[], extra: Obj = {}) => spec({ ...vols, containers: [container({ volumeMounts: m, ...extra })] }).containers[0]?.volumeMounts;
    assert.deepEqual(
      mounts([
        { name: 'v', mountPath: '/a' },
        { name: 'w', mountPath: '/b', readOnly: true, subPath: 'x/y', mountPropagation: 'HostToContainer' },
      ]),
      [
        { name: 'v', mountPath: '/a', readOnly: false, propagation: 'None' },
        { name: 'w', mountPath: '/b', readOnly: true, propagation: 'HostToContainer', subPath: 'x/y' },
      ],
    );
    assert.deepEqual(mounts([{ name: 'v', mountPath: '/a', subPath: '' }]), [{ name: 'v', mountPath: '/a', readOnly: false, propagation: 'None' }]);
    const at = (m: Obj[], field: string, reason: RegExp, extra: Obj = {}) =>
      refuses({ ...vols, containers: [container({ volumeMounts: m, ...extra })] }, `${C0}.volumeMounts${field}`, reason);
    at(
      [
        { name: 'v', mountPath: '/a' },
        { name: 'w', mountPath: '/a' },
      ],
      '[1].mountPath',
      /^"\/a" is mounted twice$/,
    );
    at([{ mountPath: '/a' }], '[0].name', /^required$/);
    at([{ name: 'v' }], '[0].mountPath', /^required$/);
    at([{ name: 'v', mountPath: 'rel' }], '[0].mountPath', /^"rel" must be an absolute path$/);
    at([{ name: 'v', mountPath: '/a', mountPropagation: 'Shared' }], '[0].mountPropagation', /is not one of "None", "HostToContainer", "Bidirectional"/);
    at([{ name: 'v', mountPath: '/a', subPath: '/abs' }], '[0].subPath', /must be a relative path/);
    at([{ name: 'v', mountPath: '/a', mountPropagation: 'Bidirectional' }], '[0].mountPropagation', /^Bidirectional needs a privileged container$/);
    assert.equal(
      mounts([{ name: 'v', mountPath: '/a', mountPropagation: 'Bidirectional' }], { securityContext: { privileged: true } })?.[0]?.propagation,
      'Bidirectional',
    );
    at([{ name: 'nope', mountPath: '/a' }], '[0].name', /^no volume named "nope" in spec\.volumes$/);
  });

  it('a mount of a volume crib cannot provide is dropped with a warning; one of a claim template is kept', () => {
    const { pod, warnings } = read({
      volumes: [{ name: 'n', nfs: { server: 'x', path: '/' } }],
      containers: [container({ volumeMounts: [{ name: 'n', mountPath: '/n' }] })],
    });
    assert.deepEqual(pod.spec.containers[0]?.volumeMounts, []);
    assert.deepEqual(warnings, [
      'spec.volumes[0].nfs is not supported by crib run; ignored',
      `${C0}.volumeMounts[0] mounts volume "n" (nfs), which crib run cannot provide; ignored`,
    ]);
    const warnings2: string[] = [];
    const t = parsePodTemplate(
      Fields.of({ spec: { containers: [container({ volumeMounts: [{ name: 'data', mountPath: '/d' }] })] } }, 'spec.template', warnings2),
      warnings2,
      ['data'],
    );
    assert.deepEqual(t.spec.containers[0]?.volumeMounts, [{ name: 'data', mountPath: '/d', readOnly: false, propagation: 'None' }]);
  });

  it('container names are unique across init and app containers', () => {
    refuses({ containers: [container(), container()] }, 'spec.containers[1].name', /^"c" is already the name of spec\.containers\[0\]$/);
    refuses({ initContainers: [container({}, 'c')], containers: [container()] }, `${C0}.name`, /already the name of spec\.initContainers\[0\]/);
    refuses({ initContainers: [container({}, 'i'), container({}, 'i')] }, 'spec.initContainers[1].name', /already the name of spec\.initContainers\[0\]/);
  });
});

describe('pod spec: the pod', () => {
  it('fills in the API server defaults', () => {
    const s = spec({});
    assert.deepEqual(
      {
        shareProcessNamespace: s.shareProcessNamespace,
        hostNetwork: s.hostNetwork,
        hostPID: s.hostPID,
        hostIPC: s.hostIPC,
        hostUsers: s.hostUsers,
        dnsPolicy: s.dnsPolicy,
        terminationGracePeriodSeconds: s.terminationGracePeriodSeconds,
        restartPolicy: s.restartPolicy,
        initContainers: s.initContainers,
        volumes: s.volumes,
      },
      {
        shareProcessNamespace: false,
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        hostUsers: true,
        dnsPolicy: 'ClusterFirst',
        terminationGracePeriodSeconds: 30,
        restartPolicy: 'Always',
        initContainers: [],
        volumes: [],
      },
    );
    assert.ok(!('hostname' in s) && !('hostAliases' in s) && !('dnsConfig' in s));
  });

  it('reads the pod-level fields as given', () => {
    const s = spec({
      hostNetwork: true,
      hostPID: true,
      hostIPC: true,
      terminationGracePeriodSeconds: 0,
      restartPolicy: 'Never',
      dnsPolicy: 'Default',
      hostname: 'h-1',
    });
    assert.deepEqual(
      [s.hostNetwork, s.hostPID, s.hostIPC, s.terminationGracePeriodSeconds, s.restartPolicy, s.dnsPolicy, s.hostname],
      [true, true, true, 0, 'Never', 'Default', 'h-1'],
    );
    assert.equal(spec({ shareProcessNamespace: true, hostUsers: false }).shareProcessNamespace, true);
    assert.equal(spec({ hostUsers: false }).hostUsers, false);
    assert.equal(spec({ dnsPolicy: 'ClusterFirstWithHostNet' }).dnsPolicy, 'ClusterFirstWithHostNet');
    assert.equal(spec({ hostname: '' }).hostname, undefined);
    refuses({ hostname: 'Not_A_Label' }, 'spec.hostname', /DNS label/);
    refuses({ terminationGracePeriodSeconds: -1 }, 'spec.terminationGracePeriodSeconds', /out of range \(0\.\.2147483647\)/);
    refuses({ dnsPolicy: 'Cluster' }, 'spec.dnsPolicy', /"Cluster" is not one of "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"/);
  });

  it("shareProcessNamespace cannot go with hostPID; a pod's own user namespace cannot hold the node's namespaces", () => {
    refuses({ shareProcessNamespace: true, hostPID: true }, 'spec.shareProcessNamespace', /^cannot be true together with hostPID$/);
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC'])
      refuses({ hostUsers: false, [k]: true }, 'spec.hostUsers', new RegExp(`^false cannot go with ${k}: true$`));
    assert.equal(spec({ hostUsers: true, hostNetwork: true }).hostNetwork, true);
  });

  it('dnsConfig: at most 3 nameserver IPs, 32 search domains, options with names and values', () => {
    const dns = (d: Obj, policy = 'None') => spec({ dnsPolicy: policy, dnsConfig: d }).dnsConfig;
    assert.deepEqual(
      dns({
        nameservers: ['1.1.1.1', '::1', '10.0.0.1'],
        searches: Array.from({ length: 32 }, (_, i) => `d${i}.example`),
        options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }, { name: 'x', value: '' }],
      }),
      {
        nameservers: ['1.1.1.1', '::1', '10.0.0.1'],
        searches: Array.from({ length: 32 }, (_, i) => `d${i}.example`),
        options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }, { name: 'x' }],
      },
    );
    assert.deepEqual(dns({ searches: ['a.example'] }, 'ClusterFirst'), { nameservers: [], searches: ['a.example'], options: [] });
    const at = (d: Obj, field: string, reason: RegExp) => refuses({ dnsPolicy: 'ClusterFirst', dnsConfig: d }, `spec.dnsConfig.${field}`, reason);
    at({ nameservers: ['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4'] }, 'nameservers', /^at most 3 nameservers$/);
    at({ nameservers: ['dns.example'] }, 'nameservers[0]', /^"dns\.example" is not an IP address$/);
    at({ searches: Array.from({ length: 33 }, (_, i) => `d${i}`) }, 'searches', /^at most 32 search domains$/);
    at({ searches: ['a', ''] }, 'searches[1]', /^"" is not a domain$/);
    at({ searches: ['a b'] }, 'searches[0]', /is not a domain/);
    at({ options: [{ name: 'a b' }] }, 'options[0].name', /^"a b" is not a resolver option$/);
    at({ options: [{ value: '1' }] }, 'options[0].name', /^required$/);
    at({ options: [{ name: 'ndots', value: '1 2' }] }, 'options[0].value', /^"1 2" is not a resolver option value$/);
  });

  it('dnsPolicy None needs a nameserver in dnsConfig', () => {
    refuses({ dnsPolicy: 'None' }, 'spec.dnsConfig', /^dnsPolicy None needs dnsConfig with at least one nameserver$/);
    refuses({ dnsPolicy: 'None', dnsConfig: { searches: ['a'] } }, 'spec.dnsConfig', /at least one nameserver/);
    assert.deepEqual(spec({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'] } }).dnsConfig?.nameservers, ['1.1.1.1']);
  });

  it('hostAliases: an IP and DNS-subdomain names; ignored with a warning under hostNetwork', () => {
    assert.deepEqual(spec({ hostAliases: [{ ip: '10.0.0.9', hostnames: ['db', 'db.local'] }, { ip: 'fd00::1' }] }).hostAliases, [
      { ip: '10.0.0.9', hostnames: ['db', 'db.local'] },
      { ip: 'fd00::1', hostnames: [] },
    ]);
    assert.equal(spec({ hostAliases: [] }).hostAliases, undefined);
    refuses({ hostAliases: [{ ip: 'db', hostnames: ['x'] }] }, 'spec.hostAliases[0].ip', /^"db" is not an IP address$/);
    refuses({ hostAliases: [{ hostnames: ['x'] }] }, 'spec.hostAliases[0].ip', /^required$/);
    refuses({ hostAliases: [{ ip: '10.0.0.1', hostnames: ['ok', 'Bad_Name'] }] }, 'spec.hostAliases[0].hostnames[1]', /DNS subdomain/);
    const { pod, warnings } = read({ hostNetwork: true, hostAliases: [{ ip: '10.0.0.9', hostnames: ['db'] }] });
    assert.equal(pod.spec.hostAliases, undefined);
    assert.deepEqual(warnings, ["spec.hostAliases with hostNetwork: the pod has the node's /etc/hosts; ignored"]);
  });

  it('volumes have unique names; a downwardAPI resourceFieldRef names a container of the pod', () => {
    refuses(
      {
        volumes: [
          { name: 'v', emptyDir: {} },
          { name: 'v', emptyDir: {} },
        ],
      },
      'spec.volumes[1].name',
      /^"v" is defined twice$/,
    );
    const downward = (containerName: string) => ({
      name: 'd',
      downwardAPI: { items: [{ path: 'mem', resourceFieldRef: { containerName, resource: 'limits.memory' } }] },
    });
    const projected = (containerName: string) => ({
      name: 'p',
      projected: { sources: [{ downwardAPI: { items: [{ path: 'mem', resourceFieldRef: { containerName, resource: 'limits.memory' } }] } }] },
    });
    assert.equal(spec({ volumes: [downward('c'), projected('c')] }).volumes.length, 2);
    const mixed = {
      name: 'm',
      projected: { sources: [{ configMap: { name: 'cm' } }, { downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] } }] },
    };
    assert.equal(spec({ volumes: [mixed] }).volumes.length, 1);
    assert.equal(spec({ initContainers: [container({}, 'i')], volumes: [downward('i')] }).volumes.length, 1);
    refuses({ volumes: [{ name: 'e', emptyDir: {} }, downward('x')] }, 'spec.volumes[1]', /^resourceFieldRef names no container of the pod \("x"\)$/);
    refuses({ volumes: [projected('x')] }, 'spec.volumes[0]', /^resourceFieldRef names no container of the pod \("x"\)$/);
    const fieldOnly = { name: 'f', downwardAPI: { items: [{ path: 'n', fieldRef: { fieldPath: 'metadata.name' } }] } };
    assert.equal(spec({ volumes: [fieldOnly] }).volumes.length, 1);
  });
});

describe('pod spec: the object around it', () => {
  it('a Pod: metadata.name required, namespace "default", labels and annotations; status accepted', () => {
    const { pod, warnings } = read(
      {},
      {
        name: 'web',
        labels: { app: 'x' },
        annotations: { note: 'y' },
        uid: 'u',
        resourceVersion: '1',
        generation: 2,
        creationTimestamp: 'now',
        managedFields: [],
        selfLink: '/api/v1/x',
      },
    );
    assert.deepEqual(
      [pod.name, pod.namespace, pod.labels, pod.annotations, pod.owner],
      ['web', 'default', { app: 'x' }, { note: 'y' }, { kind: 'Pod', name: 'web' }],
    );
    assert.deepEqual(warnings, []);
    assert.equal(read({}, { name: 'web', namespace: 'prod' }).pod.namespace, 'prod');
    assert.equal(read({}, { name: 'web', namespace: '' }).pod.namespace, 'default');
    const w: string[] = [];
    parsePod(
      Fields.of({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [container()] }, status: { phase: 'Running' } }, '', w),
      w,
    );
    assert.deepEqual(w, [], 'status is what a cluster reports, not input');
    assert.throws(() => read({}, {}), /^ManifestError: metadata\.name: required$/);
    assert.throws(() => read({}, { name: 'Web' }), /metadata\.name: "Web" must be a DNS subdomain/);
    assert.throws(() => read({}, { name: 'w', namespace: 'a.b' }), /metadata\.namespace: "a\.b" must be a DNS label/);
    assert.throws(
      () => parsePod(Fields.of({ apiVersion: 'v1', kind: 'Pod', spec: {} }, '', []), []),
      /^ManifestError: metadata: required \(at least metadata\.name\)$/,
    );
    assert.throws(() => parsePod(Fields.of({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }, '', []), []), /^ManifestError: spec: required$/);
    assert.throws(
      () => parsePod(Fields.of({ apiVersion: 'apps/v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} }, '', []), []),
      /^ManifestError: apiVersion: "apps\/v1" is not v1 \(a Pod is apiVersion: v1\)$/,
    );
  });

  it('a template: no name needed, its spec as written kept apart from the parsed one', () => {
    const warnings: string[] = [];
    const raw = { metadata: { labels: { app: 'a' } }, spec: { containers: [container()] } };
    const t = parsePodTemplate(Fields.of(raw, 'spec.template', warnings), warnings);
    assert.deepEqual(t.labels, { app: 'a' });
    assert.deepEqual(t.annotations, {});
    assert.deepEqual(t.source, raw.spec);
    assert.notEqual(t.source, raw.spec, 'a copy');
    const bare = parsePodTemplate(Fields.of({ spec: { containers: [container()] } }, 'spec.template', warnings), warnings);
    assert.deepEqual([bare.labels, bare.annotations], [{}, {}]);
    assert.deepEqual(parseMetadata(Fields.of({}, '', []), { nameOptional: true }), { name: '', namespace: 'default', labels: {}, annotations: {} });
    assert.deepEqual(parseMetadata(Fields.of({ metadata: {} }, '', []), { nameOptional: true }), {
      name: '',
      namespace: 'default',
      labels: {},
      annotations: {},
    });
    assert.throws(() => parsePodTemplate(Fields.of({ metadata: {} }, 'spec.template', []), []), /^ManifestError: spec\.template\.spec: required$/);
  });
});
