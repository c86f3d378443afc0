// `crib run`'s flow: check everything that can fail without side effects (references, claims,
// images by pull policy, runAsNonRoot, hostPath types), tear down what an earlier run of the same
// workloads left (--replace) or refuse to run them twice, then run every workload of the manifest
// side by side until they are done or a signal asks for teardown.
import fsp from 'node:fs/promises';
import os from 'node:os';
import { call } from '../../client/client.js';
import type { ClientContext } from '../../client/context.js';
import { describeError } from '../../client/errors.js';
import { abortable, Aborted } from '../loop/abort.js';
import type { BackoffSettings } from '../loop/backoff.js';
import { checkRunAsNonRoot, parseResolvConf } from '../pod/convert.js';
import type { Manifest } from '../manifest/documents.js';
import { describeOwner, findWorkloadPods, tearDownWorkloads } from './down.js';
import { ManifestError, type DnsConfig, type Pod, type PullPolicy } from '../manifest/pod-spec.js';
import type { Random } from '../manifest/names.js';
import { checkReferences } from '../plan/plan.js';
import type { ImageInfo, RunEnv } from '../pod/pod-run.js';
import { checkHostPaths, claimExists, ensureClaim, RunError } from '../volumes/volumes.js';
import { runtimeRoot } from '../records/paths.js';
import { kindHooks, plannedWorkloads, startedKinds, workloadKind } from '../kinds/table.js';
import { removeRun, runId } from '../records/runs.js';
import type { PodHooks } from '../pod/hooks.js';

export interface RunOptions {
  detach: boolean;
  /** --pull: overrides every container's imagePullPolicy. */
  pull?: PullPolicy;
  /** --replace: tear down what an earlier run of these workloads left first. */
  replace: boolean;
  backoff: BackoffSettings;
  random?: Random;
  /** Told of every pod of the run (pod/hooks.ts). */
  hooks?: readonly PodHooks[];
  /** The supervisor's runs: no signal handlers of their own (the supervisor's end keeps the pods). */
  quiet?: boolean;
}

const secs = (ms: number): string => `${Math.ceil(ms / 1000)}s`;

