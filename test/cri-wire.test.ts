import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../src/client/client.js';
import { repoRoot } from '../src/util/paths.js';
import { Harness } from './support/harness.js';
import { grpcStatus, replay } from './support/h2-replay.js';
import { buildTestImage, busyboxLayer, pushLayout, startRegistry, type TestRegistry } from './support/registry.js';

const wire = path.join(repoRoot, 'test', 'fixtures', 'cri-wire');
const rs = '/runtime.v1.RuntimeService/';
const is = '/runtime.v1.ImageService/';

/** What cribd answers today to each request crictl really sent (README of the fixtures). */
const expected: Record<string, { method: string; code: grpc.status }> = {
  version: { method: `${rs}Version`, code: grpc.status.OK },
  'status-verbose': { method: `${rs}Status`, code: grpc.status.OK },
  'runpodsandbox-web': { method: `${rs}RunPodSandbox`, code: grpc.status.OK },
  'runpodsandbox-hostnet': { method: `${rs}RunPodSandbox`, code: grpc.status.OK },
  'runpodsandbox-sharedpid': { method: `${rs}RunPodSandbox`, code: grpc.status.OK },
  'listpodsandbox-all': { method: `${rs}ListPodSandbox`, code: grpc.status.OK },
  'listpodsandbox-filtered': { method: `${rs}ListPodSandbox`, code: grpc.status.OK },
  'podsandboxstatus-verbose': { method: `${rs}PodSandboxStatus`, code: grpc.status.NOT_FOUND },
  // Stopping an unknown sandbox or container is success (the CRI's idempotence).
  stoppodsandbox: { method: `${rs}StopPodSandbox`, code: grpc.status.OK },
  // The captured ids name a sandbox and containers of the capturing runtime: unknown here.
  'createcontainer-app': { method: `${rs}CreateContainer`, code: grpc.status.NOT_FOUND },
  'createcontainer-locked': { method: `${rs}CreateContainer`, code: grpc.status.NOT_FOUND },
  startcontainer: { method: `${rs}StartContainer`, code: grpc.status.NOT_FOUND },
  exec: { method: `${rs}Exec`, code: grpc.status.NOT_FOUND },
  'stopcontainer-timeout10': { method: `${rs}StopContainer`, code: grpc.status.OK },
  pullimage: { method: `${is}PullImage`, code: grpc.status.OK },
  'pullimage-with-sandbox-config': { method: `${is}PullImage`, code: grpc.status.OK },
  listimages: { method: `${is}ListImages`, code: grpc.status.OK },
  imagestatus: { method: `${is}ImageStatus`, code: grpc.status.OK },
};

/**
 * The captured bytes with the pod's cgroup parent moved from /kubepods to the harness's stand-in
 * for it (as long, so no length in the message or its frames changes): no test touches the node's
 * real /kubepods.
 */
function underHarnessKubepods(bytes: Buffer, h: Harness): Buffer {
  const from = Buffer.from('/kubepods/');
  const to = Buffer.from(`${h.kubeletCgroupRoot}/`);
  assert.equal(to.length, from.length, 'the stand-in for /kubepods is as long');
  const out = Buffer.from(bytes);
  for (let i = out.indexOf(from); i >= 0; i = out.indexOf(from, i + to.length)) to.copy(out, i);
  return out;
}

/** Sends raw request bytes as a unary call and returns the status code (the response body is not decoded here). */
function rawCall(client: grpc.Client, method: string, body: Buffer): Promise<grpc.status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      { deadline: Date.now() + 60_000 },
      (err) => resolve(err ? err.code : grpc.status.OK),
    );
  });
}

