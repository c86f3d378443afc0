// The pod sandbox, top to bottom: RunPodSandbox's steps in order, the steps StopPodSandbox and
// RemovePodSandbox take after the pod's containers (src/pod/service.ts decides that order), one
// idempotent teardown for rollback, removal and crash recovery, and READY computed when asked.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CribError, errorMessage, invalidArgument } from '../util/errors.js';
import type { RequestContext } from '../util/context.js';
import { ensureTraversableDir, isErrno } from '../util/fsx.js';
import { log } from '../util/log.js';
import { settleAll } from '../util/settle.js';
import { StepTimes } from '../util/steps.js';
import { compareNanos, nowNanos } from '../util/time.js';
import type { NetworkManager } from '../network/manager.js';
import type { ImageStore } from '../image/store.js';
import type { PodNetworkIdentity } from '../network/types.js';
import type { ContainerResources } from '../host/resources.js';
import { clampOomScoreAdj, isAlive, stillAlive } from '../host/process.js';
import type { OciRuntime } from '../oci/runtime.js';
import { pauseSpec } from './spec.js';
import type { ImageService } from '../image/service.js';
import type { Image } from '../image/types.js';
import { rootsRootfs } from '../image/idmapped.js';
import { nodeSandboxHost, type SandboxHost } from './host.js';
import { withUserNamespace } from './userns-spec.js';
import { Registry } from '../store/object-registry.js';
import { matchesFilter } from './filter.js';
import { podFilePaths, podHostname, updateHosts, writePodFiles } from './pod-files.js';
import type { PodMountPaths } from './pod-mounts.js';
import type { Sandbox, SandboxConfig, SandboxFilter, SandboxNotice, SandboxView } from './types.js';
import { validateSandboxConfig } from './validate.js';
import { podRoot, podUserNamespace } from './userns.js';
import type { Publisher } from '../events/bus.js';
import type { LifecycleEventType } from '../events/lifecycle.js';

/** containerd's default for sandboxes: the last thing the OOM killer picks. */
const SANDBOX_OOM_SCORE_ADJ = -998;

export interface SandboxServiceOptions {
  root: string;
  state: string;
  runtimes: ReadonlyMap<string, OciRuntime>;
  defaultRuntime: string;
  /** The pause image: found in the store, else pulled. */
  images: Pick<ImageService, 'find' | 'pull'> & { store: Pick<ImageStore, 'layerPath'> };
  pauseImage: string;
  network: Pick<NetworkManager, 'resolve' | 'attach' | 'detach'>;
  /** What the service does to the node beyond its directories and the runtime (the node's own when absent). */
  host?: SandboxHost;
  cgroupRoot: string;
  /** Where the service says what happened to a sandbox (created, started, stopped, deleted). */
  notices: Publisher<SandboxNotice>;
}

const nameKey = (sb: { config: SandboxConfig }): string => {
  const m = sb.config.metadata;
  return [m.namespace, m.name, m.uid, m.attempt].join('\u0000');
};

/** Owns every pod sandbox: their records, pause containers, network and directories. */
export class SandboxService {
  private readonly registry: Registry<Sandbox>;
  private readonly unwatch: (() => void)[] = [];
  /** Ready sandboxes whose pause was seen to die (STOPPED already said). */
  private readonly saidDead = new Set<string>();
  private readonly dirs: { netns: string; shm: string; pods: string; userns: string; roots: string };
  private readonly host: SandboxHost;

  constructor(private readonly o: SandboxServiceOptions) {
    this.registry = new Registry<Sandbox>({ dir: path.join(o.root, 'records', 'sandboxes'), field: 'pod_sandbox_id', noun: 'sandbox', nameKey });
    this.host = o.host ?? nodeSandboxHost;
    this.dirs = {
      netns: path.join(o.state, 'netns'),
      shm: path.join(o.state, 'shm'),
      pods: path.join(o.root, 'sandboxes'),
      userns: path.join(o.state, 'userns'),
      roots: path.join(o.state, 'roots'),
    };
  }

