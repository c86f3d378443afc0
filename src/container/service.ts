import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RequestContext } from '../util/context.js';
import { CribError, errorMessage, invalidArgument, notFound } from '../util/errors.js';
import { ensurePrivateDir } from '../util/fsx.js';
import { log } from '../util/log.js';
import { StepTimes } from '../util/steps.js';
import { settleAll } from '../util/settle.js';
import { compareNanos, nowNanos } from '../util/time.js';
import { validateId } from '../util/validate.js';
import { Registry } from '../store/object-registry.js';
import type { ImageService } from '../image/service.js';
import type { ImageStore } from '../image/store.js';
import type { Image, ImageRuntimeConfig } from '../image/types.js';
import { MAX_ID_FILE_BYTES } from '../image/limits.js';
import { rootsRootfs } from '../image/idmapped.js';
import { capabilitiesFromMask } from './spec/capabilities.js';
import { BeneathError } from '../host/beneath.js';
import { containerSpec, ociResources } from './spec/container-spec.js';
import { stillAlive } from '../host/process.js';
import type { OciRuntime, ProcessIO } from '../oci/runtime.js';
import { processGroups, resolveUser } from './spec/users.js';
import { podFilePaths, podHostname } from '../sandbox/pod-files.js';
import type { SandboxService } from '../sandbox/service.js';
import type { Sandbox } from '../sandbox/types.js';
import { checkExecSize } from './exec-size.js';
import { matchesContainerFilter } from './filter.js';
import { cgroupUsage, treeUsage, type ContainerUsage } from './stats.js';
import type { Container, ContainerConfig, ContainerFilter, ContainerNotice, ContainerResources, ContainerState, ContainerView } from './types.js';
import { containerLogPath, validateContainerConfig, validateResources } from './validate.js';
import type { ContainerHost } from './host.js';
import { checkContainerUserNamespace, containerRoots, mountUsernsRootfs, releaseContainerRootfs, usernsContainerSpec } from './userns.js';
import type { Publisher } from '../events/bus.js';
import type { LifecycleEventType } from '../events/lifecycle.js';

export interface ContainerServiceOptions {
  root: string;
  runtimes: ReadonlyMap<string, OciRuntime>;
  /** The container's image and its image volumes: found in the store (kubelet pulls first), their layers' paths. */
  images: Pick<ImageService, 'find'> & { store: Pick<ImageStore, 'layerPath'> };
  /** The pod a container joins: looked up, its state, its runtime handler. */
  sandboxes: Pick<SandboxService, 'get' | 'view' | 'runtimeOf'>;
  /** What the service does to the node beyond its directories and the runtime (`nodeContainerHost`). */
  host: ContainerHost;
  /** Where the service says what happened to a container (created, started, stopped, deleted). */
  notices: Publisher<ContainerNotice>;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** kubelet's annotation with the pod's grace period; StopPodSandbox gives each container that long. */
const GRACE_ANNOTATION = 'io.kubernetes.pod.terminationGracePeriod';
const DEFAULT_GRACE_SECONDS = 30;
/** How long a container's monitor may take to write the exit of a process that just ended. */
const EXIT_RECORD_WAIT_MS = 2000;

const nameKey = (c: { sandboxId: string; config: ContainerConfig }) => `${c.sandboxId}\u0000${c.config.metadata.name}\u0000${c.config.metadata.attempt}`;

/**
 * A bind mount's missing host path is made a directory, as containerd and CRI-O do: kubelet relies on
 * it for hostPath volumes without a type. One that cannot be made (under /proc, say) is the
 * caller's to fix, named.
 */
async function createMissingMountSources(host: ContainerHost, config: ContainerConfig): Promise<void> {
  for (const [i, m] of config.mounts.entries()) {
    if (m.image !== undefined || (await host.exists(m.hostPath))) continue;
    await makeDirsOrRefuse(host, m.hostPath, 0o755, `config.mounts[${i}].host_path: ${m.hostPath} does not exist and cannot be made a directory`);
  }
}

/** `makeDirs` of a path the request names; one that cannot be made is the caller's to fix (FAILED_PRECONDITION). */
function makeDirsOrRefuse(host: ContainerHost, dir: string, mode: number, what: string): Promise<void> {
  return host.makeDirs(dir, mode).catch((err: unknown) => {
    throw new CribError('FailedPrecondition', `${what}: ${errorMessage(err)}`, { cause: err });
  });
}

/** An image's unpacked layers as overlayfs stacks them, top-most first. */
const layerDirs = (image: Image, store: Pick<ImageStore, 'layerPath'>): string[] => [...image.diffIds].reverse().map((d) => store.layerPath(d));

/** Owns every container: records, bundles, rootfs mounts, and its calls into the runtime. */
export class ContainerService {
  private readonly registry: Registry<Container>;
  private readonly unwatch: (() => void)[] = [];

