import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CribError, errorMessage, notFound } from '../util/errors.js';
import { ensurePrivateDir, exists } from '../util/fsx.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { log } from '../util/log.js';
import { RecordStore } from '../store/records.js';
import { findById, getById } from '../store/lookup.js';
import type { ImageService } from '../image/service.js';
import type { ImageRuntimeConfig } from '../image/types.js';
import { mountOverlay, unmountOverlay } from '../image/overlay.js';
import { conmonCreate } from '../oci/conmon.js';
import { containerSpec, ociResources } from '../oci/container-spec.js';
import { capabilitiesFromMask } from '../oci/capabilities.js';
import { deleteAndWaitConmon, terminate } from '../oci/lifecycle.js';
import { clampOomScoreAdj, isAlive, procStat } from '../oci/process.js';
import { runCapture } from '../util/exec.js';
import { nowNanos } from '../util/time.js';
import type { OciRuntime } from '../oci/runtime.js';
import { resolveUser } from '../oci/users.js';
import { readLocalhostProfile } from '../oci/seccomp-file.js';
import { podFilePaths, podHostname } from '../sandbox/pod-files.js';
import type { SandboxService } from '../sandbox/service.js';
import type { Sandbox } from '../sandbox/types.js';
import { validateId } from '../sandbox/validate.js';
import { matchesContainerFilter } from './filter.js';
import { execSync, type ExecResult } from './exec.js';
import { cgroupUsage, oomKilled, treeUsage, type CgroupUsage } from './stats.js';
import { hostDevices } from './devices.js';
import type { Container, ContainerConfig, ContainerFilter, ContainerResources, ContainerState, ContainerView } from './types.js';
import { containerLogPath, validateContainerConfig, validateResources } from './validate.js';

export interface ContainerServiceOptions {
  root: string;
  state: string;
  conmonPath: string;
  runtimes: ReadonlyMap<string, OciRuntime>;
  images: ImageService;
  sandboxes: SandboxService;
}

/**
 * A bind mount's missing host path is made a directory, as containerd and CRI-O do: kubelet relies on
 * it for hostPath volumes without a type.
 */
async function createMissingMountSources(config: ContainerConfig): Promise<void> {
  for (const m of config.mounts) if (!(await exists(m.hostPath))) await fs.mkdir(m.hostPath, { recursive: true, mode: 0o755 });
}

/** kubelet's annotation with the pod's grace period; StopPodSandbox gives each container that long. */
const GRACE_ANNOTATION = 'io.kubernetes.pod.terminationGracePeriod';
const DEFAULT_GRACE_SECONDS = 30;

let limits: Promise<{ rlimitNofile: number; availableCapabilities: string[] }> | undefined;

/**
 * What cribd itself may hand to containers: the runtime cannot raise RLIMIT_NOFILE past cribd's hard
 * limit nor grant capabilities cribd lacks (no CAP_SYS_RESOURCE on these machines), so containers
 * get at most those, as containerd does.
 */
function daemonLimits(): Promise<{ rlimitNofile: number; availableCapabilities: string[] }> {
  limits ??= (async () => {
    const [lim, status] = await Promise.all([fs.readFile('/proc/self/limits', 'utf8'), fs.readFile('/proc/self/status', 'utf8')]);
    const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(lim)?.[1];
    const bnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0';
    return {
      rlimitNofile: Math.min(1048576, hard && hard !== 'unlimited' ? Number(hard) : 1048576),
      availableCapabilities: capabilitiesFromMask(bnd),
    };
  })();
  return limits;
}

const nameKey = (sandboxId: string, c: ContainerConfig) => `${sandboxId}\u0000${c.metadata.name}\u0000${c.metadata.attempt}`;

/** Owns every container: records, bundles, rootfs mounts, conmon and the runtime calls. */
export class ContainerService {
  private readonly containers = new Map<string, Container>();
  private readonly names = new Map<string, string>();
  private readonly locks = new KeyedLock();
  private readonly records: RecordStore<Container>;
  private readonly exitDir: string;
  private readonly socketDir: string;