  /** Loads the records and finishes what a crash interrupted: half-created sandboxes are rolled back. */
  async open(): Promise<void> {
    // STATE/roots is passed through by user-namespaced pods (src/image/idmapped.ts); the rest is root's.
    for (const [k, d] of Object.entries(this.dirs)) await (k === 'roots' ? ensureTraversableDir(d) : fs.mkdir(d, { recursive: true, mode: 0o700 }));
    await this.registry.open((sb) => this.teardown(sb));
    // pause dying on its own (killed, OOM) stops the pod: said at once, once.
    for (const rt of new Set(this.o.runtimes.values())) {
      this.unwatch.push(
        rt.watchExits((id) => {
          const sb = this.registry.has(id) ? this.registry.get(id) : undefined;
          if (sb?.phase === 'ready' && !this.saidDead.has(id)) {
            this.saidDead.add(id);
            this.notify('STOPPED', sb);
          }
        }),
      );
    }
  }

  /** Stops watching for exits (at shutdown). */
  close(): void {
    for (const stop of this.unwatch.splice(0)) stop();
  }

  private notify(type: LifecycleEventType, sb: Sandbox): void {
    this.o.notices.publish({ type, kind: 'sandbox', sandbox: sb });
  }

  private runtimeFor(handler: string): OciRuntime {
    const rt = this.o.runtimes.get(handler || this.o.defaultRuntime);
    if (!rt) {
      throw invalidArgument('runtime_handler', `unknown runtime handler "${handler}"; known: ${[...this.o.runtimes.keys()].join(', ')}`);
    }
    return rt;
  }

  /** The runtime a sandbox was made with (the default one if that is gone: stopping must still work). */
  runtimeOf(sb: Sandbox): OciRuntime {
    return this.o.runtimes.get(sb.runtime) ?? this.runtimeFor('');
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
    const sb = this.registry.values().find((s) => s.image.id === imageId);
    return sb && `sandbox ${sb.id}`;
  }

  // ---- RunPodSandbox -------------------------------------------------------------------------

