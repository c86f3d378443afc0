// CreateContainer and StartContainer through stand-ins for the runtime, the pod, the images and the
// node (no root): when the runtime's create fails, when a step of the bundle fails (the rootfs
// mount, the spec), and when the caller goes away at each point that takes its signal, exactly what
// was made is undone, in order (the runtime's process and state, then the mounts, then the
// runtime's files), and the record, the directory and the name are gone; a Remove after that is a
// no-op. A failed start leaves the container created, for Remove to undo.
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContainerService } from '../../src/container/service.js';
import type { ContainerHost } from '../../src/container/host.js';
import type { ContainerNotice } from '../../src/container/types.js';
import type { OciRuntime, Stopping } from '../../src/oci/runtime.js';
import { BeneathError } from '../../src/host/beneath.js';
import { toContainerConfig } from '../../src/cri/container-convert.js';
import { criServices } from '../../src/cri/proto.js';
import type { ContainerConfig } from '../../src/cri/generated/runtime/v1/ContainerConfig.js';
import type { CreateContainerRequest__Output } from '../../src/cri/generated/runtime/v1/CreateContainerRequest.js';
import { newContext } from '../../src/util/context.js';
import type { Image } from '../../src/image/types.js';
import type { Sandbox, SandboxView } from '../../src/sandbox/types.js';
import { toSandboxConfig } from '../../src/cri/sandbox-convert.js';
import type { RunPodSandboxRequest__Output } from '../../src/cri/generated/runtime/v1/RunPodSandboxRequest.js';
import { CribError } from '../../src/util/errors.js';
import { makeDirs } from '../../src/util/fsx.js';

/** A CreateContainer request's config through the real encoder, decoder and converter. */
function containerConfig(extra: Partial<ContainerConfig> = {}) {
  const config: ContainerConfig = { metadata: { name: 'c' }, image: { image: 'app:1' }, command: ['/app'], log_path: 'c.log', ...extra };
  const m = criServices().runtime['CreateContainer']!;
  return toContainerConfig((m.requestDeserialize(m.requestSerialize({ pod_sandbox_id: 'p', config })) as CreateContainerRequest__Output).config);
}

const withVolume = () => containerConfig({ mounts: [{ container_path: '/data', image: { image: 'data:1' } }] });

const image = (id: string): Image => ({
  id,
  repoTags: [`${id}:1`],
  repoDigests: [],
  manifestDigest: '',
  manifestMediaType: '',
  layers: [],
  diffIds: [`sha256:${id}-layer`],
  size: 0,
  config: { Entrypoint: ['/app'] },
  pinned: false,
});

/** What the stand-ins were asked, in order. */
type Log = string[];

/** Where a stand-in fails: the runtime's create, the rootfs's mount, reading /etc/passwd for the spec, or the start. */
type Fail = 'create' | 'rootfs' | 'spec' | 'start';

interface Options {
  fail?: Fail;
  /** Runs inside the runtime's create, given its signal, before it answers. */
  onCreate?: (signal: AbortSignal | undefined) => void;
  /** The runtime's create succeeds even if the signal was aborted meanwhile (it had finished first). */
  createFinishesFirst?: boolean;
  /** Runs inside the rootfs's mount. */
  onRootfs?: () => void;
}

