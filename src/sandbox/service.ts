import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CribError, errorMessage, invalidArgument } from '../util/errors.js';
import { exists, isErrno } from '../util/fsx.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { log } from '../util/log.js';
import { nowNanos } from '../util/time.js';
import { createPinnedNetns, removePinnedNetns } from '../network/netns.js';
import type { NetworkManager } from '../network/manager.js';
import type { PodNetworkIdentity } from '../network/types.js';
import { cgroupExists, removeCgroup } from '../oci/cgroups.js';
import { conmonCreate } from '../oci/conmon.js';
import { deleteAndWaitConmon, terminate } from '../oci/lifecycle.js';
import { clampOomScoreAdj, isAlive, procStat } from '../oci/process.js';
import type { OciRuntime } from '../oci/runtime.js';
import { pauseSpec } from '../oci/sandbox-spec.js';
import type { ImageService } from '../image/service.js';
import type { Image } from '../image/types.js';
import { prepareRootfs, releaseRootfs } from '../image/rootfs.js';
import { RecordStore } from '../store/records.js';
import { findById, getById } from '../store/lookup.js';
import { matchesFilter } from './filter.js';
import { mountShm, podFilePaths, podHostname, unmountShm, updateHosts, writePodFiles } from './pod-files.js';
import type { Sandbox, SandboxConfig, SandboxFilter, SandboxView } from './types.js';
import { validateId, validateSandboxConfig } from './validate.js';

/** containerd's default for sandboxes: the last thing the OOM killer picks. */
const SANDBOX_OOM_SCORE_ADJ = -998;

export interface SandboxServiceOptions {
  root: string;
  state: string;
  conmonPath: string;
  runtimes: ReadonlyMap<string, OciRuntime>;
  defaultRuntime: string;
  images: ImageService;
  pauseImage: string;
  network: NetworkManager;
  cgroupRoot: string;
}

const nameKey = (c: SandboxConfig): string =>
  [c.metadata.namespace, c.metadata.name, c.metadata.uid, c.metadata.attempt].join('\u0000');


/** The containers of a sandbox, stopped and removed with it (the container service). */
export interface SandboxMembers {
  stopAllIn(sandboxId: string): Promise<void>;
  removeAllIn(sandboxId: string): Promise<void>;
}

/** Owns every pod sandbox: their records, pause containers, network and directories. */
export class SandboxService {
  private members: SandboxMembers | undefined;
  private readonly sandboxes = new Map<string, Sandbox>();
  private readonly names = new Map<string, string>();
  private readonly locks = new KeyedLock();
  private readonly records: RecordStore<Sandbox>;
  private readonly dirs: { exits: string; sockets: string; netns: string; shm: string; pods: string };

  constructor(private readonly o: SandboxServiceOptions) {
    this.records = new RecordStore<Sandbox>(path.join(o.root, 'records', 'sandboxes'));
    this.dirs = {
      exits: path.join(o.state, 'exits'),
      sockets: path.join(o.state, 'sockets'),
      netns: path.join(o.state, 'netns'),
      shm: path.join(o.state, 'shm'),
      pods: path.join(o.root, 'sandboxes'),
    };
  }

  /** Loads the records and finishes what a crash interrupted: half-created sandboxes are rolled back. */
  async open(): Promise<void> {
    await this.records.open();
    for (const d of Object.values(this.dirs)) await fs.mkdir(d, { recursive: true, mode: 0o700 });
    for (const sb of await this.records.loadAll()) {
      if (sb.phase === 'creating') {
        log.warn('rolling back a sandbox whose creation was interrupted', { id: sb.id, pod: sb.config.metadata.name });
        await this.teardown(sb).catch((err) => log.error('rollback failed', { id: sb.id, error: errorMessage(err) }));
        continue;
      }
      this.sandboxes.set(sb.id, sb);
      this.names.set(nameKey(sb.config), sb.id);
    }
  }

  /** Connects the container service, which exists after this one. */
  setMembers(m: SandboxMembers): void {
    this.members = m;
  }

  private runtimeFor(handler: string): OciRuntime {
    const rt = this.o.runtimes.get(handler || this.o.defaultRuntime);
    if (!rt) {
      throw invalidArgument('runtime_handler', `unknown runtime handler "${handler}"; known: ${[...this.o.runtimes.keys()].join(', ')}`);
    }
    return rt;
  }

