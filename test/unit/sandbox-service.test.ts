// RunPodSandbox's flow through stand-ins for the runtime, the network and the node (no root): when
// CNI ADD fails, when the runtime's create fails, and when the caller goes away mid-way, exactly
// what was made is undone, in the order a pod's end takes (pause, then the network, then the pod's
// cgroup and root), and the record and the name are gone.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SandboxService } from '../../src/sandbox/service.js';
import type { SandboxHost } from '../../src/sandbox/host.js';
import type { OciRuntime, Stopping } from '../../src/oci/runtime.js';
import { toSandboxConfig } from '../../src/cri/sandbox-convert.js';
import { criServices } from '../../src/cri/proto.js';
import type { RunPodSandboxRequest__Output } from '../../src/cri/generated/runtime/v1/RunPodSandboxRequest.js';
import { newContext } from '../../src/util/context.js';
import type { Image } from '../../src/image/types.js';
import type { NetworkConfigList } from '../../src/network/types.js';

const config = () => {
  const m = criServices().runtime['RunPodSandbox']!;
  const req = m.requestDeserialize(m.requestSerialize({ config: { metadata: { name: 'p', namespace: 'default', uid: 'u' } } })) as RunPodSandboxRequest__Output;
  return toSandboxConfig(req.config, '');
};

const image: Image = {
  id: 'sha256:pause',
  repoTags: ['pause:1'],
  repoDigests: [],
  manifestDigest: '',
  manifestMediaType: '',
  layers: [],
  diffIds: ['sha256:layer'],
  size: 0,
  config: { Entrypoint: ['/pause'] },
  pinned: true,
};

/** What each stand-in was asked, in order. */
type Log = string[];

/** The pod's stand-ins; `fail` names the step that fails ('cni', 'create'), `onAttach` runs while CNI ADD runs. */
function standIns(log: Log, o: { fail?: 'cni' | 'create'; onAttach?: (signal: AbortSignal | undefined) => Promise<void> } = {}) {
  let started!: () => void;
  const pauseStarted = new Promise<void>((r) => (started = r));
  const runtime = {
    name: 'stand-in',
    info: { name: 'stand-in', path: '', root: '' },
    features: () => Promise.resolve({ recursiveReadOnlyMounts: false }),
    runDetached: () => {
      log.push('runtime.runDetached');
      started();
      if (o.fail === 'create') return Promise.reject(new Error('the runtime refused the spec'));
      return Promise.resolve({ pid: 2 ** 23, startTime: '1' });
    },
    stop: (_id: string, proc: unknown): Stopping => {
      log.push(proc ? 'runtime.stop(pause)' : 'runtime.stop(none)');
      return { signalled: Promise.resolve(), stopped: Promise.resolve() };
    },
    delete: () => (log.push('runtime.delete'), Promise.resolve()),
    forget: () => (log.push('runtime.forget'), Promise.resolve()),
    kill: () => Promise.resolve(),
    exited: () => false,
    watchExits: () => () => undefined,
  } as unknown as OciRuntime;
  const network = {
    resolve: () => Promise.resolve({ name: 'net', cniVersion: '1.0.0', plugins: [], source: 'stand-in' } as unknown as NetworkConfigList),
    attach: async (_n: unknown, _p: unknown, _netns: string, _ports: unknown, signal?: AbortSignal) => {
      // ADD ends after pause has started: the rollback below then has both to undo.
      await pauseStarted;
      log.push('network.attach');
      await o.onAttach?.(signal);
      if (o.fail === 'cni') throw new Error('CNI ADD failed: no IP left');
      return {
        netnsPath: _netns,
        ifName: 'eth0',
        network: {} as NetworkConfigList,
        portMappings: [],
        result: {},
        ips: [{ ip: '10.0.0.2', address: '10.0.0.2/24', family: 4 as const }],
      };
    },
    detach: () => (log.push('network.detach'), Promise.resolve()),
  };
  const step =
    (name: string) =>
    (..._args: unknown[]) => {
      log.push(`host.${name}`);
      return Promise.resolve();
    };
  const host: SandboxHost = {
    cgroupExists: () => Promise.resolve(false),
    removeCgroup: step('removeCgroup'),
    setCgroupLimits: step('setCgroupLimits'),
    prepareRootfs: step('prepareRootfs'),
    releaseRootfs: step('releaseRootfs'),
    mountPod: step('mountPod'),
    unmountPod: step('unmountPod'),
    mountIdmappedTree: step('mountIdmappedTree'),
    mountIdmappedOverlay: () => Promise.resolve([]),
    releaseIdmapped: step('releaseIdmapped'),
  };
  return { runtime, network, host };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function service(log: Log, o: Parameters<typeof standIns>[1] = {}) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-sandbox-service-'));
  dirs.push(base);
  const { runtime, network, host } = standIns(log, o);
  const s = new SandboxService({
    root: path.join(base, 'root'),
    state: path.join(base, 'state'),
    runtimes: new Map([['stand-in', runtime]]),
    defaultRuntime: 'stand-in',
    images: { find: () => image, pull: () => Promise.reject(new Error('no pull')), store: { layerPath: (d: string) => path.join(base, 'layers', d) } },
    pauseImage: 'pause:1',
    network,
    cgroupRoot: '/crib-unit',
    notices: { publish: () => undefined },
    host,
  });
  await s.open();
  return { s, base };
}