function standIns(log: Log, base: string, o: Options) {
  const rel = (p: string) =>
    path
      .relative(path.join(base, 'root', 'containers'), p)
      .split(path.sep)
      .slice(1)
      .join('/');
  const runtime = {
    name: 'stand-in',
    info: { name: 'stand-in', path: '', root: '' },
    features: () => Promise.resolve({ recursiveReadOnlyMounts: false }),
    create: (_r: unknown, signal?: AbortSignal) => {
      log.push('runtime.create');
      // The runtime's contract: an aborted signal refuses at once (ConmonRuntime.create).
      signal?.throwIfAborted();
      if (o.fail === 'create') return Promise.reject(new Error('the runtime refused the spec'));
      o.onCreate?.(signal);
      // Else an abort meanwhile ends what it made, and it says so.
      if (!o.createFinishesFirst) signal?.throwIfAborted();
      return Promise.resolve({ pid: 2 ** 23, startTime: '1' });
    },
    start: (_id: string, signal?: AbortSignal) => {
      log.push('runtime.start');
      signal?.throwIfAborted();
      return o.fail === 'start' ? Promise.reject(new Error('the process could not exec')) : Promise.resolve();
    },
    kill: (_id: string, sig: string) => (log.push(`runtime.kill(${sig})`), Promise.resolve()),
    stop: (): Stopping => {
      log.push('runtime.stop');
      return { signalled: Promise.resolve(), stopped: Promise.resolve() };
    },
    delete: () => (log.push('runtime.delete'), Promise.resolve()),
    forget: () => (log.push('runtime.forget'), Promise.resolve()),
    exitRecord: () => Promise.resolve({ exitCode: 137, finishedAt: '2', oomKilled: false }),
    exited: () => false,
    watchExits: () => () => undefined,
  } as unknown as OciRuntime;
  const sandbox = sandboxOf(base);
  const sandboxes = {
    get: (id: string) => {
      if (id !== sandbox.id) throw new CribError('NotFound', `sandbox ${id} not found`);
      return sandbox;
    },
    view: (sb: Sandbox): Promise<SandboxView> => Promise.resolve({ sandbox: sb, state: 'READY', pauseAlive: true }),
    runtimeOf: () => runtime,
  };
  const images = {
    find: (ref: string) => (ref === 'app:1' ? image('app') : ref === 'data:1' ? image('data') : undefined),
    store: { layerPath: (d: string) => path.join(base, 'layers', d) },
  };
  const host: ContainerHost = {
    exists: () => Promise.resolve(true),
    // The pod's log directory is under the test's own root: made for real.
    makeDirs,
    validateCpusets: () => Promise.resolve(),
    mountOverlay: (m) => {
      log.push(`host.mountOverlay(${rel(m.target)})`);
      if (m.upperDir) o.onRootfs?.();
      return o.fail === 'rootfs' && m.upperDir ? Promise.reject(new Error('overlay: too many lower dirs')) : Promise.resolve();
    },
    unmountOverlay: (target) => (log.push(`host.unmountOverlay(${rel(target)})`), Promise.resolve()),
    mountIdmappedOverlay: () => Promise.reject(new Error('not a user-namespaced pod')),
    releaseIdmapped: (roots) => (log.push(`host.releaseIdmapped(${roots})`), Promise.resolve()),
    readInRoot: (_root, rels) =>
      o.fail === 'spec' ? Promise.reject(new BeneathError('etc/passwd is a symlink out of the root')) : Promise.resolve(rels.map(() => undefined)),
    resolveInRoot: () => Promise.reject(new Error('no sub path was asked for')),
    hostDevices: () => Promise.resolve([]),
    readLocalhostProfile: () => Promise.reject(new Error('no profile was asked for')),
    daemonLimits: () => Promise.resolve({ oomScoreAdj: 0, canLowerOomScoreAdj: true, rlimitNofile: 1024, capabilityBoundingMask: '1ffffffffff' }),
    clampOomScoreAdj: (desired) => Promise.resolve(desired),
    cgroupEmpty: () => Promise.resolve(false),
    oomKilled: () => Promise.resolve(false),
  };
  return { runtime, sandboxes, images, host, sandbox };
}

/** A ready pod (as SandboxService would hand it over) whose directories are under `base`. */
function sandboxOf(base: string): Sandbox {
  const m = criServices().runtime['RunPodSandbox']!;
  const req = m.requestDeserialize(m.requestSerialize({ config: { metadata: { name: 'p', namespace: 'default', uid: 'u' } } })) as RunPodSandboxRequest__Output;
  const podDir = path.join(base, 'root', 'sandboxes', 'pod');
  return {
    id: 'a'.repeat(64),
    config: toSandboxConfig(req.config, ''),
    phase: 'ready',
    createdAt: '1',
    runtime: 'stand-in',
    image: { ref: 'pause:1', id: 'sha256:pause' },
    paths: { podDir, bundle: path.join(podDir, 'pause'), shm: path.join(base, 'state', 'shm', 'pod'), netns: path.join(base, 'state', 'netns', 'pod') },
    cgroup: { parent: '/crib-unit/pod', path: '/crib-unit/pod/pause', ownsParent: true },
    pause: { pid: 2 ** 22, startTime: '1' },
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function service(log: Log, o: Options = {}) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'crib-container-service-'));
  dirs.push(base);
  const { runtime, sandboxes, images, host, sandbox } = standIns(log, base, o);
  const notices: string[] = [];
  const s = new ContainerService({
    root: path.join(base, 'root'),
    runtimes: new Map([['stand-in', runtime]]),
    images,
    sandboxes,
    host,
    notices: { publish: (n: ContainerNotice) => notices.push(n.type) },
  });
  await s.open();
  return { s, base, sandbox, notices };
}

