// `crib run`'s flow, as kubelet runs a pod: images by pull policy, volumes, RunPodSandbox, the init
// containers one by one, the app containers, then (in the foreground) their logs and the pod's
// restart policy until the pod is done or a signal asks for teardown.
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { call } from '../client.js';
import type { CliContext } from '../context.js';
import { describeError } from '../errors.js';
import type { ContainerStatus__Output } from '../../cri/generated/runtime/v1/ContainerStatus.js';
import type { PodSandboxConfig } from '../../cri/generated/runtime/v1/PodSandboxConfig.js';
import { checkRunAsNonRoot, containerConfig, containerLogPath, LABEL_POD_NAME, LABEL_POD_NAMESPACE, parseResolvConf, podSandboxConfig } from './convert.js';
import { lastLogLines, LogPrinter } from './logs.js';
import type { ContainerSpec, DnsConfig, Pod, PullPolicy } from './manifest.js';
import { CONTAINER_EXITED, teardownPod } from './teardown.js';
import { checkHostPaths, prepareVolumes, removePodVolumes, RunError } from './volumes.js';

/** Thrown where a signal interrupted the flow; the pod is torn down and crib exits 0. */
export class Aborted extends Error {
  override readonly name = 'Aborted';
  constructor() {
    super('interrupted');
  }
}

/** Resolves after `ms`, or rejects with Aborted as soon as the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Aborted());
    const onAbort = () => {
      clearTimeout(t);
      reject(new Aborted());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits for `p` unless the signal fires first (the call itself goes on; nothing depends on it then). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

const throwIfAborted = (signal: AbortSignal): void => {
  if (signal.aborted) throw new Aborted();
};

/**
 * kubelet's crash-loop back-off (flowcontrol.Backoff, 10 s doubling to 5 min): the first restart is
 * immediate, each further one waits its delay after the container finished; a container that ran
 * for more than twice the cap starts over.
 */
export class Backoff {
  private backoffMs = 0;
  private lastUpdate = 0;

  constructor(
    private readonly initialMs = 10_000,
    private readonly maxMs = 300_000,
  ) {}

  /** How long to wait before restarting a container that finished at `finishedAt` (ms epoch). */
  delay(finishedAt: number, now = Date.now()): number {
    if (this.backoffMs === 0 || now - this.lastUpdate > 2 * this.maxMs) return 0;
    return Math.max(0, finishedAt + this.backoffMs - now);
  }

  /** Records a restart (of a container that finished at `finishedAt`). */
  next(finishedAt: number, now = Date.now()): void {
    if (this.backoffMs === 0 || finishedAt - this.lastUpdate > 2 * this.maxMs) this.backoffMs = this.initialMs;
    else this.backoffMs = Math.min(this.backoffMs * 2, this.maxMs);
    this.lastUpdate = now;
  }

  get currentMs(): number {
    return this.backoffMs;
  }
}

export interface ImageInfo {
  /** The runtime's image id, given to CreateContainer. */
  id: string;
  uid?: string;
  username: string;
}

export interface RunOptions {
  detach: boolean;
  /** --pull: overrides every container's imagePullPolicy. */
  pull?: PullPolicy;
}

const secs = (ms: number): string => `${Math.ceil(ms / 1000)}s`;
const nsToMs = (v: string | undefined): number => Number(BigInt(v || '0') / 1_000_000n);

/** The runtime's root directory (Status verbose info `config.root`), where pod volumes go. */
export async function runtimeRoot(ctx: CliContext): Promise<string> {
  const s = await call(ctx.clients.runtime, 'Status', { verbose: true }, 30);
  try {
    const cfg = JSON.parse(s.info['config'] ?? '{}') as { root?: unknown };
    if (typeof cfg.root === 'string' && cfg.root.startsWith('/')) return cfg.root;
  } catch {
    /* another runtime: its info is not crib's */
  }
  return '/var/lib/crib';
}

async function imageInfo(ctx: CliContext, ref: string): Promise<ImageInfo | undefined> {
  const r = await call(ctx.clients.image, 'ImageStatus', { image: { image: ref } }, 60);
  if (!r.image) return undefined;
  const out: ImageInfo = { id: r.image.id, username: r.image.username };
  if (r.image.uid) out.uid = r.image.uid.value;
  return out;
}

/**
 * Makes every image of the pods present per its pull policy (kubelet's: Always pulls, IfNotPresent
 * pulls when missing, Never fails when missing) and returns what the runtime knows of each.
 */