  async run(ctx: RequestContext, config: SandboxConfig): Promise<string> {
    // 1. Validate and reserve the pod's name.
    validateSandboxConfig(config);
    const runtime = this.runtimeFor(config.runtimeHandler);
    const id = randomBytes(32).toString('hex');
    ctx.ids.pod = id;
    const m = config.metadata;
    this.registry.reserve(nameKey({ config }), id, `sandbox ${m.namespace}/${m.name} (uid ${m.uid}, attempt ${m.attempt})`);
    const podDir = path.join(this.dirs.pods, id);
    const cgroupParent = config.cgroupParent || `${this.o.cgroupRoot}/pod-${id}`;
    const userns = podUserNamespace(config.userns);
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
        ...(userns ? { userns: path.join(this.dirs.userns, id), roots: path.join(this.dirs.roots, id) } : {}),
      },
      cgroup: { parent: cgroupParent, path: `${cgroupParent}/${id}`, ownsParent: false },
    };
    const steps = new StepTimes();
    try {
      // 2. The pause image.
      const image = await this.pauseImage();
      sb.image.id = image.id;
      // A parent crib names itself is new by construction; one from the request may exist already.
      sb.cgroup.ownsParent = !config.cgroupParent || !(await this.host.cgroupExists(cgroupParent));
      if (sb.paths.netns) {
        sb.networkConfig = await this.o.network.resolve().catch((err: unknown) => {
          throw new CribError('FailedPrecondition', errorMessage(err));
        });
      }
      steps.mark('resolve');
      // 3. The intent record: from here a crash is rolled back at the next start.
      await this.registry.save(sb);
      steps.mark('record');
      // 4 and 5. The pod directory, and the pinned netns and shm, side by side.
      await settleAll([steps.time('podDir', this.preparePodDir(sb, image)), steps.time('mounts', this.host.mountPod(podMounts(sb)))]);
      steps.mark('podDirAndMounts');
      if (userns) await steps.time('idmapRoot', this.mountPauseRoot(sb, image));
      // 6. With the netns pinned, CNI ADD and starting pause need nothing from each other.
      const [net, pause] = await Promise.allSettled([
        sb.paths.netns && sb.networkConfig
          ? steps.time('cniAdd', this.o.network.attach(sb.networkConfig, podIdentity(sb), sb.paths.netns, config.portMappings, ctx.signal))
          : Promise.resolve(undefined),
        steps.time('pause', this.startPause(sb, runtime, ctx.signal)),
      ]);
      steps.mark('cniAndPause');
      if (net.status === 'rejected') throw net.reason;
      if (pause.status === 'rejected') throw pause.reason;
      sb.network = net.value;
      sb.pause = pause.value;
      // 7. Commit, unless the caller has gone: what a cancelled call leaves is what a failed one does.
      ctx.signal.throwIfAborted();
      const ip = sb.network?.ips[0]?.ip;
      if (ip) await updateHosts(podDir, podHostname(config), ip);
      sb.phase = 'ready';
      await this.registry.save(sb);
      steps.mark('commit');
    } catch (err) {
      await this.registry.rollback(sb, (s) => this.teardown(s));
      throw err;
    }
    this.registry.add(sb);
    this.notify('CREATED', sb);
    this.notify('STARTED', sb);
    steps.done('RunPodSandbox steps');
    log.info('sandbox ready', { id, pod: `${m.namespace}/${m.name}`, ip: sb.network?.ips[0]?.ip });
    return id;
  }

  private async preparePodDir(sb: Sandbox, image: Image): Promise<void> {
    const { config } = sb;
    await fs.mkdir(sb.paths.bundle, { recursive: true, mode: 0o700 });
    const rootfs = path.join(sb.paths.bundle, 'rootfs');
    await Promise.all([
      writePodFiles(sb.paths.podDir, podHostname(config), config.dnsConfig),
      // A user-namespaced pod with a pause image of several layers gets an idmapped overlay instead (mountPauseRoot).
      sb.paths.userns && image.diffIds.length > 1
        ? Promise.resolve()
        : this.host.prepareRootfs(
            image.diffIds.map((d) => this.o.images.store.layerPath(d)),
            rootfs,
            path.join(sb.paths.podDir, 'rootfs-scratch'),
          ),
    ]);
    const oomScoreAdj = await clampOomScoreAdj(SANDBOX_OOM_SCORE_ADJ, (from, to) =>
      log.once('oom-clamp', 'warn', `cannot set oom_score_adj ${from} without CAP_SYS_RESOURCE; pods get ${to}, the daemon's own`),
    );
    const ic = image.config;
    const plain = pauseSpec({
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
    const userns = podUserNamespace(config.userns);
    const spec =
      userns && sb.paths.userns && sb.paths.roots
        ? withUserNamespace(plain, { path: sb.paths.userns, ...userns, rootPath: rootsRootfs(sb.paths.roots) })
        : plain;
    await fs.writeFile(path.join(sb.paths.bundle, 'config.json'), JSON.stringify(spec));
  }

  /**
   * Pause's root where the pod's root can reach it, its files owned by the pod's root: the linked
   * tree of a one-layer image idmapped, or an idmapped overlay of a deeper image's layers.
   */
  private async mountPauseRoot(sb: Sandbox, image: Image): Promise<void> {
    const { userns, roots } = sb.paths;
    if (!userns || !roots) return;
    const owner = podRoot(sb.config.userns);
    if (image.diffIds.length === 1) return this.host.mountIdmappedTree(userns, path.join(sb.paths.bundle, 'rootfs'), roots, owner);
    const scratch = path.join(sb.paths.podDir, 'rootfs-scratch');
    await fs.mkdir(path.join(scratch, 'work'), { recursive: true });
    await this.host.mountIdmappedOverlay({
      userns,
      lowerDirs: [...image.diffIds].reverse().map((d) => this.o.images.store.layerPath(d)),
      upperDir: path.join(scratch, 'upper'),
      workDir: path.join(scratch, 'work'),
      stagingDir: idmapStaging(sb),
      rootsDir: roots,
      owner,
      volumes: [],
    });
  }

  /** pause, created and started in one go: it needs no stdio, no log and no start of its own. */
  private async startPause(sb: Sandbox, runtime: OciRuntime, signal: AbortSignal): Promise<{ pid: number; startTime: string }> {
    // Recorded at once: a rollback after CNI ADD failed then finds pause by pid.
    sb.pause = await runtime.runDetached({ id: sb.id, bundle: sb.paths.bundle, runtimeLogPath: path.join(sb.paths.podDir, 'pause.log') }, signal);
    return sb.pause;
  }

  // ---- the steps after the containers: StopPodSandbox and RemovePodSandbox -----------------------

  /**
   * SIGKILL to pause (it holds nothing that needs a grace period), and its end waited for. Resolves
   * once pause is gone; a pause that outlives the wait, or one never recorded as started (a
   * rollback), is left to `deletePause`, which ends it, and the network waits for that.
   */
  async killPause(sb: Sandbox): Promise<boolean> {
    await this.runtimeOf(sb).stop(sb.id, sb.pause, { signal: 'KILL', graceMs: 0 }).stopped;
    return sb.pause !== undefined && !isAlive(sb.pause.pid, sb.pause.startTime);
  }

  /** The runtime's delete of pause (its state and cgroup; anything else in that cgroup is ended), then its monitor's exit. */
  async deletePause(sb: Sandbox): Promise<void> {
    await this.runtimeOf(sb).delete(sb.id, sb.paths.bundle);
  }

  /** CNI DEL with what ADD used, then the netns pin and the shm mount. Each step tolerates "already done". */
  async releaseNetwork(sb: Sandbox): Promise<void> {
    if (sb.paths.netns && sb.networkConfig) {
      await this.o.network.detach(
        sb.network ?? { netnsPath: sb.paths.netns, ifName: 'eth0', network: sb.networkConfig, portMappings: sb.config.portMappings },
        podIdentity(sb),
      );
    }
    await this.host.unmountPod(podMounts(sb));
  }

  async markStopped(sb: Sandbox): Promise<void> {
    sb.phase = 'stopped';
    await this.registry.save(sb);
    if (!this.saidDead.has(sb.id)) this.notify('STOPPED', sb);
    this.saidDead.delete(sb.id);
    log.info('sandbox stopped', { id: sb.id });
  }

  /** Everything a sandbox ever made, removed: used by RemovePodSandbox, failed creation and crash recovery. */
  private async teardown(sb: Sandbox): Promise<void> {
    // A stopped sandbox was marked so only after pause and the network were gone: not done twice.
    if (sb.phase !== 'stopped') {
      await this.killPause(sb);
      await this.deletePause(sb);
      await this.releaseNetwork(sb);
    }
    // The pod cgroup goes last: stopped containers keep theirs inside it until they are removed.
    if (sb.cgroup.ownsParent) await this.host.removeCgroup(sb.cgroup.parent);
    // The idmapped clones first: removing the pod directory through one would remove the image's files.
    if (sb.paths.roots) await this.host.releaseIdmapped(sb.paths.roots, idmapStaging(sb));
    await this.host.releaseRootfs(path.join(sb.paths.bundle, 'rootfs'));
    await fs.rm(sb.paths.podDir, { recursive: true, force: true });
    await this.runtimeOf(sb).forget(sb.id);
  }

  /** RemovePodSandbox's last step, once the containers are gone. */
  async remove(sb: Sandbox): Promise<void> {
    await this.teardown(sb);
    await this.registry.delete(sb);
    this.saidDead.delete(sb.id);
    this.notify('DELETED', sb);
    log.info('sandbox removed', { id: sb.id });
  }

  /** Runs `fn` with the sandbox's lock held (stop and remove of one pod never interleave). */
  locked<R>(sb: Sandbox, fn: () => Promise<R>): Promise<R> {
    return this.registry.locked(sb.id, fn);
  }

  /** Still registered: a remove that waited for the lock may find it gone. */
  exists(sb: Sandbox): boolean {
    return this.registry.has(sb.id);
  }

  /**
   * UpdatePodSandboxResources: kubelet's in-place resize gives the pod new limits (its containers'
   * sum plus overhead), set on the pod cgroup. Only a ready pod has one to set.
   */
  async updateLimits(id: string, limits: ContainerResources): Promise<void> {
    const sb = this.get(id);
    await this.registry.locked(sb.id, async () => {
      if ((await this.view(sb)).state !== 'READY') throw new CribError('FailedPrecondition', `sandbox ${sb.id} is not ready`);
      await this.host.setCgroupLimits(sb.cgroup.parent, limits);
      log.info('pod resources updated', { id: sb.id, cgroup: sb.cgroup.parent, limits });
    });
  }

  // ---- lookups and status ----------------------------------------------------------------------

  find(id: string): Sandbox | undefined {
    return this.registry.find(id);
  }

  get(id: string): Sandbox {
    return this.registry.get(id);
  }

  /** READY only while pause really runs: its monitor recorded no exit and the same process is alive. */
  async view(sb: Sandbox): Promise<SandboxView> {
    let pauseAlive = false;
    if (sb.phase === 'ready' && sb.pause) {
      pauseAlive = !this.runtimeOf(sb).exited(sb.id) && stillAlive(sb.pause.pid, sb.pause.startTime);
    }
    return { sandbox: sb, state: pauseAlive ? 'READY' : 'NOTREADY', pauseAlive };
  }

  async status(id: string): Promise<SandboxView> {
    return this.view(this.get(id));
  }

  async list(filter?: SandboxFilter): Promise<SandboxView[]> {
    let candidates = this.registry.values();
    if (filter?.id) candidates = candidates.filter((s) => s.id.startsWith(filter.id as string));
    const views = await Promise.all(candidates.map((s) => this.view(s)));
    return views.filter((v) => matchesFilter(v, filter)).sort((a, b) => compareNanos(a.sandbox.createdAt, b.sandbox.createdAt));
  }

  /** Where PortForward connects: a READY sandbox's pinned netns (undefined on the node's network). */
  async portForwardTarget(id: string): Promise<{ netnsPath: string | undefined }> {
    const sb = this.get(id);
    if ((await this.view(sb)).state !== 'READY') throw new CribError('FailedPrecondition', `sandbox ${sb.id} is not ready`);
    return { netnsPath: sb.paths.netns };
  }

  /** The runtime details `crictl inspectp` shows under info (containerd's shape where it fits). */
  async verboseInfo(v: SandboxView): Promise<Record<string, unknown>> {
    const sb = v.sandbox;
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
      runtime: this.o.runtimes.get(sb.runtime)?.info ?? { name: sb.runtime },
      cgroupsPath: sb.cgroup.path,
      shm: sb.paths.shm,
      cniResult: sb.network?.result ?? null,
      config: sb.config,
      runtimeSpec,
    };
  }
}

/** The pod's own mounts: none for a namespace it shares with the node. */
function podMounts(sb: Sandbox): PodMountPaths {
  const userns = podUserNamespace(sb.config.userns);
  return {
    netns: sb.paths.netns,
    shm: sb.config.namespaces.ipc === 'NODE' ? undefined : sb.paths.shm,
    ...(userns && sb.paths.userns ? { userns: { pin: sb.paths.userns, ...userns } } : {}),
  };
}

/** Where the idmapped clones of a deeper pause image's layers are attached. */
function idmapStaging(sb: Sandbox): string {
  return path.join(sb.paths.podDir, 'idmap');
}

function podIdentity(sb: Sandbox): PodNetworkIdentity {
  const m = sb.config.metadata;
  return { sandboxId: sb.id, name: m.name, namespace: m.namespace, uid: m.uid };
}