  constructor(private readonly o: ContainerServiceOptions) {
    this.registry = new Registry<Container>({ dir: path.join(o.root, 'records', 'containers'), field: 'container_id', noun: 'container', nameKey });
  }

  async open(): Promise<void> {
    await ensurePrivateDir(path.join(this.o.root, 'containers'));
    await this.registry.open((c) => this.teardown(c));
    // A container that exits by itself is recorded (and said) at once, not when someone next asks.
    for (const rt of new Set(this.o.runtimes.values())) this.unwatch.push(rt.watchExits((id) => void this.exitedByItself(id)));
  }

  /** Stops watching for exits (at shutdown). */
  close(): void {
    for (const stop of this.unwatch.splice(0)) stop();
  }

  private async exitedByItself(id: string): Promise<void> {
    const c = this.registry.has(id) ? this.registry.get(id) : undefined;
    if (!c || c.phase !== 'running') return;
    await this.registry
      .locked(c.id, async () => {
        if (c.phase === 'running') await this.recordExit(c);
      })
      .catch((err: unknown) => log.warn('recording an exit failed', { id, error: err }));
  }

  private notify(type: LifecycleEventType, c: Container): void {
    this.o.notices.publish({ type, kind: 'container', container: c });
  }

  private runtime(c: Container): OciRuntime {
    const rt = this.o.runtimes.get(c.runtime);
    if (!rt) throw new CribError('FailedPrecondition', `runtime ${c.runtime} of container ${c.id} is not available`);
    return rt;
  }

  /** Which container (if any) uses an image, so RemoveImage can refuse and say so. */
  imageUser(imageId: string): string | undefined {
    const c = this.registry.values().find((x) => x.image.id === imageId || x.imageMounts?.some((m) => m.imageId === imageId));
    return c && `container ${c.id}`;
  }

  // ---- CreateContainer, StartContainer ---------------------------------------------------------