export async function ensureImages(
  ctx: CliContext,
  pods: Pod[],
  o: RunOptions,
  say: (l: string) => void,
  signal: AbortSignal,
): Promise<Map<string, ImageInfo>> {
  const wanted = new Map<string, { policies: Set<PullPolicy>; neverUser: string }>();
  for (const pod of pods) {
    for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
      const policy = o.pull ?? c.imagePullPolicy;
      const w = wanted.get(c.image) ?? { policies: new Set<PullPolicy>(), neverUser: '' };
      w.policies.add(policy);
      if (policy === 'Never' && !w.neverUser) w.neverUser = `container "${c.name}" of pod ${pod.name}`;
      wanted.set(c.image, w);
    }
  }
  const out = new Map<string, ImageInfo>();
  for (const [image, w] of wanted) {
    let info = w.policies.has('Always') ? undefined : await abortable(imageInfo(ctx, image), signal);
    if (!info) {
      if (!w.policies.has('Always') && !w.policies.has('IfNotPresent')) {
        throw new RunError(
          `image "${image}" is not present and its imagePullPolicy is Never (${w.neverUser}); pull or import it first (crib pull, crib image import)`,
        );
      }
      say(`pulling image ${image}`);
      const started = Date.now();
      const res = await abortable(call(ctx.clients.image, 'PullImage', { image: { image } }, 3600), signal).catch((err: unknown) => {
        if (err instanceof Aborted) throw err;
        // The runtime answered: its message is about the registry, not about reaching cribd.
        const details = (err as { details?: unknown }).details;
        throw new RunError(`pulling image ${image} failed: ${typeof details === 'string' && details ? details : describeError(err)}`);
      });
      say(`pulled image ${image} (${res.image_ref.slice(0, 19)}) in ${secs(Date.now() - started)}`);
      info = await imageInfo(ctx, res.image_ref || image);
      if (!info) throw new RunError(`image "${image}" was pulled but the runtime does not list it`);
    }
    out.set(image, info);
  }
  return out;
}

interface RunEnv {
  ctx: CliContext;
  root: string;
  nodeName: string;
  hostResolv?: DnsConfig;
  images: Map<string, ImageInfo>;
  signal: AbortSignal;
  detach: boolean;
  /** More than one pod: log prefixes and messages name the pod. */
  multi: boolean;
  say: (line: string) => void;
}

interface AppState {
  spec: ContainerSpec;
  id: string;
  attempt: number;
  backoff: Backoff;
  /** When a restart is due (ms epoch). */
  restartAt?: number;
  lastFinished: number;
  done: boolean;
  exitCode?: number;
}

/** One pod's life under `crib run`. */
export class PodRun {
  readonly uid = randomUUID();
  sandboxId = '';
  private podIP = '';
  private podIPs: string[] = [];
  private volumePaths: Record<string, string> = {};
  private volumesMade = false;
  private readonly sandboxConfig: PodSandboxConfig;
  private readonly logDir: string;
  private readonly apps = new Map<string, AppState>();
  private readonly logs: LogPrinter | undefined;
  private readonly seccompRoot: string;

  constructor(
    private readonly env: RunEnv,
    readonly pod: Pod,
  ) {
    this.seccompRoot = path.join(env.root, 'seccomp');
    this.sandboxConfig = podSandboxConfig(pod, { uid: this.uid, seccompRoot: this.seccompRoot, ...(env.hostResolv ? { hostResolv: env.hostResolv } : {}) });
    this.logDir = this.sandboxConfig.log_directory as string;
    if (!env.detach) this.logs = new LogPrinter({ out: env.ctx.out, color: env.ctx.color });
  }

  private say(line: string): void {
    this.env.say(`pod ${this.pod.namespace === 'default' ? '' : `${this.pod.namespace}/`}${this.pod.name}: ${line}`);
  }

  private label(name: string): string {
    return this.env.multi ? `${this.pod.name}/${name}` : name;
  }