  /** The pause image, pulled first if it is not in the store (a --pause-image of the operator's). */
  private async pauseImage(): Promise<Image> {
    const have = this.o.images.find(this.o.pauseImage);
    if (have) return have;
    try {
      return await this.o.images.pull(this.o.pauseImage);
    } catch (err) {
      throw new CribError('FailedPrecondition', `pause image ${this.o.pauseImage} is not in the store and could not be pulled: ${errorMessage(err)}`);
    }
  }

  /** Which sandbox (if any) uses an image, so RemoveImage can refuse and say so. */
  imageUser(imageId: string): string | undefined {
    for (const sb of this.sandboxes.values()) if (sb.image.id === imageId) return `sandbox ${sb.id}`;
    return undefined;
  }

  async run(config: SandboxConfig): Promise<string> {
    validateSandboxConfig(config);
    const runtime = this.runtimeFor(config.runtimeHandler);
    const key = nameKey(config);
    const taken = this.names.get(key);
    if (taken) {
      const m = config.metadata;
      throw new CribError('AlreadyExists', `sandbox ${m.namespace}/${m.name} (uid ${m.uid}, attempt ${m.attempt}) already exists as ${taken}`);
    }
    const id = randomBytes(32).toString('hex');
    this.names.set(key, id);
    const podDir = path.join(this.dirs.pods, id);
    const cgroupParent = config.cgroupParent || `${this.o.cgroupRoot}/pod-${id}`;
    const sb: Sandbox = {
      id,
      config,
      phase: 'creating',
      createdAt: nowNanos(),
      runtime: runtime.name,
      image: { ref: this.o.pauseImage, id: '' },
      paths: {
        podDir,
        bundle: path.join(podDir, 'pause'),
        shm: config.namespaces.ipc === 'NODE' ? '/dev/shm' : path.join(this.dirs.shm, id),
        netns: config.namespaces.network === 'NODE' ? undefined : path.join(this.dirs.netns, id),
      },
      cgroup: { parent: cgroupParent, path: `${cgroupParent}/${id}`, ownsParent: false },
    };
    try {
      const image = await this.pauseImage();
      sb.image.id = image.id;
      // A parent crib names itself is new by construction; one from the request may exist already.
      sb.cgroup.ownsParent = !config.cgroupParent || !(await cgroupExists(cgroupParent));
      if (sb.paths.netns) sb.networkConfig = await this.o.network.resolve().catch((err: unknown) => {
        throw new CribError('FailedPrecondition', errorMessage(err));
      });
      await this.records.put(id, sb);
      await settleAll([this.preparePodDir(sb, image), sb.paths.netns ? createPinnedNetns(sb.paths.netns) : undefined]);
      // With the netns pinned, CNI ADD and starting pause need nothing from each other.
      const [net, pause] = await Promise.allSettled([
        sb.paths.netns && sb.networkConfig
          ? this.o.network.attach(sb.networkConfig, podIdentity(sb), sb.paths.netns, config.portMappings)
          : Promise.resolve(undefined),
        this.startPause(sb, runtime),
      ]);
      if (net.status === 'rejected') throw net.reason;
      if (pause.status === 'rejected') throw pause.reason;
      sb.network = net.value;
      sb.pause = pause.value;
      const ip = sb.network?.ips[0]?.ip;
      if (ip) await updateHosts(podDir, podHostname(config), ip);
      sb.phase = 'ready';
      await this.records.put(id, sb);
    } catch (err) {
      await this.teardown(sb).catch((e) => log.error('rolling back a failed RunPodSandbox', { id, error: errorMessage(e) }));
      this.names.delete(key);
      throw err;
    }
    this.sandboxes.set(id, sb);
    log.info('sandbox ready', { id, pod: `${config.metadata.namespace}/${config.metadata.name}`, ip: sb.network?.ips[0]?.ip });
    return id;
  }