  async create(ctx: RequestContext, sandboxId: string, config: ContainerConfig): Promise<string> {
    // The sandbox first, as containerd does: a request for a pod that is gone is NOT_FOUND whatever else it holds.
    const steps = new StepTimes();
    const sb = this.o.sandboxes.get(sandboxId);
    validateContainerConfig(config);
    await this.o.host.validateCpusets('config.linux.resources', config.resources);
    checkContainerUserNamespace(config, sb);
    if ((await this.o.sandboxes.view(sb)).state !== 'READY') throw new CribError('FailedPrecondition', `sandbox ${sb.id} is not ready`);
    const image = this.o.images.find(config.image);
    if (!image) throw notFound(`image ${config.image}`);
    // Image volumes: kubelet pulls the image first, so one not in the store is NOT_FOUND, as for the container's own image.
    const volumeImages = config.mounts.map((m, i) => {
      if (m.image === undefined) return undefined;
      const found = this.o.images.find(m.image);
      if (!found) throw notFound(`image ${m.image} of config.mounts[${i}].image`);
      return found;
    });
    const runtime = this.o.sandboxes.runtimeOf(sb);
    const rro = config.mounts.findIndex((m) => m.recursiveReadOnly);
    if (rro >= 0 && !(await runtime.features()).recursiveReadOnlyMounts) {
      throw new CribError(
        'FailedPrecondition',
        `config.mounts[${rro}].recursive_read_only: runtime handler ${runtime.name} does not support recursive read-only mounts`,
      );
    }
    const id = randomBytes(32).toString('hex');
    ctx.ids.container = id;
    const logPath = containerLogPath(sb.config.logDirectory || path.join(sb.paths.podDir, 'logs'), config.logPath, id);
    const dir = path.join(this.o.root, 'containers', id);
    const roots = containerRoots(sb, id);
    const c: Container = {
      id,
      sandboxId: sb.id,
      config,
      phase: 'creating',
      createdAt: nowNanos(),
      image: { ref: config.image, id: image.id, repoDigest: image.repoDigests[0] ?? '' },
      runtime: runtime.name,
      paths: {
        dir,
        bundle: path.join(dir, 'bundle'),
        rootfs: roots ? rootsRootfs(roots) : path.join(dir, 'bundle', 'rootfs'),
        ...(roots ? { roots } : {}),
        upper: path.join(dir, 'upper'),
        work: path.join(dir, 'work'),
        log: logPath,
      },
      cgroupsPath: `${sb.cgroup.parent}/${id}`,
      stopSignal: image.config.StopSignal || 'SIGTERM',
      imageMounts: volumeImages.flatMap((img, i) => (img ? [{ mount: i, path: path.join(dir, 'image-volumes', String(i)), imageId: img.id }] : [])),
    };
    this.registry.reserve(nameKey(c), id, `container "${config.metadata.name}" (attempt ${config.metadata.attempt}) in sandbox ${sb.id}`);
    steps.mark('checks');
    try {
      await createMissingMountSources(this.o.host, config);
      await this.registry.save(c);
      steps.mark('record');
      await this.prepareBundle(c, sb, image, volumeImages, steps);
      // A caller gone while the bundle was made: no runtime is asked.
      ctx.signal.throwIfAborted();
      const proc = await runtime.create(
        {
          id,
          name: config.metadata.name,
          bundle: c.paths.bundle,
          logPath,
          terminal: config.tty,
          stdin: config.stdin,
          stdinOnce: config.stdinOnce,
        },
        ctx.signal,
      );
      c.pid = proc.pid;
      c.startTime = proc.startTime;
      steps.mark('runtimeCreate');
      // Unless the caller has gone: what a cancelled call leaves is what a failed one does.
      ctx.signal.throwIfAborted();
      c.phase = 'created';
      await this.registry.save(c);
      steps.mark('commit');
    } catch (err) {
      await this.registry.rollback(c, (x) => this.teardown(x));
      throw err;
    }
    this.registry.add(c);
    this.notify('CREATED', c);
    steps.done('CreateContainer steps');
    log.info('container created', { id, name: config.metadata.name, sandbox: sb.id });
    return id;
  }

