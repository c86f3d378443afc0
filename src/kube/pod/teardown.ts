// Tearing a pod down as kubelet does when it is deleted: the preStop hooks of its running
// containers (in parallel), then StopPodSandbox (cribd stops the containers newest first, each with
// the grace period of its annotation, then pause), RemovePodSandbox, and the pod's volumes and logs.
import fsp from 'node:fs/promises';
import { call } from '../../client/client.js';
import { abortable } from '../loop/abort.js';
import type { ClientContext } from '../../client/context.js';
import type { Container__Output } from '../../cri/generated/runtime/v1/Container.js';
import type { ContainerStatus__Output } from '../../cri/generated/runtime/v1/ContainerStatus.js';
import { preStopFromAnnotation } from './convert.js';
import { ANN_GRACE, ANN_PRESTOP, CONTAINER_RUNNING } from '../records/keys.js';
import type { Hook } from '../manifest/pod-spec.js';
import { describeHandler, runHook } from '../probes/probers.js';
import { removePodVolumes } from '../volumes/volumes.js';
import { markTerminating } from '../records/record.js';

const DEFAULT_GRACE = 30;

export interface TeardownTarget {
  sandboxId: string;
  /** For messages: NAMESPACE/NAME. */
  label: string;
  /** The pod's uid: its volumes live under ROOT/pods/UID. */
  uid: string;
  /** The pod's log directory, removed at the end (kubelet removes it with the pod). */
  logDirectory?: string;
}

export interface TeardownOptions {
  root: string;
  /** Status lines (the caller prefixes them). */
  say: (line: string) => void;
  /** Called once the sandbox is stopped, before it is removed (to read the last log lines). */
  afterStop?: () => Promise<void>;
  /** Aborted to cut the grace periods short (a second Ctrl-C): cribd kills the containers now. */
  hurry?: AbortSignal;
  /** How often to say what the stop still waits for (ms). */
  progressMs?: number;
}

/** While the grace periods run: what the stop still waits for. */
const PROGRESS_MS = 5000;

const nanos = (v: string | undefined): bigint => {
  try {
    return BigInt(v ?? '0');
  } catch {
    return 0n;
  }
};

/** HH:MM:SS.mmm of a CRI nanosecond timestamp, local time. */
export function clock(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const graceOf = (c: { annotations: Record<string, string> }): number => {
  const g = Number(c.annotations[ANN_GRACE] ?? DEFAULT_GRACE);
  return Number.isFinite(g) && g >= 0 ? g : DEFAULT_GRACE;
};

/** Runs one container's preStop hook, bounded by its grace period. Failures are reported, not fatal. */
export async function runPreStop(
  ctx: ClientContext,
  c: Container__Output,
  hook: Hook,
  grace: number,
  podIP: string,
  say: (l: string) => void,
  cancel?: AbortSignal,
): Promise<void> {
  const name = c.metadata?.name ?? c.id.slice(0, 12);
  say(`preStop hook of "${name}": ${'sleepSeconds' in hook ? `sleeping ${Math.min(hook.sleepSeconds, grace)}s` : describeHandler(hook)}`);
  const failed = await runHook(hook, { ctx, containerId: c.id, podIP, ...(cancel ? { cancel } : {}) }, grace);
  if (failed) say(`preStop hook of "${name}" failed: ${failed}`);
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: number }).code === 5;
}

/** The pod's IP ('' when unknown), for httpGet hooks. */
async function sandboxIP(ctx: ClientContext, id: string): Promise<string> {
  const r = await call(ctx.clients.runtime, 'PodSandboxStatus', { pod_sandbox_id: id }, 30).catch(() => undefined);
  return r?.status?.network?.ip ?? '';
}

/** Whether a stop is waiting: every `o.progressMs` one line of what for, until `done` settles. */
function sayWhileWaiting(done: Promise<unknown>, running: readonly Container__Output[], o: TeardownOptions): void {
  if (!running.length) return;
  const started = Date.now();
  const longest = Math.max(...running.map(graceOf));
  const names = running.map((c) => `"${c.metadata?.name ?? c.id.slice(0, 12)}"`).join(', ');
  const timer = setInterval(() => {
    const waited = Math.round((Date.now() - started) / 1000);
    o.say(`waiting for ${names} to exit: ${waited}s of the grace period (up to ${longest}s) so far`);
  }, o.progressMs ?? PROGRESS_MS);
  void done.finally(() => clearInterval(timer)).catch(() => undefined);
}

