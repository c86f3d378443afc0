// One pod's life under `crib run`, as kubelet runs it: the record and volumes, RunPodSandbox, the
// init containers one by one, the app containers (postStart hooks), then in the foreground their
// logs, their probes (startup, liveness, readiness) and the restart policy with kubelet's back-off,
// until the pod is done, its controller stops it, or a signal asks for teardown.
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { describeError } from '../../client/errors.js';
import type { ContainerStatus__Output } from '../../cri/generated/runtime/v1/ContainerStatus.js';
import type { PodSandboxConfig } from '../../cri/generated/runtime/v1/PodSandboxConfig.js';
import { Aborted, sleep, throwIfAborted } from '../loop/abort.js';
import { Backoff, type BackoffSettings } from '../loop/backoff.js';
import { containerConfig, containerLogPath, podSandboxConfig, type SandboxInputs } from './convert.js';
import { claimUsernsBlock, usernsHostIdOf } from './userns.js';
import { containerEnv, type PodFacts } from '../env/env.js';
import type { Manifest } from '../manifest/documents.js';
import { lastLogLines, LogPrinter } from './logs.js';
import { KUBELET_LOG_ROTATION, rotateLog } from './log-rotation.js';
import type { ContainerSpec, DnsConfig, Pod, ProbeKind } from '../manifest/pod-spec.js';
import { podRecord } from '../plan/plan.js';
import { ContainerProbes } from '../probes/probe.js';
import { describeHandler, runHook, runProbe } from '../probes/probers.js';
import { qosClass } from '../quantity/qos.js';
import { isTerminating, writeRecord, writeStatus } from '../records/record.js';
import { teardownPod } from './teardown.js';
import type { PodHooks, PodInfo } from './hooks.js';
import type { Mount } from '../../cri/generated/runtime/v1/Mount.js';
import { CONTAINER_CREATED, CONTAINER_EXITED, CONTAINER_RUNNING } from '../records/keys.js';
import { bindSubPaths, prepareVolumes, removePodVolumes, RunError, volumePaths } from '../volumes/volumes.js';
import { newestByName } from '../records/newest.js';
import { nsToMs } from '../records/job-pods.js';
import type { Container__Output } from '../../cri/generated/runtime/v1/Container.js';
import { ANN_CONTAINER_TYPE } from '../records/keys.js';

export interface ImageInfo {
  /** The runtime's image id, given to CreateContainer. */
  id: string;
  uid?: string;
  username: string;
}

/** What every pod of one `crib run` shares. */
export interface RunEnv {
  ctx: ClientContext;
  root: string;
  nodeName: string;
  capacity: PodFacts['capacity'];
  hostResolv?: DnsConfig;
  images: Map<string, ImageInfo>;
  manifest: Pick<Manifest, 'objects' | 'claims'>;
  /** Ctrl-C or SIGTERM: every pod tears down. */
  signal: AbortSignal;
  /** A second one: the teardown cuts the grace periods short. */
  hurry: AbortSignal;
  detach: boolean;
  /** Print the containers' logs as "[name] line" (the foreground run; not the supervisor). */
  printLogs: boolean;
  /** More than one pod: log prefixes name the pod. */
  multi: boolean;
  backoff: BackoffSettings;
  say: (line: string) => void;
  /** Told of every pod's address, readiness and end; asked for mounts (pod/hooks.ts). */
  hooks: readonly PodHooks[];
  /**
   * Set by a controller that keeps its finished pods (a CronJob's Jobs, as history): a pod that ran
   * to its end is handed over as it ended instead of being torn down; the controller remove()s it.
   */
  keep?: (run: PodRun) => void;
  /**
   * The supervisor's runs: its end (a signal) leaves every pod as it is, for the next supervisor or
   * crib down; the kinds keep what they need across its restarts in `stateDir` (runs.ts, runStateDir).
   */
  supervised?: { stateDir: string };
}