  /** The rootfs of the image's layers (idmapped in a user-namespaced pod), a read-only overlay per image volume, and the OCI spec. */
  private async prepareBundle(c: Container, sb: Sandbox, image: Image, volumeImages: (Image | undefined)[], steps: StepTimes): Promise<void> {
    // A user-namespaced pod's rootfs mount point is made with its directory (src/image/idmapped.ts).
    for (const d of [c.paths.roots ? c.paths.bundle : c.paths.rootfs, c.paths.upper, c.paths.work]) await fs.mkdir(d, { recursive: true });
    const logDir = path.dirname(c.paths.log);
    await makeDirsOrRefuse(this.o.host, logDir, 0o777, `the log directory ${logDir} cannot be made (the sandbox's log_directory and config.log_path)`);
    steps.mark('dirs');
    const lowerDirs = layerDirs(image, this.o.images.store);
    let sources = new Map<string, string>();
    if (c.paths.roots) sources = await mountUsernsRootfs(this.o.host, c, sb, lowerDirs);
    else await this.o.host.mountOverlay({ lowerDirs, upperDir: c.paths.upper, workDir: c.paths.work, target: c.paths.rootfs });
    steps.mark('rootfs');
    // Lower dirs only: read-only, and the store's layers are shared, never written.
    for (const m of c.imageMounts ?? []) {
      await this.o.host.mountOverlay({ lowerDirs: layerDirs(volumeImages[m.mount]!, this.o.images.store), target: m.path });
      const sub = c.config.mounts[m.mount]?.imageSubPath;
      if (sub) m.source = await this.o.host.resolveInRoot(m.path, sub, `config.mounts[${m.mount}].image_sub_path`);
    }
    if (c.imageMounts?.length) steps.mark('imageVolumes');
    const spec = usernsContainerSpec(await this.buildSpec(c, sb, image.config), c, sb, sources);
    // The process as it will exec, the image's Entrypoint, Cmd and Env merged in.
    checkExecSize([
      { field: "the process's args (config.command and config.args, else the image's Entrypoint and Cmd)", values: spec.process.args },
      { field: "the process's env (the image's Env with config.envs)", values: spec.process.env, env: true },
    ]);
    await fs.writeFile(path.join(c.paths.bundle, 'config.json'), JSON.stringify(spec));
    steps.mark('spec');
  }

  private async buildSpec(c: Container, sb: Sandbox, imageConfig: ImageRuntimeConfig) {
    const sec = c.config.security;
    // The image wrote these: a symlink out of its rootfs, a fifo or a huge file must not reach the node.
    const [passwd, group] = (
      await this.o.host.readInRoot(c.paths.rootfs, ['etc/passwd', 'etc/group'], MAX_ID_FILE_BYTES).catch((err: unknown) => {
        throw err instanceof BeneathError ? new CribError('InvalidArgument', `image ${c.image.ref}: ${err.message}`) : err;
      })
    ).map((b) => b?.toString('utf8'));
    const user = resolveUser({
      runAsUser: sec.runAsUser,
      runAsGroup: sec.runAsGroup,
      runAsUsername: sec.runAsUsername,
      imageUser: imageConfig.User,
      supplementalGroups: sec.supplementalGroups,
      supplementalGroupsPolicy: sec.supplementalGroupsPolicy,
      passwd,
      group,
    });
    c.user = { uid: user.uid, gid: user.gid, supplementalGroups: processGroups(user) };
    const oomScoreAdj = await this.o.host.clampOomScoreAdj(c.config.resources.oomScoreAdj ?? 0, (from, to) =>
      log.once('oom-clamp-container', 'warn', `cannot set oom_score_adj ${from} without CAP_SYS_RESOURCE; containers get at least ${to}`),
    );
    const seccompLocalhostProfile = sec.seccomp.type === 'Localhost' ? await this.o.host.readLocalhostProfile(sec.seccomp.path) : undefined;
    if (sec.apparmorProfile) log.once('apparmor', 'info', 'AppArmor is not supported by crib; container apparmor profiles are ignored');
    // The runtime cannot raise RLIMIT_NOFILE past cribd's hard limit nor grant capabilities cribd
    // lacks, so containers get at most those, as containerd does.
    const held = await this.o.host.daemonLimits();
    // The network and IPC namespaces are the pod's, whatever the container's request says (kubelet
    // sends the same; critest does not): only the PID namespace is the container's own choice.
    const sns = sb.config.namespaces;
    const namespaces = { ...sec.namespaces, network: sns.network, ipc: sns.ipc };
    // An image volume is its read-only overlay, bound in like a host path.
    const mounts = c.config.mounts.map((m, i) => {
      const volume = c.imageMounts?.find((x) => x.mount === i);
      return volume ? { ...m, hostPath: volume.source ?? volume.path, readonly: true } : m;
    });
    return containerSpec({
      id: c.id,
      config: { ...c.config, mounts, security: { ...sec, namespaces } },
      image: imageConfig,
      user,
      namespaces: this.namespacePaths(c, sb),
      hostname: podHostname(sb.config),
      podFiles: podFilePaths(sb.paths.podDir),
      shmPath: sb.paths.shm,
      cgroupsPath: c.cgroupsPath,
      oomScoreAdj,
      seccompLocalhostProfile,
      hostDevices: await this.o.host.hostDevices(c.config.devices),
      annotations: { 'io.kubernetes.cri.sandbox-id': sb.id },
      rlimitNofile: held.rlimitNofile,
      availableCapabilities: capabilitiesFromMask(held.capabilityBoundingMask),
    });
  }