describe('real crictl bytes against cribd', () => {
  // crictl pulls docker.io/library/busybox:latest: a local registry mirrors docker.io, so the pull
  // is real and never leaves the machine.
  let reg: TestRegistry | undefined;
  let h: Harness;
  before(async () => {
    reg = await startRegistry();
    const layout = await buildTestImage(path.join(reg.dataDir, '..', 'busybox-layout'), { layers: [{ entries: busyboxLayer() }] });
    await pushLayout(layout, reg, 'library/busybox', 'latest');
    h = new Harness({ config: { registries: { mirrors: { 'docker.io': [reg.url] } } } });
    await h.start();
    // The captured pod asks for cgroup_parent /kubepods/burstable/pod7f2c9d1e: kubelet's QoS level
    // exists, the pod's cgroup is crib's to make and remove (the leak check holds it to that).
    await h.makeKubeletCgroup('burstable');
  });
  after(async () => {
    await h?.cleanup();
    await reg?.stop();
  });

  async function removeAll(): Promise<void> {
    for (const p of (await call(h.runtime, 'ListPodSandbox', {})).items) {
      await call(h.runtime, 'RemovePodSandbox', { pod_sandbox_id: p.id });
    }
    await h.assertNoLeaks();
  }

  for (const name of ['crictl-version', 'crictl-runp', 'crictl-run']) {
    it(`answers every stream of ${name}.h2 replayed byte for byte`, async () => {
      const res = await replay(h.socket, underHarnessKubepods(fs.readFileSync(path.join(wire, 'connections', `${name}.h2`)), h), 60_000);
      assert.ok(res.clientStreams.length >= 2);
      for (const id of res.clientStreams) {
        assert.ok(grpcStatus(res.blocks.get(id) ?? []) !== undefined, `stream ${id} got a grpc-status`);
      }
      assert.deepEqual(res.rst, []);
      assert.ok(
        res.goaway.every((g) => g.code === 0),
        JSON.stringify(res.goaway),
      );
      const statuses = res.clientStreams.map((id) => grpcStatus(res.blocks.get(id) ?? []));
      // Version and RunPodSandbox succeed; the container calls name the capturing runtime's sandbox.
      assert.equal(statuses[0], '0');
      if (name !== 'crictl-version') {
        assert.equal(statuses[1], '0', 'RunPodSandbox succeeded');
        const pods = (await call(h.runtime, 'ListPodSandbox', {})).items;
        assert.deepEqual(
          pods.map((p) => [p.metadata?.name, p.state]),
          [['web', 0]],
        );
        const st = await h.inspect(pods[0]?.id ?? '');
        assert.ok(st.status?.network?.ip?.startsWith(h.subnetPrefix));
        assert.match(
          fs.readFileSync(`/proc/${st.info.pid}/cgroup`, 'utf8'),
          new RegExp(`:${h.kubeletCgroupRoot}/burstable/pod7f2c9d1e/${pods[0]?.id}$`, 'm'),
          "pause is in the captured cgroup_parent, under the harness's /kubepods",
        );
        assert.deepEqual(st.status?.labels, { app: 'web', tier: 'frontend' });
        for (const s of statuses.slice(2)) assert.equal(s, String(grpc.status.NOT_FOUND));
      } else {
        assert.deepEqual(statuses, ['0', '0']);
      }
      await removeAll();
    });
  }

  it('answers each captured request as crictl expects', async () => {
    const client = new grpc.Client(`unix://${h.socket}`, grpc.credentials.createInsecure());
    try {
      const files = fs.readdirSync(path.join(wire, 'requests')).filter((f) => f.endsWith('.bin'));
      assert.equal(files.length, Object.keys(expected).length, 'every fixture has an expectation');
      for (const f of files) {
        const name = f.replace(/\.bin$/, '');
        const want = expected[name];
        assert.ok(want, `expectation for ${name}`);
        const code = await rawCall(client, want.method, underHarnessKubepods(fs.readFileSync(path.join(wire, 'requests', f)), h));
        assert.equal(code, want.code, `${name}: got ${grpc.status[code]}, want ${grpc.status[want.code]}`);
      }
      const pods = (await call(h.runtime, 'ListPodSandbox', {})).items.map((p) => p.metadata?.name).sort();
      assert.deepEqual(pods, ['hostnet', 'shared', 'web']);
    } finally {
      client.close();
    }
    await removeAll();
  });
});