  constructor(private readonly o: ContainerServiceOptions) {
    this.records = new RecordStore<Container>(path.join(o.root, 'records', 'containers'));
    this.exitDir = path.join(o.state, 'exits');
    this.socketDir = path.join(o.state, 'sockets');
  }

  async open(): Promise<void> {
    await this.records.open();
    await ensurePrivateDir(path.join(this.o.root, 'containers'));
    for (const c of await this.records.loadAll()) {
      if (c.phase === 'creating') {
        log.warn('rolling back a container whose creation was interrupted', { id: c.id });
        await this.teardown(c).catch((err) => log.error('rollback failed', { id: c.id, error: errorMessage(err) }));
        continue;
      }
      this.containers.set(c.id, c);
      this.names.set(nameKey(c.sandboxId, c.config), c.id);
    }
  }

  private runtime(c: Container): OciRuntime {
    const rt = this.o.runtimes.get(c.runtime);
    if (!rt) throw new CribError('FailedPrecondition', `runtime ${c.runtime} of container ${c.id} is not available`);
    return rt;
  }

  /** Which container (if any) uses an image, so RemoveImage can refuse and say so. */
  imageUser(imageId: string): string | undefined {
    for (const c of this.containers.values()) if (c.image.id === imageId) return `container ${c.id}`;
    return undefined;
  }