  /** The namespaces a container joins: the pod's pinned netns, pause's IPC/UTS (and PID for a shared pod), a target's PID. */
  private namespacePaths(c: Container, sb: Sandbox): { network?: string; ipc?: string; uts?: string; pid?: string } {
    const pause = sb.pause?.pid;
    if (!pause) throw new CribError('FailedPrecondition', `sandbox ${sb.id} has no running pause`);
    const sns = sb.config.namespaces;
    const out: { network?: string; ipc?: string; uts?: string; pid?: string } = {};
    if (sns.network !== 'NODE') {
      out.network = sb.paths.netns;
      out.uts = `/proc/${pause}/ns/uts`;
    }
    if (sns.ipc !== 'NODE') out.ipc = `/proc/${pause}/ns/ipc`;
    const pid = c.config.security.namespaces.pid;
    if (pid === 'POD' && sns.pid !== 'NODE') out.pid = `/proc/${pause}/ns/pid`;
    if (pid === 'TARGET') {
      const target = this.registry.find(c.config.security.namespaces.targetId);
      if (!target || target.sandboxId !== sb.id || target.phase !== 'running' || !target.pid) {
        throw new CribError('NotFound', `target container ${c.config.security.namespaces.targetId} is not running in sandbox ${sb.id}`);
      }
      out.pid = `/proc/${target.pid}/ns/pid`;
    }
    return out;
  }

  async start(ctx: RequestContext, id: string): Promise<void> {
    const c = this.get(id);
    await this.registry.locked(c.id, async () => {
      if (c.phase !== 'created') throw new CribError('FailedPrecondition', `container ${c.id} is ${(await this.view(c)).state.toLowerCase()}, not created`);
      const startedAt = nowNanos();
      await this.runtime(c).start(c.id, ctx.signal);
      c.phase = 'running';
      c.startedAt = startedAt;
      await this.registry.save(c);
      this.notify('STARTED', c);
      log.info('container started', { id: c.id, name: c.config.metadata.name, pid: c.pid });
    });
  }

  // ---- StopContainer, RemoveContainer --------------------------------------------------------

  /**
   * Stop signal, `timeoutSeconds` to exit, then SIGKILL. Idempotent: an unknown id is success, as
   * the CRI says and containerd and CRI-O answer; a malformed one is not.
   */
  async stop(ctx: RequestContext, id: string, timeoutSeconds: number): Promise<void> {
    validateId('container_id', id);
    const c = this.registry.find(id);
    if (!c) return;
    await this.registry.locked(c.id, async () => {
      if (this.registry.has(c.id)) await this.stopLocked(ctx, c, timeoutSeconds);
    });
  }

