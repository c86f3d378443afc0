import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import protobuf from 'protobufjs/light.js';
import { criServices, criType, ENCODED_AS_BUILT, EncodedReply, protosJsonFile } from '../../src/cri/proto.js';
import { containerStatusReply, listContainersReply, listPodSandboxReply, podSandboxStatusReply } from '../../src/cri/encoded-replies.js';
import { toContainerConfig, toContainerStatus, toCriContainer } from '../../src/cri/container-convert.js';
import { toPodSandbox, toPodSandboxStatus, toSandboxConfig } from '../../src/cri/sandbox-convert.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';
import type { RunPodSandboxRequest__Output } from '../../src/cri/generated/runtime/v1/RunPodSandboxRequest.js';
import type { Container, ContainerState } from '../../src/container/types.js';
import type { Sandbox, SandboxState } from '../../src/sandbox/types.js';

// The hot replies skip protobufjs' fromObject copy (src/cri/proto.ts): what the converters build
// must encode to the same bytes either way, for every state and every optional part they fill.

const root = protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(protosJsonFile, 'utf8')) as protobuf.INamespace);
const viaFromObject = (type: string, v: object): Buffer => {
  const t = root.lookupType(`runtime.v1.${type}`);
  return Buffer.from(t.encode(t.fromObject(v)).finish());
};
const method = (name: string) => {
  const m = criServices().runtime[name];
  assert.ok(m, name);
  return m;
};
const served = (name: string, v: object): Buffer => method(name).responseSerialize(v);
/** A request as cribd gets it: through the real encoder and decoder (every default filled in). */
const received = <T>(name: string, req: object): T => {
  const m = method(name);
  return m.requestDeserialize(m.requestSerialize(req)) as T;
};

const labels = { 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'default', app: 'web' };
const annotations = { 'kubernetes.io/config.seen': '2026-12-07T12:00:00.000000000Z', 'io.kubernetes.pod.terminationGracePeriod': '30' };
const NANOS = '1796644800123456789'; // past 2^53: an int64 that a Number would round

function sandbox(): Sandbox {
  const req = received<RunPodSandboxRequest__Output>('RunPodSandbox', {
    config: {
      metadata: { name: 'web-0', uid: 'u-1', namespace: 'default', attempt: 2 },
      hostname: 'web-0',
      log_directory: '/var/log/pods/x',
      labels,
      annotations,
      linux: { security_context: { namespace_options: { network: 0, pid: 1, ipc: 0 } } },
    },
  });
  const config = toSandboxConfig(req.config, 'runc');
  const ips = [{ ip: '10.88.0.7' }, { ip: 'fd00::7' }];
  return { id: 'a'.repeat(64), config, createdAt: NANOS, network: { ips } } as unknown as Sandbox;
}

function container(): Container {
  const req = received<CreateContainerRequest__Output>('CreateContainer', {
    pod_sandbox_id: 'p',
    config: {
      metadata: { name: 'app', attempt: 3 },
      image: { image: 'docker.io/library/busybox:1' },
      labels,
      annotations,
      mounts: [
        { container_path: '/data', host_path: '/var/lib/x', readonly: true, propagation: 2, recursive_read_only: true },
        { container_path: '/vol', image: { image: 'localhost/data:1' }, image_sub_path: 'sub', readonly: true },
      ],
    },
  });
  const config = toContainerConfig(req.config);
  return {
    id: 'b'.repeat(64),
    sandboxId: 'a'.repeat(64),
    config,
    createdAt: NANOS,
    startedAt: '1796644800223456789',
    finishedAt: '1796644800323456789',
    exitCode: 137,
    reason: 'OOMKilled',
    message: 'ran out',
    image: { ref: 'docker.io/library/busybox:1', id: `sha256:${'c'.repeat(64)}`, repoDigest: `docker.io/library/busybox@sha256:${'d'.repeat(64)}` },
    paths: { log: '/var/log/pods/x/app/3.log' },
    user: { uid: 1000, gid: 1000, supplementalGroups: [1000, 50000] },
  } as unknown as Container;
}