  private async preparePodDir(sb: Sandbox, image: Image): Promise<void> {
    const { config } = sb;
    await fs.mkdir(sb.paths.bundle, { recursive: true, mode: 0o700 });
    const rootfs = path.join(sb.paths.bundle, 'rootfs');
    await Promise.all([
      writePodFiles(sb.paths.podDir, podHostname(config), config.dnsConfig),
      prepareRootfs(image.diffIds.map((d) => this.o.images.store.layerPath(d)), rootfs, path.join(sb.paths.podDir, 'rootfs-scratch')),
      config.namespaces.ipc === 'NODE' ? Promise.resolve() : mountShm(sb.paths.shm),
    ]);
    const oomScoreAdj = await clampOomScoreAdj(SANDBOX_OOM_SCORE_ADJ, (from, to) =>
      log.once('oom-clamp', 'warn', `cannot set oom_score_adj ${from} without CAP_SYS_RESOURCE; pods get ${to}, the daemon's own`),
    );
    const ic = image.config;
    const spec = pauseSpec({
      args: [...(ic.Entrypoint ?? []), ...(ic.Cmd ?? [])],
      env: ic.Env ?? [],
      netnsPath: sb.paths.netns,
      newPidNamespace: config.namespaces.pid !== 'NODE',
      newIpcNamespace: config.namespaces.ipc !== 'NODE',
      hostname: config.namespaces.network === 'NODE' ? undefined : podHostname(config),
      shmPath: sb.paths.shm,
      etcFiles: podFilePaths(sb.paths.podDir),
      cgroupsPath: sb.cgroup.path,
      sysctls: Object.fromEntries(Object.entries(config.sysctls).map(([k, v]) => [k.replaceAll('/', '.'), v])),
      uid: config.runAsUser ?? 0,
      gid: config.runAsGroup ?? 0,
      oomScoreAdj,
      annotations: { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': sb.id },
    });
    await fs.writeFile(path.join(sb.paths.bundle, 'config.json'), JSON.stringify(spec));
  }

  private async startPause(sb: Sandbox, runtime: OciRuntime): Promise<{ pid: number; startTime: string }> {
    const pid = await conmonCreate({
      conmonPath: this.o.conmonPath,
      runtime,
      id: sb.id,
      name: `${sb.config.metadata.name}-pause`,
      bundle: sb.paths.bundle,
      logPath: path.join(sb.paths.podDir, 'pause.log'),
      exitDir: this.dirs.exits,
      socketDir: this.dirs.sockets,
    });
    await runtime.start(sb.id);
    const st = await procStat(pid);
    if (!st) throw new Error(`pause (pid ${pid}) exited right after it started; see ${path.join(sb.paths.podDir, 'pause.log')}`);
    return { pid, startTime: st.startTime };
  }

  /** Kills pause (it holds nothing that needs a grace period), then deletes it and waits for its conmon. */
  private async stopPause(sb: Sandbox): Promise<void> {
    const runtime = this.o.runtimes.get(sb.runtime) ?? this.runtimeFor('');
    await terminate(runtime, sb.id, sb.pause, 'KILL', 0);
    await deleteAndWaitConmon(runtime, sb.id, sb.paths.bundle);
  }

  /** Stops pause, then the network, then the netns and shm. Idempotent; each step tolerates "already done". */
  private async stopLocked(sb: Sandbox): Promise<void> {
    await this.stopPause(sb);
    if (sb.paths.netns && sb.networkConfig) {
      await this.o.network.detach(
        sb.network ?? { netnsPath: sb.paths.netns, ifName: 'eth0', network: sb.networkConfig, portMappings: sb.config.portMappings },
        podIdentity(sb),
      );
    }
    if (sb.paths.netns) await removePinnedNetns(sb.paths.netns);
    if (sb.config.namespaces.ipc !== 'NODE') await unmountShm(sb.paths.shm);
  }

  /** Everything a sandbox ever made, removed: used by RemovePodSandbox, failed creation and crash recovery. */
  private async teardown(sb: Sandbox): Promise<void> {
    await this.stopLocked(sb);
    // The pod cgroup goes last: stopped containers keep theirs inside it until they are removed.
    if (sb.cgroup.ownsParent) await removeCgroup(sb.cgroup.parent);
    await releaseRootfs(path.join(sb.paths.bundle, 'rootfs'));
    await fs.rm(sb.paths.podDir, { recursive: true, force: true });
    await fs.rm(path.join(this.dirs.exits, sb.id), { force: true });
    await fs.rm(path.join(this.dirs.sockets, sb.id), { recursive: true, force: true });
    await this.records.remove(sb.id);
  }

  async stop(id: string): Promise<void> {
    const sb = this.get(id);
    await this.locks.run(sb.id, async () => {
      // Containers first, newest first, while the network is still up for their shutdown work.
      await this.members?.stopAllIn(sb.id);
      if (sb.phase === 'stopped') return;
      await this.stopLocked(sb);
      sb.phase = 'stopped';
      await this.records.put(sb.id, sb);
      log.info('sandbox stopped', { id: sb.id });
    });
  }

  async remove(id: string): Promise<void> {
    validateId('pod_sandbox_id', id);
    const sb = this.find(id);
    if (!sb) return;
    await this.locks.run(sb.id, async () => {
      if (!this.sandboxes.has(sb.id)) return;
      // Removal does not wait for grace periods (StopPodSandbox is where they are honoured).
      await this.members?.removeAllIn(sb.id);
      await this.teardown(sb);
      this.sandboxes.delete(sb.id);
      this.names.delete(nameKey(sb.config));
      log.info('sandbox removed', { id: sb.id });
    });
  }

  find(id: string): Sandbox | undefined {
    return findById(this.sandboxes, id, 'pod_sandbox_id', 'sandbox');
  }

  get(id: string): Sandbox {
    return getById(this.sandboxes, id, 'pod_sandbox_id', 'sandbox');
  }

  /** READY only while pause really runs: its exit file is absent and the same process is alive. */
  async view(sb: Sandbox): Promise<SandboxView> {
    let pauseAlive = false;
    if (sb.phase === 'ready' && sb.pause) {
      pauseAlive = !(await exists(path.join(this.dirs.exits, sb.id))) && (await isAlive(sb.pause.pid, sb.pause.startTime));
    }
    return { sandbox: sb, state: pauseAlive ? 'READY' : 'NOTREADY', pauseAlive };
  }

  async status(id: string): Promise<SandboxView> {
    return this.view(this.get(id));
  }

  async list(filter?: SandboxFilter): Promise<SandboxView[]> {
    let candidates = [...this.sandboxes.values()];
    if (filter?.id) candidates = candidates.filter((s) => s.id.startsWith(filter.id as string));
    const views = await Promise.all(candidates.map((s) => this.view(s)));
    return views.filter((v) => matchesFilter(v, filter)).sort((a, b) => (BigInt(a.sandbox.createdAt) < BigInt(b.sandbox.createdAt) ? -1 : 1));
  }

  /** The runtime details `crictl inspectp` shows under info (containerd's shape where it fits). */
  async verboseInfo(v: SandboxView): Promise<Record<string, unknown>> {
    const sb = v.sandbox;
    const runtime = this.o.runtimes.get(sb.runtime);
    let runtimeSpec: unknown;
    try {
      runtimeSpec = JSON.parse(await fs.readFile(path.join(sb.paths.bundle, 'config.json'), 'utf8'));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    return {
      pid: sb.pause?.pid ?? 0,
      processStatus: v.pauseAlive ? 'running' : sb.phase === 'creating' ? 'created' : 'stopped',
      netNamespacePath: sb.paths.netns ?? '',
      netNamespaceClosed: sb.phase === 'stopped',
      bundle: sb.paths.bundle,
      image: sb.image.ref,
      imageId: sb.image.id,
      runtimeHandler: sb.config.runtimeHandler,
      runtimeType: sb.runtime,
      runtime: runtime ? { name: runtime.name, path: runtime.path, root: runtime.stateRoot } : { name: sb.runtime },
      cgroupsPath: sb.cgroup.path,
      shm: sb.paths.shm,
      cniResult: sb.network?.result ?? null,
      config: sb.config,
      runtimeSpec,
    };
  }
}

/** Waits for every step (so none still runs during a rollback), then throws the first failure. */
async function settleAll(steps: readonly (Promise<unknown> | undefined)[]): Promise<void> {
  const failed = (await Promise.allSettled(steps)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

function podIdentity(sb: Sandbox): PodNetworkIdentity {
  const m = sb.config.metadata;
  return { sandboxId: sb.id, name: m.name, namespace: m.namespace, uid: m.uid };
}