const ctx = (method: string, signal = new AbortController().signal) => newContext(method, signal);

/** A rollback once the rootfs may be mounted: the runtime's process and state first (they may hold it), then the mounts, then the runtime's files. */
const ROLLBACK = ['runtime.kill(KILL)', 'runtime.delete', 'host.unmountOverlay(bundle/rootfs)', 'runtime.forget'];

/** Nothing is left of a container: no record, no directory, no container listed, and its name is free again. */
async function assertGone(s: ContainerService, base: string) {
  assert.deepEqual(await s.list(), []);
  assert.deepEqual(fs.readdirSync(path.join(base, 'root', 'records', 'containers')), [], 'no record');
  assert.deepEqual(fs.readdirSync(path.join(base, 'root', 'containers')), [], 'no container directory');
}

/**
 * A create that fails as `expected` says, then a Remove of the id it had made (a caller that saw
 * the id in a log, or kubelet cleaning up): nothing left to do, nothing asked.
 */
async function failedCreate(
  s: ContainerService,
  log: Log,
  sandboxId: string,
  config: ReturnType<typeof containerConfig>,
  expected: assert.AssertPredicate,
  signal?: AbortSignal,
) {
  const c = ctx('CreateContainer', signal);
  await assert.rejects(s.create(c, sandboxId, config), expected);
  const id = c.ids.container;
  assert.ok(id, 'the create had made an id');
  const asked = log.length;
  await s.remove(ctx('RemoveContainer'), id);
  assert.equal(log.length, asked, 'a Remove after the failed create asks nothing');
}

/** What a failed create's rollback asked, from the first step it undoes on. */
const undone = (log: Log) => log.slice(log.indexOf('runtime.kill(KILL)'));