/** What a pod's controller hears of it. */
export interface PodEvents {
  /** The sandbox and app containers run (detached: the pod is left to itself from here). */
  onStarted?(): void;
  /** Every app container is ready, or one no longer is. */
  onReady?(ready: boolean): void;
  /** An app or init container was restarted (a Job with restartPolicy OnFailure counts them). */
  onRestart?(): void;
}

interface AppState {
  spec: ContainerSpec;
  id: string;
  /** The attempt before this one, kept (exited) until the next restart. */
  previousId?: string;
  attempt: number;
  backoff: Backoff;
  /** When a restart is due (ms epoch). */
  restartAt?: number;
  lastFinished: number;
  done: boolean;
  exitCode?: number;
  probes?: ContainerProbes;
  /** Probes now running (one at a time per kind, as kubelet's worker runs them). */
  probing: Set<ProbeKind>;
  killing: boolean;
  ready: boolean;
}

const secs = (ms: number): string => `${Math.ceil(ms / 1000)}s`;

export class PodRun {
  sandboxId = '';
  private podIP = '';
  private podIPs: string[] = [];
  private volumePaths: Record<string, string> = {};
  private dirMade = false;
  private sandboxConfig: PodSandboxConfig;
  /** hostUsers: false: the first node id of the pod's user namespace, claimed at its start. */
  private usernsHostId: number | undefined;
  private readonly logDir: string;
  private readonly apps = new Map<string, AppState>();
  private readonly logs: LogPrinter | undefined;
  private readonly seccompRoot: string;
  /** This pod's own stop (its controller's), besides the run's signal. */
  private readonly own = new AbortController();
  private readonly signal: AbortSignal;
  private podReady = false;
  /** Torn down: nothing writes into the pod's directory any more. */
  private closed = false;
  private readinessWrite: Promise<void> = Promise.resolve();
  /** adopt() saw the pod to its end (every container done, or its sandbox gone): not to be taken over again. */
  completed = false;
  /** What the run's hooks add to every container (asked once the sandbox has its address). */
  private hookMounts: Mount[] = [];

  constructor(
    private readonly env: RunEnv,
    readonly pod: Pod,
    private readonly events: PodEvents = {},
    /** A pod already on the node (adopt) keeps its uid. */
    readonly uid: string = randomUUID(),
  ) {
    this.seccompRoot = path.join(env.root, 'seccomp');
    this.sandboxConfig = podSandboxConfig(pod, this.sandboxInputs());
    this.logDir = this.sandboxConfig.log_directory as string;
    this.signal = AbortSignal.any([env.signal, this.own.signal]);
    if (env.printLogs) this.logs = new LogPrinter({ out: env.ctx.out, color: env.ctx.color });
  }

  private sandboxInputs(): SandboxInputs {
    return { uid: this.uid, seccompRoot: this.seccompRoot, ...(this.env.hostResolv ? { hostResolv: this.env.hostResolv } : {}) };
  }

  private say(line: string): void {
    this.env.say(`pod ${this.pod.namespace === 'default' ? '' : `${this.pod.namespace}/`}${this.pod.name}: ${line}`);
  }

  private label(name: string): string {
    return this.env.multi ? `${this.pod.name}/${name}` : name;
  }

  private info(): PodInfo {
    return { pod: this.pod, uid: this.uid, sandboxId: this.sandboxId, ip: this.podIP, ips: this.podIPs };
  }

  private facts(): PodFacts {
    return { uid: this.uid, podIP: this.podIP, podIPs: this.podIPs, nodeName: this.env.nodeName, capacity: this.env.capacity };
  }

  /** Stops this pod early (its Job is over): the teardown runs and run() resolves. */
  stop(): void {
    this.own.abort();
  }