  async create(sandboxId: string, config: ContainerConfig): Promise<string> {
    validateId('pod_sandbox_id', sandboxId);
    // The sandbox first, as containerd does: a request for a pod that is gone is NOT_FOUND whatever else it holds.
    const sb = this.o.sandboxes.get(sandboxId);
    validateContainerConfig(config);
    const view = await this.o.sandboxes.view(sb);
    if (view.state !== 'READY') throw new CribError('FailedPrecondition', `sandbox ${sb.id} is not ready`);
    const key = nameKey(sb.id, config);
    const taken = this.names.get(key);
    if (taken) throw new CribError('AlreadyExists', `container "${config.metadata.name}" (attempt ${config.metadata.attempt}) already exists in sandbox ${sb.id} as ${taken}`);
    const image = this.o.images.find(config.image);
    if (!image) throw notFound(`image ${config.image}`);
    const id = randomBytes(32).toString('hex');
    const logPath = containerLogPath(sb.config.logDirectory || path.join(sb.paths.podDir, 'logs'), config.logPath, id);
    this.names.set(key, id);
    const dir = path.join(this.o.root, 'containers', id);
    const runtime = this.o.runtimes.get(sb.runtime);
    if (!runtime) {
      this.names.delete(key);
      throw new CribError('FailedPrecondition', `runtime ${sb.runtime} is not available`);
    }
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
        rootfs: path.join(dir, 'bundle', 'rootfs'),
        upper: path.join(dir, 'upper'),
        work: path.join(dir, 'work'),
        log: logPath,
      },
      cgroupsPath: `${sb.cgroup.parent}/${id}`,
      stopSignal: image.config.StopSignal || 'SIGTERM',
    };
    try {
      await createMissingMountSources(config);
      await this.records.put(id, c);
      for (const d of [c.paths.rootfs, c.paths.upper, c.paths.work, path.dirname(logPath)]) await fs.mkdir(d, { recursive: true });
      await mountOverlay({
        lowerDirs: [...image.diffIds].reverse().map((d) => this.o.images.store.layerPath(d)),
        upperDir: c.paths.upper,
        workDir: c.paths.work,
        target: c.paths.rootfs,
      });
      const spec = await this.buildSpec(c, sb, image.config);
      await fs.writeFile(path.join(c.paths.bundle, 'config.json'), JSON.stringify(spec));
      await conmonCreate({
        conmonPath: this.o.conmonPath,
        runtime,
        id,
        name: config.metadata.name,
        bundle: c.paths.bundle,
        logPath,
        exitDir: this.exitDir,
        socketDir: this.socketDir,
      });
      c.phase = 'created';
      await this.records.put(id, c);
    } catch (err) {
      await this.teardown(c).catch((e) => log.error('rolling back a failed CreateContainer', { id, error: errorMessage(e) }));
      this.names.delete(key);
      throw err;
    }
    this.containers.set(id, c);
    log.info('container created', { id, name: config.metadata.name, sandbox: sb.id });
    return id;
  }

  private async buildSpec(c: Container, sb: Sandbox, imageConfig: ImageRuntimeConfig) {
    const sec = c.config.security;
    const [passwd, group] = await Promise.all(
      ['etc/passwd', 'etc/group'].map((f) => fs.readFile(path.join(c.paths.rootfs, f), 'utf8').catch(() => undefined)),
    );
    const user = resolveUser({
      runAsUser: sec.runAsUser,
      runAsGroup: sec.runAsGroup,
      runAsUsername: sec.runAsUsername,
      imageUser: imageConfig.User,
      supplementalGroups: sec.supplementalGroups,
      passwd,
      group,
    });
    const oomScoreAdj = await clampOomScoreAdj(c.config.resources.oomScoreAdj ?? 0, (from, to) =>
      log.once('oom-clamp-container', 'warn', `cannot set oom_score_adj ${from} without CAP_SYS_RESOURCE; containers get at least ${to}`),
    );
    const seccompLocalhostProfile = sec.seccomp.type === 'Localhost' ? await readLocalhostProfile(sec.seccomp.path) : undefined;
    if (sec.apparmorProfile) log.once('apparmor', 'info', 'AppArmor is not supported by crib; container apparmor profiles are ignored');
    return containerSpec({
      id: c.id,
      config: c.config,
      image: imageConfig,
      user,
      namespaces: await this.namespacePaths(c, sb),
      hostname: podHostname(sb.config),
      podFiles: podFilePaths(sb.paths.podDir),
      shmPath: sb.paths.shm,
      cgroupsPath: c.cgroupsPath,
      oomScoreAdj,
      seccompLocalhostProfile,
      hostDevices: await hostDevices(c.config.devices),
      annotations: { 'io.kubernetes.cri.sandbox-id': sb.id },
      ...(await daemonLimits()),
    });
  }

  /** The namespaces a container joins: the pod's pinned netns, pause's IPC/UTS (and PID for a shared pod), a target's PID. */
  private async namespacePaths(c: Container, sb: Sandbox): Promise<{ network?: string; ipc?: string; uts?: string; pid?: string }> {
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
      const target = this.find(c.config.security.namespaces.targetId);
      if (!target || target.sandboxId !== sb.id || !target.pid) {
        throw new CribError('NotFound', `target container ${c.config.security.namespaces.targetId} is not running in sandbox ${sb.id}`);
      }
      out.pid = `/proc/${target.pid}/ns/pid`;
    }
    return out;
  }

  async start(id: string): Promise<void> {
    const c = this.get(id);
    await this.locks.run(c.id, async () => {
      if (c.phase !== 'created') throw new CribError('FailedPrecondition', `container ${c.id} is ${(await this.view(c)).state.toLowerCase()}, not created`);
      const pidText = await fs.readFile(path.join(c.paths.bundle, 'pidfile'), 'utf8').catch(() => '');
      const startedAt = nowNanos();
      await this.runtime(c).start(c.id);
      const pid = Number(pidText.trim());
      const st = pid > 0 ? await procStat(pid) : undefined;
      c.phase = 'running';
      c.startedAt = startedAt;
      if (st) {
        c.pid = pid;
        c.startTime = st.startTime;
      }
      await this.records.put(c.id, c);
      log.info('container started', { id: c.id, name: c.config.metadata.name, pid });
    });
  }

  /** Stop signal, `timeoutSeconds` to exit, then SIGKILL. Idempotent. */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    const c = this.get(id);
    await this.locks.run(c.id, () => this.stopLocked(c, timeoutSeconds));
  }

  private async stopLocked(c: Container, timeoutSeconds: number): Promise<void> {
    if (c.phase === 'created') {
      // Never started: its process waits in the runtime's init; end it.
      await this.runtime(c).kill(c.id, 'KILL', true);
    } else if (c.phase === 'running') {
      const proc = c.pid && c.startTime ? { pid: c.pid, startTime: c.startTime } : undefined;
      await terminate(this.runtime(c), c.id, proc, c.stopSignal, Math.max(0, timeoutSeconds) * 1000);
    } else return;
    await this.recordExit(c);
  }

  /** Reads conmon's exit file into the record (waiting briefly: conmon writes it as the process ends). */
  private async recordExit(c: Container): Promise<void> {
    const file = path.join(this.exitDir, c.id);
    for (let i = 0; i < 100 && !(await exists(file)); i++) await new Promise((r) => setTimeout(r, 20));
    const exit = await this.readExit(c);
    // The exit file's time has a coarser grain than the start time: never report an end before the start.
    if (c.startedAt && exit.finishedAt && BigInt(exit.finishedAt) < BigInt(c.startedAt)) exit.finishedAt = c.startedAt;
    Object.assign(c, exit, { phase: 'exited' });
    await this.records.put(c.id, c);
  }

  private async readExit(c: Container): Promise<Pick<Container, 'exitCode' | 'finishedAt' | 'reason' | 'message'>> {
    const file = path.join(this.exitDir, c.id);
    let exitCode = -1;
    let finishedAt = nowNanos();
    try {
      const [text, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
      exitCode = Number(text.trim());
      finishedAt = (BigInt(Math.round(st.mtimeMs * 1000)) * 1000n).toString();
    } catch {
      return { exitCode: 255, finishedAt, reason: 'Error', message: 'the container monitor ended without an exit status' };
    }
    const oom = (await oomKilled(c.cgroupsPath)) || (await exists(path.join(c.paths.bundle, 'oom')));
    const reason = oom ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
    return { exitCode, finishedAt, reason, message: '' };
  }

  async remove(id: string): Promise<void> {
    validateId('container_id', id);
    const c = this.find(id);
    if (!c) return;
    await this.locks.run(c.id, async () => {
      if (!this.containers.has(c.id)) return;
      await this.stopLocked(c, 0);
      await this.teardown(c);
      this.containers.delete(c.id);
      this.names.delete(nameKey(c.sandboxId, c.config));
      log.info('container removed', { id: c.id });
    });
  }

  /** Everything a container made, removed; tolerant of steps that never happened. */
  private async teardown(c: Container): Promise<void> {
    const rt = this.o.runtimes.get(c.runtime);
    if (rt) {
      await rt.kill(c.id, 'KILL', true);
      await deleteAndWaitConmon(rt, c.id, c.paths.bundle);
    }
    await unmountOverlay(c.paths.rootfs);
    await fs.rm(c.paths.dir, { recursive: true, force: true });
    await fs.rm(path.join(this.exitDir, c.id), { force: true });
    await fs.rm(path.join(this.socketDir, c.id), { recursive: true, force: true });
    await this.records.remove(c.id);
  }

  find(id: string): Container | undefined {
    return findById(this.containers, id, 'container_id', 'container');
  }

  get(id: string): Container {
    return getById(this.containers, id, 'container_id', 'container');
  }

  /** The state as it is now: a running container whose process ended is EXITED, with conmon's exit status. */
  async view(c: Container): Promise<ContainerView> {
    let state: ContainerState;
    if (c.phase === 'created') state = 'CREATED';
    else if (c.phase === 'exited') state = 'EXITED';
    else if (c.phase === 'running') {
      const exited = await exists(path.join(this.exitDir, c.id));
      const alive = !exited && c.pid !== undefined && c.startTime !== undefined && (await isAlive(c.pid, c.startTime));
      if (alive) state = 'RUNNING';
      else {
        // Exited while nobody watched (or while cribd was down): record what conmon saw.
        await this.locks.run(c.id, async () => {
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
    let all = [...this.containers.values()];
    if (filter?.sandboxId) all = all.filter((c) => c.sandboxId.startsWith(filter.sandboxId as string));
    const views = await Promise.all(all.map((c) => this.view(c)));
    return views.filter((v) => matchesContainerFilter(v, filter)).sort((a, b) => (BigInt(a.container.createdAt) < BigInt(b.container.createdAt) ? -1 : 1));
  }

  inSandbox(sandboxId: string): Container[] {
    return [...this.containers.values()].filter((c) => c.sandboxId === sandboxId);
  }

  /** StopPodSandbox's first part: the pod's containers, newest started first, each with its grace period. */
  async stopAllIn(sandboxId: string): Promise<void> {
    const order = this.inSandbox(sandboxId).sort((a, b) => (BigInt(b.startedAt ?? b.createdAt) > BigInt(a.startedAt ?? a.createdAt) ? 1 : -1));
    for (const c of order) {
      const grace = Number(c.config.annotations[GRACE_ANNOTATION] ?? DEFAULT_GRACE_SECONDS);
      await this.stop(c.id, Number.isFinite(grace) ? grace : DEFAULT_GRACE_SECONDS);
    }
  }

  async removeAllIn(sandboxId: string): Promise<void> {
    for (const c of this.inSandbox(sandboxId)) await this.remove(c.id);
  }

  private async running(id: string): Promise<Container> {
    const c = this.get(id);
    const v = await this.view(c);
    if (v.state !== 'RUNNING') throw new CribError('FailedPrecondition', `container ${c.id} is ${v.state.toLowerCase()}, not running`);
    return c;
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
    const c = await this.running(id);
    return execSync(this.o.conmonPath, this.runtime(c), { id: c.id, bundle: c.paths.bundle, scratchDir: c.paths.dir }, cmd, timeoutSeconds);
  }

  /** Asks conmon to reopen the log file (after kubelet rotated it away), through its control fifo. */
  async reopenLog(id: string): Promise<void> {
    const c = await this.running(id);
    const fh = await fs.open(path.join(c.paths.bundle, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try {
      await fh.write('2 0 0\n');
    } finally {
      await fh.close();
    }
    // conmon handles the message asynchronously; the new file shows up almost at once.
    for (let i = 0; i < 100 && !(await exists(c.paths.log)); i++) await new Promise((r) => setTimeout(r, 10));
  }

  /** Changes a running container's CPU and memory limits (runc update), and records them. */
  async updateResources(id: string, r: ContainerResources): Promise<void> {
    const c = this.get(id);
    validateResources('linux', r);
    await this.locks.run(c.id, async () => {
      const rt = this.runtime(c);
      const { cpu, memory } = ociResources(r, 'linux');
      const res = await runCapture(rt.path, [...rt.globalArgs, 'update', '--resources', '-', c.id], {
        stdin: JSON.stringify({ cpu, memory }),
        timeoutMs: 30_000,
      });
      if (res.code !== 0) throw new CribError('Internal', `${rt.name} update ${c.id}: ${res.stderr.toString().trim() || `exited with ${res.code}`}`);
      c.config.resources = { ...c.config.resources, ...Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) };
      await this.records.put(c.id, c);
    });
  }

  /** CPU and memory from the container's cgroup, and its writable layer's use. */
  async stats(c: Container): Promise<{ usage: CgroupUsage; writable: { bytes: number; inodes: number }; mountpoint: string }> {
    const [usage, writable] = await Promise.all([cgroupUsage(c.cgroupsPath), treeUsage(c.paths.upper)]);
    return { usage, writable, mountpoint: c.paths.upper };
  }

  /** verbose ContainerStatus info: pid and the OCI spec, as crictl inspect shows them. */
  async verboseInfo(v: ContainerView): Promise<Record<string, unknown>> {
    const c = v.container;
    const spec = await fs.readFile(path.join(c.paths.bundle, 'config.json'), 'utf8').then((t) => JSON.parse(t) as unknown, () => null);
    return { sandboxID: c.sandboxId, pid: v.state === 'RUNNING' ? c.pid ?? 0 : 0, runtimeType: c.runtime, runtimeSpec: spec, bundle: c.paths.bundle, cgroupsPath: c.cgroupsPath };
  }
}