  /** Runs the pod; returns the exit code (0 also after a signal-initiated teardown). */
  async run(): Promise<number> {
    let keep = false;
    let code: number;
    try {
      code = await this.start();
      if (this.env.detach && code === 0) {
        keep = true;
        this.env.ctx.out.write(`${this.sandboxId}\n`);
        this.say(
          `running detached (sandbox ${this.sandboxId.slice(0, 13)}); nothing restarts its containers now; stop it with: crib delete ${this.pod.namespace === 'default' ? '' : `-n ${this.pod.namespace} `}${this.pod.name}`,
        );
      } else if (!this.env.detach && code === 0) {
        code = await this.supervise();
      }
    } catch (err) {
      if (err instanceof Aborted) code = 0;
      else {
        this.say(`error: ${describeError(err)}`);
        code = 1;
      }
    }
    if (!keep) {
      try {
        await this.teardown();
      } catch (err) {
        this.say(`teardown failed: ${describeError(err)} (finish it with: crib delete ${this.sandboxId || this.pod.name})`);
        return 1;
      }
    }
    return code;
  }

  /** Volumes, sandbox, init containers, app containers. 0 when the app containers run. */
  private async start(): Promise<number> {
    const { ctx, signal } = this.env;
    throwIfAborted(signal);
    this.volumePaths = await prepareVolumes(this.pod, this.env.root, this.uid);
    this.volumesMade = true;
    const res = await call(ctx.clients.runtime, 'RunPodSandbox', { config: this.sandboxConfig }, 300);
    this.sandboxId = res.pod_sandbox_id;
    const st = (await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: this.sandboxId }, 30)).status;
    this.podIP = st?.network?.ip ?? '';
    this.podIPs = [this.podIP, ...(st?.network?.additional_ips ?? []).map((i) => i.ip)].filter(Boolean);
    this.say(`sandbox ${this.sandboxId.slice(0, 13)} ready${this.podIP ? `, IP ${this.podIP}` : ''} (uid ${this.uid})`);
    throwIfAborted(signal);
    this.logs?.start();
    if (!(await this.runInitContainers())) return 1;
    for (const spec of this.pod.spec.containers) {
      throwIfAborted(signal);
      const id = await this.createAndStart(spec, 0, false);
      this.apps.set(spec.name, { spec, id, attempt: 0, backoff: new Backoff(), lastFinished: 0, done: false });
      this.say(`container "${spec.name}" started`);
    }
    return 0;
  }

  private async createAndStart(spec: ContainerSpec, attempt: number, init: boolean): Promise<string> {
    const { ctx } = this.env;
    const image = this.env.images.get(spec.image);
    if (!image) throw new RunError(`image ${spec.image} was not resolved`);
    const config = containerConfig(this.pod, spec, {
      uid: this.uid,
      podIP: this.podIP,
      podIPs: this.podIPs,
      nodeName: this.env.nodeName,
      attempt,
      imageRef: image.id,
      volumePaths: this.volumePaths,
      seccompRoot: this.seccompRoot,
      init,
    });
    const res = await call(ctx.clients.runtime, 'CreateContainer', { pod_sandbox_id: this.sandboxId, config, sandbox_config: this.sandboxConfig }, 300);
    await this.logs?.follow(this.label(spec.name), path.join(this.logDir, containerLogPath(spec.name, attempt)));
    await call(ctx.clients.runtime, 'StartContainer', { container_id: res.container_id }, 120);
    return res.container_id;
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
      await sleep(200, this.env.signal);
    }
  }

  private async reportFailure(what: string, spec: ContainerSpec, attempt: number, st: ContainerStatus__Output): Promise<void> {
    const lines = await lastLogLines(path.join(this.logDir, containerLogPath(spec.name, attempt)), 10);
    const tail = lines.length ? `; its last log lines:\n${lines.map((l) => `  | ${l}`).join('\n')}` : '; it wrote no log';
    this.say(`${what} "${spec.name}" failed with exit code ${st.exit_code}${st.reason ? ` (${st.reason})` : ''}${st.message ? `: ${st.message}` : ''}${tail}`);
  }

  /** The init containers in order, each to a zero exit; false when one failed for good. */
  private async runInitContainers(): Promise<boolean> {
    const { ctx, signal } = this.env;
    for (const spec of this.pod.spec.initContainers) {
      const backoff = new Backoff();
      for (let attempt = 0; ; attempt++) {
        throwIfAborted(signal);
        const id = await this.createAndStart(spec, attempt, true);
        this.say(`init container "${spec.name}" started${attempt ? ` (restart ${attempt})` : ''}`);
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
        await sleep(delay, signal);
        backoff.next(finished);
        await call(ctx.clients.runtime, 'RemoveContainer', { container_id: id }, 60);
      }
    }
    return true;
  }

  /** Applies the restart policy until every app container is done for good (never with Always). */
  private async supervise(): Promise<number> {
    const { ctx, signal } = this.env;
    const rt = ctx.clients.runtime;
    const policy = this.pod.spec.restartPolicy;
    let sandboxChecked = Date.now();
    for (;;) {
      throwIfAborted(signal);
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
        if (state !== CONTAINER_EXITED) continue;
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
        throwIfAborted(signal);
        a.restartAt = undefined;
        a.backoff.next(a.lastFinished);
        await call(rt, 'RemoveContainer', { container_id: a.id }, 60).catch(() => undefined);
        a.attempt++;
        try {
          a.id = await this.createAndStart(a.spec, a.attempt, false);
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
      await sleep(300, signal);
    }
  }

  private async teardown(): Promise<void> {
    const label = `${this.pod.namespace}/${this.pod.name}`;
    try {
      if (this.sandboxId) {
        this.say(`stopping (grace period ${this.pod.spec.terminationGracePeriodSeconds}s)`);
        await teardownPod(
          this.env.ctx,
          { sandboxId: this.sandboxId, label, uid: this.uid, logDirectory: this.logDir },
          { root: this.env.root, say: (l) => this.say(l), afterStop: async () => this.logs?.stop() },
        );
        this.say(`removed (sandbox ${this.sandboxId.slice(0, 13)})`);
      } else {
        await this.logs?.stop();
        if (this.volumesMade) await removePodVolumes(this.env.root, this.uid);
        await fsp.rm(this.logDir, { recursive: true, force: true });
      }
    } finally {
      await this.logs?.stop(); // never leave the poll timer running
    }
  }
}