/** The rollback of a pod whose pause was created: pause ended and deleted, then the network, then what the pod held. */
const ROLLBACK = ['runtime.stop(pause)', 'runtime.delete', 'network.detach', 'host.unmountPod', 'host.removeCgroup', 'host.releaseRootfs', 'runtime.forget'];

async function assertGone(s: SandboxService, base: string) {
  assert.deepEqual(await s.list(), []);
  assert.deepEqual(fs.readdirSync(path.join(base, 'root', 'records', 'sandboxes')), [], 'no record');
  assert.deepEqual(fs.readdirSync(path.join(base, 'root', 'sandboxes')), [], 'no pod directory');
}

describe('RunPodSandbox through stand-ins', () => {
  it('makes the pod: mounts and root, pause, the network', async () => {
    const log: Log = [];
    const { s } = await service(log);
    const id = await s.run(newContext('RunPodSandbox', new AbortController().signal), config());
    assert.equal(s.get(id).phase, 'ready');
    assert.deepEqual(log.slice(2), ['runtime.runDetached', 'network.attach']);
    assert.deepEqual(log.slice(0, 2).sort(), ['host.mountPod', 'host.prepareRootfs']);
  });

  it('rolls back after CNI ADD fails: pause, then the network, then the pod', async () => {
    const log: Log = [];
    const { s, base } = await service(log, { fail: 'cni' });
    await assert.rejects(s.run(newContext('RunPodSandbox', new AbortController().signal), config()), /no IP left/);
    assert.deepEqual(log.slice(log.indexOf('network.attach') + 1), ROLLBACK);
    await assertGone(s, base);
    // The name is free again.
    await assert.rejects(s.run(newContext('RunPodSandbox', new AbortController().signal), config()), /no IP left/);
  });

  it("rolls back after the runtime's create fails: no pause to end, the network still after it", async () => {
    const log: Log = [];
    const { s, base } = await service(log, { fail: 'create' });
    await assert.rejects(s.run(newContext('RunPodSandbox', new AbortController().signal), config()), /refused the spec/);
    const rollback = log.slice(log.indexOf('network.attach') + 1);
    assert.deepEqual(rollback, ['runtime.stop(none)', ...ROLLBACK.slice(1)]);
    await assertGone(s, base);
  });

  it('rolls back a call whose caller went away while CNI ADD ran, as a failed one', async () => {
    const log: Log = [];
    const abort = new AbortController();
    const { s, base } = await service(log, {
      // The caller goes mid-ADD; ADD itself succeeds (the plugin finished first).
      onAttach: (signal) => {
        assert.equal(signal, abort.signal, "ADD is given the request's signal");
        abort.abort(new Error('the client went away'));
        return Promise.resolve();
      },
    });
    await assert.rejects(s.run(newContext('RunPodSandbox', abort.signal), config()), /went away/);
    assert.deepEqual(log.slice(log.indexOf('network.attach') + 1), ROLLBACK);
    await assertGone(s, base);
  });
});