  /** Stops the container; `signalled` is called once its stop signal is taken (or there is none to send). */
  private async stopLocked(ctx: RequestContext, c: Container, timeoutSeconds: number, signalled?: () => void): Promise<void> {
    if (c.phase === 'created') {
      // Never started: its process waits in the runtime's init; end it.
      await this.runtime(c).kill(c.id, 'KILL', true);
    } else if (c.phase === 'running') {
      const proc = c.pid && c.startTime ? { pid: c.pid, startTime: c.startTime } : undefined;
      const stopping = this.runtime(c).stop(c.id, proc, { signal: c.stopSignal, graceMs: Math.max(0, timeoutSeconds) * 1000, abort: ctx.signal });
      if (signalled) void stopping.signalled.then(signalled);
      await stopping.stopped;
    } else return;
    await this.recordExit(c);
  }

  /** Records how the container ended: the monitor's exit status, OOMKilled from it or the cgroup. */
  private async recordExit(c: Container): Promise<void> {
    const exit = await this.runtime(c).exitRecord(c.id, c.paths.bundle, EXIT_RECORD_WAIT_MS);
    if (!exit) {
      Object.assign(c, {
        phase: 'exited',
        exitCode: 255,
        finishedAt: nowNanos(),
        reason: 'Error',
        message: 'the container monitor ended without an exit status',
      });
    } else {
      const oom = exit.oomKilled || (await this.o.host.oomKilled(c.cgroupsPath));
      // The exit file's time has a coarser grain than the start time: never report an end before the start.
      const finishedAt = c.startedAt && BigInt(exit.finishedAt) < BigInt(c.startedAt) ? c.startedAt : exit.finishedAt;
      Object.assign(c, {
        phase: 'exited',
        exitCode: exit.exitCode,
        finishedAt,
        reason: oom ? 'OOMKilled' : exit.exitCode === 0 ? 'Completed' : 'Error',
        message: '',
      });
    }
    await this.registry.save(c);
    this.notify('STOPPED', c);
  }

  /** RemoveContainer of an unknown id is success, as kubelet expects; a malformed one is not. */
  async remove(ctx: RequestContext, id: string): Promise<void> {
    validateId('container_id', id);
    const c = this.registry.find(id);
    if (!c) return;
    await this.registry.locked(c.id, async () => {
      if (!this.registry.has(c.id)) return;
      await this.stopLocked(ctx, c, 0);
      await this.teardown(c);
      await this.registry.delete(c);
      this.notify('DELETED', c);
      log.info('container removed', { id: c.id });
    });
  }

  /** Everything a container made, removed; tolerant of steps that never happened. */
  private async teardown(c: Container): Promise<void> {
    await this.release(c);
    await this.o.runtimes.get(c.runtime)?.forget(c.id);
    await fs.rm(c.paths.dir, { recursive: true, force: true });
  }

  /**
   * What the container holds of the node beyond its directory: the runtime's state and cgroup, and
   * the rootfs mount. Tolerant of steps that never happened.
   */
  private async release(c: Container): Promise<void> {
    if (c.released) return;
    const rt = this.o.runtimes.get(c.runtime);
    const deleted = async () => {
      if (!rt) return;
      // An exited container's processes are gone or are ended by the delete (the runtime kills what is
      // left in the cgroup of a container without a PID namespace of its own).
      if (c.phase !== 'exited') await rt.kill(c.id, 'KILL', true);
      await rt.delete(c.id, c.paths.bundle);
    };
    // With no process left in its cgroup nothing can hold the rootfs: it is unmounted while the
    // runtime deletes (which does not touch it). Else the delete ends what is left first.
    const unmount = () => settleAll([releaseContainerRootfs(this.o.host, c), ...(c.imageMounts ?? []).map((m) => this.o.host.unmountOverlay(m.path))]);
    if (c.phase === 'exited' && (await this.o.host.cgroupEmpty(c.cgroupsPath))) {
      await settleAll([deleted(), unmount()]);
    } else {
      await deleted();
      await unmount();
    }
  }

  // ---- a pod's containers, for StopPodSandbox and RemovePodSandbox -----------------------------