async function imageInfo(ctx: ClientContext, ref: string): Promise<ImageInfo | undefined> {
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
  ctx: ClientContext,
  pods: Pick<Pod, 'name' | 'spec'>[],
  o: Pick<RunOptions, 'pull'>,
  say: (l: string) => void,
  signal: AbortSignal,
): Promise<Map<string, ImageInfo>> {
  const wanted = new Map<string, { policies: Set<PullPolicy>; neverUser: string }>();
  const want = (image: string, own: PullPolicy, user: string) => {
    const policy = o.pull ?? own;
    const w = wanted.get(image) ?? { policies: new Set<PullPolicy>(), neverUser: '' };
    w.policies.add(policy);
    if (policy === 'Never' && !w.neverUser) w.neverUser = user;
    wanted.set(image, w);
  };
  for (const pod of pods) {
    for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) want(c.image, c.imagePullPolicy, `container "${c.name}" of ${pod.name}`);
    // Image volumes are pulled as kubelet pulls them, before the pod's containers are made.
    for (const v of pod.spec.volumes) if ('image' in v) want(v.image.reference, v.image.pullPolicy, `image volume "${v.name}" of ${pod.name}`);
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

/** What a run's pods share, made once its images are known (crib run's, and each run the supervisor watches). */
export async function runEnv(
  ctx: ClientContext,
  root: string,
  m: Manifest,
  images: Map<string, ImageInfo>,
  o: Pick<RunOptions, 'detach' | 'backoff' | 'hooks'> & Pick<RunEnv, 'printLogs' | 'signal' | 'hurry' | 'say' | 'supervised'>,
): Promise<RunEnv> {
  const later = plannedWorkloads(m);
  let hostResolv: DnsConfig | undefined;
  if ([...m.workloads, ...later].some((w) => w.template.spec.dnsConfig && w.template.spec.dnsPolicy !== 'None')) {
    hostResolv = parseResolvConf(await fsp.readFile('/etc/resolv.conf', 'utf8').catch(() => ''));
  }
  const pods = m.workloads.reduce((n, w) => n + w.replicas, 0);
  return {
    ctx,
    root,
    nodeName: os.hostname(),
    capacity: { cpuMilli: BigInt(os.cpus().length * 1000), memoryBytes: BigInt(os.totalmem()) },
    images,
    manifest: m,
    signal: o.signal,
    hurry: o.hurry,
    detach: o.detach,
    printLogs: o.printLogs,
    // A CronJob's Jobs come one after another: their log lines name their pods too.
    multi: pods > 1 || later.length > 0,
    backoff: o.backoff,
    say: o.say,
    hooks: [...(o.hooks ?? []), ...kindHooks(m, { root, say: o.say })],
    ...(hostResolv ? { hostResolv } : {}),
    ...(o.supervised ? { supervised: o.supervised } : {}),
  };
}

/** The exit status of a run a signal ended: 128 + its number, as a shell reports it (130 for Ctrl-C). */
export const signalExit = (sig: NodeJS.Signals): number => 128 + os.constants.signals[sig];

/**
 * Runs a manifest: everything that can fail without side effects is checked for every workload
 * first; then each workload runs. A signal tears everything down (exit 128 + its number); a
 * second one cuts the grace periods short; a third quits at once, leaving what is left.
 */
export async function runManifest(ctx: ClientContext, m: Manifest, o: RunOptions): Promise<number> {
  const say = (l: string) => void ctx.err.write(`${l}\n`);
  const controller = new AbortController();
  const hurry = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!interrupted) {
      interrupted = sig;
      say(`${sig}: tearing down (interrupt again to skip the grace periods)`);
      controller.abort(new Aborted());
    } else if (!hurry.signal.aborted) {
      say(`${sig}: skipping the grace periods, killing the containers (once more to quit at once, leaving the pods behind)`);
      hurry.abort();
    } else {
      say(`${sig}: quitting; remove what is left with crib down -f FILE`);
      process.exit(signalExit(interrupted));
    }
  };
  if (!o.quiet) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    const root = await runtimeRoot(ctx);
    // What runs now and what the started kinds run later (a CronJob's Jobs) is checked alike, up front.
    const later = plannedWorkloads(m);
    const all = [...m.workloads, ...later];
    for (const w of all) checkReferences(w, m, (ns, name) => claimExists(root, ns, name));
    const left = await findWorkloadPods(ctx, all);
    if (left.length && o.replace) {
      say(`--replace: tearing down ${left.length} pod${left.length === 1 ? '' : 's'} of an earlier run`);
      await tearDownWorkloads(ctx, root, left, say);
    } else if (left.length) {
      for (const l of left) {
        say(`crib run: ${describeOwner(l.workload)} already runs (pod ${l.pod.metadata?.name ?? ''}, sandbox ${l.pod.id.slice(0, 13)})`);
      }
      say('crib run: tear it down first (crib down -f FILE), or run with --replace');
      return 1;
    }
    // These workloads are this run's now: a supervisor no longer takes an earlier -d run of them over.
    await removeRun(root, runId(m, later));
    const templates = all.map((w) => ({ name: `${w.kind} ${w.name}`, spec: w.template.spec }));
    const images = await ensureImages(ctx, templates, o, say, controller.signal);
    for (const w of all) {
      const t = w.template;
      for (const c of [...t.spec.initContainers, ...t.spec.containers]) {
        const image = images.get(c.image) as ImageInfo;
        const pod = { name: w.name, namespace: w.namespace, ...t, owner: { kind: w.kind, name: w.name } };
        const why = checkRunAsNonRoot(pod, c, { ...(image.uid !== undefined ? { uid: image.uid } : {}), username: image.username });
        if (why) throw new RunError(`${w.kind} ${w.name}: ${why}`);
      }
      await checkHostPaths(w.template.spec, `${w.kind} ${w.name}`);
    }
    for (const c of m.claims.values()) await ensureClaim(root, c.namespace, c.name);
    const env = await runEnv(ctx, root, m, images, { ...o, printLogs: !o.detach, signal: controller.signal, hurry: hurry.signal, say });
    const random = o.random ?? Math.random;
    const codes = await Promise.all([
      ...m.workloads.map((w) => workloadKind(w.kind).run(env, w, random)),
      // Detached, the kinds that act beside the workloads are the supervisor's to start.
      ...(o.detach ? [] : startedKinds().map((k) => k.start?.(env, m, random) ?? Promise.resolve(0))),
    ]);
    await Promise.all(env.hooks.map((h) => h.settled?.() ?? Promise.resolve())); // detached: what the hooks write is whole before the run exits
    return interrupted ? signalExit(interrupted) : Math.max(0, ...codes);
  } catch (err) {
    if (err instanceof Aborted && interrupted) return signalExit(interrupted);
    say(`crib run: ${describeError(err)}`);
    return err instanceof ManifestError ? 2 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
