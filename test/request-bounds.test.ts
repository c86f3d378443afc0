// Hostile lists and values against a real cribd, built as an attacker builds them: an image whose
// config holds 100,000 Env entries (2 MB, within the 8 MiB bound) no longer blocks every other CRI
// call; values runc or the kernel refused only after the container's files existed, and labels or
// annotations that made ListPodSandbox's reply larger than kubelet reads, are INVALID_ARGUMENT
// naming the field, and nothing is left half-created.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import type { ContainerConfig } from '../src/cri/generated/runtime/v1/ContainerConfig.js';
import { TEST_IMAGE, cribdWithBusybox, importBusybox } from './support/busybox-image.js';
import { rejectsWith } from './support/grpc-assert.js';
import { fakeImage, fakeLayer, startFakeRegistry } from './support/fake-registry.js';
import http from 'node:http';
import type net from 'node:net';

describe('a cribd given hostile lists and values', () => {
  const h = cribdWithBusybox();

  const ctr = (name: string, extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
    metadata: { name },
    image: { image: TEST_IMAGE },
    command: ['sleep', '1000'],
    log_path: `${name}.log`,
    ...extra,
  });

  it('answers every CRI call while it builds a container from an image with 100,000 Env entries', async () => {
    // 50,000 distinct variables, then each unset again: the merge meets every entry (it was
    // quadratic: a minute of blocked event loop), and the spec that reaches runc is small (runc
    // 1.1.5 hangs creating a process with a 2 MB environment).
    const Env = [...Array.from({ length: 50_000 }, (_, i) => `V${i}=${i}`), ...Array.from({ length: 50_000 }, (_, i) => `V${i}`)];
    const image = await importBusybox(h, 'localhost/test/env-bomb:1', { Env });
    const podId = await h.runPod('env-bomb');
    const order: string[] = [];
    const create = call(h.runtime, 'CreateContainer', {
      pod_sandbox_id: podId,
      config: ctr('bomb', { image: { image } }),
      sandbox_config: h.podConfig('env-bomb'),
    });
    const created = create.finally(() => order.push('CreateContainer'));
    // Sent after it: with the event loop free they are answered while CreateContainer spawns runc.
    await Promise.all([
      call(h.runtime, 'Version', {}).then(() => order.push('Version')),
      call(h.runtime, 'ListPodSandbox', {}).then(() => order.push('ListPodSandbox')),
    ]);
    const id = (await created).container_id;
    assert.deepEqual(order.slice(0, 2).sort(), ['ListPodSandbox', 'Version'], `answered in the order ${order.join(', ')}`);
    const info = JSON.parse((await call(h.runtime, 'ContainerStatus', { container_id: id, verbose: true })).info['info'] ?? '{}') as {
      runtimeSpec?: { process?: { env?: string[] } };
    };
    assert.deepEqual(
      info.runtimeSpec?.process?.env?.filter((e) => e.startsWith('V')),
      [],
      'every variable the image set it also unset',
    );
  });

  it('refuses NUL in env, cpusets the node does not have, and a memory limit runc cannot start in, leaving no container', async () => {
    const podId = await h.runPod('values');
    const create = (c: ContainerConfig) => call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config: c, sandbox_config: h.podConfig('values') });
    const bad = grpc.status.INVALID_ARGUMENT;
    await rejectsWith(create(ctr('a', { envs: [{ key: 'A\0B', value: 'x' }] })), bad, /^config\.envs\[0\]\.key: must not contain NUL/);
    await rejectsWith(create(ctr('b', { envs: [{ key: 'A', value: 'x\0y' }] })), bad, /^config\.envs\[0\]\.value: must not contain NUL/);
    await rejectsWith(
      create(ctr('c', { linux: { resources: { cpuset_cpus: '0-100000' } } })),
      bad,
      /^config\.linux\.resources\.cpuset_cpus: "0-100000" names CPUs/,
    );
    await rejectsWith(create(ctr('d', { linux: { resources: { cpuset_cpus: '1-0' } } })), bad, /^config\.linux\.resources\.cpuset_cpus/);
    await rejectsWith(create(ctr('e', { linux: { resources: { cpuset_mems: '1023' } } })), bad, /^config\.linux\.resources\.cpuset_mems/);
    await rejectsWith(create(ctr('f', { linux: { resources: { memory_limit_in_bytes: 4096 } } })), bad, /^config\.linux\.resources\.memory_limit_in_bytes/);
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, []);
    // What the node has is taken: CPU 0 and memory node 0 are always online.
    const ok = (await create(ctr('ok', { linux: { resources: { cpuset_cpus: '0', cpuset_mems: '0', memory_limit_in_bytes: 64 << 20 } } }))).container_id;
    await call(h.runtime, 'StartContainer', { container_id: ok });
    await rejectsWith(call(h.runtime, 'UpdateContainerResources', { container_id: ok, linux: { cpuset_cpus: '0-100000' } }), bad, /^linux\.cpuset_cpus/);
  });

  it('refuses labels or annotations past Kubernetes’ 256 KiB per object, so ListPodSandbox stays within what kubelet reads', async () => {
    const big = { a: 'x'.repeat(5 << 20), b: 'y'.repeat(5 << 20) };
    await rejectsWith(h.runPod('big-annotations', { annotations: big }), grpc.status.INVALID_ARGUMENT, /^config\.annotations: 10485762 bytes/);
    await rejectsWith(h.runPod('big-labels', { labels: big }), grpc.status.INVALID_ARGUMENT, /^config\.labels: 10485762 bytes/);
    assert.deepEqual((await call(h.runtime, 'ListPodSandbox', {})).items, []);
    const podId = await h.runPod('c-annotations');
    await rejectsWith(
      call(h.runtime, 'CreateContainer', { pod_sandbox_id: podId, config: ctr('big', { annotations: big }), sandbox_config: h.podConfig('c-annotations') }),
      grpc.status.INVALID_ARGUMENT,
      /^config\.annotations/,
    );
    assert.deepEqual((await call(h.runtime, 'ListContainers', {})).containers, []);
  });
});

describe('a registry that redirects to another host', () => {
  const h = cribdWithBusybox();

  it("follows the redirect, as containerd does, but never quotes the other host's answer to the caller", async () => {
    // The other host stands for a service on the node or a cloud metadata endpoint.
    const seen: (string | undefined)[] = [];
    const internal = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('token=internal-secret-0042');
    });
    await new Promise<void>((r) => internal.listen(0, '127.0.0.2', r));
    const fake = await startFakeRegistry();
    try {
      const image = fakeImage([fakeLayer([{ path: 'f', content: 'x' }])]);
      fake.serveImage('redirect/app', '1', image);
      const config = (image.manifest['config'] as { digest: string }).digest;
      fake.answers.set(`/v2/redirect/app/blobs/${config}`, (_req, res) => {
        res.writeHead(307, { location: `http://127.0.0.2:${(internal.address() as net.AddressInfo).port}/latest/meta-data` });
        res.end();
      });
      await assert.rejects(call(h.client.image, 'PullImage', { image: { image: `${fake.host}/redirect/app:1` } }), (e: grpc.ServiceError) => {
        assert.doesNotMatch(e.details, /internal-secret/);
        assert.match(e.details, /not found/);
        return true;
      });
      assert.deepEqual(seen, [undefined], 'followed once, without credentials');
    } finally {
      await fake.close();
      await new Promise((r) => internal.close(r));
    }
  });
});