describe('replies encoded as built', () => {
  it('are the four calls kubelet makes for every pod each second', () => {
    assert.deepEqual(
      [...ENCODED_AS_BUILT].sort(),
      ['ContainerStatus', 'ListContainers', 'ListPodSandbox', 'PodSandboxStatus'].map((m) => `/runtime.v1.RuntimeService/${m}`),
    );
  });

  for (const state of ['READY', 'NOTREADY'] as SandboxState[]) {
    it(`ListPodSandbox and PodSandboxStatus give the bytes fromObject would (${state})`, () => {
      const v = { sandbox: sandbox(), state, pauseAlive: state === 'READY' };
      const list = { items: [toPodSandbox(v), toPodSandbox({ ...v, sandbox: { ...v.sandbox, id: 'e'.repeat(64) } })] };
      assert.deepEqual(served('ListPodSandbox', list), viaFromObject('ListPodSandboxResponse', list));
      const status = { status: toPodSandboxStatus(v), info: { info: '{"pid":1}' }, containers_statuses: [], timestamp: NANOS };
      assert.deepEqual(served('PodSandboxStatus', status), viaFromObject('PodSandboxStatusResponse', status));
    });
  }

  for (const state of ['CREATED', 'RUNNING', 'EXITED', 'UNKNOWN'] as ContainerState[]) {
    it(`ListContainers and ContainerStatus give the bytes fromObject would (${state})`, () => {
      const full = { container: container(), state };
      const bare = { container: { ...container(), user: undefined, reason: undefined, startedAt: undefined }, state };
      const list = { containers: [toCriContainer(full), toCriContainer(bare)] };
      assert.deepEqual(served('ListContainers', list), viaFromObject('ListContainersResponse', list));
      for (const v of [full, bare]) {
        const status = { status: toContainerStatus(v), info: {} };
        assert.deepEqual(served('ContainerStatus', status), viaFromObject('ContainerStatusResponse', status));
      }
    });
  }
});

describe('replies from kept bytes (src/cri/encoded-replies.ts)', () => {
  const bytes = (reply: object): Buffer => {
    assert.ok(reply instanceof EncodedReply, 'an encoded reply');
    return reply.bytes;
  };

  it('ListPodSandbox and PodSandboxStatus: the bytes fromObject gives, and the new state once it changes', () => {
    const sb = sandbox();
    const other = { ...sandbox(), id: 'e'.repeat(64) };
    for (const state of ['READY', 'NOTREADY', 'READY'] as SandboxState[]) {
      const views = [sb, other].map((s) => ({ sandbox: s, state, pauseAlive: state === 'READY' }));
      const list = { items: views.map(toPodSandbox) };
      assert.deepEqual(bytes(listPodSandboxReply(views)), viaFromObject('ListPodSandboxResponse', list), state);
      const status = { status: toPodSandboxStatus(views[0]!), info: {}, containers_statuses: [], timestamp: NANOS };
      assert.deepEqual(bytes(podSandboxStatusReply(views[0]!, NANOS)), viaFromObject('PodSandboxStatusResponse', status), state);
    }
    // The network is attached after the record is made: the status shows it once it is.
    const bare = { ...sandbox(), id: 'f'.repeat(64), network: undefined } as Sandbox;
    const v = { sandbox: bare, state: 'NOTREADY' as SandboxState, pauseAlive: false };
    podSandboxStatusReply(v, NANOS);
    bare.network = sb.network;
    const status = { status: toPodSandboxStatus(v), info: {}, containers_statuses: [], timestamp: '1' };
    assert.deepEqual(bytes(podSandboxStatusReply(v, '1')), viaFromObject('PodSandboxStatusResponse', status));
  });

  it('ListContainers and ContainerStatus: the bytes fromObject gives through a container life', () => {
    const c = { ...container(), startedAt: undefined, finishedAt: undefined, exitCode: undefined, reason: undefined, message: undefined } as Container;
    const other = { ...container(), id: 'f'.repeat(64) };
    const check = (state: ContainerState) => {
      const views = [c, other].map((x) => ({ container: x, state }));
      assert.deepEqual(bytes(listContainersReply(views)), viaFromObject('ListContainersResponse', { containers: views.map(toCriContainer) }), state);
      const status = { status: toContainerStatus(views[0]!), info: {} };
      assert.deepEqual(bytes(containerStatusReply(views[0]!)), viaFromObject('ContainerStatusResponse', status), state);
    };
    check('CREATED');
    c.phase = 'running';
    c.startedAt = '1796644800223456789';
    check('RUNNING');
    // The exit is recorded on the same record: its end shows, though the state was EXITED already.
    check('EXITED');
    Object.assign(c, { phase: 'exited', finishedAt: '1796644800323456789', exitCode: 137, reason: 'OOMKilled', message: 'ran out' });
    check('EXITED');
    assert.equal(
      criType('runtime.v1.ContainerStatusResponse')
        .decode(bytes(containerStatusReply({ container: c, state: 'EXITED' })))
        .toJSON()['status']?.['exit_code'],
      137,
    );
  });
});