  private inSandbox(sandboxId: string): Container[] {
    return this.registry.values().filter((c) => c.sandboxId === sandboxId);
  }

  /**
   * StopPodSandbox's first part. Stop signals go out newest started first, each once the one before
   * it has been taken by its process; the grace periods then run side by side, so the pod takes
   * about its longest grace, not their sum.
   */
  async stopAllIn(ctx: RequestContext, sandboxId: string): Promise<void> {
    const order = this.inSandbox(sandboxId).sort((a, b) => (BigInt(b.startedAt ?? b.createdAt) > BigInt(a.startedAt ?? a.createdAt) ? 1 : -1));
    const stops: Promise<void>[] = [];
    for (const c of order) {
      const grace = Number(c.config.annotations[GRACE_ANNOTATION] ?? DEFAULT_GRACE_SECONDS);
      let signalled!: () => void;
      const sent = new Promise<void>((resolve) => (signalled = resolve));
      stops.push(
        this.registry.locked(c.id, () => this.stopLocked(ctx, c, Number.isFinite(grace) ? grace : DEFAULT_GRACE_SECONDS, signalled)).finally(signalled),
      );
      await sent;
    }
    await settleAll(stops);
  }

  /**
   * StopPodSandbox's part once the containers have stopped: what each exited container holds of
   * the node (runtime state, cgroup, rootfs mount) goes while pause and the network do, and
   * RemovePodSandbox has only files and records left to remove.
   */
  async releaseAllIn(sandboxId: string): Promise<void> {
    await settleAll(
      this.inSandbox(sandboxId).map((c) =>
        this.registry.locked(c.id, async () => {
          if (c.phase !== 'exited' || c.released || !this.registry.has(c.id)) return;
          await this.release(c);
          c.released = true;
          await this.registry.save(c);
        }),
      ),
    );
  }

  /** RemovePodSandbox's first part, the containers side by side: no grace periods (StopPodSandbox is where they are honoured). */
  async removeAllIn(ctx: RequestContext, sandboxId: string): Promise<void> {
    await settleAll(this.inSandbox(sandboxId).map((c) => this.remove(ctx, c.id)));
  }

  // ---- status and lookups ----------------------------------------------------------------------

  get(id: string): Container {
    return this.registry.get(id);
  }

  /** The state as it is now: a running container whose process ended is EXITED, with the monitor's exit status. */
  async view(c: Container): Promise<ContainerView> {
    let state: ContainerState;
    if (c.phase === 'created') state = 'CREATED';
    else if (c.phase === 'exited') state = 'EXITED';
    else if (c.phase === 'running') {
      const exited = this.runtime(c).exited(c.id);
      const alive = !exited && c.pid !== undefined && c.startTime !== undefined && stillAlive(c.pid, c.startTime);
      if (alive) state = 'RUNNING';
      else {
        // Exited while nobody watched (or while cribd was down): record what the monitor saw.
        await this.registry.locked(c.id, async () => {
          if (c.phase === 'running') await this.recordExit(c);
        });
        state = 'EXITED';
      }
    } else state = 'UNKNOWN';
    return { container: c, state };
  }

  async status(id: string): Promise<ContainerView> {
    return this.view(this.get(id));
  }

  async list(filter?: ContainerFilter): Promise<ContainerView[]> {
    let all = this.registry.values();
    if (filter?.sandboxId) all = all.filter((c) => c.sandboxId.startsWith(filter.sandboxId as string));
    const views = await Promise.all(all.map((c) => this.view(c)));
    return views.filter((v) => matchesContainerFilter(v, filter)).sort((a, b) => compareNanos(a.container.createdAt, b.container.createdAt));
  }

  private async running(id: string): Promise<Container> {
    const c = this.get(id);
    const v = await this.view(c);
    if (v.state !== 'RUNNING') throw new CribError('FailedPrecondition', `container ${c.id} is ${v.state.toLowerCase()}, not running`);
    return c;
  }