describe('CreateContainer through stand-ins', () => {
  it('makes the container: the rootfs, the spec, the runtime; Remove undoes it and a second one is a no-op', async () => {
    const log: Log = [];
    const { s, base, sandbox, notices } = await service(log);
    const id = await s.create(ctx('CreateContainer'), sandbox.id, containerConfig());
    assert.equal(s.get(id).phase, 'created');
    assert.deepEqual(log, ['host.mountOverlay(bundle/rootfs)', 'runtime.create']);
    const spec = JSON.parse(fs.readFileSync(path.join(base, 'root', 'containers', id, 'bundle', 'config.json'), 'utf8')) as { process: { args: string[] } };
    assert.deepEqual(spec.process.args, ['/app']);
    log.length = 0;
    await s.remove(ctx('RemoveContainer'), id);
    assert.deepEqual(log, ROLLBACK, 'the stop ends the process (kill), and the rest as a rollback');
    await assertGone(s, base);
    log.length = 0;
    await s.remove(ctx('RemoveContainer'), id);
    assert.deepEqual(log, []);
    assert.deepEqual(notices, ['CREATED', 'STOPPED', 'DELETED']);
  });

  it("rolls back after the runtime's create fails: its process and state, the rootfs, its files", async () => {
    const log: Log = [];
    const { s, base, sandbox, notices } = await service(log, { fail: 'create' });
    await failedCreate(s, log, sandbox.id, containerConfig(), /refused the spec/);
    assert.deepEqual(log, ['host.mountOverlay(bundle/rootfs)', 'runtime.create', ...ROLLBACK]);
    await assertGone(s, base);
    assert.deepEqual(notices, []);
  });

  it('rolls back after the rootfs mount fails', async () => {
    const log: Log = [];
    const { s, base, sandbox } = await service(log, { fail: 'rootfs' });
    await failedCreate(s, log, sandbox.id, containerConfig(), /too many lower dirs/);
    assert.deepEqual(log, ['host.mountOverlay(bundle/rootfs)', ...ROLLBACK]);
    await assertGone(s, base);
  });

  it("rolls back after the spec cannot be built (the image's /etc/passwd escapes): the rootfs and the image volume", async () => {
    const log: Log = [];
    const { s, base, sandbox } = await service(log, { fail: 'spec' });
    await failedCreate(s, log, sandbox.id, withVolume(), (e: unknown) => {
      assert.ok(e instanceof CribError && e.kind === 'InvalidArgument', String(e));
      assert.match(e.message, /^image app:1: etc\/passwd is a symlink/);
      return true;
    });
    assert.ok(!log.includes('runtime.create'), 'no runtime was asked');
    assert.deepEqual(undone(log), [...ROLLBACK.slice(0, 3), 'host.unmountOverlay(image-volumes/0)', 'runtime.forget']);
    assert.deepEqual(log.slice(0, -undone(log).length), ['host.mountOverlay(bundle/rootfs)', 'host.mountOverlay(image-volumes/0)']);
    await assertGone(s, base);
  });

  describe('a cancelled call leaves what a failed one does', () => {
    const cancelled = async (o: (abort: AbortController) => Options, expected: Log) => {
      const log: Log = [];
      const abort = new AbortController();
      const { s, base, sandbox, notices } = await service(log, o(abort));
      await failedCreate(s, log, sandbox.id, containerConfig(), /went away/, abort.signal);
      assert.deepEqual(log, expected);
      await assertGone(s, base);
      assert.deepEqual(notices, []);
    };
    const away = (abort: AbortController) => abort.abort(new Error('the client went away'));

    it('while the bundle is made: the runtime is never asked to create', async () => {
      await cancelled((abort) => ({ onRootfs: () => away(abort) }), ['host.mountOverlay(bundle/rootfs)', ...ROLLBACK]);
    });

    it("while the runtime creates, which it ends (the request's signal reaches it)", async () => {
      let given: AbortSignal | undefined;
      await cancelled(
        (abort) => ({
          onCreate: (signal) => {
            given = signal;
            away(abort);
          },
        }),
        ['host.mountOverlay(bundle/rootfs)', 'runtime.create', ...ROLLBACK],
      );
      assert.ok(given?.aborted, "the runtime's create is given the request's signal");
    });

    it('while the runtime creates, which finishes first: the check before the commit sees it', async () => {
      await cancelled(
        (abort) => ({ onCreate: () => away(abort), createFinishesFirst: true }),
        ['host.mountOverlay(bundle/rootfs)', 'runtime.create', ...ROLLBACK],
      );
    });
  });
});

describe('StartContainer through stand-ins', () => {
  for (const [what, o] of [
    ['fails', { fail: 'start' }],
    ['is cancelled', {}],
  ] as const) {
    it(`leaves the container created when the start ${what}; Remove undoes it`, async () => {
      const log: Log = [];
      const { s, base, sandbox, notices } = await service(log, o);
      const id = await s.create(ctx('CreateContainer'), sandbox.id, containerConfig());
      const abort = new AbortController();
      if (what === 'is cancelled') abort.abort(new Error('the client went away'));
      await assert.rejects(s.start(ctx('StartContainer', abort.signal), id), /could not exec|went away/);
      assert.equal((await s.status(id)).state, 'CREATED');
      const record = JSON.parse(fs.readFileSync(path.join(base, 'root', 'records', 'containers', `${id}.json`), 'utf8')) as { phase: string };
      assert.equal(record.phase, 'created');
      log.length = 0;
      await s.remove(ctx('RemoveContainer'), id);
      assert.deepEqual(log, ROLLBACK, 'the stop ends the process (kill), and the rest as a rollback');
      await assertGone(s, base);
      assert.deepEqual(notices, ['CREATED', 'STOPPED', 'DELETED']);
    });
  }
});