/** Pods of these names that already run here (kubectl would say AlreadyExists). */
async function existingPods(ctx: CliContext, pods: Pod[]): Promise<string[]> {
  const items = (await call(ctx.clients.runtime, 'ListPodSandbox', {}, 30)).items;
  const out: string[] = [];
  for (const p of pods) {
    const same = items.filter((s) => s.labels[LABEL_POD_NAME] === p.name && s.labels[LABEL_POD_NAMESPACE] === p.namespace);
    for (const s of same)
      out.push(
        `pod ${p.namespace}/${p.name} already exists (sandbox ${s.id.slice(0, 13)}); remove it first: crib delete ${p.namespace === 'default' ? '' : `-n ${p.namespace} `}${p.name}`,
      );
  }
  return out;
}

/**
 * Runs the pods of a manifest: everything that can fail without side effects (images, runAsNonRoot,
 * hostPath types) is checked for every pod first; then each pod runs. Signals tear everything down.
 */
export async function runPods(ctx: CliContext, pods: Pod[], o: RunOptions): Promise<number> {
  const say = (l: string) => void ctx.err.write(`${l}\n`);
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(
        `${sig}: tearing down ${pods.length === 1 ? 'the pod' : 'the pods'} (interrupt twice more to quit at once, leaving ${pods.length === 1 ? 'it' : 'them'} behind)`,
      );
      controller.abort(new Aborted());
    } else if (signals === 2) {
      say(`${sig}: still tearing down; once more to quit now`);
    } else {
      say(`${sig}: quitting; remove what is left with crib delete ${pods.map((p) => p.name).join(' ')}`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const root = await runtimeRoot(ctx);
    const clash = await existingPods(ctx, pods);
    if (clash.length) {
      for (const c of clash) say(`crib run: ${c}`);
      return 1;
    }
    const images = await ensureImages(ctx, pods, o, say, controller.signal);
    for (const pod of pods) {
      for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
        const image = images.get(c.image) as ImageInfo;
        const why = checkRunAsNonRoot(pod, c, { ...(image.uid !== undefined ? { uid: image.uid } : {}), username: image.username });
        if (why) throw new RunError(`pod ${pod.name}: ${why}`);
      }
      await checkHostPaths(pod);
    }
    let hostResolv: DnsConfig | undefined;
    if (pods.some((p) => p.spec.dnsConfig && p.spec.dnsPolicy !== 'None')) {
      hostResolv = parseResolvConf(await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => ''));
    }
    const env: RunEnv = {
      ctx,
      root,
      nodeName: os.hostname(),
      images,
      signal: controller.signal,
      detach: o.detach,
      multi: pods.length > 1,
      say,
      ...(hostResolv ? { hostResolv } : {}),
    };
    const codes = await Promise.all(pods.map((p) => new PodRun(env, p).run()));
    return Math.max(0, ...codes);
  } catch (err) {
    if (err instanceof Aborted) return 0;
    say(`crib run: ${describeError(err)}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