/**
 * StopPodSandbox: cribd stops the containers newest first, their grace periods side by side. When
 * `o.hurry` fires the call is cancelled, on which cribd kills what still runs, and asked again.
 */
async function stopSandbox(ctx: ClientContext, sandboxId: string, running: readonly Container__Output[], o: TeardownOptions): Promise<void> {
  const rt = ctx.clients.runtime;
  const deadline = Math.max(0, ...running.map(graceOf)) + 60;
  const stop = (signal?: AbortSignal) =>
    call(rt, 'StopPodSandbox', { pod_sandbox_id: sandboxId }, deadline, signal).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  // StopContainer with no grace kills at once (after a cancelled stop, once cribd has let go of it).
  const killNow = async () => {
    o.say('killing its containers now (the grace periods cut short)');
    await Promise.all(running.map((c) => call(rt, 'StopContainer', { container_id: c.id, timeout: 0 }, 60).catch(() => undefined)));
    await stop();
  };
  if (o.hurry?.aborted) return killNow(); // before the stop began: no grace period at all
  const first = stop(o.hurry);
  sayWhileWaiting(first, running, o);
  try {
    await first;
  } catch (err) {
    if (!o.hurry?.aborted) throw err;
    // cancelled: cribd cuts the grace periods short and kills
    await killNow();
  }
}

/**
 * Tears a pod down and says in which order its containers stopped. Tolerates a sandbox that is
 * already stopped or gone (then only the local leftovers are removed).
 */
export async function teardownPod(ctx: ClientContext, t: TeardownTarget, o: TeardownOptions): Promise<void> {
  const rt = ctx.clients.runtime;
  if (t.uid) await markTerminating(o.root, t.uid);
  let containers: Container__Output[] = [];
  try {
    containers = (await call(rt, 'ListContainers', { filter: { pod_sandbox_id: t.sandboxId } })).containers;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const running = containers.filter((c) => c.state === CONTAINER_RUNNING);
  const hooks = running
    .map((c) => ({ c, hook: preStopFromAnnotation(c.annotations[ANN_PRESTOP]) }))
    .filter((x): x is { c: Container__Output; hook: Hook } => x.hook !== undefined);
  const podIP = hooks.some(({ hook }) => 'httpGet' in hook) && !o.hurry?.aborted ? await sandboxIP(ctx, t.sandboxId) : '';
  const hooksRun = Promise.all(hooks.map(({ c, hook }) => runPreStop(ctx, c, hook, graceOf(c), podIP, o.say, o.hurry)));
  await (o.hurry ? abortable(hooksRun, o.hurry).catch(() => undefined) : hooksRun);
  await stopSandbox(ctx, t.sandboxId, running, o);
  const pauseBy = BigInt(Date.now()) * 1_000_000n;
  if (o.afterStop) await o.afterStop().catch(() => undefined);

  // The order things were stopped in: SIGTERM to the newest started first, pause last; each with its exit.
  const statuses = (
    await Promise.all(
      running.map((c) =>
        call(rt, 'ContainerStatus', { container_id: c.id })
          .then((r) => r.status)
          .catch(() => null),
      ),
    )
  ).filter((s): s is ContainerStatus__Output => s !== null);
  statuses.sort((a, b) => (nanos(a.started_at) > nanos(b.started_at) ? -1 : 1));
  if (statuses.length || running.length) {
    const width = Math.max(18, ...statuses.map((s) => (s.metadata?.name ?? '').length + 2));
    const lines = statuses.map(
      (s, i) =>
        `  ${i + 1}. ${`"${s.metadata?.name ?? s.id.slice(0, 12)}"`.padEnd(width)} at ${clock(nanos(s.finished_at))}  exit code ${s.exit_code}${s.reason ? ` (${s.reason})` : ''}`,
    );
    lines.push(`  ${statuses.length + 1}. ${'pause (sandbox)'.padEnd(width)} by ${clock(pauseBy)}`);
    o.say(`stop order (SIGTERM newest first, grace periods side by side):\n${lines.join('\n')}`);
  }

  try {
    await call(rt, 'RemovePodSandbox', { pod_sandbox_id: t.sandboxId }, 120);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await removePodVolumes(o.root, t.uid);
  if (t.logDirectory) await fsp.rm(t.logDirectory, { recursive: true, force: true });
}