  /** Runs the pod; returns the exit code (0 after a signal-initiated teardown: the run says it was interrupted). */
  async run(): Promise<number> {
    let keep = false;
    let code: number;
    try {
      code = await this.start();
      if (code !== 0 && !this.env.detach && this.pod.owner.kind === 'Job') {
        // An init container failed for good: the pod failed, and is kept as a finished one is.
        keep = true;
        await this.keepFinished();
      } else if (this.env.detach && code === 0) {
        keep = true;
        this.env.ctx.out.write(`${this.sandboxId}\n`);
        this.say(`running detached (sandbox ${this.sandboxId.slice(0, 13)}); crib supervise probes and restarts its containers from now`);
      } else if (!this.env.detach && code === 0) {
        code = await this.supervise();
        // A Job's pods stay, exited, until the Job is deleted: kept until crib down, with their logs.
        if (this.pod.owner.kind === 'Job') {
          keep = true;
          await this.keepFinished();
        }
      }
      if (this.env.keep && !this.env.detach) {
        keep = true;
        // Its containers have ended: nothing more to print or to record of its readiness.
        if (!this.closed) {
          this.closed = true;
          await this.readinessWrite;
          await this.logs?.stop();
        }
        this.env.keep(this);
      }
    } catch (err) {
      if (err instanceof Aborted) {
        code = 0;
        // The supervisor's end leaves the pod as it is (one with no sandbox yet could not be found again:
        // it goes); its controller's stop (a failed Job) removes it.
        keep ||= this.env.supervised !== undefined && !this.own.signal.aborted && this.sandboxId !== '';
      } else {
        this.say(`error: ${describeError(err)}`);
        code = 1;
        // Under the supervisor cribd may be restarting: a pod that has its sandbox is left to be taken over again.
        if (this.env.supervised && this.sandboxId) {
          keep = true;
          this.say('left as it is, to be taken over again');
        }
      }
    }
    if (!keep && !(await this.remove())) return 1;
    return code;
  }