  // ---- ExecSync, UpdateContainerResources, ReopenContainerLog, stats -------------------------------

  async execSync(ctx: RequestContext, id: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
    if (cmd.length === 0 || !cmd[0]) throw invalidArgument('cmd', 'required');
    const c = await this.running(id);
    const r = await this.runtime(c).exec({ id: c.id, bundle: c.paths.bundle, scratchDir: c.paths.dir, cmd, timeoutSeconds }, ctx.signal);
    if (r.timedOut) {
      throw new CribError('DeadlineExceeded', `command ${JSON.stringify(cmd)} in container ${c.id} ran past its ${timeoutSeconds} s timeout and was killed`);
    }
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  }

  /**
   * What Exec and Attach need before their URL is handed out: a running container; for attach, a
   * terminal matching the container's and stdin only if it was created with one (kubelet's rules).
   */
  async checkStreamable(id: string, want: { kind: 'exec' | 'attach'; stdin: boolean; tty: boolean }): Promise<void> {
    const c = await this.running(id);
    if (want.kind !== 'attach') return;
    if (want.tty !== c.config.tty) throw invalidArgument('tty', `the container was created with tty ${c.config.tty}`);
    if (want.stdin && !c.config.stdin) throw invalidArgument('stdin', 'the container was created without stdin');
  }

  /** Exec with the client's streams, once it has connected to the streaming server. */
  async execStream(id: string, cmd: string[], tty: boolean, io: ProcessIO): Promise<{ exitCode: number }> {
    if (cmd.length === 0 || !cmd[0]) throw invalidArgument('cmd', 'required');
    const c = await this.running(id);
    return this.runtime(c).execStream({ id: c.id, bundle: c.paths.bundle, scratchDir: c.paths.dir, cmd, tty }, io);
  }

  /** Attach with the client's streams, once it has connected to the streaming server. */
  async attach(id: string, io: ProcessIO): Promise<void> {
    const c = await this.running(id);
    await this.runtime(c).attach({ id: c.id, bundle: c.paths.bundle, tty: c.config.tty }, io);
  }

  /** Has the monitor reopen the log file after kubelet rotated it away. */
  async reopenLog(id: string): Promise<void> {
    const c = await this.running(id);
    await this.runtime(c).reopenLog(c.id, c.paths.bundle, c.paths.log);
  }

  /** Changes a running container's CPU and memory limits, and records them. */
  async updateResources(id: string, r: ContainerResources): Promise<void> {
    const c = this.get(id);
    validateResources('linux', r);
    await this.o.host.validateCpusets('linux', r);
    await this.registry.locked(c.id, async () => {
      await this.runtime(c).update(c.id, ociResources(r));
      c.config.resources = { ...c.config.resources, ...Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) };
      await this.registry.save(c);
    });
  }

  /** CPU and memory from the container's cgroup, and its writable layer's use. */
  async stats(c: Container): Promise<ContainerUsage> {
    const [usage, writable] = await Promise.all([cgroupUsage(c.cgroupsPath), treeUsage(c.paths.upper)]);
    return { usage, writable, mountpoint: c.paths.upper };
  }

  /** verbose ContainerStatus info: pid and the OCI spec, as crictl inspect shows them. */
  async verboseInfo(v: ContainerView): Promise<Record<string, unknown>> {
    const c = v.container;
    const spec = await fs.readFile(path.join(c.paths.bundle, 'config.json'), 'utf8').then(
      (t) => JSON.parse(t) as unknown,
      () => null,
    );
    return {
      sandboxID: c.sandboxId,
      pid: v.state === 'RUNNING' ? (c.pid ?? 0) : 0,
      runtimeType: c.runtime,
      runtimeSpec: spec,
      bundle: c.paths.bundle,
      cgroupsPath: c.cgroupsPath,
    };
  }
}