  /**
   * Takes over a pod an earlier run started (the supervisor's, after `crib run -d` or its own
   * restart): its sandbox and newest containers as they are, then probes, restarts and log rotation
   * as run() would, until the pod is done, a signal, or an error (cribd gone: the caller adopts it
   * again later). Never tears it down: `crib down` does. An exit code as run()'s.
   */
  async adopt(sandboxId: string, containers: readonly Container__Output[]): Promise<number> {
    try {
      this.sandboxId = sandboxId;
      const st = (await call(this.env.ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: sandboxId }, 30)).status;
      if (!st || st.state !== 0) return 1;
      this.podIP = st.network?.ip ?? '';
      this.podIPs = [this.podIP, ...(st.network?.additional_ips ?? []).map((i) => i.ip)].filter(Boolean);
      if (!this.pod.spec.hostUsers) {
        const id = await usernsHostIdOf(this.env.root, this.uid);
        if (id === undefined) throw new RunError('its user namespace block is not recorded');
        this.usernsHostId = id;
        this.sandboxConfig = podSandboxConfig(this.pod, { ...this.sandboxInputs(), usernsHostId: id });
      }
      this.volumePaths = volumePaths(this.pod, this.env.root, this.uid);
      for (const h of this.env.hooks) h.addressed?.(this.info());
      for (const h of this.env.hooks) if (h.mounts) this.hookMounts.push(...(await h.mounts(this.info())));
      const newest = newestByName(containers.filter((c) => c.annotations[ANN_CONTAINER_TYPE] !== 'init'));
      // No app container yet: taken over mid-init, the init containers are seen through first, in order.
      if (newest.length === 0 && !(await this.runInitContainers(containers.filter((c) => c.annotations[ANN_CONTAINER_TYPE] === 'init')))) {
        return await this.finish(1);
      }
      for (const spec of this.pod.spec.containers) {
        const c = newest.find((x) => x.metadata?.name === spec.name);
        // the attempt before the newest, kept for --previous, is the one the next restart removes
        const before = containers
          .filter(
            (x) => x.metadata?.name === spec.name && x.annotations[ANN_CONTAINER_TYPE] !== 'init' && (x.metadata?.attempt ?? 0) < (c?.metadata?.attempt ?? 0),
          )
          .sort((x, y) => (y.metadata?.attempt ?? 0) - (x.metadata?.attempt ?? 0))[0];
        const a = this.newApp(spec, c?.id ?? '', c?.metadata?.attempt ?? 0, before?.id);
        this.apps.set(spec.name, a);
        if (!c) await this.startApp(a);
        else if (c.state === CONTAINER_RUNNING) {
          a.probes = new ContainerProbes(spec.probes, Date.now());
          this.setReady(a, a.probes.ready);
        }
      }
      await this.writeReadiness();
      this.say(`taken over (sandbox ${sandboxId.slice(0, 13)})`);
      return await this.finish(await this.supervise());
    } catch (err) {
      if (err instanceof Aborted) return 0;
      this.say(`error: ${describeError(err)}`);
      return 1;
    } finally {
      this.closed = true;
      await this.readinessWrite;
      // Only a pod seen to its end is gone: one let go (a signal, cribd away) still runs, and keeps
      // its place in the names until the next takeover. A Job's kept pod said so already.
      if (this.completed && this.pod.owner.kind !== 'Job') for (const h of this.env.hooks) h.gone?.(this.info());
    }
  }

  /** adopt() saw the pod to its end: a Job's pod is kept as a finished one is (as run() keeps it). */
  private async finish(code: number): Promise<number> {
    this.completed = true;
    if (this.pod.owner.kind === 'Job') await this.keepFinished();
    return code;
  }

  /** Record, volumes, sandbox, init containers, app containers. 0 when the app containers run. */
  private async start(): Promise<number> {
    const { ctx } = this.env;
    throwIfAborted(this.signal);
    this.dirMade = true;
    await writeRecord(this.env.root, this.uid, podRecord(this.pod, this.env.manifest));
    if (!this.pod.spec.hostUsers) {
      this.usernsHostId = await claimUsernsBlock(ctx, this.env.root, this.uid);
      this.sandboxConfig = podSandboxConfig(this.pod, { ...this.sandboxInputs(), usernsHostId: this.usernsHostId });
    }
    this.volumePaths = await prepareVolumes(this.pod, { root: this.env.root, uid: this.uid, objects: this.env.manifest.objects, facts: this.facts() });
    const res = await call(ctx.clients.runtime, 'RunPodSandbox', { config: this.sandboxConfig }, 300);
    this.sandboxId = res.pod_sandbox_id;
    const st = (await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: this.sandboxId }, 30)).status;
    this.podIP = st?.network?.ip ?? '';
    this.podIPs = [this.podIP, ...(st?.network?.additional_ips ?? []).map((i) => i.ip)].filter(Boolean);
    this.say(`sandbox ${this.sandboxId.slice(0, 13)} ready${this.podIP ? `, IP ${this.podIP}` : ''} (uid ${this.uid}, QoS ${qosClass(this.pod.spec)})`);
    for (const h of this.env.hooks) h.addressed?.(this.info());
    for (const h of this.env.hooks) if (h.mounts) this.hookMounts.push(...(await h.mounts(this.info())));
    throwIfAborted(this.signal);
    this.logs?.start();
    for (const c of [...this.pod.spec.initContainers, ...this.pod.spec.containers]) {
      const skipped = containerEnv(this.pod, c, { ...this.facts(), objects: this.env.manifest.objects }).skipped;
      if (skipped.length) this.say(`container "${c.name}": envFrom keys that are not variable names were skipped: ${skipped.join(', ')}`);
    }
    if (!(await this.runInitContainers())) return 1;
    for (const spec of this.pod.spec.containers) {
      throwIfAborted(this.signal);
      const a = this.newApp(spec, '', 0);
      this.apps.set(spec.name, a);
      await this.startApp(a);
      this.say(`container "${spec.name}" started`);
    }
    await this.writeReadiness();
    this.events.onStarted?.();
    return 0;
  }

  private async createAndStart(spec: ContainerSpec, attempt: number, init: boolean): Promise<string> {
    const { ctx } = this.env;
    const image = this.env.images.get(spec.image);
    if (!image) throw new RunError(`image ${spec.image} was not resolved`);
    const subPathSources = await bindSubPaths(this.env.root, this.uid, spec, this.volumePaths);
    const config = containerConfig(this.pod, spec, {
      ...this.facts(),
      objects: this.env.manifest.objects,
      attempt,
      imageRef: image.id,
      volumePaths: this.volumePaths,
      subPathSources,
      seccompRoot: this.seccompRoot,
      init,
      extraMounts: this.hookMounts,
      ...(this.usernsHostId === undefined ? {} : { usernsHostId: this.usernsHostId }),
    });
    const res = await call(ctx.clients.runtime, 'CreateContainer', { pod_sandbox_id: this.sandboxId, config, sandbox_config: this.sandboxConfig }, 300);
    await this.logs?.follow(this.label(spec.name), path.join(this.logDir, containerLogPath(spec.name, attempt)));
    await call(ctx.clients.runtime, 'StartContainer', { container_id: res.container_id }, 120);
    return res.container_id;
  }

  /** Creates and starts an app container's attempt: its postStart hook, its probes from now. */
  private async startApp(a: AppState): Promise<void> {
    a.id = await this.createAndStart(a.spec, a.attempt, false);
    a.killing = false;
    a.probes = new ContainerProbes(a.spec.probes, Date.now());
    this.setReady(a, a.probes.ready);
    const hook = a.spec.postStart;
    if (hook) {
      // kubelet runs postStart right after the start; a failed hook kills the container.
      const failed = await runHook(hook, { ctx: this.env.ctx, containerId: a.id, podIP: this.podIP }, this.pod.spec.terminationGracePeriodSeconds);
      if (failed) {
        this.say(`postStart hook of "${a.spec.name}" (${describeHandler(hook)}) failed: ${failed}; killing it`);
        await this.kill(a, this.pod.spec.terminationGracePeriodSeconds);
      }
    }
  }

  private async status(id: string): Promise<ContainerStatus__Output> {
    const st = (await call(this.env.ctx.clients.runtime, 'ContainerStatus', { container_id: id }, 30)).status;
    if (!st) throw new RunError(`container ${id} has no status`);
    return st;
  }

  private async waitExited(id: string): Promise<ContainerStatus__Output> {
    for (;;) {
      const st = await this.status(id);
      if (st.state === CONTAINER_EXITED) {
        await this.logs?.poll(); // its last lines before what we say about its exit
        return st;
      }
      await sleep(200, this.signal);
    }
  }

  private async reportFailure(what: string, spec: ContainerSpec, attempt: number, st: ContainerStatus__Output): Promise<void> {
    const lines = await lastLogLines(path.join(this.logDir, containerLogPath(spec.name, attempt)), 10);
    const tail = lines.length ? `; its last log lines:\n${lines.map((l) => `  | ${l}`).join('\n')}` : '; it wrote no log';
    this.say(`${what} "${spec.name}" failed with exit code ${st.exit_code}${st.reason ? ` (${st.reason})` : ''}${st.message ? `: ${st.message}` : ''}${tail}`);
  }

  /**
   * The init containers in order, each to a zero exit; false when one failed for good. `found`: the
   * init containers an earlier process left (a takeover): one that completed is not run again, the
   * newest attempt of the first one that did not is waited for (started, if it was only created).
   */
  private async runInitContainers(found: readonly Container__Output[] = []): Promise<boolean> {
    const { ctx } = this.env;
    for (const spec of this.pod.spec.initContainers) {
      const backoff = new Backoff(this.env.backoff);
      const left = found.filter((c) => c.metadata?.name === spec.name).sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0))[0];
      for (let attempt = left?.metadata?.attempt ?? 0; ; attempt++) {
        throwIfAborted(this.signal);
        let id: string;
        if (left && attempt === (left.metadata?.attempt ?? 0)) {
          id = left.id;
          if (left.state === CONTAINER_CREATED) await call(ctx.clients.runtime, 'StartContainer', { container_id: id }, 120);
          if (left.state !== CONTAINER_EXITED) this.say(`init container "${spec.name}" taken over while it runs`);
        } else {
          id = await this.createAndStart(spec, attempt, true);
          this.say(`init container "${spec.name}" started${attempt ? ` (restart ${attempt})` : ''}`);
        }
        const st = await this.waitExited(id);
        if (st.exit_code === 0) {
          this.say(`init container "${spec.name}" completed`);
          break;
        }
        await this.reportFailure('init container', spec, attempt, st);
        if (this.pod.spec.restartPolicy === 'Never') {
          this.say(`restartPolicy is Never: the pod failed; its containers (${this.pod.spec.containers.map((c) => c.name).join(', ')}) are not started`);
          return false;
        }
        const finished = nsToMs(st.finished_at);
        const delay = backoff.delay(finished);
        if (delay > 0) this.say(`back-off ${secs(delay)} restarting failed init container "${spec.name}"`);
        await sleep(delay, this.signal);
        backoff.next(finished);
        this.events.onRestart?.();
        await call(ctx.clients.runtime, 'RemoveContainer', { container_id: id }, 60);
      }
    }
    return true;
  }

  /** Records a container's readiness; says so, and tells the controller when the pod's changes. */
  private setReady(a: AppState, ready: boolean): void {
    if (a.ready === ready) return;
    a.ready = ready;
    const apps = [...this.apps.values()];
    const n = apps.filter((x) => x.ready).length;
    if (a.probes?.hasReadiness) this.say(`container "${a.spec.name}" is ${ready ? '' : 'not '}ready (${n}/${this.pod.spec.containers.length} ready)`);
    void this.writeReadiness();
    const podReady = n === this.pod.spec.containers.length;
    if (podReady !== this.podReady) {
      this.podReady = podReady;
      this.events.onReady?.(podReady);
      for (const h of this.env.hooks) h.readiness?.(this.info(), podReady);
    }
  }

  /** status.json for `crib pods`, written in order of the changes. */
  private writeReadiness(): Promise<void> {
    if (this.closed) return this.readinessWrite;
    const ready = Object.fromEntries([...this.apps.values()].map((a) => [a.spec.name, a.ready]));
    this.readinessWrite = this.readinessWrite.then(() => writeStatus(this.env.root, this.uid, { ready }).catch(() => undefined));
    return this.readinessWrite;
  }

  /** Stops a container as kubelet kills one: its preStop hook, then StopContainer with the grace period. */
  private async kill(a: AppState, grace: number): Promise<void> {
    a.killing = true;
    const rt = this.env.ctx.clients.runtime;
    if (a.spec.preStop) {
      const failed = await runHook(a.spec.preStop, { ctx: this.env.ctx, containerId: a.id, podIP: this.podIP }, grace);
      if (failed) this.say(`preStop hook of "${a.spec.name}" failed: ${failed}`);
    }
    await call(rt, 'StopContainer', { container_id: a.id, timeout: grace }, grace + 60).catch((err: unknown) => {
      this.say(`stopping container "${a.spec.name}" failed: ${describeError(err)}`);
    });
  }

  /** Runs the probes that are due; what they settle to changes readiness or kills the container. */
  private probe(a: AppState): void {
    const probes = a.probes;
    if (!probes || a.killing) return;
    for (const w of probes.due(Date.now())) {
      if (a.probing.has(w.kind)) continue;
      a.probing.add(w.kind);
      const id = a.id;
      void runProbe(w.probe.handler, { ctx: this.env.ctx, containerId: id, podIP: this.podIP }, w.probe.timeoutSeconds).then((r) => {
        a.probing.delete(w.kind);
        if (a.id !== id || a.probes !== probes || a.killing) return; // a result for an attempt that is gone
        if (r.outcome === 'failure') this.say(`${w.kind} probe of "${a.spec.name}" failed: ${r.detail}`);
        for (const e of probes.record(w.kind, r.outcome, Date.now())) {
          if (e.type === 'started') this.say(`container "${a.spec.name}" started (startup probe succeeded)`);
          else if (e.type === 'ready') this.setReady(a, e.ready);
          else {
            const grace = w.probe.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds;
            this.say(
              `container "${a.spec.name}" failed its ${e.probe} probe ${w.probe.failureThreshold} time${w.probe.failureThreshold === 1 ? '' : 's'}; killing it (grace ${grace}s)`,
            );
            void this.kill(a, grace);
          }
        }
      });
    }
  }

  /** kubelet's log rotation for the running app containers (the foreground run is their kubelet). */
  private async rotateLogs(): Promise<void> {
    const rt = this.env.ctx.clients.runtime;
    for (const a of this.apps.values()) {
      if (a.done || a.restartAt !== undefined || !a.id) continue;
      const id = a.id;
      const file = path.join(this.logDir, containerLogPath(a.spec.name, a.attempt));
      const reopen = async () => void (await call(rt, 'ReopenContainerLog', { container_id: id }, 30));
      const rotate = () => rotateLog(file, reopen, KUBELET_LOG_ROTATION);
      // A printer follows the file: it must see the rotation to read the old file to its end.
      await (this.logs ? this.logs.rotate(this.label(a.spec.name), rotate) : rotate()).catch((err: unknown) => {
        // an exited container cannot reopen its log: it is left as it is, as kubelet leaves it
        this.say(`rotating the log of "${a.spec.name}" failed: ${describeError(err)}`);
      });
    }
  }

  /** Applies probes and the restart policy until every app container is done for good (never with Always). */
  private async supervise(): Promise<number> {
    const { ctx } = this.env;
    const rt = ctx.clients.runtime;
    const policy = this.pod.spec.restartPolicy;
    let sandboxChecked = Date.now();
    let logsChecked = Date.now();
    for (;;) {
      throwIfAborted(this.signal);
      // Another command tears it down (crib down POD): nothing of it is restarted from now.
      if (await isTerminating(this.env.root, this.uid)) {
        this.say('being torn down by another command; no longer watched');
        return 1;
      }
      if (Date.now() - logsChecked >= KUBELET_LOG_ROTATION.intervalMs) {
        logsChecked = Date.now();
        await this.rotateLogs();
      }
      if (Date.now() - sandboxChecked > 2000) {
        sandboxChecked = Date.now();
        const sb = await call(rt, 'PodSandboxStatus', { pod_sandbox_id: this.sandboxId }, 30).catch(() => undefined);
        if (!sb?.status || sb.status.state !== 0) {
          this.say('the pod sandbox was stopped or removed outside crib run');
          return 1;
        }
      }
      const states = new Map((await call(rt, 'ListContainers', { filter: { pod_sandbox_id: this.sandboxId } }, 30)).containers.map((c) => [c.id, c.state]));
      for (const a of this.apps.values()) {
        if (a.done || a.restartAt !== undefined) continue;
        const state = states.get(a.id);
        if (state === undefined) {
          this.say(`container "${a.spec.name}" was removed outside crib run`);
          return 1;
        }
        if (state === CONTAINER_RUNNING) {
          this.probe(a);
          continue;
        }
        if (state !== CONTAINER_EXITED) continue;
        this.setReady(a, false);
        a.probes = undefined;
        const st = await this.status(a.id);
        await this.logs?.poll();
        a.lastFinished = nsToMs(st.finished_at) || Date.now();
        const restart = policy === 'Always' || (policy === 'OnFailure' && st.exit_code !== 0);
        this.say(
          `container "${a.spec.name}" exited with code ${st.exit_code}${st.reason ? ` (${st.reason})` : ''}${restart ? '' : `; restartPolicy ${policy}: not restarted`}`,
        );
        if (restart) {
          const delay = a.backoff.delay(a.lastFinished);
          a.restartAt = Date.now() + delay;
          if (delay > 0) this.say(`back-off ${secs(delay)} restarting failed container "${a.spec.name}"`);
        } else {
          a.done = true;
          a.exitCode = st.exit_code;
        }
      }
      for (const a of this.apps.values()) {
        if (a.restartAt === undefined || a.restartAt > Date.now()) continue;
        throwIfAborted(this.signal);
        a.restartAt = undefined;
        a.backoff.next(a.lastFinished);
        // kubelet keeps the attempt that ended, for `kubectl logs --previous`, and removes older ones
        if (a.previousId && a.previousId !== a.id) await call(rt, 'RemoveContainer', { container_id: a.previousId }, 60).catch(() => undefined);
        a.previousId = a.id;
        a.attempt++;
        this.events.onRestart?.();
        try {
          await this.startApp(a);
          this.say(`container "${a.spec.name}" restarted (restart count ${a.attempt})`);
        } catch (err) {
          if (err instanceof Aborted) throw err;
          this.say(`restarting container "${a.spec.name}" failed: ${describeError(err)}`);
          a.lastFinished = Date.now();
          a.restartAt = Date.now() + Math.max(a.backoff.delay(a.lastFinished), 1000);
        }
      }
      const apps = [...this.apps.values()];
      if (policy !== 'Always' && apps.every((a) => a.done)) {
        const failed = apps.filter((a) => a.exitCode !== 0);
        if (failed.length) this.say(`failed: ${failed.map((a) => `"${a.spec.name}" (exit code ${a.exitCode})`).join(', ')}`);
        else this.say('all containers completed successfully');
        return failed.length ? 1 : 0;
      }
      // Wake for the next probe or restart that is due, at most 300 ms later.
      const now = Date.now();
      const next = Math.min(now + 300, ...apps.flatMap((a) => [a.probes?.nextDue() ?? Infinity, a.restartAt ?? Infinity]));
      await sleep(Math.max(20, next - now), this.signal);
    }
  }

  /** A container's state as this run starts following it (a new one, or one taken over). */
  private newApp(spec: ContainerSpec, id: string, attempt: number, previousId?: string): AppState {
    return {
      spec,
      id,
      ...(previousId !== undefined ? { previousId } : {}),
      attempt,
      backoff: new Backoff(this.env.backoff),
      lastFinished: 0,
      done: false,
      probing: new Set(),
      killing: false,
      ready: false,
    };
  }

  /** Tears the pod down (after run(), a pod its controller kept); false when that failed, said. */
  async remove(): Promise<boolean> {
    try {
      await this.teardown();
      return true;
    } catch (err) {
      this.say(`teardown failed: ${describeError(err)} (finish it with: crib down ${this.sandboxId || this.pod.name})`);
      return false;
    }
  }

  /**
   * A Job's pod that ran to its end, as kubelet leaves a finished pod: the sandbox stopped (its
   * network and pause released), its containers and logs kept for crib logs until crib down.
   */
  private async keepFinished(): Promise<void> {
    this.closed = true;
    await this.readinessWrite;
    try {
      await call(this.env.ctx.clients.runtime, 'StopPodSandbox', { pod_sandbox_id: this.sandboxId }, 120);
      this.say(`kept with its logs (crib logs job/${this.pod.owner.name}) until crib down`);
    } finally {
      await this.logs?.stop();
      for (const h of this.env.hooks) h.gone?.(this.info());
    }
  }

  private async teardown(): Promise<void> {
    const label = `${this.pod.namespace}/${this.pod.name}`;
    this.closed = true;
    await this.readinessWrite;
    try {
      if (this.sandboxId) {
        this.say(`stopping (grace period ${this.pod.spec.terminationGracePeriodSeconds}s)`);
        await teardownPod(
          this.env.ctx,
          { sandboxId: this.sandboxId, label, uid: this.uid, logDirectory: this.logDir },
          { root: this.env.root, say: (l) => this.say(l), afterStop: async () => this.logs?.stop(), hurry: this.env.hurry },
        );
        this.say(`removed (sandbox ${this.sandboxId.slice(0, 13)})`);
      } else {
        await this.logs?.stop();
        if (this.dirMade) await removePodVolumes(this.env.root, this.uid);
        await fsp.rm(this.logDir, { recursive: true, force: true });
      }
    } finally {
      await this.logs?.stop(); // never leave the poll timer running
      for (const h of this.env.hooks) h.gone?.(this.info());
    }
  }
}
